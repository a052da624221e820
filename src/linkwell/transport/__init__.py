"""Moving sealed package files between parties: a shared folder (the default) or SFTP.

Transports move opaque files and guarantee them as files: a package is committed only complete
and beside its sender's digest, interrupted transfers resume, nothing is overwritten, and on
receipt every file passes the digest check and the caller's ``accept`` (the seal layer's check)
before it reaches the accepted folder; refused files are quarantined with the reason.
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
from linkwell.transport.folder import FolderMailbox
from linkwell.transport.receipts import Receipt, ReceiptBook, ReceiptState, RefusalReason
from linkwell.transport.retry import DEFAULT_RETRY, RetryPolicy

__all__ = [
    "DEFAULT_RETRY",
    "DIGEST_SUFFIX",
    "PACKAGE_SUFFIX",
    "Accept",
    "Delivery",
    "Fetched",
    "FolderMailbox",
    "InboxEntry",
    "Receipt",
    "ReceiptBook",
    "ReceiptState",
    "RefusalReason",
    "RetryPolicy",
    "Transport",
]
