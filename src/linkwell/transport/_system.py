"""System accounts and processes for the local SFTP server: made, found and ended with care.

Accounts are created and removed with the system's own tools (``useradd``/``userdel``), waiting
while another process holds the password-file lock, because several servers may start at once.
Processes are found through ``/proc`` only by facts that make them ours: forked by our ``sshd``,
or running as one of our accounts; a zombie counts as ended.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import signal
import subprocess
import time
from pathlib import Path

from linkwell.errors import TransportError
from linkwell.transport.server import ServerAccount

__all__ = ["add_user", "children", "end", "owned_by", "remove_user"]


def add_user(user: str, party: str) -> ServerAccount:
    """Create a system account that can log in by key only and has no shell and no home."""
    _run_user_tool(
        [
            "useradd",
            "--system",
            "--no-create-home",
            "--user-group",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            "--password",
            "*",  # no password at all (not '!', which would lock key logins too)
            user,
        ]
    )
    record = pwd.getpwnam(user)
    return ServerAccount(party=party, user=user, uid=record.pw_uid, gid=record.pw_gid)


def remove_user(user: str) -> bool:
    """Remove an account and its group; True when neither is left."""
    with contextlib.suppress(TransportError):
        _run_user_tool(["userdel", user])
    with contextlib.suppress(KeyError, TransportError):
        grp.getgrnam(user)
        _run_user_tool(["groupdel", user])
    try:
        pwd.getpwnam(user)
    except KeyError:
        return True
    return False


def _run_user_tool(command: list[str]) -> None:
    """Run useradd/userdel/groupdel, waiting while another process holds the password lock."""
    for _attempt in range(100):
        done = subprocess.run(command, check=False, capture_output=True, text=True)  # noqa: S603
        if done.returncode == 0:
            return
        if "lock" not in done.stderr:
            break
        time.sleep(0.1)
    raise TransportError(
        f"{command[0]} failed for the local SFTP server's account {command[-1]}",
        hint="check that the system's user database is writable (run as root)",
    )


def _proc_status(pid: str) -> dict[str, str]:
    try:
        text = Path("/proc", pid, "status").read_text(encoding="utf-8")
    except OSError:
        return {}
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def _all_pids() -> list[str]:
    return [entry.name for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def children(parent: int) -> list[int]:
    """The processes ``parent`` forked: sshd's per-connection monitors."""
    return [
        int(pid) for pid in _all_pids() if _proc_status(pid).get("PPid", "").strip() == str(parent)
    ]


def owned_by(uids: set[int]) -> list[int]:
    """Processes whose real user is one of ``uids``: sessions of our accounts."""
    found = []
    for pid in _all_pids():
        real = _proc_status(pid).get("Uid", "").split()
        if real and int(real[0]) in uids:
            found.append(int(pid))
    return found


def end(pids: list[int]) -> None:
    """Terminate ``pids``, then kill those still there after a grace period."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = []
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
                alive.append(pid)
        deadline = time.monotonic() + 2.0
        while alive and time.monotonic() < deadline:
            alive = [pid for pid in alive if _running(pid)]
            time.sleep(0.02)
        pids = alive


def _running(pid: int) -> bool:
    """Whether ``pid`` still runs: a zombie waiting for a parent to reap it has ended."""
    state = _proc_status(str(pid)).get("State", "")
    return bool(state) and not state.startswith("Z")
