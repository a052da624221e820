"""The sweeper on a real server layout (as root, with made-up account numbers, no sshd)."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import stat
from pathlib import Path

import pytest

from linkwell.transport.base import format_digest_file
from linkwell.transport.server import ServerAccount, prepare_server_root
from linkwell.transport.sweeper import SweepOutcome, sweep
from tests.transport.fakeseal import make_package

IPSOS = ServerAccount(party="ipsos", user="u-ipsos", uid=61001, gid=61001)
NRS = ServerAccount(party="nrs", user="u-nrs", uid=61002, gid=61002)
EDRIS = ServerAccount(party="edris", user="u-edris", uid=61003, gid=61003)


@pytest.fixture
def root(server_root: Path) -> Path:
    prepare_server_root(server_root, [IPSOS, NRS, EDRIS], [("ipsos", "nrs"), ("nrs", "edris")])
    return server_root


def _commit(root: Path, package: Path, *, sender: ServerAccount, to: str, digest: str = "") -> Path:
    """Put a package and its digest file in a drop folder as the sender's client would."""
    drop = root / sender.party / "outbox" / to
    target = drop / package.name
    target.write_bytes(package.read_bytes())
    digest = digest or hashlib.sha256(package.read_bytes()).hexdigest()
    (drop / f"{package.name}.sha256").write_bytes(format_digest_file(package.name, digest))
    for path in (target, drop / f"{package.name}.sha256"):
        os.chown(path, sender.uid, sender.gid)
    return target


def _quarantined(root: Path, sender: str) -> list[dict[str, str]]:
    folder = root / ".quarantine" / sender
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.reason.json"))]


def test_committed_packages_move_into_a_root_owned_read_only_inbox(
    root: Path, tmp_path: Path
) -> None:
    package = make_package(tmp_path, 300_000)
    _commit(root, package, sender=IPSOS, to="nrs")
    report = sweep(root)
    assert [(f.sender, f.recipient, f.outcome) for f in report.files] == [
        ("ipsos", "nrs", SweepOutcome.DELIVERED)
    ]
    inbox = root / "nrs" / "inbox"
    for name in (package.name, f"{package.name}.sha256"):
        info = (inbox / name).lstat()
        assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (0, NRS.gid, 0o440)
    assert (inbox / package.name).read_bytes() == package.read_bytes()
    assert list((root / "ipsos" / "outbox" / "nrs").iterdir()) == []
    assert sweep(root).files == ()


def test_the_inbox_copy_is_a_new_file_the_sender_cannot_reach(root: Path, tmp_path: Path) -> None:
    package = make_package(tmp_path, 10_000)
    original = _commit(root, package, sender=IPSOS, to="nrs")
    kept = root / "ipsos" / "outbox" / "kept-link"
    os.link(original, kept)  # the sender keeps a second name (or an open handle) for its file
    sweep(root)
    with kept.open("r+b") as handle:  # and later changes it through that name
        handle.write(b"changed")
    assert (root / "nrs" / "inbox" / package.name).read_bytes() == package.read_bytes()
    assert kept.stat().st_ino != (root / "nrs" / "inbox" / package.name).stat().st_ino


def test_a_package_without_its_digest_file_waits(root: Path, tmp_path: Path) -> None:
    package = make_package(tmp_path, 1000)
    _commit(root, package, sender=IPSOS, to="nrs")
    (root / "ipsos" / "outbox" / "nrs" / f"{package.name}.sha256").unlink()
    report = sweep(root)
    assert report.files == ()
    assert report.waiting == 1
    assert (root / "ipsos" / "outbox" / "nrs" / package.name).exists()


def test_partial_uploads_are_left_alone(root: Path) -> None:
    drop = root / "ipsos" / "outbox" / "nrs"
    (drop / ".x.lwp.0123456789abcdef.partial").write_bytes(b"half")
    assert sweep(root).files == ()
    assert (drop / ".x.lwp.0123456789abcdef.partial").read_bytes() == b"half"


def test_a_package_not_matching_its_digest_is_quarantined(root: Path, tmp_path: Path) -> None:
    package = make_package(tmp_path, 5000)
    _commit(root, package, sender=IPSOS, to="nrs", digest="0" * 64)
    report = sweep(root)
    assert [f.outcome for f in report.files] == [SweepOutcome.QUARANTINED]
    assert list((root / "nrs" / "inbox").iterdir()) == []
    (note,) = _quarantined(root, "ipsos")
    assert note["reason"] == "the package does not match its digest file"
    assert note["recipient"] == "nrs"
    copies = [p for p in (root / ".quarantine" / "ipsos").iterdir() if p.name.endswith(".lwp")]
    assert [c.read_bytes() for c in copies] == [package.read_bytes()]
    assert list((root / "ipsos" / "outbox" / "nrs").iterdir()) == []


def test_a_link_planted_as_a_package_is_never_followed(root: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_bytes(b"root-only content")
    drop = root / "ipsos" / "outbox" / "nrs"
    (drop / "a.lwp").symlink_to(secret)
    digest = hashlib.sha256(secret.read_bytes()).hexdigest()
    (drop / "a.lwp.sha256").write_bytes(format_digest_file("a.lwp", digest))
    os.chown(drop / "a.lwp.sha256", IPSOS.uid, IPSOS.gid)
    report = sweep(root)
    assert [(f.outcome, f.reason) for f in report.files] == [
        (SweepOutcome.QUARANTINED, "a symbolic link, not a file")
    ]
    assert list((root / "nrs" / "inbox").iterdir()) == []
    quarantine = root / ".quarantine" / "ipsos"
    assert not any(p.read_bytes() == secret.read_bytes() for p in quarantine.iterdir())
    assert secret.read_bytes() == b"root-only content"


def test_a_file_the_sender_does_not_own_is_refused(root: Path, tmp_path: Path) -> None:
    package = make_package(tmp_path, 1000)
    target = _commit(root, package, sender=IPSOS, to="nrs")
    os.chown(target, 0, 0)
    report = sweep(root)
    assert [f.reason for f in report.files] == ["not owned by the sender"]
    assert list((root / "nrs" / "inbox").iterdir()) == []


def test_a_repeated_delivery_is_a_duplicate_and_a_different_one_is_refused(
    root: Path, tmp_path: Path
) -> None:
    package = make_package(tmp_path / "a", 2000)
    _commit(root, package, sender=IPSOS, to="nrs")
    sweep(root)
    _commit(root, package, sender=IPSOS, to="nrs")
    assert [f.outcome for f in sweep(root).files] == [SweepOutcome.DUPLICATE]
    # a file claiming (by its digest file) to be the delivered package, but other bytes
    liar = make_package(tmp_path / "c", 2000, package_id=package.stem)
    _commit(
        root, liar, sender=IPSOS, to="nrs", digest=hashlib.sha256(package.read_bytes()).hexdigest()
    )
    assert [f.reason for f in sweep(root).files] == ["the package does not match its digest file"]
    impostor = make_package(tmp_path / "b", 2000, package_id=package.stem)
    _commit(root, impostor, sender=IPSOS, to="nrs")
    report = sweep(root)
    assert [f.reason for f in report.files] == [
        "a different package with this name was already delivered"
    ]
    assert (root / "nrs" / "inbox" / package.name).read_bytes() == package.read_bytes()


def test_an_interrupted_sweep_is_completed(root: Path, tmp_path: Path) -> None:
    package = make_package(tmp_path, 2000)
    _commit(root, package, sender=IPSOS, to="nrs")
    inbox = root / "nrs" / "inbox"
    (inbox / f"{package.name}.sha256").write_bytes(b"stale digest from a stopped sweep")
    assert [f.outcome for f in sweep(root).files] == [SweepOutcome.DELIVERED]
    assert (inbox / package.name).read_bytes() == package.read_bytes()
    # stopped after delivering but before removing the drop's digest file: cleaned up
    other = make_package(tmp_path / "o", 2000)
    _commit(root, other, sender=IPSOS, to="nrs")
    sweep(root)
    drop_digest = root / "ipsos" / "outbox" / "nrs" / f"{other.name}.sha256"
    drop_digest.write_bytes((inbox / f"{other.name}.sha256").read_bytes())
    os.chown(drop_digest, IPSOS.uid, IPSOS.gid)
    assert sweep(root).files == ()
    assert not drop_digest.exists()


def test_acknowledged_packages_are_purged_unless_kept(root: Path, tmp_path: Path) -> None:
    package = make_package(tmp_path, 2000)
    _commit(root, package, sender=IPSOS, to="nrs")
    sweep(root)
    ack = root / "nrs" / "acks" / package.name
    ack.write_bytes(b"")
    assert sweep(root, purge_acknowledged=False).files == ()
    assert (root / "nrs" / "inbox" / package.name).exists()
    assert ack.exists()
    report = sweep(root)
    assert [(f.recipient, f.outcome) for f in report.files] == [("nrs", SweepOutcome.PURGED)]
    assert list((root / "nrs" / "inbox").iterdir()) == []
    assert not ack.exists()


def test_a_second_sweep_at_the_same_time_does_nothing(root: Path, tmp_path: Path) -> None:
    package = make_package(tmp_path, 2000)
    _commit(root, package, sender=IPSOS, to="nrs")
    fd = os.open(root / ".sweep.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert sweep(root).busy
    finally:
        os.close(fd)
    assert sweep(root).count(SweepOutcome.DELIVERED) == 1


def test_a_file_put_under_the_name_during_the_copy_is_left_for_the_next_sweep(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from linkwell.transport import sweeper

    package = make_package(tmp_path / "a", 2000)
    drop_copy = _commit(root, package, sender=IPSOS, to="nrs")
    real_copy = sweeper._copy_into

    def copy_then_replace(src: int, dir_fd: int, name: str, *, gid: int) -> tuple[str, str]:
        copied = real_copy(src, dir_fd, name, gid=gid)
        newer = drop_copy.with_name(".newer")
        newer.write_bytes(b"written meanwhile")
        os.chown(newer, IPSOS.uid, IPSOS.gid)
        newer.replace(drop_copy)
        return copied

    monkeypatch.setattr(sweeper, "_copy_into", copy_then_replace)
    assert [f.outcome for f in sweep(root).files] == [SweepOutcome.DELIVERED]
    assert (root / "nrs" / "inbox" / package.name).read_bytes() == package.read_bytes()
    assert drop_copy.read_bytes() == b"written meanwhile"
