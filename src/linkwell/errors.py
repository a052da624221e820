"""Every error linkwell raises, in one tree rooted at :class:`LinkwellError`.

Each error says what failed, where (file, row number, field) and what to do, and never carries a
child's identifier, a key or a row's values: location is structured (``file``, ``row``,
``field``) so that callers can point at the problem without quoting it. Errors caused by the
user's input are kept apart from :class:`InternalError`, which means linkwell itself is wrong.
The command line maps each class to its own exit code::

    LinkwellError                   1  anything below
    ├── ConfigError                 2  project file, workspace or option is wrong
    ├── InputError                  3  a file a provider supplied cannot be used
    │   ├── ReadError                  not readable: format, encoding, empty, too large
    │   ├── SchemaError                dataset definition or version is wrong or forbidden
    │   └── ValidationError            required columns missing, or every row rejected
    ├── IdentityError               4  secret identity missing, locked or wrong passphrase
    ├── PackageError                5  a sealed package is refused
    │   ├── PackageFormatError         malformed, truncated or an unknown format version
    │   ├── SignatureError             signature does not verify
    │   │   └── UnknownSenderError     signed by nobody registered in the project
    │   ├── MisdirectedError           for another recipient, project or wave
    │   ├── RoleError                  sender or receiver role may not use this kind
    │   ├── ExpiredError               past its expiry time
    │   ├── ReplayError                already received or opened
    │   └── DigestError                content does not match the manifest's digests
    ├── TransportError              6  a transfer failed
    │   ├── HostKeyError               server host key unknown or changed
    │   └── TransferError              connection, permission or resume failure
    ├── StorageError                7  a local file or store cannot be written or trusted
    │   └── VaultError                 the indexer's vault is missing, locked or corrupt
    ├── AuditError                  8  an audit log fails verification (with position)
    ├── DisclosureError             9  an output would break disclosure control
    ├── SeparationError            10  a party holds something its role must never hold
    └── InternalError              70  a bug in linkwell: please report it
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

__all__ = [
    "AuditError",
    "ConfigError",
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
    "ReadError",
    "ReplayError",
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
]


class LinkwellError(Exception):
    """Root of every error linkwell raises on purpose.

    Args:
        message: what failed, in words a user can act on; never a data value.
        file: the file concerned, if any.
        row: 1-based data row number in that file (the header is row 0), if any.
        field: the column or field concerned, if any.
        hint: what the user should do about it.
    """

    exit_code: ClassVar[int] = 1

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        row: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = None if file is None else str(file)
        self.row = row
        self.field = field
        self.hint = hint

    @property
    def location(self) -> str:
        """``file, row N, field F`` for the parts that are known, or an empty string."""
        parts = []
        if self.file is not None:
            parts.append(self.file)
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.field is not None:
            parts.append(f"field {self.field!r}")
        return ", ".join(parts)

    def __str__(self) -> str:
        text = self.message
        if self.location:
            text = f"{text} [{self.location}]"
        if self.hint:
            text = f"{text}. {self.hint}"
        return text


class ConfigError(LinkwellError):
    """The project file, a workspace setting or a command-line option is wrong."""

    exit_code = 2


class InputError(LinkwellError):
    """A file supplied by a provider cannot be used as it stands."""

    exit_code = 3


class ReadError(InputError):
    """The file cannot be read: unknown format, bad encoding, empty, or beyond a size limit."""


class SchemaError(InputError):
    """A dataset definition or version is wrong, unknown, or declares a forbidden field."""


class ValidationError(InputError):
    """The data cannot go on at all: a required column is missing or no row is usable."""


class IdentityError(LinkwellError):
    """A party's secret identity is missing, unreadable, or its passphrase is wrong."""

    exit_code = 4


class PackageError(LinkwellError):
    """A sealed package is refused; the subclass names the check that failed."""

    exit_code = 5


class PackageFormatError(PackageError):
    """The package is malformed, truncated, or of a format version this release cannot read."""


class SignatureError(PackageError):
    """The sender's signature does not verify over the manifest and ciphertext."""


class UnknownSenderError(SignatureError):
    """The package is signed by a key that no party in the project file holds."""


class MisdirectedError(PackageError):
    """The package is addressed to another recipient, project or wave."""


class RoleError(PackageError):
    """The sender's role may not send this kind of package, or the receiver's may not open it."""


class ExpiredError(PackageError):
    """The package is past its expiry time."""


class ReplayError(PackageError):
    """The package has already been received or opened once."""


class DigestError(PackageError):
    """The ciphertext or plaintext does not match the digests the sender signed."""


class TransportError(LinkwellError):
    """Moving a package between organisations failed."""

    exit_code = 6


class HostKeyError(TransportError):
    """The server's host key is not the one pinned in the project file."""


class TransferError(TransportError):
    """A connection, permission or resume failure while moving a package."""


class StorageError(LinkwellError):
    """A local file or store cannot be written, read back or trusted (disk full, corrupt)."""

    exit_code = 7


class VaultError(StorageError):
    """The indexer's vault is missing, locked with another key, or fails verification."""


class AuditError(LinkwellError):
    """An audit log fails verification; the message says at which entry."""

    exit_code = 8


class DisclosureError(LinkwellError):
    """An output would publish a number that disclosure control does not allow."""

    exit_code = 9


class SeparationError(LinkwellError):
    """A party's workspace holds something its role must never hold."""

    exit_code = 10


class InternalError(LinkwellError):
    """A bug in linkwell itself, not in the user's input."""

    exit_code = 70

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        row: int | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(
            message,
            file=file,
            row=row,
            field=field,
            hint="This is a bug in linkwell; please report it with the command you ran",
        )
