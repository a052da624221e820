"""linkwell: privacy-preserving data linkage under the separation principle.

Survey answers and local-authority service data are linked through anonymous link IDs so that no
party ever holds both who a child is and what the child said or received. The public API is the
list below; everything else is internal and may change without notice.
"""

from linkwell.config import ProjectConfig, Role, load_project
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
from linkwell.schema import DatasetDef, is_valid_id, issue_ids, load_dataset

__version__ = "0.1.0"

# Analysis and report load statistics libraries (seconds); they are imported on first use.
_LAZY = {
    "analyse": "linkwell.analysis",
    "Analysis": "linkwell.analysis",
    "write_report": "linkwell.report",
    "ReportBundle": "linkwell.report",
}


def __getattr__(name: str) -> object:
    """Import the analysis and report names only when they are first used."""
    if name in _LAZY:
        import importlib  # noqa: PLC0415 - only needed for the lazy names

        return getattr(importlib.import_module(_LAZY[name]), name)
    msg = f"module 'linkwell' has no attribute {name!r}"
    raise AttributeError(msg)


__all__ = [
    "Analysis",
    "AuditError",
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
    "MisdirectedError",
    "PackageError",
    "PackageFormatError",
    "ProjectConfig",
    "ReadError",
    "ReplayError",
    "ReportBundle",
    "Role",
    "RoleError",
    "SchemaError",
    "SeparationError",
    "SignatureError",
    "StorageError",
    "TransferError",
    "TransportError",
    "UnknownSenderError",
    "ValidationError",
    "VaultError",
    "__version__",
    "analyse",
    "is_valid_id",
    "issue_ids",
    "load_dataset",
    "load_project",
    "write_report",
]
