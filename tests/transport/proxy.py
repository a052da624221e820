"""A loopback TCP proxy that cuts a connection after a given number of bytes, for resume tests.

Every connection is forwarded to the target port. The first ``cuts`` connections are reset (RST)
as soon as more than ``cut_after`` bytes have passed in the chosen direction; later ones pass
untouched. Bytes forwarded per direction are counted over all connections, so a test can tell a
resumed transfer (about one file's worth) from a restarted one (the cut part plus the file).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from enum import StrEnum
from types import TracebackType
from typing import Self


class Direction(StrEnum):
    UP = "up"  # client to server: an upload
    DOWN = "down"  # server to client: a download


class CuttingProxy:
    def __init__(self, target_port: int, *, cut_after: int, direction: Direction, cuts: int = 1):
        self.target_port = target_port
        self.cut_after = cut_after
        self.direction = direction
        self.cuts_left = cuts
        self.forwarded = {Direction.UP: 0, Direction.DOWN: 0}
        self.connections = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._closed = False
        self._accepting = threading.Thread(target=self._accept_loop, daemon=True)
        self._accepting.start()

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self.connections += 1
                cut = self.cuts_left > 0
                if cut:
                    self.cuts_left -= 1
                self._sockets += [client, server]
            pair = _Pair(client, server, cut_after=self.cut_after if cut else None)
            for source, sink, direction in (
                (client, server, Direction.UP),
                (server, client, Direction.DOWN),
            ):
                thread = threading.Thread(
                    target=self._pump, args=(pair, source, sink, direction), daemon=True
                )
                self._threads.append(thread)
                thread.start()

    def _pump(
        self, pair: _Pair, source: socket.socket, sink: socket.socket, direction: Direction
    ) -> None:
        try:
            while block := source.recv(65536):
                if direction is self.direction and pair.cut_after is not None:
                    room = pair.cut_after - pair.passed
                    if len(block) > room:
                        if room > 0:
                            sink.sendall(block[:room])
                            self._count(direction, room)
                        pair.reset()
                        return
                    pair.passed += len(block)
                sink.sendall(block)
                self._count(direction, len(block))
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)

    def _count(self, direction: Direction, amount: int) -> None:
        with self._lock:
            self.forwarded[direction] += amount

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
        for thread in [self._accepting, *self._threads]:
            thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _Pair:
    def __init__(self, client: socket.socket, server: socket.socket, *, cut_after: int | None):
        self.client = client
        self.server = server
        self.cut_after = cut_after
        self.passed = 0

    def reset(self) -> None:
        """Drop both sides at once with a TCP reset, as a failing network would."""
        linger = struct.pack("ii", 1, 0)
        for sock in (self.client, self.server):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                sock.shutdown(socket.SHUT_RD)  # wakes the other direction's blocked recv
            sock.close()  # with linger 0: a reset, not an orderly close
