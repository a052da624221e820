from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from linkwell.errors import IdentityError, StorageError, TransportError, UnknownSenderError
from linkwell.transport import exchange
from linkwell.transport.base import PackageNames
from linkwell.transport.exchange import ReceiveDirs, receive_from
from linkwell.transport.folder import FolderMailbox
from linkwell.transport.receipts import Receipt, ReceiptBook, ReceiptState, RefusalReason
from tests.transport.fakeseal import FakeAcceptor, make_package


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    return tmp_path / "shared"


@pytest.fixture
def dirs(tmp_path: Path) -> ReceiveDirs:
    return ReceiveDirs.under(tmp_path / "nrs-workspace" / "transport")


def _send(tmp_path: Path, shared: Path, size: int = 20_000, **kwargs: str) -> Path:
    package = make_package(tmp_path / "outgoing", size, **kwargs)
    FolderMailbox(shared, "ipsos").deliver(package, to="nrs")
    return package


def _inbox(shared: Path) -> Path:
    return shared / "nrs" / "inbox"


def _rewrite(shared: Path, name: str, data: bytes, *, fix_digest: bool) -> None:
    """What an intruder on the transfer server can do: replace the file (and its digest)."""
    path = _inbox(shared) / name
    path.chmod(0o640)
    path.write_bytes(data)
    if fix_digest:
        digest = _inbox(shared) / f"{name}.sha256"
        digest.chmod(0o640)
        digest.write_text(f"{hashlib.sha256(data).hexdigest()}  {name}\n")


def test_packages_are_checked_before_they_reach_the_accepted_folder(
    tmp_path: Path, shared: Path, dirs: ReceiveDirs
) -> None:
    packages = [_send(tmp_path, shared) for _ in range(3)]
    accept = FakeAcceptor(accepted_dir=dirs.accepted)
    report = receive_from(FolderMailbox(shared, "nrs"), dirs=dirs, accept=accept)
    assert sorted(r.name for r in report.accepted) == sorted(p.name for p in packages)
    assert report.quarantined == ()
    assert report.unacknowledged == 0
    assert [in_accepted for _path, in_accepted in accept.calls] == [False, False, False]
    assert all(path.parent == dirs.incoming for path, _ in accept.calls)
    for package in packages:
        assert (dirs.accepted / package.name).read_bytes() == package.read_bytes()
    assert list(_inbox(shared).iterdir()) == []  # acknowledged, so cleared
    assert [p.name for p in dirs.incoming.iterdir()] == []


def test_nothing_is_accepted_twice(tmp_path: Path, shared: Path, dirs: ReceiveDirs) -> None:
    package = _send(tmp_path, shared)
    accept = FakeAcceptor()
    receive_from(FolderMailbox(shared, "nrs"), dirs=dirs, accept=accept)
    # the same file is put back (e.g. the server restored from a backup): skipped by name
    FolderMailbox(shared, "ipsos").deliver(package, to="nrs")
    report = receive_from(FolderMailbox(shared, "nrs"), dirs=dirs, accept=FakeAcceptor())
    assert report.accepted == ()
    assert report.already_received == (package.name,)
    # the same bytes under another name: refused by content, before accept is even asked
    copy = package.with_name("0" * 32 + ".lwp")
    copy.write_bytes(package.read_bytes())
    FolderMailbox(shared, "ipsos").deliver(copy, to="nrs")
    fresh = FakeAcceptor()
    report = receive_from(FolderMailbox(shared, "nrs"), dirs=dirs, accept=fresh)
    assert [q.reason for q in report.quarantined] == [RefusalReason.DUPLICATE_CONTENT]
    assert fresh.calls == []


def test_an_accepted_package_id_under_another_file_name_is_refused(
    tmp_path: Path, shared: Path, dirs: ReceiveDirs
) -> None:
    first = _send(tmp_path, shared)
    receive_from(FolderMailbox(shared, "nrs"), dirs=dirs, accept=FakeAcceptor())
    # a new file (new bytes) carrying the same package id, under another name: the fake
    # accept has a fresh memory, so only linkwell's own receipt book can catch it
    replay = make_package(tmp_path / "again", 20_000, package_id=first.stem)
    renamed = replay.with_name("f" * 32 + ".lwp")
    replay.rename(renamed)
    FolderMailbox(shared, "ipsos").deliver(renamed, to="nrs")
    report = receive_from(FolderMailbox(shared, "nrs"), dirs=dirs, accept=FakeAcceptor())
    assert [q.reason for q in report.quarantined] == [RefusalReason.NAME_MISMATCH]


def test_a_package_accepted_under_another_suffix_is_a_replay(
    tmp_path: Path, shared: Path, dirs: ReceiveDirs
) -> None:
    first = _send(tmp_path, shared)
    receive_from(FolderMailbox(shared, "nrs"), dirs=dirs, accept=FakeAcceptor())
    again = first.with_suffix(".pkg")
    data = first.read_bytes()
    # other bytes, same package id (the last byte flipped: a byte set to "x" already was one
    # time in 256, and the copy was then refused as a duplicate, not a replay)
    again.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))
    FolderMailbox(shared, "ipsos", suffix=".pkg").deliver(again, to="nrs")
    accept = FakeAcceptor()
    report = receive_from(FolderMailbox(shared, "nrs", suffix=".pkg"), dirs=dirs, accept=accept)
    assert [q.reason for q in report.quarantined] == [RefusalReason.REPLAY]
    assert accept.calls == []


def test_altered_on_the_server_with_a_matching_digest_is_refused_by_accept(
    tmp_path: Path, shared: Path, dirs: ReceiveDirs
) -> None:
    package = _send(tmp_path, shared)
    data = bytearray(package.read_bytes())
    data[100] ^= 0x01
    _rewrite(shared, package.name, bytes(data), fix_digest=True)
    report = receive_from(FolderMailbox(shared, "nrs"), dirs=dirs, accept=FakeAcceptor())
    assert report.accepted == ()
    (refused,) = report.quarantined
    assert refused.reason is RefusalReason.REFUSED
    assert "SignatureError" in refused.detail
    assert refused.path.read_bytes() == bytes(data)
    note = json.loads((dirs.quarantine / f"{package.name}.reason.json").read_text())
    assert note["reason"] == "refused"
    assert note["sha256"] == hashlib.sha256(data).hexdigest()
    assert not (dirs.accepted / package.name).exists()


def test_altered_without_fixing_the_digest_is_caught_by_transport(
    tmp_path: Path, shared: Path, dirs: ReceiveDirs
) -> None:
    package = _send(tmp_path, shared)
    _rewrite(shared, package.name, package.read_bytes()[:-1] + b"\0", fix_digest=False)
    accept = FakeAcceptor()
    report = receive_from(FolderMailbox(shared, "nrs"), dirs=dirs, accept=accept)
    assert [q.reason for q in report.quarantined] == [RefusalReason.DIGEST_MISMATCH]
    assert accept.calls == []


def test_a_package_without_digest_file_is_quarantined_not_lost(
    tmp_path: Path, shared: Path, dirs: ReceiveDirs
) -> None:
    package = _send(tmp_path, shared)
    (_inbox(shared) / f"{package.name}.sha256").unlink()
    report = receive_from(FolderMailbox(shared, "nrs"), dirs=dirs, accept=FakeAcceptor())
    assert [q.reason for q in report.quarantined] == [RefusalReason.NO_DIGEST]
    assert (dirs.quarantine / package.name).read_bytes() == package.read_bytes()


def test_a_bad_resumed_download_is_fetched_again_from_scratch(
    tmp_path: Path, shared: Path, dirs: ReceiveDirs
) -> None:
    package = _send(tmp_path, shared, size=300_000)
    digest = hashlib.sha256(package.read_bytes()).hexdigest()
    dirs.incoming.mkdir(parents=True)
    (dirs.incoming / PackageNames.partial(package.name, digest)).write_bytes(b"\x00" * 1000)
    report = receive_from(FolderMailbox(shared, "nrs"), dirs=dirs, accept=FakeAcceptor())
    assert [r.name for r in report.accepted] == [package.name]
    assert (dirs.accepted / package.name).read_bytes() == package.read_bytes()


def test_other_failures_stop_the_run_and_keep_the_download(
    tmp_path: Path, shared: Path, dirs: ReceiveDirs, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = _send(tmp_path, shared)

    def locked(path: Path) -> str:
        raise IdentityError("the identity is locked", hint="give the passphrase")

    with pytest.raises(IdentityError):
        receive_from(FolderMailbox(shared, "nrs"), dirs=dirs, accept=locked)
    assert (dirs.incoming / package.name).exists()
    assert (_inbox(shared) / package.name).exists()
    fetches: list[str] = []
    real_fetch = FolderMailbox.fetch

    def counting(self: FolderMailbox, name: str, dest: Path, **kwargs: object) -> object:
        fetches.append(name)
        return real_fetch(self, name, dest, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(FolderMailbox, "fetch", counting)
    report = receive_from(FolderMailbox(shared, "nrs"), dirs=dirs, accept=FakeAcceptor())
    assert [r.name for r in report.accepted] == [package.name]
    assert fetches == []  # the complete download was reused


def test_a_run_that_stopped_after_deciding_is_finished_next_time(
    tmp_path: Path, shared: Path, dirs: ReceiveDirs, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = _send(tmp_path, shared)
    real_place = exchange._place

    def crash(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(exchange, "_place", crash)
    with pytest.raises(KeyboardInterrupt):
        receive_from(FolderMailbox(shared, "nrs"), dirs=dirs, accept=FakeAcceptor())
    monkeypatch.setattr(exchange, "_place", real_place)
    with ReceiptBook(dirs.receipts) as book:
        (pending,) = book.unplaced()
        assert pending.state is ReceiptState.ACCEPTED
    accept = FakeAcceptor()
    report = receive_from(FolderMailbox(shared, "nrs"), dirs=dirs, accept=accept)
    assert accept.calls == []  # decided once, never judged again
    assert report.already_received == (package.name,)
    assert report.accepted == ()
    assert (dirs.accepted / package.name).read_bytes() == package.read_bytes()
    assert list(_inbox(shared).iterdir()) == []
    with ReceiptBook(dirs.receipts) as book:
        assert book.unplaced() == ()
        assert book.unacknowledged() == ()


def test_an_unknown_file_in_the_accepted_folder_is_not_overwritten(
    tmp_path: Path, shared: Path, dirs: ReceiveDirs
) -> None:
    package = _send(tmp_path, shared)
    dirs.accepted.mkdir(parents=True)
    (dirs.accepted / package.name).write_bytes(b"someone else's")
    with pytest.raises(StorageError, match="already there"):
        receive_from(FolderMailbox(shared, "nrs"), dirs=dirs, accept=FakeAcceptor())
    assert (dirs.accepted / package.name).read_bytes() == b"someone else's"


def test_receipt_book_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "r.duckdb"
    with ReceiptBook(path) as book:
        book.decide(
            Receipt(
                name="a.lwp", state=ReceiptState.ACCEPTED, sha256="0" * 64, size=1, package_id="a"
            )
        )
        book.decide(
            Receipt(
                name="b.lwp",
                state=ReceiptState.QUARANTINED,
                sha256="1" * 64,
                size=1,
                package_id="a",
                reason=RefusalReason.REPLAY,
            )
        )
    with ReceiptBook(path) as book:
        assert book.get("a.lwp", "0" * 64) is not None
        assert book.get("a.lwp", "1" * 64) is None
        assert book.get("c.lwp", "0" * 64) is None
        assert book.holds_content("0" * 64)
        assert not book.holds_content("1" * 64)
        assert book.holds_package("a")
        assert [r.name for r in book.all()] == ["a.lwp", "b.lwp"]
        assert book.get("b.lwp", "1" * 64).package_id is None  # type: ignore[union-attr]


def test_a_book_of_one_row_per_name_is_upgraded_with_its_decisions(tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "r.duckdb"
    with duckdb.connect(str(path)) as old:
        old.execute(
            "CREATE TABLE receipts (name TEXT PRIMARY KEY, state TEXT NOT NULL, "
            "sha256 TEXT NOT NULL, size BIGINT NOT NULL, package_id TEXT UNIQUE, reason TEXT, "
            "detail TEXT NOT NULL, decided_at TEXT NOT NULL, placed BOOLEAN NOT NULL, "
            "acknowledged BOOLEAN NOT NULL)"
        )
        old.execute(
            "INSERT INTO receipts VALUES ('a.lwp', 'accepted', ?, 5, 'a', NULL, '', "
            "'2026-11-01T00:00:00.000000+00:00', true, false), ('b.lwp', 'quarantined', ?, 3, "
            "NULL, 'no-digest', 'why', '2026-11-02T00:00:00.000000+00:00', true, true)",
            ["0" * 64, "1" * 64],
        )
    with ReceiptBook(path) as book:
        first, second = book.all()
        assert (first.name, first.stored_as, first.package_id) == ("a.lwp", "a.lwp", "a")
        assert (second.stored_as, second.reason) == ("b.lwp", RefusalReason.NO_DIGEST)
        assert [r.name for r in book.unacknowledged()] == ["a.lwp"]
        # the upgraded book keeps its rules: the name refused before takes new bytes
        later = book.decide(
            Receipt(name="b.lwp", state=ReceiptState.QUARANTINED, sha256="2" * 64, size=1)
        )
        assert later.stored_as == "b.lwp." + "2" * 16
    with ReceiptBook(path) as book:
        assert len(book.all()) == 3


def test_junk_under_a_coming_package_s_name_does_not_make_it_look_received(
    tmp_path: Path, shared: Path, dirs: ReceiveDirs
) -> None:
    """Package ids are public: a name refused once is judged again when other bytes come."""
    genuine = make_package(tmp_path / "outgoing", 20_000)
    junk = tmp_path / "junk" / genuine.name
    junk.parent.mkdir()
    junk.write_bytes(b"not a package at all")
    FolderMailbox(shared, "intruder").deliver(junk, to="nrs")
    first = receive_from(FolderMailbox(shared, "nrs"), dirs=dirs, accept=FakeAcceptor())
    assert [q.reason for q in first.quarantined] == [RefusalReason.REFUSED]
    FolderMailbox(shared, "ipsos").deliver(genuine, to="nrs")
    report = receive_from(FolderMailbox(shared, "nrs"), dirs=dirs, accept=FakeAcceptor())
    assert [r.name for r in report.accepted] == [genuine.name]
    assert report.already_received == ()
    assert (dirs.accepted / genuine.name).read_bytes() == genuine.read_bytes()
    assert (dirs.quarantine / genuine.name).read_bytes() == junk.read_bytes()
    assert list(_inbox(shared).iterdir()) == []


def test_a_second_refusal_under_one_name_is_kept_beside_the_first(
    tmp_path: Path, shared: Path, dirs: ReceiveDirs
) -> None:
    name = make_package(tmp_path / "outgoing", 100).name
    kept: list[Path] = []
    for attempt in (b"first junk", b"second junk"):
        junk = tmp_path / attempt.decode().replace(" ", "-") / name
        junk.parent.mkdir()
        junk.write_bytes(attempt)
        FolderMailbox(shared, "intruder").deliver(junk, to="nrs")
        report = receive_from(FolderMailbox(shared, "nrs"), dirs=dirs, accept=FakeAcceptor())
        (refused,) = report.quarantined
        assert refused.path.read_bytes() == attempt
        note = json.loads(refused.path.with_name(refused.path.name + ".reason.json").read_text())
        assert note["sha256"] == hashlib.sha256(attempt).hexdigest()
        kept.append(refused.path)
    assert kept[0].name == name
    assert kept[1].name == f"{name}.{hashlib.sha256(b'second junk').hexdigest()[:16]}"


def test_a_refused_file_still_in_the_inbox_is_not_decided_twice(
    tmp_path: Path, shared: Path, dirs: ReceiveDirs, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server could not clear it: each run sees the same bytes and leaves them be."""
    package = _send(tmp_path, shared)
    (_inbox(shared) / f"{package.name}.sha256").unlink()

    def unreachable(self: FolderMailbox, name: str) -> None:
        raise TransportError("the server is away", hint="try later")

    monkeypatch.setattr(FolderMailbox, "acknowledge", unreachable)
    first = receive_from(FolderMailbox(shared, "nrs"), dirs=dirs, accept=FakeAcceptor())
    assert [q.reason for q in first.quarantined] == [RefusalReason.NO_DIGEST]
    again = receive_from(FolderMailbox(shared, "nrs"), dirs=dirs, accept=FakeAcceptor())
    assert (again.quarantined, again.already_received) == ((), (package.name,))
    assert again.unacknowledged == 1
    assert list(dirs.incoming.iterdir()) == []
    with ReceiptBook(dirs.receipts) as book:
        assert len(book.all()) == 1


@pytest.mark.parametrize("broken", ["missing", "wrong"])
def test_a_package_refused_for_its_digest_file_is_received_when_sent_again_right(
    tmp_path: Path, shared: Path, dirs: ReceiveDirs, broken: str
) -> None:
    """A refusal for how the bytes arrived judged the transfer, not the package."""
    package = _send(tmp_path, shared)
    digest = _inbox(shared) / f"{package.name}.sha256"
    digest.chmod(0o640)
    if broken == "missing":
        digest.unlink()
    else:
        digest.write_text(f"{'0' * 64}  {package.name}\n")
    first = receive_from(FolderMailbox(shared, "nrs"), dirs=dirs, accept=FakeAcceptor())
    assert [q.reason for q in first.quarantined] == [
        RefusalReason.NO_DIGEST if broken == "missing" else RefusalReason.DIGEST_MISMATCH
    ]
    assert list(_inbox(shared).iterdir()) == []  # acknowledged: the sender may send it again
    FolderMailbox(shared, "ipsos").deliver(package, to="nrs")
    again = receive_from(FolderMailbox(shared, "nrs"), dirs=dirs, accept=FakeAcceptor())
    assert [r.name for r in again.accepted] == [package.name]
    assert (dirs.accepted / package.name).read_bytes() == package.read_bytes()
    assert (dirs.quarantine / package.name).exists()  # the refused transfer is kept
    with ReceiptBook(dirs.receipts) as book:
        (receipt,) = book.all()
        assert receipt.state is ReceiptState.ACCEPTED


class _Stranger(FakeAcceptor):
    """A receipt check that does not know the sender's key until its card is added."""

    known: bool = False

    def __call__(self, path: Path) -> str:
        if not self.known:
            raise UnknownSenderError("signed by a key on no card", file=path)
        return super().__call__(path)


def test_a_package_of_an_unknown_key_is_judged_again_once_its_card_is_added(
    tmp_path: Path, shared: Path, dirs: ReceiveDirs
) -> None:
    """A rotation's first package can beat the new card: refused, it must not be lost for good."""
    package = _send(tmp_path, shared)
    check = _Stranger()
    first = receive_from(FolderMailbox(shared, "nrs"), dirs=dirs, accept=check)
    assert [q.reason for q in first.quarantined] == [RefusalReason.UNKNOWN_SENDER]
    assert list(_inbox(shared).iterdir()) == []  # acknowledged: cleared from the server
    plain = receive_from(FolderMailbox(shared, "nrs"), dirs=dirs, accept=check)
    assert (plain.accepted, plain.quarantined) == ((), ())  # judged again only when asked
    still = receive_from(FolderMailbox(shared, "nrs"), dirs=dirs, accept=check, again=True)
    assert [q.reason for q in still.quarantined] == [RefusalReason.UNKNOWN_SENDER]
    assert sorted(p.name for p in dirs.quarantine.iterdir()) == sorted(
        [package.name, f"{package.name}.reason.json"]
    )  # refused again: the same copy, not a second one
    assert list(dirs.incoming.iterdir()) == []
    check.known = True  # the card is added to the project file and trusted
    again = receive_from(FolderMailbox(shared, "nrs"), dirs=dirs, accept=check, again=True)
    assert [r.name for r in again.accepted] == [package.name]
    assert (dirs.accepted / package.name).read_bytes() == package.read_bytes()
    with ReceiptBook(dirs.receipts) as book:
        (receipt,) = book.all()
        assert (receipt.state, receipt.acknowledged) == (ReceiptState.ACCEPTED, True)
    done = receive_from(FolderMailbox(shared, "nrs"), dirs=dirs, accept=check, again=True)
    assert (done.accepted, done.quarantined) == ((), ())


def test_a_quarantined_copy_changed_on_disk_is_not_judged_again(
    tmp_path: Path, shared: Path, dirs: ReceiveDirs
) -> None:
    package = _send(tmp_path, shared)
    check = _Stranger()
    receive_from(FolderMailbox(shared, "nrs"), dirs=dirs, accept=check)
    (dirs.quarantine / package.name).write_bytes(b"other bytes")
    check.known = True
    with pytest.raises(StorageError, match="changed since it was refused"):
        receive_from(FolderMailbox(shared, "nrs"), dirs=dirs, accept=check, again=True)
    assert list(dirs.accepted.iterdir()) == []
