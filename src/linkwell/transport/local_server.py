"""A real OpenSSH server on loopback for one project's parties, set up as an operator would.

:class:`LocalSftpServer` creates one system account per party (under a unique prefix), lays out
the chroot areas exactly as ``linkwell transport prepare`` does, writes its own ``sshd_config``
and host key under a given folder and runs ``sshd`` on a free loopback port; its ``sweep`` plays
the operator's sweeper. As a context manager it always stops ``sshd``, ends the accounts'
sessions and removes the accounts and its folder, even when starting or the work inside fails.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import socket
import stat
import subprocess
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Final, Self

from pydantic import BaseModel, ConfigDict

from linkwell.config import SftpEndpoint, SftpTransport
from linkwell.errors import ConfigError, TransferError, TransportError
from linkwell.fileio import write_text_atomic
from linkwell.transport import _system
from linkwell.transport.base import PackageNames
from linkwell.transport.local import local_error
from linkwell.transport.server import ServerAccount, check_chroot_path, prepare_server_root
from linkwell.transport.ssh import create_ssh_key
from linkwell.transport.sweeper import SweepReport, sweep

__all__ = [
    "SSHD",
    "InboxFile",
    "LocalSftpServer",
    "SweepRound",
    "check_server_folder",
    "check_server_prerequisites",
    "login_names",
]

logger = logging.getLogger(__name__)

SSHD: Final = Path("/usr/sbin/sshd")
"""The OpenSSH server binary (Debian's ``openssh-server``)."""

MAX_USER: Final = 32
"""Longest system user name ``useradd`` accepts on Linux."""

_PREFIX: Final = re.compile(r"[a-z][a-z0-9]{1,15}")
_PUBLIC_KEY: Final = re.compile(
    r"(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/]+={0,2}( [^\n]*)?"
)
_START_TRIES: Final = 5
_WAIT_S: Final = 10.0
_PRIVSEP_DIR: Final = Path("/run/sshd")
"""OpenSSH's privilege-separation folder; it must exist (root, 0755) before sshd starts."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class InboxFile(_Model):
    """A file in a party's inbox on the server, with what decides who could change it.

    ``guarded`` says whether every folder from the server root down to the inbox is root's and
    writable by root only, so that nobody else could rename, replace or remove the file.
    """

    party: str
    name: str
    uid: int
    gid: int
    mode: int
    guarded: bool

    @property
    def only_root_can_change(self) -> bool:
        """Owned by root, writable by neither its group nor others, in guarded folders."""
        return self.uid == 0 and not self.mode & 0o022 and self.guarded


class SweepRound(_Model):
    """One sweep of the server, and every inbox file as the sweep left it."""

    report: SweepReport
    inboxes: tuple[InboxFile, ...]


def check_server_prerequisites(what: str = "the SFTP demo") -> None:
    """Refuse with a :class:`ConfigError` unless this process is root and OpenSSH is installed.

    Callers run it before any long work, so that a missing right fails in the first second.
    """
    if os.geteuid() != 0:
        raise ConfigError(
            f"{what} needs root: it creates a chrooted system account per party and runs its "
            "own sshd",
            hint="run it as root (e.g. with sudo), or run the demo over the shared-folder "
            "transport instead: 'make demo' or 'linkwell demo --out FOLDER'",
        )
    missing = [str(SSHD)] if not SSHD.is_file() else []
    missing += [tool for tool in ("useradd", "userdel") if shutil.which(tool) is None]
    if missing:
        raise ConfigError(
            f"{what} needs the OpenSSH server and the user tools; not installed: "
            + ", ".join(missing),
            hint="install them with 'make sysdeps' (Debian: apt-get install openssh-server "
            "passwd), or run the demo over the shared-folder transport: 'make demo'",
        )


def check_server_folder(base: Path) -> None:
    """Refuse a server folder that holds anything, or where OpenSSH would refuse to chroot.

    Callers run it before any long work; :meth:`LocalSftpServer.start` runs it again.
    """
    if base.exists() and (not base.is_dir() or any(base.iterdir())):
        raise ConfigError(
            "the local SFTP server's folder is not empty",
            file=base,
            hint="choose a new folder; it is removed again when the server stops",
        )
    check_chroot_path(base.absolute() / "root")


def login_names(prefix: str, parties: Sequence[str]) -> dict[str, str]:
    """A distinct system user name per party: ``<prefix>-<party>``, cut to 32 characters.

    Where cutting makes two names equal, the later one ends in a number instead, so that every
    party keeps a login of its own whatever the length of its name.
    """
    if not _PREFIX.fullmatch(prefix):
        raise ConfigError(
            "the user prefix must be 2-16 lower-case letters or digits, starting with a letter",
            field="user_prefix",
            hint="leave it out to get a random one",
        )
    names: dict[str, str] = {}
    taken: set[str] = set()
    for party in parties:
        name = f"{prefix}-{PackageNames.check_party(party)}"[:MAX_USER]
        number = 1
        while name in taken:
            tag = f"-{number}"
            name = f"{prefix}-{party}"[: MAX_USER - len(tag)] + tag
            number += 1
        names[party] = name
        taken.add(name)
    return names


class LocalSftpServer:
    """A chrooted, SFTP-only OpenSSH server on loopback with one system account per party.

    Everything lives under ``base`` (which must not exist yet, or be empty, and must lie where
    OpenSSH accepts a chroot: every folder above it root's and writable by root only, e.g.
    under ``/srv``): ``conf/`` holds ``sshd_config``, the host key and the authorized keys,
    ``root/`` the party areas. Use it as a context manager; every party's public key must be
    given to :meth:`authorize` before that party logs in.

    Args:
        base: the server's folder.
        parties: the project's party names; each gets a system account.
        routes: the ``(sender, recipient)`` pairs to make drop folders for.
        log_file: where sshd's log goes (kept after closing); default ``base/conf/sshd.log``.
        user_prefix: the accounts' name prefix; a random one by default.
        host: the loopback address to listen on.
    """

    def __init__(
        self,
        base: Path,
        parties: Sequence[str],
        routes: Iterable[tuple[str, str]],
        *,
        log_file: Path | None = None,
        user_prefix: str | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.base = base.absolute()
        self.routes = tuple(routes)
        self.prefix = user_prefix or f"lw{secrets.token_hex(3)}"
        self.users = login_names(self.prefix, parties)
        self.log_file = log_file or self.base / "conf" / "sshd.log"
        self.host = host
        self.port = 0
        self.host_key = ""
        self.accounts: dict[str, ServerAccount] = {}
        self._process: subprocess.Popen[bytes] | None = None
        self._made: list[Path] = []
        for sender, recipient in self.routes:
            if sender not in self.users or recipient not in self.users or sender == recipient:
                raise ConfigError(
                    f"route {sender}:{recipient} does not join two different parties",
                    field="routes",
                    hint="name routes as (sender, recipient) with parties of the server",
                )

    @property
    def root(self) -> Path:
        """The folder holding every party's chroot area (``linkwell transport sweep --root``)."""
        return self.base / "root"

    @property
    def conf(self) -> Path:
        """The folder holding the server's configuration, host key and authorized keys."""
        return self.base / "conf"

    @property
    def transport(self) -> SftpTransport:
        """The project file's ``[transport]`` section for this server, host key pinned."""
        if self._process is None:
            raise TransportError(
                "the local SFTP server is not running",
                hint="use the server inside a 'with' block",
            )
        return SftpTransport(host=self.host, port=self.port, host_key=self.host_key)

    def endpoint(self, party: str) -> SftpEndpoint:
        """The project file's ``sftp`` entry for ``party`` (its login, default folders)."""
        return SftpEndpoint(user=self._user(party))

    # -- starting and stopping --------------------------------------------------------------

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.close()
            return
        try:
            self.close()
        except TransportError as failure:  # the original error matters more; say what is left
            logger.warning("cleaning up the local SFTP server failed: %s", failure)

    def start(self) -> None:
        """Check, create the accounts and folders, write the configuration and start sshd.

        Anything already made is undone if a step fails.
        """
        check_server_prerequisites("running a local SFTP server")
        check_server_folder(self.base)
        self._made = [self.root, self.conf] if self.base.exists() else [self.base]
        try:
            self.base.mkdir(mode=0o755, parents=True, exist_ok=True)
            self.base.chmod(0o755)
            (self.conf / "authorized").mkdir(mode=0o755, parents=True)
            for party, user in self.users.items():
                self.accounts[party] = _system.add_user(user, party)
            layout = prepare_server_root(self.root, list(self.accounts.values()), self.routes)
            public = create_ssh_key(self.conf / "host_ed25519", comment="linkwell-local-server")
            self.host_key = " ".join(public.split()[:2])
            _PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
            self._launch(layout.sshd_config)
        except OSError as exc:
            self.close()
            where = Path(exc.filename) if exc.filename else self.base
            raise local_error(exc, where, doing="set up the local SFTP server") from exc
        except BaseException:
            self.close()
            raise
        logger.info("local SFTP server listening on %s:%d", self.host, self.port)

    def authorize(self, party: str, public_key: str) -> None:
        """Install ``party``'s SSH public key (one OpenSSH line) as its login's only key."""
        line = public_key.strip()
        if not _PUBLIC_KEY.fullmatch(line):
            raise ConfigError(
                "not a single OpenSSH public key line",
                field="public_key",
                hint="give the content of the party's .pub file, e.g. 'ssh-ed25519 AAAA…'",
            )
        write_text_atomic(self.conf / "authorized" / self._user(party), line + "\n", mode=0o644)

    def close(self) -> None:
        """Stop sshd and every session, remove the accounts and the server's folder.

        Every step is tried even if an earlier one fails; what could not be removed is named
        in the :class:`TransportError` raised at the end.
        """
        left: list[str] = []
        self._stop_processes()
        for party, account in list(self.accounts.items()):
            if _system.remove_user(account.user):
                del self.accounts[party]
            else:
                left.append(f"system user {account.user}")
        for folder in list(self._made):
            try:
                shutil.rmtree(folder)
            except FileNotFoundError:
                pass
            except OSError:
                left.append(f"folder {folder}")
                continue
            self._made.remove(folder)
        if left:
            raise TransportError(
                "the local SFTP server could not remove everything it made: " + ", ".join(left),
                file=self.base,
                hint="remove them by hand (userdel, rm -r) once no process uses them",
            )

    # -- the operator's sweeper ---------------------------------------------------------------

    def sweep(self) -> SweepRound:
        """Move committed packages into inboxes; refuse if any inbox file is not root's alone."""
        report = sweep(self.root)
        inboxes = self.inbox_files()
        for found in inboxes:
            if not found.only_root_can_change:
                raise TransferError(
                    "a file in a recipient's inbox on the SFTP server can be changed by someone "
                    "other than root",
                    file=self.root / found.party / "inbox" / found.name,
                    hint="stop: the server's folders were changed outside linkwell; prepare "
                    "the server again",
                )
        return SweepRound(report=report, inboxes=inboxes)

    def inbox_files(self) -> tuple[InboxFile, ...]:
        """Every file in every party's inbox now, with its owner, mode and guarding folders."""
        found: list[InboxFile] = []
        for party in sorted(self.accounts):
            inbox = self.root / party / "inbox"
            try:
                guarded = all(_root_only(folder) for folder in (self.root, inbox.parent, inbox))
                with os.scandir(inbox) as entries:
                    infos = [(entry.name, entry.stat(follow_symlinks=False)) for entry in entries]
            except OSError as exc:
                raise local_error(exc, inbox, doing="inspect the inbox") from exc
            found += [
                InboxFile(
                    party=party,
                    name=name,
                    uid=info.st_uid,
                    gid=info.st_gid,
                    mode=stat.S_IMODE(info.st_mode),
                    guarded=guarded,
                )
                for name, info in infos
            ]
        return tuple(sorted(found, key=lambda f: (f.party, f.name)))

    # -- inside ---------------------------------------------------------------------------------

    def _user(self, party: str) -> str:
        try:
            return self.users[party]
        except KeyError:
            raise ConfigError(
                f"the local SFTP server has no account for party {party!r}",
                field="party",
                hint="give every party of the project to the server when starting it",
            ) from None

    def _launch(self, match_blocks: str) -> None:
        """Start sshd on a free port, trying another if someone takes the port first."""
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        for _attempt in range(_START_TRIES):
            self.port = _free_port(self.host)
            config = self.conf / "sshd_config"
            write_text_atomic(config, self._config(match_blocks), mode=0o644)
            check = subprocess.run(  # noqa: S603 - a fixed binary and our own file
                [str(SSHD), "-t", "-f", str(config)], check=False, capture_output=True
            )
            if check.returncode != 0:
                raise TransportError(
                    "sshd refused the configuration linkwell wrote for it",
                    file=config,
                    hint=f"check with: {SSHD} -t -f {config}",
                )
            with self.log_file.open("ab") as log:
                self._process = subprocess.Popen(  # noqa: S603 - a fixed binary
                    [str(SSHD), "-D", "-e", "-f", str(config)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                )
            if self._listening():
                return
            self._stop_processes()
        raise TransportError(
            "the local SFTP server did not start",
            file=self.log_file,
            hint="see sshd's messages in this log",
        )

    def _config(self, match_blocks: str) -> str:
        """The whole ``sshd_config``: public keys only, our accounts only, SFTP only."""
        return (
            f"Port {self.port}\n"
            f"ListenAddress {self.host}\n"
            f"HostKey {self.conf / 'host_ed25519'}\n"
            f"PidFile {self.conf / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {self.conf / 'authorized'}/%u\n"
            "PubkeyAuthentication yes\n"
            "PasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\n"
            "UsePAM no\n"
            "PermitRootLogin no\n"
            "DisableForwarding yes\n"
            "LogLevel VERBOSE\n"
            "Subsystem sftp internal-sftp\n"
            f"AllowUsers {' '.join(sorted(self.users.values()))}\n"
            f"\n{match_blocks}"
        )

    def _listening(self) -> bool:
        deadline = time.monotonic() + _WAIT_S
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                return False
            with socket.socket() as probe:
                if probe.connect_ex((self.host, self.port)) == 0:
                    return True
            time.sleep(0.02)
        return False

    def _stop_processes(self) -> None:
        """End sshd, the sessions it forked and anything still running as our accounts."""
        process, self._process = self._process, None
        sessions = [] if process is None else _system.children(process.pid)
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=_WAIT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        uids = {account.uid for account in self.accounts.values()}
        _system.end(sessions + _system.owned_by(uids))


def _root_only(folder: Path) -> bool:
    info = folder.lstat()
    return stat.S_ISDIR(info.st_mode) and info.st_uid == 0 and not info.st_mode & 0o022


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
