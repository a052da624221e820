"""linkwell: privacy-preserving data linkage under the separation principle.

Survey answers and local-authority service data are linked through anonymous link IDs so that no
party ever holds both who a child is and what the child said or received. The public API is the
list below; everything else is internal and may change without notice.
"""

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
from linkwell.schema import (
    DatasetDef,
    ValidationResult,
    is_valid_id,
    issue_ids,
    load_dataset,
    read_table,
    validate_file,
)
from linkwell.synth import (
    MessRates,
    SynthParameters,
    SynthResult,
    synthesise,
)
from linkwell.transport import (
    ReceiveDirs,
    ReceiveReport,
    Transport,
    open_transport,
    receive_packages,
    send_package,
)

__version__ = "0.1.0"

__all__ = [
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
    "MessRates",
    "MisdirectedError",
    "PackageError",
    "PackageFormatError",
    "ProjectConfig",
    "ReadError",
    "ReceiveDirs",
    "ReceiveReport",
    "ReplayError",
    "Role",
    "RoleError",
    "SchemaError",
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
    "is_valid_id",
    "issue_ids",
    "load_dataset",
    "load_project",
    "open_transport",
    "read_table",
    "receive_packages",
    "send_package",
    "synthesise",
    "validate_file",
    "verify_log",
]
