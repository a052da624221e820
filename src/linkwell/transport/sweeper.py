"""The sweeper: the server operator's privileged step that makes committed packages immutable.

Under OpenSSH's chroot a party still owns what it uploads and could change or delete it. The
sweeper (run as root, e.g. every minute) copies each committed package and its digest file from a
sender's drop folder into a *new* file in the recipient's inbox, owned by root and readable only
by the recipient's group, then removes the originals. Copying rather than renaming means nothing
the sender still holds (an open handle, another link) reaches the inbox copy. The copy is hashed
on the way and must match the sender's digest; refused files go to a root-only quarantine.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import logging
import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from linkwell.errors import TransferError
from linkwell.transport.base import (
    MAX_DIGEST_FILE,
    PACKAGE_SUFFIX,
    PackageNames,
    format_digest_file,
    parse_digest_file,
)
from linkwell.transport.local import CHUNK, local_error
from linkwell.transport.server import QUARANTINE_DIR

__all__ = ["SweepOutcome", "SweepReport", "SweptFile", "sweep"]

logger = logging.getLogger(__name__)

_LOCK: Final = ".sweep.lock"
_INBOX_MODE: Final = 0o440
_DIR_FLAGS: Final = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
_READ_FLAGS: Final = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK


class SweepOutcome(StrEnum):
    """What the sweeper did with one file."""

    DELIVERED = "delivered"
    """Copied into the recipient's inbox and removed from the drop folder."""
    DUPLICATE = "duplicate"
    """Already in the inbox with the same digest (a repeated delivery); the drop copy removed."""
    QUARANTINED = "quarantined"
    """Refused: moved into the server's quarantine with the reason."""
    PURGED = "purged"
    """Acknowledged by its recipient and cleared from the inbox."""


class SweptFile(BaseModel):
    """One file the sweeper acted on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sender: str | None = Field(description="None for a package purged after acknowledgement")
    recipient: str
    name: str
    outcome: SweepOutcome
    reason: str = ""


class SweepReport(BaseModel):
    """What one sweep did; ``busy`` if another sweep held the lock and this one did nothing."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    files: tuple[SweptFile, ...] = ()
    waiting: int = 0
    busy: bool = False

    def count(self, outcome: SweepOutcome) -> int:
        """How many files had ``outcome``."""
        return sum(1 for swept in self.files if swept.outcome is outcome)


def sweep(
    root: Path, *, suffix: str = PACKAGE_SUFFIX, purge_acknowledged: bool = True
) -> SweepReport:
    """Move every committed package under ``root`` from drop folders into inboxes, once.

    The layout is the one :func:`~linkwell.transport.server.prepare_server_root` makes; parties
    are the folders of ``root`` that have an ``inbox``. Packages whose digest file has not
    arrived yet are left for the next sweep (``waiting``). With ``purge_acknowledged``, packages
    a recipient acknowledged are removed from its inbox.
    """
    names = PackageNames(suffix)
    with _exclusive(root) as locked:
        if not locked:
            logger.warning("another sweep holds the lock on %s; nothing done", root)
            return SweepReport(busy=True)
        areas = _party_areas(root)
        files: list[SweptFile] = []
        waiting = 0
        for sender, area in areas.items():
            for recipient in _drop_folders(area):
                if recipient not in areas:
                    logger.warning("drop folder %s/outbox/%s has no such party", sender, recipient)
                    continue
                swept, left = _sweep_drop(root, names, sender, recipient, areas[recipient])
                files.extend(swept)
                waiting += left
        if purge_acknowledged:
            for party, area in areas.items():
                try:
                    files.extend(_purge(names, party, area))
                except OSError as exc:
                    raise local_error(exc, area, doing="clear acknowledged packages") from exc
    return SweepReport(files=tuple(files), waiting=waiting)


def _party_areas(root: Path) -> dict[str, Path]:
    try:
        entries = sorted(os.scandir(root), key=lambda entry: entry.name)
    except OSError as exc:
        raise local_error(exc, root, doing="list the server root") from exc
    return {
        entry.name: Path(entry.path)
        for entry in entries
        if not entry.name.startswith(".")
        and entry.is_dir(follow_symlinks=False)
        and (Path(entry.path) / "inbox").is_dir()
    }


def _drop_folders(area: Path) -> list[str]:
    outbox = area / "outbox"
    try:
        entries = sorted(os.scandir(outbox), key=lambda entry: entry.name)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise local_error(exc, outbox, doing="list the outbox") from exc
    return [entry.name for entry in entries if entry.is_dir(follow_symlinks=False)]


def _sweep_drop(
    root: Path, names: PackageNames, sender: str, recipient: str, recipient_area: Path
) -> tuple[list[SweptFile], int]:
    """Deliver what is committed in one drop folder; return the files and how many wait."""
    drop = root / sender / "outbox" / recipient
    with _opened_dir(drop) as drop_fd, _opened_dir(recipient_area / "inbox") as inbox_fd:
        folder = _DropFolder(
            root, names, sender=sender, recipient=recipient, drop_fd=drop_fd, inbox_fd=inbox_fd
        )
        return folder.sweep(drop)


class _DropFolder:
    """One sender's drop folder for one recipient, with the recipient's inbox, both held open.

    Everything is done through these two folder descriptors and with ``O_NOFOLLOW``: a party
    can put links and odd files in its drop folder, and the root-run sweeper must never follow
    them. The drop folder's owner is the sender; every file delivered must be the sender's own.
    """

    def __init__(
        self,
        root: Path,
        names: PackageNames,
        *,
        sender: str,
        recipient: str,
        drop_fd: int,
        inbox_fd: int,
    ) -> None:
        self.root = root
        self.names = names
        self.sender = sender
        self.recipient = recipient
        self.drop_fd = drop_fd
        self.inbox_fd = inbox_fd
        self.owner = os.fstat(drop_fd).st_uid
        self.inbox_gid = os.fstat(inbox_fd).st_gid

    def sweep(self, drop: Path) -> tuple[list[SweptFile], int]:
        swept: list[SweptFile] = []
        waiting = 0
        present = set(os.listdir(self.drop_fd))  # noqa: PTH208 - by descriptor, not by path
        for name in sorted(n for n in present if self.names.is_package(n)):
            if self.names.digest_name(name) not in present:
                waiting += 1
                continue
            reason = ""
            try:
                outcome = self.deliver(name)
            except TransferError as refusal:
                reason = refusal.message
                self.quarantine(name, reason)
                outcome = SweepOutcome.QUARANTINED
            except OSError as exc:
                raise local_error(exc, drop / name, doing="deliver the package") from exc
            logger.info("%s: %s from %s to %s", outcome.value, name, self.sender, self.recipient)
            swept.append(
                SweptFile(
                    sender=self.sender,
                    recipient=self.recipient,
                    name=name,
                    outcome=outcome,
                    reason=reason,
                )
            )
        try:
            self.remove_orphan_digests(present)
        except OSError as exc:
            raise local_error(exc, drop, doing="tidy the drop folder") from exc
        return swept, waiting

    def deliver(self, name: str) -> SweepOutcome:
        """Deliver one committed package, or raise :class:`TransferError` saying why not."""
        digest_name = self.names.digest_name(name)
        expected = parse_digest_file(_read_small(self.drop_fd, digest_name), name)
        if expected is None:
            raise TransferError("the digest file is malformed or not the sender's")
        src = _open_owned(self.drop_fd, name, self.owner)
        try:
            copied = os.fstat(src).st_ino
            if _exists(self.inbox_fd, name):
                if parse_digest_file(_read_small(self.inbox_fd, digest_name), name) != expected:
                    raise TransferError("a different package with this name was already delivered")
                if _sha256_of(src) != expected:
                    raise TransferError("the package does not match its digest file")
                self.remove_delivered(name, copied)
                return SweepOutcome.DUPLICATE
            _unlink(self.inbox_fd, digest_name)  # without its package: an interrupted sweep's
            hidden, actual = _copy_into(src, self.inbox_fd, name, gid=self.inbox_gid)
        finally:
            os.close(src)
        if actual != expected:
            _unlink(self.inbox_fd, hidden)
            raise TransferError("the package does not match its digest file")
        digest_file = format_digest_file(name, expected)
        _write_small(self.inbox_fd, digest_name, digest_file, gid=self.inbox_gid)
        try:
            os.link(
                hidden,
                name,
                src_dir_fd=self.inbox_fd,
                dst_dir_fd=self.inbox_fd,
                follow_symlinks=False,
            )
        finally:
            _unlink(self.inbox_fd, hidden)
        os.fsync(self.inbox_fd)
        self.remove_delivered(name, copied)
        return SweepOutcome.DELIVERED

    def remove_delivered(self, name: str, inode: int) -> None:
        """Remove a delivered package and its digest file from the drop folder.

        The package is removed only if its name still points at the file that was delivered:
        a file the sender put under that name meanwhile is left for the next sweep.
        """
        try:
            current = os.stat(name, dir_fd=self.drop_fd, follow_symlinks=False).st_ino
        except FileNotFoundError:
            current = inode
        if current == inode:
            _unlink(self.drop_fd, name)
            _unlink(self.drop_fd, self.names.digest_name(name))
        os.fsync(self.drop_fd)

    def quarantine(self, name: str, reason: str) -> None:
        """Keep a refused package and its digest file in the server's quarantine, with why."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        folder = self.root / QUARANTINE_DIR / self.sender
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise local_error(exc, folder, doing="create the quarantine") from exc
        parts = (name, self.names.digest_name(name))
        with _opened_dir(folder) as quarantine_fd:
            for part in parts:
                _keep_copy(self.drop_fd, part, quarantine_fd, f"{stamp}-{part}")
            note = {
                "name": name,
                "sender": self.sender,
                "recipient": self.recipient,
                "reason": reason,
                "at": stamp,
            }
            _write_small(
                quarantine_fd, f"{stamp}-{name}.reason.json", json.dumps(note).encode(), gid=0
            )
        for part in parts:
            _unlink(self.drop_fd, part)
        logger.warning(
            "quarantined %s from %s to %s: %s", name, self.sender, self.recipient, reason
        )

    def remove_orphan_digests(self, present: set[str]) -> None:
        """Remove digest files left in the drop folder by a sweep that stopped after delivering."""
        for entry in present:
            package = self.names.package_of_digest(entry)
            if package is None or package in present or not _exists(self.inbox_fd, package):
                continue
            theirs = parse_digest_file(_read_small(self.drop_fd, entry), package)
            ours = parse_digest_file(_read_small(self.inbox_fd, entry), package)
            if theirs is not None and theirs == ours:
                _unlink(self.drop_fd, entry)


def _keep_copy(dir_fd: int, name: str, dest_fd: int, dest_name: str) -> None:
    """Copy a regular file (never a link) from one folder into another, root-only."""
    try:
        src = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
    except OSError:
        return  # a link or nothing: there is no content worth keeping
    try:
        if stat.S_ISREG(os.fstat(src).st_mode):
            hidden, _ = _copy_into(src, dest_fd, name, gid=0)
            os.rename(hidden, dest_name, src_dir_fd=dest_fd, dst_dir_fd=dest_fd)
    finally:
        os.close(src)


def _sha256_of(fd: int) -> str:
    """The SHA-256 of an open file read from its start."""
    digest = hashlib.sha256()
    os.lseek(fd, 0, os.SEEK_SET)
    while block := os.read(fd, CHUNK):
        digest.update(block)
    return digest.hexdigest()


def _copy_into(src: int, dir_fd: int, name: str, *, gid: int) -> tuple[str, str]:
    """Copy an open file into a new hidden file in ``dir_fd``; return its name and SHA-256.

    The new file is private to root while it is written and given to the group, read-only,
    only when complete, so the recipient can never read a partial copy.
    """
    hidden = f".{name}.{secrets.token_hex(6)}.partial"
    digest = hashlib.sha256()
    dst = os.open(
        hidden, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o400, dir_fd=dir_fd
    )
    try:
        while block := os.read(src, CHUNK):
            digest.update(block)
            view = memoryview(block)
            while view:
                view = view[os.write(dst, view) :]
        os.fchown(dst, os.geteuid(), gid)
        os.fchmod(dst, _INBOX_MODE)
        os.fsync(dst)
    except BaseException:
        os.close(dst)
        _unlink(dir_fd, hidden)
        raise
    os.close(dst)
    return hidden, digest.hexdigest()


def _write_small(dir_fd: int, name: str, data: bytes, *, gid: int) -> None:
    """Commit a short root-owned file (a digest file) under ``name`` without overwriting."""
    hidden = f".{name}.{secrets.token_hex(6)}.partial"
    fd = os.open(hidden, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o400, dir_fd=dir_fd)
    try:
        os.write(fd, data)
        os.fchown(fd, os.geteuid(), gid)
        os.fchmod(fd, _INBOX_MODE)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(hidden, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd, follow_symlinks=False)
    finally:
        _unlink(dir_fd, hidden)


def _purge(names: PackageNames, party: str, area: Path) -> list[SweptFile]:
    """Clear from ``party``'s inbox the packages it acknowledged, and the receipts."""
    purged: list[SweptFile] = []
    if not (area / "acks").is_dir():
        return purged
    with _opened_dir(area / "acks") as acks_fd, _opened_dir(area / "inbox") as inbox_fd:
        for entry in sorted(os.listdir(acks_fd)):  # noqa: PTH208 - by descriptor
            if not names.is_package(entry):
                continue
            if _exists(inbox_fd, entry):
                _unlink(inbox_fd, entry)
                _unlink(inbox_fd, names.digest_name(entry))
                purged.append(
                    SweptFile(sender=None, recipient=party, name=entry, outcome=SweepOutcome.PURGED)
                )
                logger.info("purged acknowledged %s from %s's inbox", entry, party)
            _unlink(acks_fd, entry)
    return purged


def _open_owned(dir_fd: int, name: str, owner: int) -> int:
    """Open a regular file owned by ``owner`` for reading, never following a link.

    Raises:
        TransferError: if it is a link, not a regular file, or someone else's.
        FileNotFoundError: if it is not there.
    """
    try:
        fd = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise TransferError("a symbolic link, not a file") from exc
        raise
    info = os.fstat(fd)
    problem = (
        "not a regular file"
        if not stat.S_ISREG(info.st_mode)
        else "not owned by the sender"
        if info.st_uid != owner
        else None
    )
    if problem is not None:
        os.close(fd)
        raise TransferError(problem)
    return fd


def _read_small(dir_fd: int, name: str) -> bytes:
    """A short regular file owned by its folder's owner; empty if missing or anything else."""
    try:
        fd = _open_owned(dir_fd, name, os.fstat(dir_fd).st_uid)
    except (FileNotFoundError, TransferError):
        return b""
    try:
        return os.read(fd, MAX_DIGEST_FILE + 1)
    finally:
        os.close(fd)


def _exists(dir_fd: int, name: str) -> bool:
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def _unlink(dir_fd: int, name: str) -> None:
    with suppress(FileNotFoundError):
        os.unlink(name, dir_fd=dir_fd)


@contextmanager
def _opened_dir(path: Path) -> Iterator[int]:
    try:
        fd = os.open(path, _DIR_FLAGS)
    except OSError as exc:
        raise local_error(exc, path, doing="open the folder") from exc
    try:
        yield fd
    finally:
        os.close(fd)


@contextmanager
def _exclusive(root: Path) -> Iterator[bool]:
    """Hold the sweep lock under ``root`` if no other sweep does; yield whether it is held."""
    try:
        fd = os.open(root / _LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        raise local_error(exc, root / _LOCK, doing="take the sweep lock") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)
