"""The SFTP transport: deliver to and receive from an OpenSSH server with a pinned host key.

Connections come from :mod:`~linkwell.transport.ssh` (modern algorithms, pinned host key). A
delivery uploads into a hidden partial file in the sender's drop folder for the recipient,
resuming whatever an earlier attempt left there after checking its tail, asks the server to
flush it, commits the digest file and then renames the package into place, a rename OpenSSH
refuses if the name exists. Dropped connections are retried with backoff and every retry
resumes; refusals by the server are not retried but explained (a full disk is told apart from a
refused permission).
"""

from __future__ import annotations

import errno
import logging
import posixpath
import secrets
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Final, Self, TypeVar

import paramiko

from linkwell.config import SftpEndpoint, SftpTransport
from linkwell.errors import ConfigError, LinkwellError, TransferError
from linkwell.progress import SILENT, Progress, ProgressTask
from linkwell.transport.base import (
    DIGEST_SUFFIX,
    MAX_DIGEST_FILE,
    PACKAGE_SUFFIX,
    Delivery,
    Fetched,
    InboxEntry,
    PackageNames,
    format_digest_file,
    parse_digest_file,
)
from linkwell.transport.local import LocalPartial, file_size, local_error, sha256_file
from linkwell.transport.retry import DEFAULT_RETRY, RetryPolicy, retry
from linkwell.transport.sftp_client import REQUEST_SIZE, handle_of
from linkwell.transport.ssh import PinnedHostKey, SshSession, open_session

__all__ = ["SftpMailbox"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_CONNECTION_ERRORS: Final = (
    EOFError,
    TimeoutError,
    ConnectionError,
    paramiko.SSHException,
    paramiko.SFTPError,
)
"""Failures that mean the connection is lost or confused: drop it, reconnect and resume."""
_DEPTH: Final = 64
"""Writes in flight per upload: 64 of 32 KiB, as OpenSSH's own sftp client keeps."""
_READ_AHEAD: Final = 4 * 1024 * 1024
"""Bytes of reads in flight per download (16 reads of 255 KiB on OpenSSH)."""
_TAIL_CHECK: Final = 64 * 1024


class _Meter:
    """Advances a progress task to a byte position, never counting a byte twice across retries."""

    def __init__(self, task: ProgressTask) -> None:
        self._task = task
        self._high = 0

    def reach(self, position: int) -> None:
        if position > self._high:
            self._task.advance(position - self._high)
            self._high = position


class SftpMailbox:
    """A party's SFTP login: deliver into drop folders for others, read its own inbox.

    Args:
        server: host, port and pinned host key (the project file's transport).
        endpoint: the party's login and folders on the server.
        party: the party this mailbox belongs to.
        key: the party's SSH private key (see :func:`load_ssh_key`).
        retry: how dropped connections are retried.
        timeout: seconds to wait for the server before counting the connection as dropped.
        suffix: the package file suffix.
    """

    def __init__(
        self,
        server: SftpTransport,
        endpoint: SftpEndpoint,
        party: str,
        *,
        key: paramiko.PKey,
        retry: RetryPolicy = DEFAULT_RETRY,
        timeout: float = 30.0,
        suffix: str = PACKAGE_SUFFIX,
    ) -> None:
        self._server = server
        self._endpoint = endpoint
        self._party = PackageNames.check_party(party)
        self._key = key
        self._retry = retry
        self._timeout = timeout
        self._names = PackageNames(suffix)
        PinnedHostKey(server.host_key)  # a malformed pin fails here, not on first use
        self._session: SshSession | None = None

    @property
    def party(self) -> str:
        """The party whose inbox this mailbox reads."""
        return self._party

    def deliver(self, package: Path, *, to: str, progress: Progress = SILENT) -> Delivery:
        """Upload ``package`` into the drop folder for ``to`` and commit it there."""
        name = self._names.check_package(package)
        if PackageNames.check_party(to) == self._party:
            raise ConfigError("a party does not deliver packages to itself", field="to")
        drop = self._endpoint.drop.format(recipient=to)
        before = _identity(package)
        with progress.task(f"checking {name}", total=file_size(package)) as task:
            sha256, size = sha256_file(package, advance=task.advance)
        partial = posixpath.join(drop, PackageNames.partial(name, sha256))
        with progress.task(f"sending {name} to {to}", total=size) as task:
            meter = _Meter(task)
            resumed = self._call(
                f"sending {name}", lambda s: self._upload(s, package, partial, size, meter)
            )
        if _identity(package) != before:
            raise TransferError(
                "the package changed while it was being sent; nothing was committed",
                file=package,
                hint="send it again once whatever is writing it has finished",
            )
        already = self._call(
            f"committing {name}",
            lambda s: self._commit(s, drop, name, partial=partial, sha256=sha256, size=size),
        )
        logger.info("delivered package %s to %s's drop folder (%d bytes)", name, to, size)
        return Delivery(
            name=name,
            recipient=to,
            size=size,
            sha256=sha256,
            resumed_from=resumed,
            already_delivered=already,
        )

    def list_inbox(self) -> tuple[InboxEntry, ...]:
        """The committed packages in this party's inbox on the server, by name."""

        def listing(session: SshSession) -> tuple[InboxEntry, ...]:
            with self._server_op(session, self._endpoint.inbox, "list the inbox"):
                attrs = session.sftp.listdir_attr(self._endpoint.inbox)
            found = [
                InboxEntry(name=attr.filename, size=attr.st_size or 0)
                for attr in attrs
                if self._names.is_package(attr.filename) and stat.S_ISREG(attr.st_mode or 0)
            ]
            return tuple(sorted(found, key=lambda entry: entry.name))

        return self._call("listing the inbox", listing)

    def read_digest(self, name: str) -> str | None:
        """The digest committed beside package ``name`` in this party's inbox, if well-formed."""
        path = posixpath.join(self._endpoint.inbox, self._names.digest_name(name))
        data = self._call(f"reading the digest of {name}", lambda s: self._read_small(s, path))
        return None if data is None else parse_digest_file(data, name)

    def fetch(self, name: str, dest: Path, *, size: int, progress: Progress = SILENT) -> Fetched:
        """Download package ``name`` into ``dest``, resuming a partial download left there."""
        remote = posixpath.join(self._endpoint.inbox, name)
        with (
            LocalPartial(dest, expected_size=size) as partial,
            progress.task(f"receiving {name}", total=size) as task,
        ):
            meter = _Meter(task)
            resumed = self._call(
                f"receiving {name}", lambda s: self._download(s, remote, partial, size, meter)
            )
            sha256 = partial.finish()
        return Fetched(path=dest, size=partial.size, sha256=sha256, resumed_from=resumed)

    def acknowledge(self, name: str) -> None:
        """Leave a receipt for ``name`` in this party's acks folder for the sweeper to act on."""
        path = posixpath.join(self._endpoint.acks, name)

        def leave_receipt(session: SshSession) -> None:
            with self._server_op(session, path, "leave a receipt"):
                session.sftp.open(path, "wb").close()

        self._call(f"acknowledging {name}", leave_receipt)

    def close(self) -> None:
        """Close the connection, if one is open."""
        self._drop()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- the steps, each run inside self._call (retried, resumed) ---------------------------

    def _upload(
        self, session: SshSession, package: Path, partial: str, size: int, meter: _Meter
    ) -> int:
        """Write the package into ``partial`` from wherever earlier attempts stopped."""
        sftp = session.sftp
        with self._server_op(session, partial, "store the package on the server", needs=size):
            offset = self._stat_size(session, partial) or 0
            if offset > size or (
                offset and not self._tail_matches(session, package, partial, offset)
            ):
                offset = 0
            remote = sftp.open(partial, "r+b" if offset else "wb")
            try:
                meter.reach(offset)
                sftp.write_blocks(
                    handle_of(remote),
                    offset,
                    _read_from(package, offset),
                    depth=_DEPTH,
                    acknowledged=meter.reach,
                )
                sftp.fsync(handle_of(remote))
            finally:
                remote.close()
        return offset

    def _tail_matches(self, session: SshSession, package: Path, partial: str, offset: int) -> bool:
        """Whether the last bytes an earlier attempt left on the server are the package's own."""
        length = min(offset, _TAIL_CHECK)
        remote = session.sftp.open(partial, "rb")
        try:
            theirs = b"".join(
                session.sftp.read_blocks(handle_of(remote), offset - length, offset, depth=4)
            )
        finally:
            remote.close()
        try:
            with package.open("rb") as src:
                src.seek(offset - length)
                ours = src.read(length)
        except OSError as exc:
            raise local_error(exc, package, doing="read the package") from exc
        return theirs == ours

    def _commit(
        self, session: SshSession, drop: str, name: str, *, partial: str, sha256: str, size: int
    ) -> bool:
        """Commit digest file then package; True if the same package was committed before."""
        target = posixpath.join(drop, name)
        with self._server_op(session, target, "commit the package on the server"):
            uploaded = self._stat_size(session, partial)
            if uploaded is None:
                # An earlier attempt renamed it and lost the reply; the sweeper may have moved it.
                existing = self._stat_size(session, target)
                if existing is not None and not self._same_package(session, drop, name, sha256):
                    raise self._name_taken(target)
                return False
            if uploaded != size:
                session.sftp.remove(partial)
                raise TransferError(
                    "the upload has the wrong size on the server and was discarded",
                    file=self._where(partial),
                    hint="run the command again to send the package afresh",
                )
            if self._stat_size(session, target) is not None:
                return self._settle_existing(session, drop, name, partial, sha256)
            self._commit_digest(session, drop, name, sha256)
            try:
                session.sftp.rename(partial, target)
            except OSError:
                if not session.alive() or self._stat_size(session, target) is None:
                    raise
                return self._settle_existing(session, drop, name, partial, sha256)
        return False

    def _settle_existing(
        self, session: SshSession, drop: str, name: str, partial: str, sha256: str
    ) -> bool:
        """A package of this name is already committed: fine if it is this one, else refused."""
        if not self._same_package(session, drop, name, sha256):
            raise self._name_taken(posixpath.join(drop, name))
        session.sftp.remove(partial)
        return True

    def _same_package(self, session: SshSession, drop: str, name: str, sha256: str) -> bool:
        data = self._read_small(session, posixpath.join(drop, self._names.digest_name(name)))
        return data is not None and parse_digest_file(data, name) == sha256

    def _commit_digest(self, session: SshSession, drop: str, name: str, sha256: str) -> None:
        """Write the digest file under a hidden name and rename it into place."""
        path = posixpath.join(drop, self._names.digest_name(name))
        existing = self._read_small(session, path)
        if existing is not None:
            if parse_digest_file(existing, name) != sha256:
                raise self._name_taken(path)
            return
        hidden = posixpath.join(drop, f".{name}{DIGEST_SUFFIX}.{secrets.token_hex(6)}.partial")
        remote = session.sftp.open(hidden, "wb")
        try:
            content = format_digest_file(name, sha256)
            session.sftp.write_blocks(
                handle_of(remote), 0, [content], depth=1, acknowledged=_ignore
            )
            session.sftp.fsync(handle_of(remote))
        finally:
            remote.close()
        session.sftp.rename(hidden, path)

    def _download(
        self, session: SshSession, remote: str, partial: LocalPartial, size: int, meter: _Meter
    ) -> int:
        """Append the rest of ``remote`` to the local partial file; return where this started."""
        start = partial.size
        meter.reach(start)
        with self._server_op(session, remote, "read the package on the server"):
            handle = session.sftp.open(remote, "rb")
            try:
                if handle.stat().st_size != size:
                    raise TransferError(
                        "the package on the server changed size since the inbox was listed",
                        file=self._where(remote),
                        hint="receive again",
                    )
                blocks = session.sftp.read_blocks(
                    handle_of(handle),
                    start,
                    size,
                    depth=max(4, _READ_AHEAD // session.read_size),
                    request_size=session.read_size,
                )
                for block in blocks:
                    partial.write(block)
                    meter.reach(partial.size)
            finally:
                handle.close()
        return start

    def _read_small(self, session: SshSession, path: str) -> bytes | None:
        """A short regular file's bytes (a digest file), or ``None`` if there is none."""
        with self._server_op(session, path, "read a digest file"):
            try:
                attrs = session.sftp.lstat(path)
            except FileNotFoundError:
                return None
            if not stat.S_ISREG(attrs.st_mode or 0) or (attrs.st_size or 0) > MAX_DIGEST_FILE:
                return None
            remote = session.sftp.open(path, "rb")
            try:
                return b"".join(
                    session.sftp.read_blocks(handle_of(remote), 0, attrs.st_size or 0, depth=1)
                )
            finally:
                remote.close()

    def _stat_size(self, session: SshSession, path: str) -> int | None:
        try:
            return session.sftp.lstat(path).st_size or 0
        except FileNotFoundError:
            return None

    # --- connection, retry and error translation ---------------------------------------------

    def _call(self, what: str, step: Callable[[SshSession], T]) -> T:
        """Run ``step`` on a live session, reconnecting and retrying when the connection drops."""

        def attempt() -> T:
            return step(self._connect())

        return retry(attempt, what=what, policy=self._retry, transient=self._transient)

    def _transient(self, exc: BaseException) -> bool:
        """Worth retrying when it cost us the connection; not when the server said no."""
        return not isinstance(exc, LinkwellError) and self._session is None

    def _connect(self) -> SshSession:
        if self._session is not None and self._session.alive():
            return self._session
        self._drop()
        self._session = open_session(self._server, self._endpoint, self._key, timeout=self._timeout)
        return self._session

    @contextmanager
    def _server_op(
        self, session: SshSession, path: str, doing: str, *, needs: int = 0
    ) -> Iterator[None]:
        """Translate failures inside one step of a transfer.

        A lost connection stays a raw error (and is retried after reconnecting); a refusal by a
        live server becomes a :class:`TransferError` that explains it.
        """
        try:
            yield
        except LinkwellError:
            raise
        except _CONNECTION_ERRORS:
            self._drop()
            raise
        except OSError as exc:
            if not session.alive():
                self._drop()
                raise
            raise self._refusal(session, exc, path, doing, needs) from exc

    def _refusal(
        self, session: SshSession, exc: OSError, path: str, doing: str, needs: int
    ) -> TransferError:
        where = self._where(path)
        if exc.errno == errno.EACCES:
            return TransferError(
                f"the server refused permission to {doing}",
                file=where,
                hint="check that this party may deliver to that recipient and that the server's "
                "folders were made by 'linkwell transport prepare'",
            )
        if exc.errno == errno.ENOENT:
            return TransferError(
                f"a folder is missing on the server, so it could not {doing}",
                file=where,
                hint="check the sftp folders in the project file, and that the route to this "
                "recipient exists on the server",
            )
        if needs:
            free = session.sftp.free_bytes(posixpath.dirname(path) or "/")
            if free is not None and free < needs:
                return TransferError(
                    f"the server's disk is full: it could not {doing}",
                    file=where,
                    hint=f"the package needs up to {needs} bytes and {free} are free; ask the "
                    "server operator to free space, then run the command again: the upload "
                    "resumes where it stopped",
                )
            return TransferError(
                f"the server refused to {doing}: its disk or this login's quota is probably full",
                file=where,
                hint="ask the server operator to check space and quotas, then run the command "
                "again: the upload resumes where it stopped",
            )
        return TransferError(f"the server failed to {doing}", file=where)

    def _name_taken(self, path: str) -> TransferError:
        return TransferError(
            "a different package with this name is already waiting on the server",
            file=self._where(path),
            hint="committed packages are never overwritten; seal the package again to get a new "
            "package id",
        )

    def _where(self, path: str) -> str:
        return f"sftp://{self._endpoint.user}@{self._server.host}:{self._server.port}{path}"

    def _drop(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            try:
                session.close()
            except Exception:  # a dead connection may fail to close; it is gone anyway
                logger.debug("closing a dropped SFTP connection failed", exc_info=True)


def _identity(path: Path) -> tuple[int, int, int, int]:
    """What changes when a file is rewritten or replaced: inode, size and both timestamps."""
    try:
        info = path.stat()
    except OSError as exc:
        raise local_error(exc, path, doing="read the package") from exc
    return info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns


def _read_from(package: Path, offset: int) -> Iterator[bytes]:
    """The package's bytes from ``offset`` in request-sized blocks; local errors as StorageError."""
    try:
        with package.open("rb") as src:
            src.seek(offset)
            yield from iter(lambda: src.read(REQUEST_SIZE), b"")
    except OSError as exc:
        raise local_error(exc, package, doing="read the package") from exc


def _ignore(_offset: int) -> None:
    """An acknowledgement nobody needs to hear about."""
