"""Crash-safe file writing shared by every layer.

A file another step might read is never written in place: it is written to a hidden partial path
beside its destination, flushed to disk, then renamed over the destination in one atomic step, and
the directory entry is flushed too. A crash therefore leaves either the old file or the complete
new one, plus at most a ``.partial`` file that nothing accepts.
"""

from __future__ import annotations

import ctypes
import errno
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from linkwell.errors import StorageError
from linkwell.faults import kill_point

__all__ = [
    "PARTIAL_SUFFIX",
    "atomic_path",
    "check_new",
    "fsync_dir",
    "start_writeback",
    "write_bytes_atomic",
    "write_text_atomic",
]

PARTIAL_SUFFIX = ".partial"
"""Suffix of files still being written; every reader ignores them."""

_SYNC_FILE_RANGE_WRITE: Final = 2


def _sync_file_range() -> Callable[[int, int, int, int], int] | None:
    """Linux's ``sync_file_range`` from the C library, or ``None`` where there is none."""
    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (AttributeError, OSError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


_SYNC_RANGE: Final = _sync_file_range()


def start_writeback(fd: int, offset: int, length: int) -> None:
    """Ask the kernel to start writing ``length`` bytes at ``offset`` of ``fd`` to the disk now.

    It does not wait and promises nothing: the file is made durable by the ``fsync`` that
    :func:`atomic_path` runs, which then only waits for what is still in flight instead of
    writing the whole file at the end. Python has no binding for Linux's ``sync_file_range``,
    so it is called through the C library; elsewhere this does nothing. Its result is ignored:
    a failure only loses the head start.
    """
    if _SYNC_RANGE is not None:
        _SYNC_RANGE(fd, offset, length, _SYNC_FILE_RANGE_WRITE)


def fsync_dir(directory: Path) -> None:
    """Flush a directory's entries so a rename inside it survives a power cut."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _storage_error(exc: OSError, dest: Path) -> StorageError:
    if exc.errno == errno.ENOSPC:
        return StorageError(
            "the disk is full", file=dest, hint="free some space and run the step again"
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return StorageError(
            "no permission to write here",
            file=dest,
            hint="check the folder's owner and permissions",
        )
    return StorageError(f"cannot write the file ({exc.strerror})", file=dest)


def check_new(dest: Path) -> None:
    """Refuse a destination that exists (a file, folder or link): a package is never overwritten."""
    if dest.exists() or dest.is_symlink():
        raise StorageError(
            "the destination already exists and is never overwritten",
            file=dest,
            hint="choose another destination or move the existing file away",
        )


@contextmanager
def atomic_path(dest: Path, *, mode: int = 0o600) -> Iterator[Path]:
    """Yield a partial path to write; on success it replaces ``dest`` atomically.

    The partial file is created empty with ``mode`` before the caller writes to it, so secret
    content written into it is never readable by others even briefly; and it is given ``mode``
    again before it replaces ``dest``, because a writer may replace the file rather than write
    into it (DuckDB's ``COPY`` does, with the process's default mode). On any exception it is
    removed.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(f".{dest.name}.{secrets.token_hex(6)}{PARTIAL_SUFFIX}")
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        os.close(fd)
        yield partial
        partial.chmod(mode)
        kill_point("fileio.before-fsync")
        fd = os.open(partial, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        kill_point("fileio.before-rename")
        partial.replace(dest)
        fsync_dir(dest.parent)
        kill_point("fileio.after-rename")
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise _storage_error(exc, dest) from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def write_bytes_atomic(dest: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Write ``data`` to ``dest`` atomically."""
    with atomic_path(dest, mode=mode) as partial:
        partial.write_bytes(data)


def write_text_atomic(dest: Path, text: str, *, mode: int = 0o600) -> None:
    """Write UTF-8 ``text`` to ``dest`` atomically."""
    write_bytes_atomic(dest, text.encode("utf-8"), mode=mode)
