"""An SFTP client whose pipelined reads and writes check every reply the server sends.

Paramiko's own pipelined writes only look at the server's replies now and then and discard those
still outstanding when the file is closed, so a write the server refused (a full disk) can pass
unnoticed; its prefetching reads run in a background thread that cannot be stopped cleanly when
the connection drops. This client keeps a bounded window of requests in flight on the calling
thread and raises on the first refusal. It also speaks three OpenSSH extensions: ``fsync`` (make an
upload durable before it is committed), ``statvfs`` (tell a full disk from other failures) and
``limits`` (read in blocks as large as the server allows).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Final, cast

from paramiko import SFTPClient, SFTPFile
from paramiko.message import Message
from paramiko.sftp import (
    CMD_DATA,
    CMD_EXTENDED,
    CMD_EXTENDED_REPLY,
    CMD_READ,
    CMD_STATUS,
    CMD_WRITE,
    int64,
)

from linkwell.errors import TransferError

__all__ = ["MAX_READ_SIZE", "REQUEST_SIZE", "PipelinedSftpClient", "handle_of"]

REQUEST_SIZE: Final = 32768
"""Bytes per read or write request that every SFTP server must accept."""

MAX_READ_SIZE: Final = 256 * 1024
"""The largest read request made even if a server would answer more."""

_UNSUPPORTED: Final = "Operation unsupported"
"""OpenSSH's text for SSH_FX_OP_UNSUPPORTED, which paramiko reports without a code."""


class _Replies:
    """Collects replies to requests this client has in flight, by request number."""

    def __init__(self) -> None:
        self.got: dict[int, tuple[int, Message]] = {}

    def _async_response(self, kind: int, msg: Message, num: int) -> None:
        """Called by paramiko for each reply addressed to this collector."""
        self.got[num] = (kind, msg)


def handle_of(file: SFTPFile) -> bytes:
    """The server's handle for an open file (typed wrongly in paramiko's stubs)."""
    return cast(bytes, file.handle)


class PipelinedSftpClient(SFTPClient):
    """:class:`paramiko.SFTPClient` with checked, windowed pipelining and OpenSSH extensions.

    It builds on four of paramiko's internal request methods (stable since paramiko 1.x and
    declared below for the type checker); the SFTP tests against a real OpenSSH server exercise
    each of them, so a paramiko release that changes them fails the suite, not a transfer.
    """

    if TYPE_CHECKING:

        def _async_request(self, fileobj: object, t: int, *args: object) -> int: ...
        def _request(self, t: int, *args: object) -> tuple[int, Message]: ...
        def _read_response(
            self, waitfor: int | None = None
        ) -> tuple[int | None, Message | None]: ...
        def _convert_status(self, msg: Message) -> None: ...

    def read_blocks(
        self,
        handle: bytes,
        start: int,
        end: int,
        *,
        depth: int,
        request_size: int = REQUEST_SIZE,
    ) -> Iterator[bytes]:
        """Yield the bytes of ``[start, end)`` of an open file in order, ``depth`` requests ahead.

        Raises:
            TransferError: if the file ends before ``end``.
            OSError: if the server refuses a read (paramiko's status conversion).
        """
        replies = _Replies()
        pending: deque[tuple[int, int, int]] = deque()
        next_offset = start
        while pending or next_offset < end:
            while len(pending) < depth and next_offset < end:
                length = min(request_size, end - next_offset)
                num = self._async_request(
                    replies, CMD_READ, handle, int64(next_offset), int(length)
                )
                pending.append((num, next_offset, length))
                next_offset += length
            num, offset, length = pending.popleft()
            data = self._read_reply(replies, num)
            while len(data) < length:  # servers may answer short; ask for the rest at once
                yield data
                offset, length = offset + len(data), length - len(data)
                data = self._read_reply(
                    replies,
                    self._async_request(replies, CMD_READ, handle, int64(offset), int(length)),
                )
            yield data

    def write_blocks(
        self,
        handle: bytes,
        start: int,
        blocks: Iterable[bytes],
        *,
        depth: int,
        acknowledged: Callable[[int], None],
    ) -> int:
        """Write ``blocks`` from offset ``start`` on, ``depth`` requests ahead; return the end.

        ``acknowledged(offset)`` is called as the server confirms that every byte before
        ``offset`` is written, so progress shows stored bytes, not merely sent ones.

        Raises:
            OSError: on the first write the server refuses.
        """
        replies = _Replies()
        pending: deque[tuple[int, int]] = deque()
        offset = start
        for block in blocks:
            for piece_start in range(0, len(block), REQUEST_SIZE):
                piece = block[piece_start : piece_start + REQUEST_SIZE]
                num = self._async_request(replies, CMD_WRITE, handle, int64(offset), piece)
                offset += len(piece)
                pending.append((num, offset))
                while len(pending) >= depth:
                    self._settle_write(replies, *pending.popleft(), acknowledged)
        while pending:
            self._settle_write(replies, *pending.popleft(), acknowledged)
        return offset

    def max_read_size(self) -> int:
        """The largest read this server answers in full, up to :data:`MAX_READ_SIZE`.

        OpenSSH states it through its ``limits@openssh.com`` extension (255 KiB); other servers
        get the 32 KiB every server must accept. Fewer, larger reads cost Python far less per byte.
        """
        try:
            kind, msg = self._request(CMD_EXTENDED, "limits@openssh.com")
        except OSError:
            return REQUEST_SIZE
        if kind != CMD_EXTENDED_REPLY:
            return REQUEST_SIZE
        _max_packet, max_read = msg.get_int64(), msg.get_int64()
        return max(REQUEST_SIZE, min(max_read, MAX_READ_SIZE)) if max_read else REQUEST_SIZE

    def fsync(self, handle: bytes) -> bool:
        """Ask the server to flush an open file to disk; False if it does not offer that."""
        try:
            self._request(CMD_EXTENDED, "fsync@openssh.com", handle)
        except OSError as exc:
            if str(exc) == _UNSUPPORTED:
                return False
            raise
        return True

    def free_bytes(self, path: str) -> int | None:
        """Bytes free to an unprivileged user on the file system holding ``path``, if known."""
        try:
            kind, msg = self._request(CMD_EXTENDED, "statvfs@openssh.com", path)
        except OSError:
            return None
        if kind != CMD_EXTENDED_REPLY:
            return None
        _bsize, frsize, _blocks, _bfree, bavail = (msg.get_int64() for _ in range(5))
        return int(frsize * bavail)

    def _read_reply(self, replies: _Replies, num: int) -> bytes:
        kind, msg = self._await(replies, num)
        if kind == CMD_STATUS:
            try:
                self._convert_status(msg)
            except EOFError as exc:
                raise TransferError(
                    "the file on the server ended before its listed size",
                    hint="it changed while it was being read; run the command again",
                ) from exc
        if kind != CMD_DATA:
            raise TransferError("the server sent an unexpected reply to a read")
        data: bytes = msg.get_string()
        if not data:
            raise TransferError("the server sent an empty block before the end of the file")
        return data

    def _settle_write(
        self, replies: _Replies, num: int, end: int, acknowledged: Callable[[int], None]
    ) -> None:
        kind, msg = self._await(replies, num)
        if kind != CMD_STATUS:
            raise TransferError("the server sent an unexpected reply to a write")
        self._convert_status(msg)
        acknowledged(end)

    def _await(self, replies: _Replies, num: int) -> tuple[int, Message]:
        """Read the server's replies (routing each to its collector) until ``num`` has come."""
        while num not in replies.got:
            self._read_response()
        return replies.got.pop(num)
