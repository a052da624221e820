"""One demo run per transport for the whole session, shared by the end-to-end tests.

``clean_demo`` is the folder run (two waves: ``folder_demo``) and, where root and OpenSSH are
available, the same area over a real local SFTP server (``sftp_run``), so every flow test checks
both transports. The SFTP run
is watched from outside: a thread records every file that ever appears in a server inbox.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

import pytest

from linkwell.config import ReleasePolicy
from linkwell.demo import DemoResult, run_demo
from linkwell.errors import ConfigError
from linkwell.synth import MessRates
from linkwell.transport import check_server_prerequisites
from tests.e2e.inbox_watch import InboxWatch

CHILDREN = 1500
SEED = 7


@dataclass(frozen=True)
class SftpRun:
    """The demo over SFTP, the watch kept on the server's inboxes, and where the server lived."""

    result: DemoResult
    watch: InboxWatch
    server_dir: Path


@pytest.fixture(scope="session")
def sftp_run(tmp_path_factory: pytest.TempPathFactory) -> SftpRun:
    try:
        check_server_prerequisites("the SFTP end-to-end tests")
    except ConfigError as exc:
        pytest.skip(str(exc))
    server_dir = Path("/srv") / f"lwt{secrets.token_hex(3)}-e2e"
    watch = InboxWatch(server_dir / "root")
    with watch.running():
        result = run_demo(
            tmp_path_factory.mktemp("demo-sftp") / "run",
            children=CHILDREN,
            seed=SEED,
            mess=MessRates.clean(),
            transport="sftp",
            server_dir=server_dir,
        )
    return SftpRun(result, watch, server_dir)


@pytest.fixture(scope="session")
def folder_demo(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    """Two waves through the shared folder, following children across waves (the policy on)."""
    return run_demo(
        tmp_path_factory.mktemp("demo") / "run",
        children=CHILDREN,
        seed=SEED,
        mess=MessRates.clean(),
        waves=2,
        release=ReleasePolicy(longitudinal_id=True),
    )


@pytest.fixture(scope="session", params=["folder", pytest.param("sftp", marks=pytest.mark.sshd)])
def clean_demo(request: pytest.FixtureRequest) -> DemoResult:
    if request.param == "sftp":
        run: SftpRun = request.getfixturevalue("sftp_run")
        return run.result
    folder: DemoResult = request.getfixturevalue("folder_demo")
    return folder
