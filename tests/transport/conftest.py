"""Fixtures for the transport tests: a real OpenSSH server (session-wide) and a server root."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.transport.sshd import SSHD, SshServer, start_server


def _why_not_root() -> str | None:
    if os.geteuid() != 0:
        return (
            "needs root: the fixture creates system users, chroot folders owned by root and mounts"
        )
    return None


@pytest.fixture(scope="session")
def sshd_server() -> Iterator[SshServer]:
    """One sshd for the whole run, with a system user per party; removed at the end."""
    reason = _why_not_root()
    if reason is None and not SSHD.exists():
        reason = "OpenSSH server not installed: run `make sysdeps` (Debian openssh-server)"
    if reason is not None:
        pytest.skip(reason)
    server = start_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sftp(sshd_server: SshServer) -> SshServer:
    """The session's server with every inbox, drop folder and quarantine emptied."""
    sshd_server.reset()
    return sshd_server


@pytest.fixture
def server_root() -> Iterator[Path]:
    """An empty folder for a server layout where OpenSSH would accept a chroot (root only)."""
    reason = _why_not_root()
    if reason is not None:
        pytest.skip(reason)
    base = Path("/srv") / f"lwt{secrets.token_hex(3)}-unit"
    base.mkdir(parents=True, mode=0o755)
    try:
        yield base / "root"
    finally:
        shutil.rmtree(base, ignore_errors=True)
