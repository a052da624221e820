"""Writing a log: creation, automatic and requested checkpoints, refusals, crashes and repair."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from linkwell.audit import (
    AuditAction,
    AuditDetail,
    AuditLog,
    CountName,
    DigestSubject,
    PackageRef,
    public_key_text,
    read_log,
    repair_log,
    verify_head,
    verify_log,
)
from linkwell.audit.entry import MAX_LINE_BYTES
from linkwell.config import Role
from linkwell.errors import AuditError, ConfigError, InternalError, StorageError
from tests.audit import attacker
from tests.audit.attacker import FixedClock, build_log, read, write

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
SIGNER = public_key_text(KEY.public_key())


def actions(path: Path) -> list[tuple[AuditAction, AuditDetail | None]]:
    return [
        (line.entry.action, line.entry.detail) for line in read_log(path) if line.entry is not None
    ]


def new_log(path: Path, *, every: int = 4, key: Ed25519PrivateKey | None = KEY) -> AuditLog:
    return AuditLog(path, party="nrs", signing_key=key, checkpoint_every=every, clock=FixedClock())


def test_the_first_append_creates_the_log_with_a_signed_start(tmp_path: Path) -> None:
    path = tmp_path / "workspace" / "logs" / "nrs.log"  # folders made on first write
    entry = new_log(path).append(
        AuditAction.SEALED,
        peer_role=Role.LINKER,
        packages=[PackageRef(id="ab" * 16, sha256="cd" * 32)],
        counts={CountName.ROWS: 10},
        config_digest="ef" * 32,
    )
    assert entry.sequence == 2
    assert actions(path) == [
        (AuditAction.LOG_CREATED, None),
        (AuditAction.CHECKPOINT, AuditDetail.CREATED),
        (AuditAction.SEALED, None),
    ]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    (line,) = [line for line in read_log(path) if line.entry == entry]
    assert line.number == 3
    assert verify_log(path, signer=SIGNER).ok


def test_a_checkpoint_falls_every_n_entries(tmp_path: Path) -> None:
    path = tmp_path / "nrs.log"
    log = new_log(path, every=3)
    for _ in range(7):
        log.append(AuditAction.VALIDATED)
    kinds = [action for action, _ in actions(path)]
    checkpoints = [i for i, action in enumerate(kinds) if action is AuditAction.CHECKPOINT]
    assert checkpoints == [1, 5, 9]
    assert len(kinds) == 11
    report = verify_log(path, signer=SIGNER)
    assert report.ok
    assert report.signed_through == 8


def test_checkpoint_signs_the_head_before_it_and_records_it(tmp_path: Path) -> None:
    path = tmp_path / "nrs.log"
    log = new_log(path)
    sent = log.append(AuditAction.SENT)
    signed = log.checkpoint()
    verify_head(signed, SIGNER)
    assert signed.head.sequence == sent.sequence
    assert signed.head.entry_hash == sent.entry_hash
    assert signed.head.party == "nrs"
    head = log.head()
    assert head.sequence == sent.sequence + 1
    (last,) = read_log(path, tail=1)
    assert last.entry is not None
    assert last.entry.checkpoint == signed
    assert last.entry.detail is AuditDetail.REQUESTED
    assert last.entry.time == signed.head.time


def test_a_checkpoint_on_a_new_log_creates_it(tmp_path: Path) -> None:
    path = tmp_path / "nrs.log"
    signed = new_log(path).checkpoint()
    assert signed.head.sequence == 1
    assert verify_log(path, signer=SIGNER, witnessed=[signed]).ok


def test_an_existing_log_keeps_its_own_interval(tmp_path: Path) -> None:
    path = tmp_path / "nrs.log"
    new_log(path, every=2).append(AuditAction.VALIDATED)
    later = new_log(path, every=50)
    for _ in range(4):
        later.append(AuditAction.VALIDATED)
    assert [a for a, _ in actions(path)].count(AuditAction.CHECKPOINT) == 3  # 1, 4 and 7
    assert verify_log(path, signer=SIGNER).ok


def test_without_a_key_the_log_is_read_only(tmp_path: Path) -> None:
    path = tmp_path / "nrs.log"
    build_log(path, KEY, appends=2)
    reader = new_log(path, key=None)
    assert reader.head().sequence == 3
    before = path.read_bytes()
    with pytest.raises(ConfigError, match="signing key"):
        reader.append(AuditAction.SENT)
    with pytest.raises(ConfigError, match="signing key"):
        reader.checkpoint()
    assert path.read_bytes() == before


def test_another_partys_log_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "nrs.log"
    build_log(path, KEY, appends=1)
    with pytest.raises(ConfigError, match="belongs to 'nrs'"):
        AuditLog(path, party="edris", signing_key=KEY).append(AuditAction.SENT)


def test_head_of_a_missing_log_is_an_audit_error(tmp_path: Path) -> None:
    with pytest.raises(AuditError, match="no audit log"):
        new_log(tmp_path / "absent.log", key=None).head()


@pytest.mark.parametrize(
    "action", [AuditAction.LOG_CREATED, AuditAction.CHECKPOINT, AuditAction.REPAIRED]
)
def test_the_log_alone_writes_its_own_bookkeeping_entries(
    tmp_path: Path, action: AuditAction
) -> None:
    with pytest.raises(InternalError):
        new_log(tmp_path / "nrs.log").append(action)


def test_a_bad_value_is_a_bug_and_is_never_quoted(tmp_path: Path) -> None:
    path = tmp_path / "nrs.log"
    log = new_log(path)
    log.append(AuditAction.SENT)
    before = path.read_bytes()
    with pytest.raises(InternalError) as caught:
        log.append(AuditAction.VALIDATED, counts={"1234567890": 1})  # type: ignore[dict-item]
    assert caught.value.field == "counts"
    assert caught.value.__cause__ is None
    assert "1234567890" not in str(caught.value)
    with pytest.raises(InternalError):
        log.append(AuditAction.VALIDATED, config_digest="1234567890")
    assert path.read_bytes() == before


def test_the_interval_is_bounded(tmp_path: Path) -> None:
    for every in (0, 10_001):
        with pytest.raises(ConfigError):
            AuditLog(tmp_path / "nrs.log", party="nrs", signing_key=KEY, checkpoint_every=every)


# -- a writer never signs over a damaged tail ------------------------------------------------


@pytest.mark.parametrize(
    "damage",
    [
        lambda lines: attacker.edit_in_place(lines, len(lines) - 1),
        lambda lines: attacker.edit_and_rehash(lines, len(lines) - 2),
        lambda lines: [*lines[:-2], lines[-1]],
        lambda lines: [*lines[:-2], lines[-1], lines[-2]],
        lambda lines: [*lines, b"garbage\n"],
        lambda lines: attacker.resign_checkpoints(lines, Ed25519PrivateKey.generate()),
        lambda lines: [lines[1], *lines[1:]],
    ],
)
def test_appending_to_a_damaged_tail_is_refused_and_writes_nothing(
    tmp_path: Path, damage: object
) -> None:
    path = tmp_path / "nrs.log"
    build_log(path, KEY, appends=6)
    write(path, damage(read(path)))  # type: ignore[operator]
    before = path.read_bytes()
    log = new_log(path)
    with pytest.raises(AuditError) as caught:
        log.append(AuditAction.SENT)
    assert "verify" in (caught.value.hint or "")
    with pytest.raises(AuditError):
        log.checkpoint()
    assert path.read_bytes() == before


def test_appending_after_a_torn_line_is_refused_until_repaired(tmp_path: Path) -> None:
    path = tmp_path / "nrs.log"
    log = build_log(path, KEY, appends=3)
    torn = b'{"action":"sen'
    with path.open("ab") as handle:
        handle.write(torn)
    before = path.read_bytes()
    with pytest.raises(AuditError, match="incomplete") as caught:
        log.append(AuditAction.SENT)
    assert "repair" in (caught.value.hint or "")
    assert path.read_bytes() == before

    result = repair_log(path, clock=FixedClock())
    assert result.bytes_removed == len(torn)
    assert result.entry is not None
    assert result.entry.action is AuditAction.REPAIRED
    assert result.entry.counts == {CountName.BYTES_REMOVED: len(torn)}
    assert result.entry.digests[0].subject is DigestSubject.TORN_TAIL
    assert result.entry.digests[0].sha256 == hashlib.sha256(torn).hexdigest()
    log.append(AuditAction.SENT)
    report = verify_log(path, signer=SIGNER)
    assert report.ok
    assert report.repairs == 1


def test_a_crash_between_an_entry_and_its_checkpoint_is_caught_up(tmp_path: Path) -> None:
    path = tmp_path / "nrs.log"
    log = build_log(path, KEY, appends=4, every=4)  # the 4th append wrote entry 5 + checkpoint 6
    data = path.read_bytes()
    path.write_bytes(data[: data.rstrip(b"\n").rfind(b"\n") + 30])  # the checkpoint torn
    repair_log(path)
    log.append(AuditAction.SENT)  # the interval is used up: a checkpoint goes first
    assert [a for a, _ in actions(path)][-4:] == [
        AuditAction.VALIDATED,
        AuditAction.REPAIRED,
        AuditAction.CHECKPOINT,
        AuditAction.SENT,
    ]
    assert verify_log(path, signer=SIGNER).ok


def test_repair_leaves_an_intact_log_alone(tmp_path: Path) -> None:
    path = tmp_path / "nrs.log"
    build_log(path, KEY, appends=2)
    before = path.read_bytes()
    result = repair_log(path)
    assert (result.bytes_removed, result.entry, result.log_removed) == (0, None, False)
    assert path.read_bytes() == before


def test_repair_refuses_any_other_damage(tmp_path: Path) -> None:
    path = tmp_path / "nrs.log"
    build_log(path, KEY, appends=3)
    write(path, attacker.edit_in_place(read(path), 3))
    with path.open("ab") as handle:
        handle.write(b"{")
    before = path.read_bytes()
    with pytest.raises(AuditError, match="not repaired"):
        repair_log(path)
    assert path.read_bytes() == before


def test_repair_refuses_a_tail_longer_than_any_write(tmp_path: Path) -> None:
    path = tmp_path / "nrs.log"
    build_log(path, KEY, appends=2)
    with path.open("ab") as handle:
        handle.write(b"x" * (5 * MAX_LINE_BYTES))
    before = path.read_bytes()
    with pytest.raises(AuditError, match="more bytes without a newline"):
        repair_log(path)
    assert path.read_bytes() == before


def test_a_last_entry_without_its_line_end_gets_it_back(tmp_path: Path) -> None:
    """A write cut one byte short left a whole entry: cutting it would lose it."""
    path = tmp_path / "nrs.log"
    build_log(path, KEY, appends=6, every=4)
    intact = path.read_bytes()
    path.write_bytes(intact[:-1])
    result = repair_log(path)
    assert (result.line_end_added, result.bytes_removed, result.entry) == (True, 0, None)
    assert path.read_bytes() == intact
    at = intact.rindex(b'"prev_hash":"') + len(b'"prev_hash":"')
    flipped = b"1" if intact[at : at + 1] != b"1" else b"2"
    altered = intact[:at] + flipped + intact[at + 1 : -1]  # spliced in, its line end lost
    path.write_bytes(altered)
    with pytest.raises(AuditError, match="does not follow"):
        repair_log(path)
    assert path.read_bytes() == altered


@pytest.mark.parametrize("joined", [2, 6])
def test_repair_never_cuts_whole_entries_off(tmp_path: Path, joined: int) -> None:
    """Line ends taken out of the last entries made them look like one torn line."""
    path = tmp_path / "nrs.log"
    build_log(path, KEY, appends=20, every=4)
    lines = read(path)
    kept, last = lines[:-joined], b"".join(line.rstrip(b"\n") for line in lines[-joined:])
    path.write_bytes(b"".join(kept) + last)
    before = path.read_bytes()
    with pytest.raises(AuditError, match="not an interrupted write of one entry"):
        repair_log(path)
    assert path.read_bytes() == before


@pytest.mark.parametrize("tail", [b"x" * 40, b'"action":"sent"', b'{"action":"sent"}'])
def test_repair_never_cuts_what_no_write_of_an_entry_leaves(tmp_path: Path, tail: bytes) -> None:
    path = tmp_path / "nrs.log"
    build_log(path, KEY, appends=3)
    with path.open("ab") as handle:
        handle.write(tail)
    before = path.read_bytes()
    with pytest.raises(AuditError, match="not repaired"):
        repair_log(path)
    assert path.read_bytes() == before


def test_a_whole_log_on_one_line_is_not_removed(tmp_path: Path) -> None:
    path = tmp_path / "nrs.log"
    build_log(path, KEY, appends=5)
    path.write_bytes(path.read_bytes().replace(b"\n", b""))
    with pytest.raises(AuditError, match="not repaired"):
        repair_log(path)
    assert path.exists()


def test_repair_of_a_log_whose_only_line_is_torn_removes_it(tmp_path: Path) -> None:
    path = tmp_path / "nrs.log"
    path.write_bytes(b'{"action":"log-cr')
    result = repair_log(path)
    assert result.log_removed
    assert not path.exists()
    new_log(path).append(AuditAction.SENT)
    assert verify_log(path, signer=SIGNER).ok


def test_a_failed_write_leaves_the_log_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "nrs.log"
    log = build_log(path, KEY, appends=2)
    before = path.read_bytes()
    real_write = os.write

    def half_then_full_disk(fd: int, data: bytes) -> int:
        if fd_is_log(fd):
            real_write(fd, bytes(data)[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    def fd_is_log(fd: int) -> bool:
        return Path(f"/proc/self/fd/{fd}").samefile(path)

    monkeypatch.setattr(os, "write", half_then_full_disk)
    with pytest.raises(StorageError, match="disk is full") as caught:
        log.append(AuditAction.SENT)
    monkeypatch.undo()
    assert caught.value.file == str(path)
    assert path.read_bytes() == before
    log.append(AuditAction.SENT)
    assert verify_log(path, signer=SIGNER).ok


# -- reading for display -----------------------------------------------------------------------


def test_read_log_shows_damaged_lines_without_trusting_any(tmp_path: Path) -> None:
    path = tmp_path / "nrs.log"
    build_log(path, KEY, appends=3)
    lines = read(path)
    lines[2] = b"x" * (MAX_LINE_BYTES + 10) + b"\n"
    write(path, [*lines, b'{"torn'])
    shown = read_log(path)
    assert [line.number for line in shown] == list(range(1, len(lines) + 2))
    assert shown[2].entry is None
    assert shown[2].problem is not None
    assert "too-long" in shown[2].problem
    assert shown[-1].problem == "incomplete last line"
    assert [line.number for line in read_log(path, tail=2)] == [len(lines), len(lines) + 1]
    with pytest.raises(ConfigError):
        read_log(path, tail=0)


def test_a_rotated_key_signs_on_only_when_told_the_earlier_key(tmp_path: Path) -> None:
    path = tmp_path / "nrs.log"
    build_log(path, KEY, appends=2)
    new_key = Ed25519PrivateKey.generate()
    before = path.read_bytes()
    with pytest.raises(AuditError, match="not signed with this party's key") as caught:
        AuditLog(path, party="nrs", signing_key=new_key).append(AuditAction.SENT)
    assert "earlier_keys" in (caught.value.hint or "")
    assert path.read_bytes() == before
    AuditLog(path, party="nrs", signing_key=new_key, earlier_keys=[SIGNER]).checkpoint()
    AuditLog(path, party="nrs", signing_key=new_key).append(AuditAction.SENT)
    both = [SIGNER, public_key_text(new_key.public_key())]
    assert verify_log(path, signer=both).ok


def test_recorded_finds_an_action_on_a_package_and_nothing_else(tmp_path: Path) -> None:
    path = tmp_path / "nrs.log"
    log = new_log(path, every=2)
    first, second = "ab" * 16, "cd" * 16
    assert not log.recorded(AuditAction.SENT, first)  # no log yet
    log.append(AuditAction.SENT, packages=[PackageRef(id=first)])
    log.append(AuditAction.RECEIVED, packages=[PackageRef(id=second)])
    for _ in range(5):  # the entry sought is far from the end, past checkpoints
        log.append(AuditAction.VALIDATED, counts={CountName.ROWS: 1})
    assert log.recorded(AuditAction.SENT, first)
    assert log.recorded(AuditAction.RECEIVED, second)
    assert not log.recorded(AuditAction.RECEIVED, first)
    assert not log.recorded(AuditAction.SENT, second)
    assert not log.recorded(AuditAction.OPENED, "ef" * 16)


def test_recorded_ignores_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "nrs.log"
    log = new_log(path)
    log.append(AuditAction.VALIDATED, counts={CountName.ROWS: 1})
    line = log.append(AuditAction.OPENED, packages=[PackageRef(id="ab" * 16)]).to_line()
    assert path.read_bytes().endswith(line)
    intact = path.read_bytes()[: -len(line)]
    path.write_bytes(intact + line[:-1])  # the entry's newline never reached the disk
    assert not log.recorded(AuditAction.OPENED, "ab" * 16)
    path.write_bytes(intact + line)
    assert log.recorded(AuditAction.OPENED, "ab" * 16)
