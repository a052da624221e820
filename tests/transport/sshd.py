"""A real OpenSSH server for the SFTP tests and the transport benchmark.

It runs as its own ``sshd`` process on a free loopback port with its own configuration and host
key (never the system's), one system user per party (named with a random test prefix and removed
afterwards), each chrooted by OpenSSH into the area :func:`prepare_server_root` makes. Everything
lives under ``/srv/<prefix>``, because OpenSSH refuses a chroot below a world-writable ``/tmp``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from linkwell.config import ProjectConfig, SftpTransport
from linkwell.transport.retry import RetryPolicy
from linkwell.transport.server import ServerAccount, prepare_server_root
from linkwell.transport.sftp import SftpMailbox
from linkwell.transport.ssh import load_ssh_key

SSHD = Path("/usr/sbin/sshd")
PARTIES = {
    "ipsos": "survey-provider",
    "nrs": "indexer",
    "edris": "linker",
    "scotcen": "analyst",
}
ROUTES = (("ipsos", "nrs"), ("ipsos", "edris"), ("nrs", "edris"), ("edris", "scotcen"))
FAST_RETRY = RetryPolicy(attempts=4, first_delay=0.05, max_delay=0.2)


def _card(index: int) -> dict[str, str]:
    alphabet = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
    return {
        "encryption_key": "age1" + "q" * 57 + alphabet[index],
        "signing_key": "ed25519:" + "A" * 42 + "ABCDEFGHIJ"[index] + "=",
        "created": datetime(2026, 1, 1, tzinfo=UTC).isoformat(),
    }


@dataclass
class SshServer:
    """A running test server; ``project()`` gives a project file pointing at it."""

    base: Path
    port: int
    host_key: str
    accounts: dict[str, ServerAccount]
    keys: dict[str, Path]
    process: subprocess.Popen[bytes] | None = None
    mounts: list[Path] = field(default_factory=list)
    pid: int | None = None

    def detach(self) -> dict[str, Any]:
        """What another process needs to use and later stop this server (sshd keeps running)."""
        assert self.process is not None
        return {
            "base": str(self.base),
            "port": self.port,
            "host_key": self.host_key,
            "accounts": {party: a.model_dump() for party, a in self.accounts.items()},
            "keys": {party: str(path) for party, path in self.keys.items()},
            "pid": self.process.pid,
        }

    @classmethod
    def attach(cls, info: dict[str, Any]) -> SshServer:
        """A handle on a server another process started and detached."""
        return cls(
            base=Path(info["base"]),
            port=info["port"],
            host_key=info["host_key"],
            accounts={p: ServerAccount(**a) for p, a in info["accounts"].items()},
            keys={p: Path(k) for p, k in info["keys"].items()},
            pid=info["pid"],
        )

    @property
    def root(self) -> Path:
        return self.base / "root"

    @property
    def conf(self) -> Path:
        return self.base / "conf"

    def project(self, *, port: int | None = None, host_key: str | None = None) -> ProjectConfig:
        return ProjectConfig.model_validate(
            {
                "project": {"id": "rcs-test", "wave": 1},
                "parties": [
                    {
                        "name": party,
                        "role": role,
                        "organisation": party,
                        "identities": [_card(index)],
                        "sftp": {"user": self.accounts[party].user},
                    }
                    for index, (party, role) in enumerate(PARTIES.items())
                ],
                "sources": [],
                "transport": {
                    "kind": "sftp",
                    "host": "127.0.0.1",
                    "port": port or self.port,
                    "host_key": host_key or self.host_key,
                },
            }
        )

    def mailbox(
        self,
        party: str,
        *,
        port: int | None = None,
        host_key: str | None = None,
        retry: RetryPolicy = FAST_RETRY,
        timeout: float = 10.0,
    ) -> SftpMailbox:
        project = self.project(port=port, host_key=host_key)
        member = project.party(party)
        assert member.sftp is not None
        assert isinstance(project.transport, SftpTransport)
        return SftpMailbox(
            project.transport,
            member.sftp,
            party,
            key=load_ssh_key(self.keys[party]),
            retry=retry,
            timeout=timeout,
        )

    def reset_mounts(self) -> None:
        """Unmount what :meth:`mount_tmpfs` mounted."""
        for mount in reversed(self.mounts):
            subprocess.run(["umount", "-l", str(mount)], check=False, capture_output=True)
        self.mounts.clear()

    def reset(self) -> None:
        """Empty every inbox, drop folder, acks folder and the quarantine, keeping the layout."""
        self.reset_mounts()
        folders = [self.root / ".quarantine"]
        for party in PARTIES:
            area = self.root / party
            folders += [area / "inbox", area / "acks", *(area / "outbox").iterdir()]
        for folder in folders:
            for entry in folder.iterdir():
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()

    def mount_tmpfs(self, folder: Path, *, size: str, uid: int, gid: int) -> None:
        """Mount a tiny file system over ``folder`` (unmounted by reset or stop)."""
        subprocess.run(
            [
                "mount",
                "-t",
                "tmpfs",
                "-o",
                f"size={size},uid={uid},gid={gid},mode=0700",
                "tmpfs",
                str(folder),
            ],
            check=True,
            capture_output=True,
        )
        self.mounts.append(folder)

    @contextlib.contextmanager
    def variant(self, extra_config: str) -> Iterator[int]:
        """Run a second sshd on the same users, keys and folders with extra settings; its port."""
        other = SshServer(
            base=self.base, port=0, host_key=self.host_key, accounts=self.accounts, keys=self.keys
        )
        layout_config = (self.conf / "match_blocks").read_text(encoding="utf-8")
        _launch(other, layout_config, extra_config, name="sshd_variant")
        try:
            yield other.port
        finally:
            if other.process is not None:
                other.process.terminate()
                other.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        elif self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
                for _wait in range(200):
                    os.kill(self.pid, 0)
                    time.sleep(0.05)
        with contextlib.suppress(OSError):
            self.reset()
        for account in self.accounts.values():
            _run_locked(["userdel", account.user])
        shutil.rmtree(self.base, ignore_errors=True)


def can_mount() -> bool:
    """Whether this process may mount a tmpfs (root with CAP_SYS_ADMIN, not in every container)."""
    probe = Path(f"/srv/.lwt-mount-probe-{secrets.token_hex(4)}")
    probe.mkdir(parents=True)
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe)],
            check=False,
            capture_output=True,
        )
        if done.returncode == 0:
            subprocess.run(["umount", str(probe)], check=False, capture_output=True)
        return done.returncode == 0
    finally:
        probe.rmdir()


def start_server(*, prefix: str | None = None, extra_config: str = "") -> SshServer:
    """Create users, keys, layout and configuration and start ``sshd``; all undone on failure."""
    prefix = prefix or f"lwt{secrets.token_hex(3)}"
    base = Path("/srv") / prefix
    server = SshServer(base=base, port=0, host_key="", accounts={}, keys={})
    try:
        base.mkdir(parents=True, mode=0o755)
        base.chmod(0o755)
        (base / "conf" / "keys").mkdir(parents=True)
        (base / "conf" / "authorized").mkdir()
        for party in PARTIES:
            user = f"{prefix}{party[:5]}"
            _run_locked(
                [
                    "useradd",
                    "--system",
                    "--no-create-home",
                    "--user-group",
                    "--shell",
                    "/usr/sbin/nologin",
                    "--password",
                    "*",
                    user,
                ]
            )
            ids = (
                subprocess.run(
                    ["id", "-u", user], check=True, capture_output=True, text=True
                ).stdout.strip(),
                subprocess.run(
                    ["id", "-g", user], check=True, capture_output=True, text=True
                ).stdout.strip(),
            )
            server.accounts[party] = ServerAccount(
                party=party, user=user, uid=int(ids[0]), gid=int(ids[1])
            )
            key = base / "conf" / "keys" / party
            _keygen(key)
            server.keys[party] = key
            (base / "conf" / "authorized" / user).write_text(
                key.with_suffix(".pub").read_text(), encoding="utf-8"
            )
        layout = prepare_server_root(server.root, list(server.accounts.values()), ROUTES)
        host_key = base / "conf" / "host_ed25519"
        _keygen(host_key)
        server.host_key = " ".join(host_key.with_suffix(".pub").read_text().split()[:2])
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # OpenSSH's privilege separation dir
        _launch(server, layout.sshd_config, extra_config)
    except BaseException:
        server.stop()
        raise
    return server


def _launch(server: SshServer, match_blocks: str, extra_config: str, *, name: str = "sshd") -> None:
    (server.conf / "match_blocks").write_text(match_blocks, encoding="utf-8")
    for _attempt in range(5):
        server.port = _free_port()
        config = server.conf / f"{name}_config"
        config.write_text(
            f"Port {server.port}\n"
            "ListenAddress 127.0.0.1\n"
            f"HostKey {server.conf / 'host_ed25519'}\n"
            f"PidFile {server.conf / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {server.conf / 'authorized'}/%u\n"
            "PasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\n"
            "UsePAM no\n"
            "PermitRootLogin no\n"
            "MaxStartups 100\n"
            "LogLevel VERBOSE\n"
            "Subsystem sftp internal-sftp\n"
            f"AllowUsers {' '.join(a.user for a in server.accounts.values())}\n"
            f"{extra_config}\n"
            f"{match_blocks}\n",
            encoding="utf-8",
        )
        log = (server.conf / f"{name}.log").open("ab")
        server.process = subprocess.Popen(
            [str(SSHD), "-D", "-e", "-f", str(config)], stdout=log, stderr=log
        )
        log.close()
        if _wait_listening(server):
            return
        server.process.kill()
        server.process.wait()
        server.process = None
    message = f"sshd did not start; see {server.conf / name}.log"
    raise RuntimeError(message)


def _wait_listening(server: SshServer) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if server.process is not None and server.process.poll() is not None:
            return False
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", server.port)) == 0:
                return True
        time.sleep(0.02)
    return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "linkwell-test", "-f", str(path)],
        check=True,
        capture_output=True,
    )
    path.chmod(0o600)


def _run_locked(command: list[str]) -> None:
    """Run useradd/userdel, waiting while another process holds the password file lock."""
    for _attempt in range(50):
        done = subprocess.run(command, check=False, capture_output=True, text=True)
        if done.returncode == 0:
            return
        if "lock" not in done.stderr:
            break
        time.sleep(0.1)
    if command[0] == "useradd":
        message = f"{command[0]} failed: {done.stderr.strip()}"
        raise RuntimeError(message)
