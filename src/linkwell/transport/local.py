"""The local-disk side of every transfer: resumable partial files, hashing, no-overwrite commits.

A transfer writes into a hidden partial file that survives interruption; resuming first hashes
what is already there (one local read) and then appends, so the digest at the end covers every
byte of the file as it lies on disk, not merely the bytes sent in the last attempt. A finished
file is committed with a hard link, which fails if the name exists: nothing is ever overwritten.
"""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Final, Self

from linkwell.errors import StorageError
from linkwell.fileio import fsync_dir

__all__ = [
    "CHUNK",
    "LocalPartial",
    "commit_no_overwrite",
    "file_size",
    "local_error",
    "sha256_file",
]

CHUNK: Final = 1 << 20
"""Bytes read or written per step on local disks."""

_NO_LINKS: Final = frozenset({errno.EPERM, errno.EOPNOTSUPP, errno.ENOSYS, errno.EXDEV})


def local_error(exc: OSError, path: Path, *, doing: str) -> StorageError:
    """A local disk failure as a :class:`StorageError` that says what to do about it."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StorageError(
            f"the disk is full while trying to {doing}",
            file=path,
            hint="free some space and run the command again; the transfer resumes where it stopped",
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return StorageError(
            f"no permission to {doing}",
            file=path,
            hint="check the folder's owner and permissions",
        )
    return StorageError(f"cannot {doing} ({exc.strerror or type(exc).__name__})", file=path)


def file_size(path: Path) -> int:
    """The size of a local file, as a :class:`StorageError` if it cannot be read."""
    try:
        return path.stat().st_size
    except OSError as exc:
        raise local_error(exc, path, doing="read the file") from exc


def sha256_file(path: Path, *, advance: Callable[[int], None] | None = None) -> tuple[str, int]:
    """The SHA-256 (hex) and size of a local file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    try:
        with path.open("rb") as src:
            while block := src.read(CHUNK):
                digest.update(block)
                size += len(block)
                if advance is not None:
                    advance(len(block))
    except OSError as exc:
        raise local_error(exc, path, doing="read the file") from exc
    return digest.hexdigest(), size


class LocalPartial:
    """A local file being filled by a transfer, resumable across attempts and processes.

    Opening it hashes the bytes already present; :meth:`write` appends and hashes; :meth:`finish`
    flushes the file to disk and returns the digest and size of the whole file. A partial file
    longer than the expected size cannot be a prefix of it and is started afresh.

    Args:
        path: the partial file; created with mode ``mode`` if missing.
        expected_size: the size the finished file must have.
        mode: permission bits for a new partial file.
    """

    def __init__(self, path: Path, *, expected_size: int, mode: int = 0o600) -> None:
        self.path = path
        self._digest = hashlib.sha256()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, mode)
        except OSError as exc:
            raise local_error(exc, path, doing="open the partial file") from exc
        try:
            size = os.fstat(self._fd).st_size
            if size > expected_size:
                os.ftruncate(self._fd, 0)
                size = 0
            done = 0
            while done < size and (block := os.read(self._fd, min(CHUNK, size - done))):
                self._digest.update(block)
                done += len(block)
        except OSError as exc:
            os.close(self._fd)
            raise local_error(exc, path, doing="read the partial file") from exc
        self.resumed_from = self.size = done
        os.lseek(self._fd, done, os.SEEK_SET)

    def write(self, block: bytes) -> None:
        """Append ``block`` and add it to the digest; unbuffered, so ``size`` is what is on disk."""
        view = memoryview(block)
        try:
            while view:
                written = os.write(self._fd, view)
                self._digest.update(view[:written])
                self.size += written
                view = view[written:]
        except OSError as exc:
            raise local_error(exc, self.path, doing="write the file") from exc

    def write_all(self, blocks: Iterable[bytes], advance: Callable[[int], None]) -> None:
        """Append every block of ``blocks``, reporting each one's size to ``advance``."""
        for block in blocks:
            self.write(block)
            advance(len(block))

    def finish(self) -> str:
        """Flush the file to disk, close it and return the SHA-256 of its whole content."""
        try:
            os.fsync(self._fd)
        except OSError as exc:
            raise local_error(exc, self.path, doing="write the file") from exc
        finally:
            self.close()
        return self._digest.hexdigest()

    def close(self) -> None:
        """Close the file, keeping what was written for a later resume."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def commit_no_overwrite(src: Path, dest: Path) -> bool:
    """Give the finished file ``src`` the name ``dest`` unless that name exists; True if it did.

    A hard link is made and ``src`` removed, so that an existing ``dest`` is never replaced, not
    even by a concurrent writer. Where the file system has no hard links the name is checked
    first and then renamed, which is safe against everything but a simultaneous commit.
    """
    try:
        try:
            os.link(src, dest, follow_symlinks=False)
        except FileExistsError:
            return False
        except OSError as exc:
            if exc.errno not in _NO_LINKS:
                raise
            if dest.exists() or dest.is_symlink():
                return False
            src.rename(dest)
        else:
            src.unlink()
        fsync_dir(dest.parent)
    except OSError as exc:
        raise local_error(exc, dest, doing="put the file in place") from exc
    return True
