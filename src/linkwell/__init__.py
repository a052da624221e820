"""linkwell: privacy-preserving data linkage under the separation principle.

Survey answers and local-authority service data are linked through anonymous link IDs so that no
party ever holds both who a child is and what the child said or received. The public API is the
list below; everything else is internal and may change without notice. Names are imported on
first use, so a process pays in memory and start-up only for the layers it actually touches.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from linkwell.analysis import (
        Analysis,
        analyse,
    )
    from linkwell.audit import (
        AuditAction,
        AuditLog,
        VerifyReport,
        verify_log,
    )
    from linkwell.config import (
        ProjectConfig,
        Role,
        load_project,
    )
    from linkwell.errors import (
        AuditError,
        ConfigError,
        DigestError,
        DisclosureError,
        ExpiredError,
        HostKeyError,
        IdentityError,
        InputError,
        InternalError,
        LinkwellError,
        MisdirectedError,
        PackageError,
        PackageFormatError,
        ReadError,
        ReplayError,
        RoleError,
        SchemaError,
        SeparationError,
        SignatureError,
        StorageError,
        TransferError,
        TransportError,
        UnknownSenderError,
        ValidationError,
        VaultError,
    )
    from linkwell.report import (
        ReportBundle,
        write_report,
    )
    from linkwell.schema import (
        DatasetDef,
        ValidationResult,
        is_valid_id,
        issue_ids,
        load_dataset,
        read_table,
        validate_file,
    )
    from linkwell.seal import (
        Manifest,
        OpenedPackage,
        PackageKind,
        ReceiptLedger,
        SecretIdentity,
        inspect_package,
        load_identity,
        load_keyring,
        new_identity,
        open_package,
        save_identity,
        seal_package,
    )
    from linkwell.synth import (
        MessRates,
        SynthParameters,
        SynthResult,
        synthesise,
    )
    from linkwell.transport import (
        LocalSftpServer,
        ReceiveDirs,
        ReceiveReport,
        Transport,
        open_transport,
        receive_packages,
        send_package,
    )

_EXPORTS: dict[str, str] = {
    "Analysis": "linkwell.analysis",
    "analyse": "linkwell.analysis",
    "AuditAction": "linkwell.audit",
    "AuditLog": "linkwell.audit",
    "VerifyReport": "linkwell.audit",
    "verify_log": "linkwell.audit",
    "ProjectConfig": "linkwell.config",
    "Role": "linkwell.config",
    "load_project": "linkwell.config",
    "AuditError": "linkwell.errors",
    "ConfigError": "linkwell.errors",
    "DigestError": "linkwell.errors",
    "DisclosureError": "linkwell.errors",
    "ExpiredError": "linkwell.errors",
    "HostKeyError": "linkwell.errors",
    "IdentityError": "linkwell.errors",
    "InputError": "linkwell.errors",
    "InternalError": "linkwell.errors",
    "LinkwellError": "linkwell.errors",
    "MisdirectedError": "linkwell.errors",
    "PackageError": "linkwell.errors",
    "PackageFormatError": "linkwell.errors",
    "ReadError": "linkwell.errors",
    "ReplayError": "linkwell.errors",
    "RoleError": "linkwell.errors",
    "SchemaError": "linkwell.errors",
    "SeparationError": "linkwell.errors",
    "SignatureError": "linkwell.errors",
    "StorageError": "linkwell.errors",
    "TransferError": "linkwell.errors",
    "TransportError": "linkwell.errors",
    "UnknownSenderError": "linkwell.errors",
    "ValidationError": "linkwell.errors",
    "VaultError": "linkwell.errors",
    "ReportBundle": "linkwell.report",
    "write_report": "linkwell.report",
    "DatasetDef": "linkwell.schema",
    "ValidationResult": "linkwell.schema",
    "is_valid_id": "linkwell.schema",
    "issue_ids": "linkwell.schema",
    "load_dataset": "linkwell.schema",
    "read_table": "linkwell.schema",
    "validate_file": "linkwell.schema",
    "Manifest": "linkwell.seal",
    "OpenedPackage": "linkwell.seal",
    "PackageKind": "linkwell.seal",
    "ReceiptLedger": "linkwell.seal",
    "SecretIdentity": "linkwell.seal",
    "inspect_package": "linkwell.seal",
    "load_identity": "linkwell.seal",
    "load_keyring": "linkwell.seal",
    "new_identity": "linkwell.seal",
    "open_package": "linkwell.seal",
    "save_identity": "linkwell.seal",
    "seal_package": "linkwell.seal",
    "MessRates": "linkwell.synth",
    "SynthParameters": "linkwell.synth",
    "SynthResult": "linkwell.synth",
    "synthesise": "linkwell.synth",
    "LocalSftpServer": "linkwell.transport",
    "ReceiveDirs": "linkwell.transport",
    "ReceiveReport": "linkwell.transport",
    "Transport": "linkwell.transport",
    "open_transport": "linkwell.transport",
    "receive_packages": "linkwell.transport",
    "send_package": "linkwell.transport",
}

__version__ = "0.1.0"

__all__ = [
    "Analysis",
    "AuditAction",
    "AuditError",
    "AuditLog",
    "ConfigError",
    "DatasetDef",
    "DigestError",
    "DisclosureError",
    "ExpiredError",
    "HostKeyError",
    "IdentityError",
    "InputError",
    "InternalError",
    "LinkwellError",
    "LocalSftpServer",
    "Manifest",
    "MessRates",
    "MisdirectedError",
    "OpenedPackage",
    "PackageError",
    "PackageFormatError",
    "PackageKind",
    "ProjectConfig",
    "ReadError",
    "ReceiptLedger",
    "ReceiveDirs",
    "ReceiveReport",
    "ReplayError",
    "ReportBundle",
    "Role",
    "RoleError",
    "SchemaError",
    "SecretIdentity",
    "SeparationError",
    "SignatureError",
    "StorageError",
    "SynthParameters",
    "SynthResult",
    "TransferError",
    "Transport",
    "TransportError",
    "UnknownSenderError",
    "ValidationError",
    "ValidationResult",
    "VaultError",
    "VerifyReport",
    "__version__",
    "analyse",
    "inspect_package",
    "is_valid_id",
    "issue_ids",
    "load_dataset",
    "load_identity",
    "load_keyring",
    "load_project",
    "new_identity",
    "open_package",
    "open_transport",
    "read_table",
    "receive_packages",
    "save_identity",
    "seal_package",
    "send_package",
    "synthesise",
    "validate_file",
    "verify_log",
    "write_report",
]


def __getattr__(name: str) -> object:
    """Import a public name's module on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        msg = f"module 'linkwell' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
