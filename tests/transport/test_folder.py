from __future__ import annotations

import hashlib
import logging
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from linkwell.errors import ConfigError, TransferError
from linkwell.transport.base import PackageNames, parse_digest_file
from linkwell.transport.folder import FolderMailbox
from tests.transport.fakeseal import make_package


class Recorder:
    """A Progress that records every task and its advances."""

    def __init__(self) -> None:
        self.tasks: dict[str, list[float]] = {}

    @contextmanager
    def task(self, description: str, *, total: float | None = None) -> Iterator[Recorder]:
        self._steps = self.tasks.setdefault(description, [])
        yield self

    def advance(self, amount: float = 1) -> None:
        self._steps.append(amount)


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    return tmp_path / "shared"


def test_deliver_commits_package_and_digest_read_only(tmp_path: Path, shared: Path) -> None:
    package = make_package(tmp_path / "out", 200_000)
    delivery = FolderMailbox(shared, "ipsos").deliver(package, to="nrs")
    inbox = shared / "nrs" / "inbox"
    assert (inbox / package.name).read_bytes() == package.read_bytes()
    assert delivery.sha256 == hashlib.sha256(package.read_bytes()).hexdigest()
    digest = (inbox / f"{package.name}.sha256").read_bytes()
    assert parse_digest_file(digest, package.name) == delivery.sha256
    assert stat.S_IMODE((inbox / package.name).stat().st_mode) == 0o440
    assert sorted(p.name for p in inbox.iterdir()) == [package.name, f"{package.name}.sha256"]
    entries = FolderMailbox(shared, "nrs").list_inbox()
    assert [(e.name, e.size) for e in entries] == [(package.name, package.stat().st_size)]


def test_partial_and_stray_files_are_never_listed(
    tmp_path: Path, shared: Path, caplog: pytest.LogCaptureFixture
) -> None:
    inbox = shared / "nrs" / "inbox"
    inbox.mkdir(parents=True)
    (inbox / PackageNames.partial("a.lwp", "0" * 64)).write_bytes(b"half")
    (inbox / "notes.txt").write_bytes(b"x")
    (inbox / "b.lwp").mkdir()
    (inbox / "c.lwp").symlink_to(tmp_path / "anything")
    (inbox / f"{'d' * 32}.lwp.sha256").write_bytes(b"a digest, its package on its way")
    with caplog.at_level(logging.WARNING, logger="linkwell.transport.folder"):
        assert FolderMailbox(shared, "nrs").list_inbox() == ()
    told = sorted(r.getMessage() for r in caplog.records)
    assert told == [  # the strays, each by name, so an attack on the inbox is noticed
        f"left alone in the inbox, not a package file: {name!r}"
        for name in ("b.lwp", "c.lwp", "notes.txt")
    ]


def test_interrupted_delivery_resumes_from_the_partial(tmp_path: Path, shared: Path) -> None:
    package = make_package(tmp_path / "out", 3_000_000)
    data = package.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    inbox = shared / "nrs" / "inbox"
    inbox.mkdir(parents=True)
    (inbox / PackageNames.partial(package.name, digest)).write_bytes(data[:1_234_567])
    progress = Recorder()
    delivery = FolderMailbox(shared, "ipsos").deliver(package, to="nrs", progress=progress)
    assert delivery.resumed_from == 1_234_567
    assert (inbox / package.name).read_bytes() == data
    assert sum(progress.tasks[f"delivering {package.name} to nrs"]) == len(data)
    assert not any(p.name.endswith(".partial") for p in inbox.iterdir())


def test_a_corrupt_partial_is_detected_and_removed(tmp_path: Path, shared: Path) -> None:
    package = make_package(tmp_path / "out", 100_000)
    data = package.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    inbox = shared / "nrs" / "inbox"
    inbox.mkdir(parents=True)
    partial = inbox / PackageNames.partial(package.name, digest)
    partial.write_bytes(b"\xff" * 5000)
    with pytest.raises(TransferError, match="does not match"):
        FolderMailbox(shared, "ipsos").deliver(package, to="nrs")
    assert not partial.exists()
    assert not (inbox / package.name).exists()
    FolderMailbox(shared, "ipsos").deliver(package, to="nrs")
    assert (inbox / package.name).read_bytes() == data


def test_redelivery_is_idempotent_but_never_overwrites(tmp_path: Path, shared: Path) -> None:
    package = make_package(tmp_path / "out", 10_000)
    mailbox = FolderMailbox(shared, "ipsos")
    mailbox.deliver(package, to="nrs")
    again = mailbox.deliver(package, to="nrs")
    assert again.already_delivered
    impostor = make_package(tmp_path / "other", 10_000, package_id=package.stem)
    with pytest.raises(TransferError, match="different package with this name"):
        FolderMailbox(shared, "edris").deliver(impostor, to="nrs")
    assert (shared / "nrs" / "inbox" / package.name).read_bytes() == package.read_bytes()


def test_a_racing_second_delivery_cannot_replace_the_first(tmp_path: Path, shared: Path) -> None:
    """The digest file is committed first, so a different file of the same name is refused."""
    first = make_package(tmp_path / "a", 10_000)
    second = make_package(tmp_path / "b", 10_000, package_id=first.stem)
    inbox = shared / "nrs" / "inbox"
    inbox.mkdir(parents=True)
    other = hashlib.sha256(second.read_bytes()).hexdigest()
    (inbox / f"{first.name}.sha256").write_text(f"{other}  {first.name}\n")
    with pytest.raises(TransferError, match="another file with this package's name"):
        FolderMailbox(shared, "ipsos").deliver(first, to="nrs")
    assert not (inbox / first.name).exists()


def test_fetch_resumes_and_hashes_everything(tmp_path: Path, shared: Path) -> None:
    package = make_package(tmp_path / "out", 2_500_000)
    FolderMailbox(shared, "ipsos").deliver(package, to="nrs")
    dest = tmp_path / "incoming" / "x.partial"
    dest.parent.mkdir()
    dest.write_bytes(package.read_bytes()[:999_999])
    fetched = FolderMailbox(shared, "nrs").fetch(package.name, dest, size=package.stat().st_size)
    assert fetched.resumed_from == 999_999
    assert fetched.sha256 == hashlib.sha256(package.read_bytes()).hexdigest()
    assert dest.read_bytes() == package.read_bytes()


def test_fetch_does_not_follow_a_link_planted_in_the_inbox(tmp_path: Path, shared: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_bytes(b"private")
    inbox = shared / "nrs" / "inbox"
    inbox.mkdir(parents=True)
    (inbox / "a.lwp").symlink_to(secret)
    with pytest.raises(TransferError, match="no longer in the inbox"):
        FolderMailbox(shared, "nrs").fetch("a.lwp", tmp_path / "x.partial", size=7)
    assert FolderMailbox(shared, "nrs").read_digest("a.lwp") is None


def test_acknowledge_clears_own_inbox_only(tmp_path: Path, shared: Path) -> None:
    package = make_package(tmp_path / "out", 1000)
    FolderMailbox(shared, "ipsos").deliver(package, to="nrs")
    FolderMailbox(shared, "ipsos").deliver(package, to="edris")
    FolderMailbox(shared, "nrs").acknowledge(package.name)
    assert list((shared / "nrs" / "inbox").iterdir()) == []
    assert (shared / "edris" / "inbox" / package.name).exists()


def test_bad_recipients_and_names_are_refused(tmp_path: Path, shared: Path) -> None:
    package = make_package(tmp_path / "out", 10)
    mailbox = FolderMailbox(shared, "ipsos")
    with pytest.raises(ConfigError):
        mailbox.deliver(package, to="../nrs")
    with pytest.raises(ConfigError, match="itself"):
        mailbox.deliver(package, to="ipsos")
    renamed = package.with_name("data.csv")
    package.rename(renamed)
    with pytest.raises(TransferError, match="not named like a package"):
        mailbox.deliver(renamed, to="nrs")
    assert not (shared / "nrs").exists()


def test_a_package_changed_while_sending_is_not_committed(
    tmp_path: Path, shared: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = make_package(tmp_path / "out", 50_000)
    from linkwell.transport import folder

    real = folder.sha256_file

    def hash_then_change(path: Path, **kwargs: object) -> tuple[str, int]:
        result = real(path, **kwargs)  # type: ignore[arg-type]
        with path.open("r+b") as handle:
            handle.seek(100)
            handle.write(b"\0" * 10)
        return result

    monkeypatch.setattr(folder, "sha256_file", hash_then_change)
    with pytest.raises(TransferError, match="does not match"):
        FolderMailbox(shared, "ipsos").deliver(package, to="nrs")
    assert list((shared / "nrs" / "inbox").iterdir()) == []
