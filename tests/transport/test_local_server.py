"""The local OpenSSH server: set up as an operator would, locked down, and always removed again."""

from __future__ import annotations

import grp
import os
import pwd
import re
import secrets
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from linkwell.errors import ConfigError, HostKeyError, TransferError, TransportError
from linkwell.transport import local_server
from linkwell.transport.local_server import (
    MAX_USER,
    InboxFile,
    LocalSftpServer,
    check_server_prerequisites,
    login_names,
)
from linkwell.transport.sftp import SftpMailbox
from linkwell.transport.ssh import create_ssh_key, load_ssh_key
from linkwell.transport.sweeper import SweepOutcome
from tests.transport.fakeseal import make_package
from tests.transport.sshd import FAST_RETRY

PARTIES = ("ipsos", "nrs", "edris")
ROUTES = (("ipsos", "nrs"), ("ipsos", "edris"), ("nrs", "edris"))
USERADD_NAME = re.compile(r"[a-z_][a-z0-9_-]*")


def _skip_unless_possible() -> None:
    try:
        check_server_prerequisites("these tests")
    except ConfigError as exc:
        pytest.skip(str(exc))


def _base() -> Path:
    return Path("/srv") / f"lwt{secrets.token_hex(3)}-local"


def _mailbox(server: LocalSftpServer, party: str, key: Path) -> SftpMailbox:
    return SftpMailbox(
        server.transport,
        server.endpoint(party),
        party,
        key=load_ssh_key(key),
        retry=FAST_RETRY,
        timeout=10.0,
    )


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and text.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _running_as(uids: set[int]) -> list[int]:
    """Processes (not zombies) whose real user is one of ``uids``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            status = (entry / "status").read_text() if entry.name.isdigit() else ""
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if fields and int(fields["Uid"].split()[0]) in uids and "Z" not in fields["State"]:
            found.append(int(entry.name))
    return found


def _assert_nothing_left(server: LocalSftpServer, port: int) -> None:
    for user in server.users.values():
        with pytest.raises(KeyError):
            pwd.getpwnam(user)
        with pytest.raises(KeyError):
            grp.getgrnam(user)
    assert not server.base.exists()
    assert _processes_mentioning(str(server.base)) == []
    if port:
        with socket.socket() as probe:
            assert probe.connect_ex((server.host, port)) != 0


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("keys")
    for party in PARTIES:
        create_ssh_key(folder / party, comment=party)
    return {party: folder / party for party in PARTIES}


@pytest.fixture(scope="module")
def served(keys: dict[str, Path]) -> Iterator[LocalSftpServer]:
    """One server for the module's read-mostly tests."""
    _skip_unless_possible()
    with LocalSftpServer(_base(), PARTIES, ROUTES) as server:
        for party, key in keys.items():
            server.authorize(party, key.with_name(key.name + ".pub").read_text())
        yield server


# -- without a server ---------------------------------------------------------------------------


@given(
    prefix=st.from_regex(r"[a-z][a-z0-9]{1,15}", fullmatch=True),
    parties=st.lists(
        st.from_regex(r"[a-z][a-z0-9-]{0,62}", fullmatch=True), unique=True, max_size=12
    ),
)
def test_every_party_gets_its_own_valid_login_name(prefix: str, parties: list[str]) -> None:
    names = login_names(prefix, parties)
    assert list(names) == parties
    assert len(set(names.values())) == len(parties)
    for name in names.values():
        assert len(name) <= MAX_USER
        assert name.startswith(f"{prefix}-")
        assert USERADD_NAME.fullmatch(name)


def test_names_that_only_differ_beyond_the_limit_stay_apart() -> None:
    long = "scotcen-social-research-analysis"
    names = login_names("lwabc123", [f"{long}-one", f"{long}-two", f"{long}-three"])
    assert len(set(names.values())) == 3
    assert names[f"{long}-one"] == f"lwabc123-{long}"[:MAX_USER]


@pytest.mark.parametrize("prefix", ["1abc", "a", "ABC", "a-b", "abcdefghijklmnopq"])
def test_a_bad_prefix_is_refused(prefix: str) -> None:
    with pytest.raises(ConfigError, match="prefix"):
        login_names(prefix, ["ipsos"])


@pytest.mark.parametrize("route", [("ipsos", "ipsos"), ("ipsos", "nobody"), ("x", "nrs")])
def test_a_route_must_join_two_parties_of_the_server(route: tuple[str, str]) -> None:
    with pytest.raises(ConfigError, match="route"):
        LocalSftpServer(_base(), PARTIES, [route])


def test_without_root_the_error_says_what_to_run_instead(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(ConfigError) as caught:
        check_server_prerequisites()
    assert "the SFTP demo needs root" in caught.value.message
    assert "chrooted" in caught.value.message
    assert caught.value.hint is not None
    assert "make demo" in caught.value.hint
    server = LocalSftpServer(tmp_path / "server", PARTIES, ROUTES)
    with pytest.raises(ConfigError, match="needs root"), server:
        pass
    assert not (tmp_path / "server").exists()


def test_without_sshd_the_error_names_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("the root check comes first")
    monkeypatch.setattr(local_server, "SSHD", tmp_path / "no-sshd")
    with pytest.raises(ConfigError, match="not installed") as caught:
        check_server_prerequisites()
    assert str(tmp_path / "no-sshd") in caught.value.message


@pytest.mark.parametrize(
    ("uid", "mode", "guarded", "safe"),
    [
        (0, 0o440, True, True),
        (0, 0o400, True, True),
        (0, 0o640, True, True),
        (0, 0o460, True, False),  # the recipient's group could write
        (0, 0o446, True, False),
        (1234, 0o440, True, False),  # a party's own file
        (0, 0o440, False, False),  # in a folder someone else could change
    ],
)
def test_only_a_root_file_in_root_folders_counts_as_unchangeable(
    uid: int, mode: int, guarded: bool, safe: bool
) -> None:
    found = InboxFile(party="nrs", name="a.lwp", uid=uid, gid=5, mode=mode, guarded=guarded)
    assert found.only_root_can_change is safe


# -- one running server -------------------------------------------------------------------------


@pytest.mark.sshd
def test_a_delivery_reaches_a_read_only_inbox_only_through_the_sweep(
    served: LocalSftpServer, keys: dict[str, Path], tmp_path: Path
) -> None:
    package = make_package(tmp_path, 50_000)
    with _mailbox(served, "ipsos", keys["ipsos"]) as ipsos:
        ipsos.deliver(package, to="nrs")
    with _mailbox(served, "nrs", keys["nrs"]) as nrs:
        assert package.name not in [e.name for e in nrs.list_inbox()]
        swept = served.sweep()
        assert [(f.sender, f.name, f.outcome) for f in swept.report.files] == [
            ("ipsos", package.name, SweepOutcome.DELIVERED)
        ]
        mine = [f for f in swept.inboxes if f.name.startswith(package.name)]
        assert {f.name for f in mine} == {package.name, f"{package.name}.sha256"}
        gid = served.accounts["nrs"].gid
        assert {(f.party, f.uid, f.gid, f.mode, f.guarded) for f in mine} == {
            ("nrs", 0, gid, 0o440, True)
        }
        assert package.name in [e.name for e in nrs.list_inbox()]
        fetched = nrs.fetch(package.name, tmp_path / "got", size=package.stat().st_size)
    assert (tmp_path / "got").read_bytes() == package.read_bytes()
    assert fetched.size == package.stat().st_size


@pytest.mark.sshd
def test_sshd_locks_each_login_into_its_area_with_sftp_only(served: LocalSftpServer) -> None:
    for party in PARTIES:
        effective = subprocess.run(
            [
                str(local_server.SSHD),
                "-T",
                "-f",
                str(served.conf / "sshd_config"),
                "-C",
                f"user={served.users[party]},host=localhost,addr=127.0.0.1",
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.splitlines()
        assert f"chrootdirectory {served.root / party}" in effective
        assert "forcecommand internal-sftp -u 0077" in effective
        assert "authenticationmethods publickey" in effective
        assert "passwordauthentication no" in effective
        assert "permitrootlogin no" in effective
        assert "disableforwarding yes" in effective
        assert "permittty no" in effective


@pytest.mark.sshd
def test_a_login_sees_only_its_own_area_and_cannot_write_its_inbox(
    served: LocalSftpServer, keys: dict[str, Path], tmp_path: Path
) -> None:
    with _mailbox(served, "ipsos", keys["ipsos"]) as ipsos:
        session = ipsos._connect()
        assert sorted(session.sftp.listdir("/")) == ["acks", "inbox", "outbox"]
        assert sorted(session.sftp.listdir("/outbox")) == ["edris", "nrs"]
        with pytest.raises(PermissionError):
            session.sftp.open("/inbox/forged.lwp", "wb").close()
        with pytest.raises(FileNotFoundError):  # the real path means nothing inside the chroot
            session.sftp.listdir(str(served.root))
    with _mailbox(served, "nrs", keys["nrs"]) as nrs, pytest.raises(TransferError):
        nrs.deliver(make_package(tmp_path, 100), to="ipsos")  # no route nrs -> ipsos


@pytest.mark.sshd
def test_the_pinned_host_key_is_the_one_sshd_presents(
    served: LocalSftpServer, keys: dict[str, Path], tmp_path: Path
) -> None:
    published = (served.conf / "host_ed25519.pub").read_text().split()[:2]
    assert served.transport.host_key == " ".join(published)
    assert served.transport.host == "127.0.0.1"
    other = create_ssh_key(tmp_path / "not-the-host")
    mailbox = SftpMailbox(
        served.transport.model_copy(update={"host_key": " ".join(other.split()[:2])}),
        served.endpoint("ipsos"),
        "ipsos",
        key=load_ssh_key(keys["ipsos"]),
        retry=FAST_RETRY,
    )
    with mailbox, pytest.raises(HostKeyError, match="not the one pinned"):
        mailbox.list_inbox()


@pytest.mark.sshd
def test_a_party_logs_in_only_with_its_own_key(
    served: LocalSftpServer, keys: dict[str, Path]
) -> None:
    with (
        _mailbox(served, "nrs", keys["ipsos"]) as wrong,
        pytest.raises(TransferError, match="refused the login"),
    ):
        wrong.list_inbox()


@pytest.mark.sshd
@pytest.mark.parametrize(
    "line",
    [
        'command="/bin/sh" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB',
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC",
        "ssh-dss AAAAB3NzaC1kc3MAAACBA",
        "",
    ],
)
def test_authorize_takes_exactly_one_plain_public_key(served: LocalSftpServer, line: str) -> None:
    authorized = served.conf / "authorized" / served.users["ipsos"]
    before = authorized.read_text()
    with pytest.raises(ConfigError, match="public key"):
        served.authorize("ipsos", line)
    assert authorized.read_text() == before


@pytest.mark.sshd
def test_authorize_refuses_a_party_the_server_does_not_know(served: LocalSftpServer) -> None:
    with pytest.raises(ConfigError, match="no account"):
        served.authorize("mallory", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB")


@pytest.mark.sshd
@pytest.mark.parametrize("target", ["file", "inbox", "area"])
def test_a_sweep_refuses_to_go_on_when_others_could_change_an_inbox(
    served: LocalSftpServer, keys: dict[str, Path], tmp_path: Path, target: str
) -> None:
    package = make_package(tmp_path, 1000)
    with _mailbox(served, "ipsos", keys["ipsos"]) as ipsos:
        ipsos.deliver(package, to="edris")
    served.sweep()
    inbox = served.root / "edris" / "inbox"
    path = {"file": inbox / package.name, "inbox": inbox, "area": inbox.parent}[target]
    mode = path.stat().st_mode & 0o7777
    path.chmod(mode | 0o020)
    try:
        with pytest.raises(TransferError, match="changed by someone other than root") as caught:
            served.sweep()
        assert caught.value.file is not None
        assert caught.value.file.startswith(str(inbox))
    finally:
        path.chmod(mode)
    served.sweep()


# -- lifecycle ----------------------------------------------------------------------------------


@pytest.mark.sshd
def test_closing_ends_open_sessions_and_removes_accounts_folder_and_sshd(
    keys: dict[str, Path],
) -> None:
    _skip_unless_possible()
    server = LocalSftpServer(_base(), PARTIES, ROUTES)
    with server:
        server.authorize("ipsos", keys["ipsos"].with_name("ipsos.pub").read_text())
        port = server.port
        session = _mailbox(server, "ipsos", keys["ipsos"])
        session.list_inbox()  # and leave the connection open
        uids = {a.uid for a in server.accounts.values()}
        assert _processes_mentioning(str(server.base))
    try:
        _assert_nothing_left(server, port)
        assert _running_as(uids) == []
    finally:
        session.close()


@pytest.mark.sshd
def test_an_error_inside_the_block_still_removes_everything() -> None:
    _skip_unless_possible()
    server = LocalSftpServer(_base(), PARTIES, ROUTES)
    seen: dict[str, int] = {}

    def work() -> None:
        with server:
            seen["port"] = server.port
            seen["users"] = sum(1 for user in server.users.values() if pwd.getpwnam(user))
            raise RuntimeError("the work failed")

    with pytest.raises(RuntimeError, match="the work failed"):
        work()
    assert seen["users"] == len(PARTIES)
    _assert_nothing_left(server, seen["port"])


@pytest.mark.sshd
def test_a_server_that_cannot_start_leaves_nothing_behind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _skip_unless_possible()
    monkeypatch.setattr(local_server, "SSHD", Path("/bin/false"))
    server = LocalSftpServer(_base(), PARTIES, ROUTES)
    with pytest.raises(TransportError, match="refused the configuration"), server:
        pass
    _assert_nothing_left(server, 0)


def test_a_folder_openssh_cannot_chroot_below_is_refused_before_any_account(
    tmp_path: Path,
) -> None:
    _skip_unless_possible()
    tmp_path.chmod(0o777)  # like /tmp: writable by others
    server = LocalSftpServer(tmp_path / "server", PARTIES, ROUTES)
    with pytest.raises(ConfigError, match="ChrootDirectory"), server:
        pass
    _assert_nothing_left(server, 0)


def test_a_folder_with_content_is_refused_and_kept(tmp_path: Path) -> None:
    _skip_unless_possible()
    (tmp_path / "server").mkdir()
    (tmp_path / "server" / "precious").write_text("keep")
    server = LocalSftpServer(tmp_path / "server", PARTIES, ROUTES)
    with pytest.raises(ConfigError, match="not empty"), server:
        pass
    assert (tmp_path / "server" / "precious").read_text() == "keep"
    with pytest.raises(TransportError, match="not running"):
        _ = server.transport
