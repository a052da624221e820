"""Moving sealed package files between parties: a shared folder (the default) or SFTP.

Transports move opaque files and guarantee them as files: a package is committed only complete
and beside its sender's digest, interrupted transfers resume, nothing is overwritten, and on
receipt every file passes the digest check and the caller's ``accept`` (the seal layer's check)
before it reaches the accepted folder; refused files are quarantined with the reason. On an SFTP
server the operator's :func:`sweep` makes committed packages immutable.
"""

from linkwell.transport.base import (
    DIGEST_SUFFIX,
    PACKAGE_SUFFIX,
    Accept,
    Delivery,
    Fetched,
    InboxEntry,
    Transport,
)
from linkwell.transport.exchange import (
    QuarantinedFile,
    ReceiveDirs,
    ReceivedPackage,
    ReceiveReport,
    open_transport,
    receive_from,
    receive_packages,
    send_package,
)
from linkwell.transport.folder import FolderMailbox
from linkwell.transport.local_server import (
    InboxFile,
    LocalSftpServer,
    SweepRound,
    check_server_folder,
    check_server_prerequisites,
)
from linkwell.transport.receipts import Receipt, ReceiptBook, ReceiptState, RefusalReason
from linkwell.transport.retry import DEFAULT_RETRY, RetryPolicy
from linkwell.transport.server import (
    ServerAccount,
    ServerLayout,
    prepare_server,
    prepare_server_root,
)
from linkwell.transport.sftp import SftpMailbox
from linkwell.transport.ssh import create_ssh_key, load_ssh_key
from linkwell.transport.sweeper import SweepOutcome, SweepReport, SweptFile, sweep

__all__ = [
    "DEFAULT_RETRY",
    "DIGEST_SUFFIX",
    "PACKAGE_SUFFIX",
    "Accept",
    "Delivery",
    "Fetched",
    "FolderMailbox",
    "InboxEntry",
    "InboxFile",
    "LocalSftpServer",
    "QuarantinedFile",
    "Receipt",
    "ReceiptBook",
    "ReceiptState",
    "ReceiveDirs",
    "ReceiveReport",
    "ReceivedPackage",
    "RefusalReason",
    "RetryPolicy",
    "ServerAccount",
    "ServerLayout",
    "SftpMailbox",
    "SweepOutcome",
    "SweepReport",
    "SweepRound",
    "SweptFile",
    "Transport",
    "check_server_folder",
    "check_server_prerequisites",
    "create_ssh_key",
    "load_ssh_key",
    "open_transport",
    "prepare_server",
    "prepare_server_root",
    "receive_from",
    "receive_packages",
    "send_package",
    "sweep",
]
