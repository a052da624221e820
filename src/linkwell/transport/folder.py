"""The folder transport: a shared directory with one inbox per party (the default; the demo's).

Layout: ``<root>/<party>/inbox/`` holds the packages delivered to ``party``. A sender copies a
package into a hidden partial file in the recipient's inbox (resuming one left by an earlier try),
checks the copy's digest, commits the digest file, then links the package into place, which fails
rather than overwrite a committed package. Files are made read-only. What a shared folder cannot
give is protection from another process of the same user; the SFTP transport and its sweeper can.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Self

from linkwell.errors import ConfigError, TransferError
from linkwell.faults import kill_point
from linkwell.fileio import write_bytes_atomic
from linkwell.progress import SILENT, Progress
from linkwell.transport.base import (
    MAX_DIGEST_FILE,
    PACKAGE_SUFFIX,
    Delivery,
    Fetched,
    InboxEntry,
    PackageNames,
    format_digest_file,
    parse_digest_file,
)
from linkwell.transport.local import (
    CHUNK,
    LocalPartial,
    commit_no_overwrite,
    file_size,
    local_error,
    sha256_file,
)

__all__ = ["FolderMailbox"]

logger = logging.getLogger(__name__)

_READ_ONLY = 0o440


class FolderMailbox:
    """A party's view of a shared folder: deliver into others' inboxes, read its own.

    Args:
        root: the shared folder (``FolderTransport.root`` in the project file).
        party: the party this mailbox belongs to.
        suffix: the package file suffix.
    """

    def __init__(self, root: Path, party: str, *, suffix: str = PACKAGE_SUFFIX) -> None:
        self._names = PackageNames(suffix)
        self._root = root
        self._party = PackageNames.check_party(party)
        self._inbox = root / party / "inbox"

    @property
    def party(self) -> str:
        """The party whose inbox this mailbox reads."""
        return self._party

    def deliver(self, package: Path, *, to: str, progress: Progress = SILENT) -> Delivery:
        """Copy ``package`` into ``to``'s inbox and commit it there, never over another file."""
        name = self._names.check_package(package)
        if PackageNames.check_party(to) == self._party:
            raise ConfigError("a party does not deliver packages to itself", field="to")
        inbox = self._root / to / "inbox"
        with progress.task(f"checking {name}", total=file_size(package)) as task:
            sha256, size = sha256_file(package, advance=task.advance)
        target = inbox / name
        if _exists(target):
            return self._already_there(target, sha256, size, to)
        partial = LocalPartial(
            inbox / PackageNames.partial(name, sha256), expected_size=size, mode=0o600
        )
        with partial, progress.task(f"delivering {name} to {to}", total=size) as task:
            task.advance(partial.resumed_from)
            try:
                with package.open("rb") as src:
                    src.seek(partial.size)
                    partial.write_all(iter(lambda: src.read(CHUNK), b""), task.advance)
            except OSError as exc:
                raise local_error(exc, package, doing="read the package") from exc
            copied = partial.finish()
        if copied != sha256 or partial.size != size:
            partial.path.unlink(missing_ok=True)
            raise TransferError(
                "the copy in the recipient's inbox does not match the package",
                file=package,
                hint="the package changed while it was being sent, or the shared folder is "
                "faulty; run the command again",
            )
        _make_read_only(partial.path)
        kill_point("transport.deliver.before-digest")
        self._commit_digest(inbox, name, sha256)
        kill_point("transport.deliver.before-commit")
        if not commit_no_overwrite(partial.path, target):
            partial.path.unlink(missing_ok=True)
            return self._already_there(target, sha256, size, to)
        logger.info("delivered package %s to %s (%d bytes)", name, to, size)
        return Delivery(
            name=name, recipient=to, size=size, sha256=sha256, resumed_from=partial.resumed_from
        )

    def list_inbox(self) -> tuple[InboxEntry, ...]:
        """The committed packages in this party's inbox (regular files only), by name."""
        try:
            entries = list(os.scandir(self._inbox))
        except FileNotFoundError:
            return ()
        except OSError as exc:
            raise local_error(exc, self._inbox, doing="list the inbox") from exc
        found = [
            InboxEntry(name=entry.name, size=entry.stat(follow_symlinks=False).st_size)
            for entry in entries
            if self._names.is_package(entry.name) and entry.is_file(follow_symlinks=False)
        ]
        listed = {entry.name for entry in found}
        for entry in entries:
            if entry.name not in listed and not self._expected_beside(entry.name):
                logger.warning(  # %r: the name is anyone's who can write here
                    "left alone in the inbox, not a package file: %r", entry.name
                )
        return tuple(sorted(found, key=lambda entry: entry.name))

    def _expected_beside(self, name: str) -> bool:
        """A package's digest file (written just before it), or a hidden copy being written."""
        return self._names.package_of_digest(name) is not None or (
            name.startswith(".") and name.endswith(".partial")
        )

    def read_digest(self, name: str) -> str | None:
        """The digest committed for package ``name`` in this party's inbox, if well-formed."""
        return _read_digest(self._inbox, self._names.digest_name(name), name)

    def fetch(self, name: str, dest: Path, *, size: int, progress: Progress = SILENT) -> Fetched:
        """Copy package ``name`` into ``dest``, continuing a partial copy left there."""
        source = self._inbox / name
        with (
            LocalPartial(dest, expected_size=size) as partial,
            progress.task(f"receiving {name}", total=size) as task,
        ):
            task.advance(partial.resumed_from)
            try:
                with _open_regular(source) as src:
                    src.seek(partial.size)
                    partial.write_all(iter(lambda: src.read(CHUNK), b""), task.advance)
            except FileNotFoundError as exc:
                raise TransferError(
                    "the package is no longer in the inbox",
                    file=source,
                    hint="receive again to see what the inbox holds now",
                ) from exc
            except OSError as exc:
                raise local_error(exc, source, doing="read the package from the inbox") from exc
            sha256 = partial.finish()
        return Fetched(
            path=dest, size=partial.size, sha256=sha256, resumed_from=partial.resumed_from
        )

    def acknowledge(self, name: str) -> None:
        """Remove a received package and its digest file from this party's own inbox."""
        for path in (self._inbox / name, self._inbox / self._names.digest_name(name)):
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                raise local_error(exc, path, doing="clear the received package") from exc

    def close(self) -> None:
        """Nothing to release for a folder."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _commit_digest(self, inbox: Path, name: str, sha256: str) -> None:
        """Commit the digest file before the package, refusing to replace a different one."""
        digest_path = inbox / self._names.digest_name(name)
        existing = _read_digest(inbox, digest_path.name, name) if _exists(digest_path) else None
        if existing == sha256:
            return
        if _exists(digest_path):
            raise TransferError(
                "another file with this package's name is being delivered to the same inbox",
                file=digest_path,
                hint="package ids are unique: seal the package again to get a new one",
            )
        write_bytes_atomic(digest_path, format_digest_file(name, sha256), mode=_READ_ONLY)

    def _already_there(self, target: Path, sha256: str, size: int, to: str) -> Delivery:
        """Idempotent re-delivery of the same bytes; anything else under that name is refused."""
        if _read_digest(target.parent, self._names.digest_name(target.name), target.name) != sha256:
            raise TransferError(
                "a different package with this name is already in the recipient's inbox",
                file=target,
                hint="committed packages are never overwritten; seal the package again to get a "
                "new package id",
            )
        return Delivery(
            name=target.name,
            recipient=to,
            size=size,
            sha256=sha256,
            resumed_from=size,
            already_delivered=True,
        )


def _read_digest(folder: Path, digest_name: str, name: str) -> str | None:
    path = folder / digest_name
    try:
        with _open_regular(path) as file:
            return parse_digest_file(file.read(MAX_DIGEST_FILE + 1), name)
    except FileNotFoundError:
        return None


def _open_regular(path: Path) -> BinaryIO:
    """Open ``path`` for reading only if it is a regular file and not a symbolic link.

    Raises:
        FileNotFoundError: if there is no such regular file (a link or a folder counts as none).
        StorageError: if it cannot be read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise FileNotFoundError(errno.ENOENT, "not a regular file") from exc
        raise local_error(exc, path, doing="read the file") from exc
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise FileNotFoundError(errno.ENOENT, "not a regular file")
    return os.fdopen(fd, "rb")


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _make_read_only(path: Path) -> None:
    try:
        path.chmod(_READ_ONLY)
    except OSError as exc:
        raise local_error(exc, path, doing="make the package read-only") from exc
