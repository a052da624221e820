"""Streaming file I/O around the age cipher: whole blocks read, hashed and written.

pyrage's streaming calls release the GIL while they encrypt or decrypt and call back into Python
for every 8 KiB; these readers and writers answer those calls from one-block buffers, so hashing
and file I/O happen a block at a time. Sealing reads and hashes the plaintext ahead on one
background thread (:class:`ReadAhead`); opening hashes and writes the plaintext behind on one
(:class:`HashingWriter` with ``behind``). Buffers are allocated once, and memory is bounded by a
few blocks whatever the payload's size.
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
from types import TracebackType
from typing import Final, Self

from linkwell.faults import kill_point
from linkwell.fileio import start_writeback
from linkwell.progress import ProgressTask

__all__ = [
    "BLOCK_SIZE",
    "HashingWriter",
    "ReadAhead",
    "RegionReader",
    "ShortFileError",
    "hash_region",
    "read_exact",
]

BLOCK_SIZE: Final = 1024 * 1024
"""Bytes per block handed between threads."""
_DEPTH: Final = 4
_BUFFERS: Final = 3


class ShortFileError(OSError):
    """The file ended before the region the caller expected (it shrank, or was cut short)."""


def _pread_exact(fd: int, length: int, offset: int) -> bytes:
    data = os.pread(fd, length, offset)
    while len(data) < length:
        more = os.pread(fd, length - len(data), offset + len(data))
        if not more:
            raise ShortFileError("the file ended early")
        data += more
    return data


def read_exact(fd: int, length: int, offset: int) -> bytes:
    """Exactly ``length`` bytes at ``offset`` of ``fd``, or :class:`ShortFileError`."""
    return _pread_exact(fd, length, offset) if length else b""


def _pread_into(fd: int, view: memoryview, offset: int) -> None:
    """Fill ``view`` from ``offset`` of ``fd``, or :class:`ShortFileError`."""
    filled = 0
    while filled < len(view):
        got = os.preadv(fd, [view[filled:]], offset + filled)
        if not got:
            raise ShortFileError("the file ended early")
        filled += got


def hash_region(fd: int, offset: int, length: int, task: ProgressTask) -> str:
    """SHA-256 (hex) of ``length`` bytes at ``offset`` of ``fd``, reading one block at a time.

    Every block is read into the same buffer: a fresh block-sized object per read would cost
    more in page faults than the read itself.
    """
    digest = hashlib.sha256()
    buffer = memoryview(bytearray(min(BLOCK_SIZE, length)))
    position, end = offset, offset + length
    while position < end:
        block = buffer[: min(BLOCK_SIZE, end - position)]
        _pread_into(fd, block, position)
        digest.update(block)
        position += len(block)
        task.advance(len(block))
    return digest.hexdigest()


class ReadAhead:
    """A file-like ``read`` over a region of ``fd``, filled and hashed by a background thread.

    Use as a context manager; leaving it stops the thread even when the consumer gave up early.
    An error on the thread is kept in :attr:`error` and raised to the consumer.
    """

    def __init__(self, fd: int, offset: int, length: int, *, task: ProgressTask) -> None:
        self._fd, self._offset, self._length, self._task = fd, offset, length, task
        self._queue: queue.Queue[bytes | BaseException] = queue.Queue(maxsize=_DEPTH)
        self._stop = threading.Event()
        self._hash = hashlib.sha256()
        self._block = b""
        self._position = 0
        self._eof = False
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._fill, name="linkwell-read-ahead", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        while self._thread.is_alive():
            try:
                self._queue.get(timeout=0.05)
            except queue.Empty:
                continue
        self._thread.join()

    def _fill(self) -> None:
        try:
            position, end = self._offset, self._offset + self._length
            while position < end and not self._stop.is_set():
                block = _pread_exact(self._fd, min(BLOCK_SIZE, end - position), position)
                self._hash.update(block)
                position += len(block)
                self._queue.put(block)
            self._queue.put(b"")
        except Exception as exc:  # noqa: BLE001 - handed to the consumer, who raises it
            self._queue.put(exc)

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (all of the current block if negative); ``b""`` at the end."""
        if self._position >= len(self._block):
            if self._eof:
                return b""
            item = self._queue.get()
            if isinstance(item, BaseException):
                self.error = item
                raise item
            if not item:
                self._eof = True
                return b""
            self._block, self._position = item, 0
            self._task.advance(len(item))
        end = len(self._block) if size < 0 else self._position + size
        chunk = self._block[self._position : end]
        self._position += len(chunk)
        return chunk

    @property
    def complete(self) -> bool:
        """Whether the consumer read the whole region up to its end."""
        return self._eof

    def hexdigest(self) -> str:
        """SHA-256 of the region; meaningful once :attr:`complete`."""
        return self._hash.hexdigest()


class RegionReader:
    """A file-like ``read`` over a region of ``fd`` on the caller's thread, a block at a time.

    For decryption, where nothing needs hashing on the way in: a reading thread would only add
    hand-overs between threads. An error is kept in :attr:`error`, as the cipher that calls
    ``read`` replaces it with its own.
    """

    def __init__(self, fd: int, offset: int, length: int, *, task: ProgressTask) -> None:
        self._fd, self._next, self._end, self._task = fd, offset, offset + length, task
        self._buffer = memoryview(bytearray(min(BLOCK_SIZE, length)))
        self._block = self._buffer[:0]
        self._position = 0
        self.error: OSError | None = None

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (all of the current block if negative); ``b""`` at the end."""
        if self._position >= len(self._block):
            if self._next >= self._end:
                return b""
            # One buffer for every block (see hash_region): only the cipher's chunks are copied.
            self._block = self._buffer[: min(BLOCK_SIZE, self._end - self._next)]
            try:
                _pread_into(self._fd, self._block, self._next)
            except OSError as exc:
                self.error = exc
                raise
            self._next += len(self._block)
            self._position = 0
            self._task.advance(len(self._block))
        end = len(self._block) if size < 0 else self._position + size
        chunk = self._block[self._position : end].tobytes()
        self._position += len(chunk)
        return chunk


class HashingWriter:
    """A file-like ``write`` into ``fd`` from ``offset`` on, hashed, a whole block at a time.

    The cipher's small chunks are gathered into a one-block buffer on the caller's thread, and
    each full block is hashed, written and its write-back to the disk started (so the caller's
    final ``fsync`` finds little left to write): on the caller's thread, or with ``behind`` on
    one background thread of its own while the cipher goes on with the next block (SHA-256,
    ``pwrite`` and the cipher all release the GIL). Opening writes behind: its cipher thread
    has nothing else to do, and the plaintext's SHA-256 then costs no time. Sealing does not:
    its plaintext is already read and hashed ahead on a second thread, and on two cores a third
    cost more than it saved (measured both ways). Buffers are allocated once (a fresh one per
    block costs page faults); memory is a few blocks whatever the payload's size.

    Use as a context manager: leaving it stops the thread, also when the cipher gave up early.
    An error is kept in :attr:`error` and raised to the caller (at its next block or at
    :meth:`finish`), as the cipher that calls ``write`` replaces it with its own. Each block
    written passes the kill point ``block_point``, so a crash can be injected mid-stream.
    """

    def __init__(
        self,
        fd: int,
        offset: int,
        *,
        block_point: str = "stream.block-written",
        behind: bool = False,
    ) -> None:
        self._fd, self._position = fd, offset
        self._block_point = block_point
        self._buffer = bytearray(BLOCK_SIZE)
        self._used = 0
        self._hash = hashlib.sha256()
        self._size = 0
        self.error: BaseException | None = None
        self._free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
        self._full: queue.SimpleQueue[tuple[bytearray, int] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        if behind:
            for _ in range(_BUFFERS - 1):
                self._free.put(bytearray(BLOCK_SIZE))
            self._thread = threading.Thread(target=self._drain, name="linkwell-write-behind")

    def __enter__(self) -> Self:
        if self._thread is not None:
            self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._full.put(None)
            self._thread.join()

    def _drain(self) -> None:
        while (item := self._full.get()) is not None:
            buffer, used = item
            if self.error is None:  # after an error, blocks are only handed back
                try:
                    self._write(buffer, used)
                except Exception as exc:  # noqa: BLE001 - raised to the caller at its next block
                    self.error = exc
            self._free.put(buffer)

    def _write(self, buffer: bytearray, used: int) -> None:
        with memoryview(buffer) as whole:
            view = whole[:used]
            self._hash.update(view)
            start = self._position
            try:
                while view:
                    written = os.pwrite(self._fd, view, self._position)
                    self._position += written
                    view = view[written:]
            finally:
                view.release()
        start_writeback(self._fd, start, self._position - start)
        kill_point(self._block_point)

    def _flush(self) -> None:
        """The current block: written here, or queued for the thread (a free buffer taken)."""
        if self.error is not None:
            raise self.error
        if self._thread is None:
            try:
                self._write(self._buffer, self._used)
            except OSError as exc:
                self.error = exc
                raise
        else:
            self._full.put((self._buffer, self._used))
            self._buffer = self._free.get()
        self._used = 0

    def write(self, data: bytes) -> int:
        """Take ``data``; a full block is hashed and written (or handed to the thread) at once."""
        size = len(data)
        if self._used + size < BLOCK_SIZE:  # the common case: the cipher's chunks are small
            self._buffer[self._used : self._used + size] = data
            self._used += size
        else:
            with memoryview(data) as whole:
                taken = 0
                while taken < size:
                    part = whole[taken : taken + BLOCK_SIZE - self._used]
                    self._buffer[self._used : self._used + len(part)] = part
                    self._used += len(part)
                    taken += len(part)
                    if self._used == BLOCK_SIZE:
                        self._flush()
        self._size += size
        return size

    def flush(self) -> None:
        """Nothing to do before :meth:`finish`: blocks are written when full."""

    def finish(self) -> tuple[str, int, int]:
        """Write what is left; return (SHA-256 hex, bytes written, end offset in the file)."""
        if self._used:
            self._flush()
        if self._thread is not None:
            self._full.put(None)
            self._thread.join()
        if self.error is not None:
            raise self.error
        return self._hash.hexdigest(), self._size, self._position
