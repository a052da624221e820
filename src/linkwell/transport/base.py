"""The transport contract: how sealed package files move between parties, whatever carries them.

A :class:`Transport` delivers a package file into another party's inbox, and lists, fetches and
acknowledges the files in its own party's inbox. It moves opaque bytes: who sent a package and
whether it may be opened is the seal layer's check (the caller's ``accept``). What the transport
guarantees is the file itself: beside every package ``<id>.lwp`` the sender commits a digest file
``<id>.lwp.sha256`` (``sha256sum`` format) *before* the package, so a receiver that sees a package
always finds the SHA-256 it must match after a (possibly resumed) transfer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Final, Protocol

from pydantic import BaseModel, ConfigDict, Field

from linkwell.errors import ConfigError, TransferError
from linkwell.progress import SILENT, Progress

__all__ = [
    "DIGEST_SUFFIX",
    "PACKAGE_SUFFIX",
    "Accept",
    "Delivery",
    "Fetched",
    "InboxEntry",
    "PackageNames",
    "Transport",
    "format_digest_file",
    "parse_digest_file",
]

PACKAGE_SUFFIX: Final = ".lwp"
"""File name suffix of a sealed package: ``<package-id>.lwp``."""

DIGEST_SUFFIX: Final = ".sha256"
"""Suffix of the digest file committed beside each package: ``<package-id>.lwp.sha256``."""

MAX_DIGEST_FILE: Final = 1024
"""A digest file is one short line; anything longer is refused unread."""

Accept = Callable[[Path], str]
"""The receipt check: verifies a downloaded package file (signature, recipient, project, replay)
and returns its package id, or raises a :class:`~linkwell.errors.PackageError`."""

_STEM = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
_SUFFIX = re.compile(r"\.[a-z0-9]{1,16}")
_PARTY = re.compile(r"[a-z][a-z0-9-]{0,62}")
_HEX64 = re.compile(r"[0-9a-f]{64}")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class InboxEntry(_Model):
    """A committed package file in a party's inbox."""

    name: str
    size: int = Field(ge=0)


class Delivery(_Model):
    """What :meth:`Transport.deliver` did: the package committed for ``recipient``."""

    name: str
    recipient: str
    size: int = Field(ge=0)
    sha256: str
    resumed_from: int = Field(ge=0, description="bytes already on the far side from earlier tries")
    already_delivered: bool = False


class Fetched(_Model):
    """A file copied out of an inbox into a local partial file, with the digest of all its bytes."""

    path: Path
    size: int = Field(ge=0)
    sha256: str
    resumed_from: int = Field(ge=0, description="bytes that were already there from earlier tries")


class PackageNames:
    """The naming rules every transport and the sweeper share, for one package suffix.

    A package is ``<stem><suffix>`` with a stem of letters, digits, ``-`` and ``_`` (a package id);
    dots are kept out of stems so that digest files and partial files can never be mistaken for
    packages. Names starting with ``.`` are work in progress and never listed.
    """

    def __init__(self, suffix: str = PACKAGE_SUFFIX) -> None:
        if not _SUFFIX.fullmatch(suffix):
            raise ConfigError(
                "the package suffix must be a dot and 1-16 lower-case letters or digits",
                field="suffix",
                hint="use the default '.lwp' unless every party agrees on another",
            )
        self.suffix = suffix

    def is_package(self, name: str) -> bool:
        """Whether ``name`` is a committed package's file name."""
        stem = name[: -len(self.suffix)]
        return name.endswith(self.suffix) and _STEM.fullmatch(stem) is not None

    def digest_name(self, name: str) -> str:
        """The digest file that accompanies package ``name``."""
        return name + DIGEST_SUFFIX

    def package_of_digest(self, name: str) -> str | None:
        """The package a digest file belongs to, or ``None`` if ``name`` is not a digest file."""
        if not name.endswith(DIGEST_SUFFIX):
            return None
        package = name[: -len(DIGEST_SUFFIX)]
        return package if self.is_package(package) else None

    def check_package(self, path: Path) -> str:
        """The file name of a package about to be delivered, refusing names we would not list."""
        if not self.is_package(path.name):
            raise TransferError(
                "the file is not named like a package",
                file=path,
                hint=f"a package file is named '<package-id>{self.suffix}' with a package id of "
                "letters, digits, '-' and '_'",
            )
        return path.name

    @staticmethod
    def check_party(name: str) -> str:
        """A party name used as a folder name, refusing anything that could leave the root."""
        if not _PARTY.fullmatch(name):
            raise ConfigError(
                "not a valid party name",
                field="party",
                hint="party names are lower-case letters, digits and '-', as in the project file",
            )
        return name

    @staticmethod
    def partial(name: str, sha256: str) -> str:
        """A hidden work name for ``name`` whose content will hash to ``sha256``.

        The digest prefix in the name means an interrupted transfer is only ever resumed into a
        partial file of exactly the same content, never one left by a different file.
        """
        return f".{name}.{sha256[:16]}.partial"


def format_digest_file(name: str, sha256: str) -> bytes:
    """The digest file's content, in ``sha256sum`` format so ``sha256sum -c`` can check it."""
    if not _HEX64.fullmatch(sha256):
        raise TransferError("a digest must be 64 lower-case hex digits", field="sha256")
    return f"{sha256}  {name}\n".encode("ascii")


def parse_digest_file(data: bytes, name: str) -> str | None:
    """The SHA-256 a digest file states for ``name``; ``None`` if malformed or for another file."""
    if len(data) > MAX_DIGEST_FILE:
        return None
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        return None
    digest, sep, rest = text.partition("  ")
    if not sep or rest != f"{name}\n" or not _HEX64.fullmatch(digest):
        return None
    return digest


class Transport(Protocol):
    """Moves package files between parties: the folder and SFTP implementations follow it.

    Every implementation commits a package only complete (written under a partial name, then
    renamed without overwriting) and after its digest file, resumes interrupted transfers, and
    never lists partial files. Implementations are context managers that release connections.
    """

    @property
    def party(self) -> str:
        """The party whose inbox this transport reads and on whose behalf it delivers."""

    def deliver(self, package: Path, *, to: str, progress: Progress = SILENT) -> Delivery:
        """Commit ``package`` (named ``<id><suffix>``) into party ``to``'s inbox or drop area."""

    def list_inbox(self) -> tuple[InboxEntry, ...]:
        """The committed package files in this party's inbox, sorted by name."""

    def read_digest(self, name: str) -> str | None:
        """The SHA-256 the sender committed for package ``name``, or ``None`` if there is none."""

    def fetch(self, name: str, dest: Path, *, size: int, progress: Progress = SILENT) -> Fetched:
        """Copy package ``name`` (``size`` bytes) into local ``dest``, resuming what is there."""

    def acknowledge(self, name: str) -> None:
        """Say that package ``name`` was received, so the server may clear it from the inbox."""

    def close(self) -> None:
        """Release connections; the transport cannot be used afterwards."""
