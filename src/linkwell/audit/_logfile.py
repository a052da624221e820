"""The audit log as bytes on disk: locking, bounded line reading, and all-or-nothing appends.

Every access holds an ``flock`` on the log file itself (shared to read, exclusive to write), so
two processes of one party never interleave their lines and a reader never sees half a line that
is still being written. Lines are read with a hard length bound in both directions, so a damaged
or hostile file cannot make a reader hold more than one bounded line in memory. An append writes
complete lines, flushes them to disk, and on failure cuts the file back to its previous length.
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

from linkwell.audit.entry import MAX_LINE_BYTES
from linkwell.errors import AuditError, StorageError
from linkwell.fileio import fsync_dir

__all__ = [
    "LineRead",
    "append_bytes",
    "first_line",
    "iter_lines",
    "lines_backwards",
    "locked",
    "torn_tail",
    "truncate_to",
]

_BLOCK: Final = 64 * 1024
_LOG_MODE: Final = 0o600


@dataclass(frozen=True)
class LineRead:
    """One line as read: its 1-based number, its bytes without the newline, and its state.

    ``complete`` is false only for the last line when the file does not end in a newline (a
    torn write). A line longer than the bound has ``raw`` cut to one byte over it, which no
    parser accepts.
    """

    number: int
    raw: bytes
    complete: bool


@contextmanager
def locked(path: Path, *, write: bool, create: bool = True) -> Iterator[int]:
    """Open the log and hold its lock: exclusive to write, shared to read.

    Writing creates the file unless ``create`` is false.
    """
    flags = os.O_RDWR | os.O_APPEND | (os.O_CREAT if create else 0) if write else os.O_RDONLY
    try:
        if write:
            path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, flags | os.O_CLOEXEC, _LOG_MODE)
    except FileNotFoundError as exc:
        raise AuditError(
            "no audit log at this path",
            file=path,
            hint="check the path to the party's log; if the log was lost, restore it from a backup",
        ) from exc
    except OSError as exc:
        raise _storage_error(exc, path) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if write else fcntl.LOCK_SH)
        yield fd
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def iter_lines(handle: BinaryIO) -> Iterator[LineRead]:
    """Every line of a file opened in binary mode, front to back, each at most the bound."""
    number = 0
    while True:
        raw = handle.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        number += 1
        if raw.endswith(b"\n"):
            yield LineRead(number, raw[:-1], complete=True)
        elif len(raw) <= MAX_LINE_BYTES:
            yield LineRead(number, raw, complete=False)
        else:
            complete = _skip_rest_of_line(handle)
            yield LineRead(number, raw, complete=complete)


def _skip_rest_of_line(handle: BinaryIO) -> bool:
    while True:
        chunk = handle.readline(_BLOCK)
        if not chunk:
            return False
        if chunk.endswith(b"\n"):
            return True


def torn_tail(fd: int) -> tuple[int, int]:
    """``(size, start)``: the file's size and where its last complete line ends.

    ``start < size`` means the bytes from ``start`` on are a torn line (no final newline).
    """
    size = os.fstat(fd).st_size
    position = size
    while position > 0:
        begin = max(0, position - _BLOCK)
        block = os.pread(fd, position - begin, begin)
        newline = block.rfind(b"\n")
        if newline >= 0:
            return size, begin + newline + 1
        position = begin
    return size, 0


def first_line(fd: int) -> bytes | None:
    """The file's first complete line without its newline; ``None`` if there is none in bounds."""
    data = os.pread(fd, MAX_LINE_BYTES + 1, 0)
    newline = data.find(b"\n")
    return None if newline < 0 else data[:newline]


def lines_backwards(fd: int, end: int) -> Iterator[bytes]:
    """Complete lines ending at or before ``end`` (a line boundary), last line first.

    Yields lines without their newline. A line longer than the bound is yielded cut to just over
    the bound, which no parser accepts, so that memory stays bounded however long it is.
    """
    if end == 0:
        return
    tail = b""
    position = end - 1  # skip the final newline
    while True:
        newline = tail.rfind(b"\n")
        if newline >= 0:
            yield tail[newline + 1 :][: MAX_LINE_BYTES + 1]
            tail = tail[:newline]
            continue
        if position == 0:
            yield tail[: MAX_LINE_BYTES + 1]
            return
        begin = max(0, position - _BLOCK)
        tail = os.pread(fd, position - begin, begin) + tail
        position = begin
        if b"\n" not in tail and len(tail) > MAX_LINE_BYTES + 1:
            tail = tail[-(MAX_LINE_BYTES + 1) :]


def append_bytes(fd: int, data: bytes, *, path: Path) -> None:
    """Append ``data`` (complete lines) and flush it to disk; on failure leave the file as it was.

    The caller holds the exclusive lock, so cutting the file back cannot lose another writer's
    lines. A crash in the middle leaves a torn last line, which readers report as such.
    """
    size = os.fstat(fd).st_size
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    except OSError as exc:
        try:
            os.ftruncate(fd, size)
            os.fsync(fd)
        except OSError:
            # The cut failed too; the torn line it leaves is reported by verify, and the
            # original error is the one the user must act on.
            pass
        raise _storage_error(exc, path) from exc
    if size == 0:
        fsync_dir(path.parent)


def truncate_to(fd: int, size: int, *, path: Path) -> None:
    """Cut the file to ``size`` bytes and flush; used only by an explicit repair."""
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
    except OSError as exc:
        raise _storage_error(exc, path) from exc


def _storage_error(exc: OSError, path: Path) -> StorageError:
    if exc.errno == errno.ENOSPC:
        return StorageError(
            "the disk is full; nothing was added to the audit log",
            file=path,
            hint="free some space and run the step again",
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return StorageError(
            "no permission to use the audit log",
            file=path,
            hint="check the owner and permissions of the log and its folder",
        )
    return StorageError(f"cannot use the audit log ({exc.strerror})", file=path)
