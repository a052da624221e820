"""The five-party flow over a real local OpenSSH server: what only the SFTP run can show.

The release itself is checked against the ground truth by ``test_flow_library`` for both
transports (the ``clean_demo`` fixture); here: every package went through a server inbox that
only root could change, every party logged in chrooted with its own key, and the server left
nothing behind.
"""

from __future__ import annotations

import grp
import pwd
import re
import stat
from pathlib import Path

import pytest

from linkwell.config import SftpTransport, load_project, load_workspace
from linkwell.transport import PACKAGE_SUFFIX, SweepOutcome
from tests.e2e.conftest import SftpRun
from tests.e2e.inbox_watch import InboxWatch

pytestmark = pytest.mark.sshd


def _sent(run: SftpRun) -> list[str]:
    """Every package file any party sent, from the workspaces' ``sent`` folders."""
    return sorted(
        package.name
        for workspace in run.result.workspaces.values()
        for package in (workspace / "sent").glob(f"*{PACKAGE_SUFFIX}")
    )


def _swept(run: SftpRun) -> set[tuple[str, str]]:
    """``(recipient, package file)`` for every package a sweep delivered into an inbox."""
    return {
        (f.recipient, f.name)
        for round_ in run.result.sweeps
        for f in round_.report.files
        if f.outcome is SweepOutcome.DELIVERED
    }


def test_every_package_sent_was_swept_to_its_recipient_once(sftp_run: SftpRun) -> None:
    sent, swept = _sent(sftp_run), _swept(sftp_run)
    assert len(sent) >= 12  # participants, identifiers and content per source, key, release...
    assert sorted(name for _, name in swept) == sent
    for recipient, name in swept:
        inbox = sftp_run.result.workspaces[recipient] / "transfer" / "accepted"
        assert (inbox / name).is_file(), f"{name} swept to {recipient} never reached it"
    outcomes = [f.outcome for r in sftp_run.result.sweeps for f in r.report.files]
    assert SweepOutcome.QUARANTINED not in outcomes
    assert SweepOutcome.PURGED in outcomes  # acknowledgements cleared the server's inboxes
    assert all(r.report.waiting == 0 for r in sftp_run.result.sweeps)


def test_no_package_ever_sat_in_an_inbox_anyone_but_root_could_change(sftp_run: SftpRun) -> None:
    watch = sftp_run.watch
    assert watch.breaches == []
    assert watch.scans > 100  # it watched the whole run, not a moment
    packages = {(party, name) for party, name in watch.seen if name.endswith(PACKAGE_SUFFIX)}
    assert packages  # it did see packages arrive...
    assert packages <= _swept(sftp_run)  # ...and only the ones the sweeper delivered
    # After every sweep, every inbox file of the round, as the server reported it:
    after_sweeps = [f for r in sftp_run.result.sweeps for f in r.inboxes]
    assert {(f.party, f.name) for f in after_sweeps if f.name.endswith(PACKAGE_SUFFIX)} == (
        _swept(sftp_run)
    )
    assert {(f.uid, f.mode, f.guarded) for f in after_sweeps} == {(0, 0o440, True)}


def test_the_watch_reports_an_inbox_file_others_could_change(tmp_path: Path) -> None:
    """The watch above must be able to fail: a bad inbox is reported, a good one is not."""
    if tmp_path.stat().st_uid != 0:
        pytest.skip("needs root-owned files")
    inbox = tmp_path / "root" / "nrs" / "inbox"
    inbox.mkdir(parents=True, mode=0o750)
    package = inbox / f"abc{PACKAGE_SUFFIX}"
    package.write_bytes(b"sealed")
    package.chmod(0o440)
    watch = InboxWatch(tmp_path / "root")
    watch.scan()
    assert (watch.seen, watch.breaches) == ({("nrs", package.name)}, [])
    for spoil, undo in [
        (lambda: package.chmod(0o460), lambda: package.chmod(0o440)),
        (lambda: package.chmod(0o442), lambda: package.chmod(0o440)),
        (lambda: inbox.chmod(0o770), lambda: inbox.chmod(0o750)),
        (lambda: inbox.parent.chmod(0o757), lambda: inbox.parent.chmod(0o755)),
    ]:
        spoil()
        watch.scan()
        undo()
        assert len(watch.breaches) == 1, watch.breaches
        watch.breaches.clear()


def test_every_party_logged_in_chrooted_with_its_own_key(sftp_run: SftpRun) -> None:
    result = sftp_run.result
    project = load_project(result.project_file)
    assert isinstance(project.transport, SftpTransport)
    assert project.transport.host == "127.0.0.1"
    assert project.transport.host_key.startswith("ssh-ed25519 ")
    assert not (result.out / "exchange").exists()  # nothing went through a shared folder
    log = (result.out / "sftp-server.log").read_text(encoding="utf-8")
    assert "Accepted password" not in log
    assert "Failed" not in log
    for party in project.parties:
        assert party.sftp is not None
        user = party.sftp.user
        assert re.search(rf"Accepted publickey for {re.escape(user)} from 127\.0\.0\.1", log)
        root = sftp_run.server_dir / "root" / party.name
        assert f'Changed root directory to "{root}"' in log
        assert f"forced-command (config) 'internal-sftp -u 0077' for {user}" in log
        workspace = result.workspaces[party.name]
        settings = load_workspace(workspace / "workspace.toml")
        assert settings.sftp_key_file is not None
        key = workspace / settings.sftp_key_file
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        public = key.with_name(key.name + ".pub").read_text(encoding="utf-8").split()[1]
        assert public not in "".join(
            (result.workspaces[other.name] / "ssh" / "id_ed25519.pub").read_text()
            for other in project.parties
            if other.name != party.name
        )


def test_the_server_left_no_account_folder_or_process(sftp_run: SftpRun) -> None:
    project = load_project(sftp_run.result.project_file)
    users = [p.sftp.user for p in project.parties if p.sftp is not None]
    assert len(users) == len(project.parties)
    for user in users:
        with pytest.raises(KeyError):
            pwd.getpwnam(user)
        with pytest.raises(KeyError):
            grp.getgrnam(user)
    assert not sftp_run.server_dir.exists()
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes() if proc.name.isdigit() else b""
        except OSError:
            continue
        assert str(sftp_run.server_dir).encode() not in cmdline
