"""The SFTP transport against a real OpenSSH server: isolation, immutability, resume, refusals."""

from __future__ import annotations

import hashlib
import logging
import subprocess
import time
from pathlib import Path

import paramiko
import pytest

from linkwell.errors import HostKeyError, StorageError, TransferError
from linkwell.transport import (
    ReceiveDirs,
    RefusalReason,
    SweepOutcome,
    receive_from,
    receive_packages,
    send_package,
    sweep,
)
from linkwell.transport.retry import RetryPolicy
from linkwell.transport.sftp import SftpMailbox
from linkwell.transport.ssh import MODERN_CIPHERS, MODERN_KEX, MODERN_MACS
from tests.transport.fakeseal import FakeAcceptor, make_package
from tests.transport.proxy import CuttingProxy, Direction
from tests.transport.sshd import SshServer, can_mount

pytestmark = pytest.mark.sshd

MB = 1_000_000


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _raw(mailbox: SftpMailbox) -> paramiko.SFTPClient:
    """The party's own SFTP session, to try what linkwell itself never would."""
    return mailbox._connect().sftp


def _deliver(server: SshServer, tmp_path: Path, sender: str, to: str, size: int) -> Path:
    package = make_package(tmp_path / f"from-{sender}", size)
    with server.mailbox(sender) as mailbox:
        mailbox.deliver(package, to=to)
    return package


def _dirs(tmp_path: Path, party: str) -> ReceiveDirs:
    return ReceiveDirs.under(tmp_path / f"{party}-workspace")


def test_send_sweep_receive_acknowledge(sftp: SshServer, tmp_path: Path) -> None:
    project = sftp.project()
    package = make_package(tmp_path / "out", 300_000)
    delivery = send_package(
        package, project=project, party="ipsos", to="nrs", key_file=sftp.keys["ipsos"]
    )
    assert delivery.sha256 == _sha(package)
    assert not delivery.already_delivered
    dirs = _dirs(tmp_path, "nrs")

    def receive() -> object:
        return receive_packages(
            project=project,
            party="nrs",
            dirs=dirs,
            accept=FakeAcceptor(accepted_dir=dirs.accepted),
            key_file=sftp.keys["nrs"],
        )

    assert receive().accepted == ()  # type: ignore[attr-defined]  # not swept: not visible yet
    report = sweep(sftp.root)
    assert [(f.name, f.outcome) for f in report.files] == [(package.name, SweepOutcome.DELIVERED)]
    inbox_copy = sftp.root / "nrs" / "inbox" / package.name
    info = inbox_copy.stat()
    assert (info.st_uid, info.st_gid, info.st_mode & 0o777) == (
        0,
        sftp.accounts["nrs"].gid,
        0o440,
    )
    assert list((sftp.root / "ipsos" / "outbox" / "nrs").iterdir()) == []
    received = receive()
    assert [r.name for r in received.accepted] == [package.name]  # type: ignore[attr-defined]
    assert (dirs.accepted / package.name).read_bytes() == package.read_bytes()
    assert (sftp.root / "nrs" / "acks" / package.name).exists()
    purged = sweep(sftp.root)
    assert purged.count(SweepOutcome.PURGED) == 1
    assert not inbox_copy.exists()
    again = receive()
    assert again.accepted == ()
    assert again.quarantined == ()


def test_a_party_sees_only_its_own_area(sftp: SshServer, tmp_path: Path) -> None:
    package = _deliver(sftp, tmp_path, "ipsos", "nrs", 1000)
    sweep(sftp.root)
    with sftp.mailbox("edris") as edris:
        raw = _raw(edris)
        assert sorted(raw.listdir("/")) == ["acks", "inbox", "outbox"]
        assert raw.normalize("/../..") == "/"
        for path in (
            f"/../nrs/inbox/{package.name}",
            "/nrs/inbox",
            f"/../../root/nrs/inbox/{package.name}",
            "/etc/passwd",
        ):
            with pytest.raises(FileNotFoundError):
                raw.stat(path)
        assert raw.listdir("/inbox") == []
        assert edris.list_inbox() == ()
    with sftp.mailbox("ipsos") as ipsos:
        raw = _raw(ipsos)
        assert sorted(raw.listdir("/outbox")) == ["edris", "nrs"]
        with pytest.raises(PermissionError):
            raw.open("/inbox/forged.lwp", "wb")
        with pytest.raises(PermissionError):
            raw.mkdir("/outbox/scotcen")
        with pytest.raises(TransferError, match="folder is missing"):
            ipsos.deliver(package, to="scotcen")  # no route ipsos -> scotcen


def test_committed_packages_cannot_be_changed_or_removed(sftp: SshServer, tmp_path: Path) -> None:
    package = _deliver(sftp, tmp_path, "ipsos", "nrs", 50_000)
    sweep(sftp.root)
    path = f"/inbox/{package.name}"
    with sftp.mailbox("nrs") as nrs:
        raw = _raw(nrs)
        attempts = {
            "remove": lambda: raw.remove(path),
            "rename": lambda: raw.rename(path, "/inbox/other.lwp"),
            "posix-rename": lambda: raw.posix_rename(path, "/inbox/other.lwp"),
            "overwrite": lambda: raw.open(path, "r+b"),
            "truncate": lambda: raw.truncate(path, 0),
            "chmod": lambda: raw.chmod(path, 0o666),
            "digest": lambda: raw.open(f"{path}.sha256", "wb"),
            "new file": lambda: raw.open("/inbox/new.lwp", "wb"),
        }
        refused = []
        for what, attempt in attempts.items():
            try:
                attempt()
            except PermissionError:
                refused.append(what)
        assert refused == list(attempts)
        with raw.open(path, "rb") as handle:
            assert handle.read() == package.read_bytes()
    with sftp.mailbox("ipsos") as ipsos:  # the sender no longer holds it in any form
        assert _raw(ipsos).listdir("/outbox/nrs") == []
        ipsos.deliver(package, to="nrs")  # sending the same package again changes nothing
    assert sweep(sftp.root).count(SweepOutcome.DUPLICATE) == 1
    assert (sftp.root / "nrs" / "inbox" / package.name).read_bytes() == package.read_bytes()


def test_another_sender_cannot_replace_a_delivered_package(sftp: SshServer, tmp_path: Path) -> None:
    original = _deliver(sftp, tmp_path, "ipsos", "edris", 20_000)
    sweep(sftp.root)
    impostor = make_package(tmp_path / "impostor", 20_000, package_id=original.stem)
    with sftp.mailbox("nrs") as nrs:
        nrs.deliver(impostor, to="edris")
    report = sweep(sftp.root)
    (swept,) = report.files
    assert swept.outcome is SweepOutcome.QUARANTINED
    assert "already delivered" in swept.reason
    assert (sftp.root / "edris" / "inbox" / original.name).read_bytes() == original.read_bytes()
    kept = sorted(p.name for p in (sftp.root / ".quarantine" / "nrs").iterdir())
    assert any(name.endswith(f"-{original.name}") for name in kept)
    assert any(name.endswith(".reason.json") for name in kept)


def test_only_modern_algorithms_are_used(sftp: SshServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="paramiko.transport")
    with sftp.mailbox("ipsos") as mailbox:
        mailbox.list_inbox()
        session = mailbox._session
        assert session is not None
        transport = session.transport
        assert transport.remote_cipher in MODERN_CIPHERS
        assert transport.local_cipher in MODERN_CIPHERS
        assert transport.host_key_type == "ssh-ed25519"
        (kex,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Kex: ")]
        assert kex.removeprefix("Kex: ") in MODERN_KEX
        if "gcm" not in transport.remote_cipher:
            assert transport.remote_mac in MODERN_MACS


def test_a_server_offering_only_old_ciphers_is_refused(sftp: SshServer) -> None:
    with sftp.variant("Ciphers aes128-cbc,3des-cbc") as port, sftp.mailbox("ipsos", port=port) as m:
        with pytest.raises(TransferError, match="no modern algorithm") as info:
            m.list_inbox()
        assert not isinstance(info.value, HostKeyError)


def test_a_wrong_host_key_is_refused(sftp: SshServer, tmp_path: Path) -> None:
    stranger = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True)
    wrong = " ".join(stranger.with_suffix(".pub").read_text().split()[:2])
    known_hosts = Path.home() / ".ssh" / "known_hosts"
    before = known_hosts.read_bytes() if known_hosts.exists() else None
    log = sftp.conf / "sshd.log"
    logins = log.read_text().count("Accepted publickey")
    with sftp.mailbox("ipsos", host_key=wrong) as mailbox:
        with pytest.raises(HostKeyError, match="not the one pinned"):
            mailbox.list_inbox()
        assert mailbox._session is None
    after = known_hosts.read_bytes() if known_hosts.exists() else None
    assert before == after
    with sftp.mailbox("ipsos") as mailbox:  # the right key logs in, and is logged
        mailbox.list_inbox()
    deadline = time.monotonic() + 5
    while log.read_text().count("Accepted publickey") == logins and time.monotonic() < deadline:
        time.sleep(0.05)
    assert log.read_text().count("Accepted publickey") == logins + 1  # none for the impostor


def test_a_host_key_type_the_server_lacks_is_refused(sftp: SshServer, tmp_path: Path) -> None:
    other = tmp_path / "ecdsa"
    subprocess.run(["ssh-keygen", "-q", "-t", "ecdsa", "-N", "", "-f", str(other)], check=True)
    pinned = " ".join(other.with_suffix(".pub").read_text().split()[:2])
    with (
        sftp.mailbox("ipsos", host_key=pinned) as mailbox,
        pytest.raises(HostKeyError, match="does not offer"),
    ):
        mailbox.list_inbox()


def test_an_upload_cut_mid_way_resumes_and_the_digest_matches(
    sftp: SshServer, tmp_path: Path
) -> None:
    size, cut = 16 * MB, 8 * MB  # cut beyond the first window of requests in flight
    package = make_package(tmp_path / "out", size)
    with CuttingProxy(sftp.port, cut_after=cut, direction=Direction.UP) as proxy:
        with sftp.mailbox("ipsos", port=proxy.port) as mailbox:
            delivery = mailbox.deliver(package, to="nrs")
        assert proxy.connections >= 2
        assert delivery.resumed_from > MB
        assert proxy.forwarded[Direction.UP] < cut + size  # a restart would resend the cut part
    committed = sftp.root / "ipsos" / "outbox" / "nrs" / package.name
    assert _sha(committed) == delivery.sha256 == _sha(package)
    sweep(sftp.root)
    dirs = _dirs(tmp_path, "nrs")
    with sftp.mailbox("nrs") as nrs:
        report = receive_from(nrs, dirs=dirs, accept=FakeAcceptor())
    assert [r.sha256 for r in report.accepted] == [_sha(package)]


def test_a_download_cut_mid_way_resumes_and_the_digest_matches(
    sftp: SshServer, tmp_path: Path
) -> None:
    size, cut = 16 * MB, 8 * MB
    package = _deliver(sftp, tmp_path, "ipsos", "nrs", size)
    sweep(sftp.root)
    dest = tmp_path / "incoming" / "download.partial"
    with CuttingProxy(sftp.port, cut_after=cut, direction=Direction.DOWN) as proxy:
        with sftp.mailbox("nrs", port=proxy.port) as mailbox:
            (entry,) = mailbox.list_inbox()
            expected = mailbox.read_digest(entry.name)
            fetched = mailbox.fetch(entry.name, dest, size=entry.size)
        assert proxy.connections >= 2
        assert fetched.resumed_from > MB
        assert proxy.forwarded[Direction.DOWN] < cut + entry.size
    assert fetched.sha256 == expected == _sha(package)
    assert dest.read_bytes() == package.read_bytes()


def test_a_send_that_gave_up_resumes_in_a_later_run(sftp: SshServer, tmp_path: Path) -> None:
    # at most 64 writes of 32 KiB are in flight, so when 8 MB have passed the proxy the server
    # has confirmed at least the first 5.9 MB: the partial file cannot be empty
    size = 12 * MB
    package = make_package(tmp_path / "out", size)
    once = RetryPolicy(attempts=1)
    drop = sftp.root / "ipsos" / "outbox" / "nrs"
    with (
        CuttingProxy(sftp.port, cut_after=8 * MB, direction=Direction.UP, cuts=10) as proxy,
        sftp.mailbox("ipsos", port=proxy.port, retry=once) as mailbox,
        pytest.raises(TransferError, match="failed 1 time"),
    ):
        mailbox.deliver(package, to="nrs")
    (partial,) = drop.iterdir()
    left = partial.stat().st_size
    assert partial.name.startswith(".")
    assert 0 < left < size
    assert sweep(sftp.root).files == ()  # work in progress is not touched
    with sftp.mailbox("ipsos") as mailbox:
        delivery = mailbox.deliver(package, to="nrs")
    # the server may still have been storing the cut connection's last writes when we looked
    assert left <= delivery.resumed_from < size
    assert (drop / package.name).read_bytes() == package.read_bytes()


def test_a_receive_that_gave_up_resumes_in_a_later_run(sftp: SshServer, tmp_path: Path) -> None:
    package = _deliver(sftp, tmp_path, "ipsos", "nrs", 12 * MB)
    sweep(sftp.root)
    dirs = _dirs(tmp_path, "nrs")
    once = RetryPolicy(attempts=1)
    with (
        CuttingProxy(sftp.port, cut_after=8 * MB, direction=Direction.DOWN, cuts=10) as proxy,
        sftp.mailbox("nrs", port=proxy.port, retry=once) as mailbox,
        pytest.raises(TransferError, match="failed 1 time"),
    ):
        receive_from(mailbox, dirs=dirs, accept=FakeAcceptor())
    (partial,) = dirs.incoming.iterdir()
    assert 0 < partial.stat().st_size < package.stat().st_size
    with sftp.mailbox("nrs") as mailbox:
        report = receive_from(mailbox, dirs=dirs, accept=FakeAcceptor())
    assert [r.sha256 for r in report.accepted] == [_sha(package)]
    assert list(dirs.incoming.iterdir()) == []


def test_a_package_altered_on_the_server_is_refused_and_quarantined(
    sftp: SshServer, tmp_path: Path
) -> None:
    package = _deliver(sftp, tmp_path, "ipsos", "nrs", 100_000)
    sweep(sftp.root)
    inbox = sftp.root / "nrs" / "inbox"
    data = bytearray((inbox / package.name).read_bytes())
    data[5000] ^= 0x40  # an intruder on the server rewrites the package and its digest file
    (inbox / package.name).write_bytes(bytes(data))
    (inbox / f"{package.name}.sha256").write_text(
        f"{hashlib.sha256(data).hexdigest()}  {package.name}\n"
    )
    dirs = _dirs(tmp_path, "nrs")
    with sftp.mailbox("nrs") as mailbox:
        report = receive_from(mailbox, dirs=dirs, accept=FakeAcceptor())
    assert report.accepted == ()
    (refused,) = report.quarantined
    assert refused.reason is RefusalReason.REFUSED
    assert "SignatureError" in refused.detail
    assert (dirs.quarantine / package.name).read_bytes() == bytes(data)
    assert (dirs.quarantine / f"{package.name}.reason.json").exists()
    assert not any(dirs.accepted.iterdir())


def test_a_full_server_disk_is_reported_clearly(sftp: SshServer, tmp_path: Path) -> None:
    if not can_mount():
        pytest.skip("cannot mount a tmpfs here (no CAP_SYS_ADMIN); the full-disk path is untested")
    account = sftp.accounts["ipsos"]
    drop = sftp.root / "ipsos" / "outbox" / "nrs"
    sftp.mount_tmpfs(drop, size="1m", uid=account.uid, gid=account.gid)
    package = make_package(tmp_path / "out", 3 * MB)
    with sftp.mailbox("ipsos") as mailbox, pytest.raises(TransferError) as info:
        mailbox.deliver(package, to="nrs")
    error = info.value
    assert "disk is full" in error.message
    assert "free space" in (error.hint or "")
    assert "resumes" in (error.hint or "")
    assert error.file is not None
    assert error.file.endswith(".partial")
    assert not any(p.name == package.name for p in drop.iterdir())
    assert _sha(package) == hashlib.sha256(package.read_bytes()).hexdigest()


def test_a_full_local_disk_on_receipt_loses_nothing(sftp: SshServer, tmp_path: Path) -> None:
    if not can_mount():
        pytest.skip("cannot mount a tmpfs here (no CAP_SYS_ADMIN); the full-disk path is untested")
    package = _deliver(sftp, tmp_path, "ipsos", "nrs", 3 * MB)
    sweep(sftp.root)
    dirs = _dirs(tmp_path, "nrs")
    dirs.incoming.mkdir(parents=True)
    sftp.mount_tmpfs(dirs.incoming, size="1m", uid=0, gid=0)
    with sftp.mailbox("nrs") as mailbox, pytest.raises(StorageError, match="disk is full"):
        receive_from(mailbox, dirs=dirs, accept=FakeAcceptor())
    sftp.reset_mounts()
    with sftp.mailbox("nrs") as mailbox:
        report = receive_from(mailbox, dirs=dirs, accept=FakeAcceptor())
    assert [r.name for r in report.accepted] == [package.name]


def test_reads_use_the_servers_limit_and_complete_short_answers(
    sftp: SshServer, tmp_path: Path
) -> None:
    package = _deliver(sftp, tmp_path, "ipsos", "nrs", 3 * MB)
    sweep(sftp.root)
    with sftp.mailbox("nrs") as mailbox:
        session = mailbox._connect()
        assert session.read_size == 255 * 1024  # OpenSSH's limits@openssh.com answer
        session.read_size = 1 << 20  # ask for more than the server answers: every read is short
        fetched = mailbox.fetch(package.name, tmp_path / "x.partial", size=package.stat().st_size)
    assert fetched.sha256 == _sha(package)


def test_a_package_changed_while_sending_is_not_committed(
    sftp: SshServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from linkwell.transport import sftp as sftp_module

    package = make_package(tmp_path / "out", 200_000)
    real = sftp_module._read_from

    def read_then_change(path: Path, offset: int):
        yield from real(path, offset)
        with path.open("r+b") as handle:
            handle.write(b"\0" * 8)

    monkeypatch.setattr(sftp_module, "_read_from", read_then_change)
    with sftp.mailbox("ipsos") as mailbox, pytest.raises(TransferError, match="changed while"):
        mailbox.deliver(package, to="nrs")
    drop = sftp.root / "ipsos" / "outbox" / "nrs"
    assert not (drop / package.name).exists()
    assert not (drop / f"{package.name}.sha256").exists()
