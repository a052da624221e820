"""Every kind of change to a log is found, and reported at the entry and line where it is."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from linkwell.audit import (
    AuditLog,
    IssueKind,
    SignedHead,
    VerifyReport,
    public_key_text,
    sign_head,
    verify_log,
)
from linkwell.errors import AuditError, ConfigError
from tests.audit import attacker
from tests.audit.attacker import FixedClock, build_log, read, write

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
SIGNER = public_key_text(KEY.public_key())
OTHER = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))

# 10 appends with a checkpoint every 4 entries give 14 entries:
#   0 created, 1 checkpoint, 2-5 validated, 6 checkpoint, 7-10 validated, 11 checkpoint, 12-13.
APPENDS = 10
LAST = 13


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    path = tmp_path / "nrs.log"
    build_log(path, KEY, appends=APPENDS)
    return path


@pytest.fixture
def witness(log_path: Path) -> SignedHead:
    """The head of the untouched log's last entry, as another party would hold it."""
    return sign_head(AuditLog(log_path, party="nrs", signing_key=None).head(), KEY)


def check(path: Path, *witnesses: SignedHead) -> VerifyReport:
    return verify_log(path, signer=SIGNER, witnessed=witnesses)


def kinds(report: VerifyReport) -> list[tuple[IssueKind, int | None, int | None]]:
    return [(issue.kind, issue.sequence, issue.line) for issue in report.issues]


def test_the_untouched_log_verifies(log_path: Path, witness: SignedHead) -> None:
    report = check(log_path, witness)
    assert report.ok, report.issues
    assert report.head is not None
    assert report.head.sequence == LAST
    assert report.lines == LAST + 1
    assert report.checkpoints == 3
    assert report.signed_through == 10
    assert report.witnessed_through == LAST
    report.raise_for_issues()


@pytest.mark.parametrize("k", [0, 3, 6, LAST])
def test_an_edited_field_is_found_at_its_entry(log_path: Path, k: int) -> None:
    write(log_path, attacker.edit_in_place(read(log_path), k))
    assert kinds(check(log_path)) == [(IssueKind.EDITED, k, k + 1)]


def test_an_edit_with_its_own_hash_fixed_breaks_the_next_link(log_path: Path) -> None:
    write(log_path, attacker.edit_and_rehash(read(log_path), 8))
    assert kinds(check(log_path)) == [(IssueKind.BROKEN_LINK, 9, 10)]


def test_an_edit_with_its_own_hash_fixed_is_also_caught_by_the_checkpoint(log_path: Path) -> None:
    # Entry 10 is signed by the checkpoint at entry 11.
    write(log_path, attacker.edit_and_rehash(read(log_path), 10))
    report = check(log_path)
    assert kinds(report) == [(IssueKind.BROKEN_LINK, 11, 12), (IssueKind.REWRITTEN, 11, 12)]


@pytest.mark.parametrize("k", [0, 1, 4, 6, 12])
def test_a_deleted_entry_is_found_at_its_sequence(log_path: Path, k: int) -> None:
    lines = read(log_path)
    write(log_path, lines[:k] + lines[k + 1 :])
    report = check(log_path)
    assert kinds(report)[0] == (IssueKind.DELETED, k, k + 1)
    assert all(issue.sequence is None or issue.sequence >= k for issue in report.issues)


def test_deleted_entries_in_a_run_are_one_problem(log_path: Path) -> None:
    lines = read(log_path)
    write(log_path, lines[:3] + lines[6:])
    report = check(log_path)
    assert kinds(report) == [(IssueKind.DELETED, 3, 4)]
    assert "entries 3 to 5" in report.issues[0].message


@pytest.mark.parametrize("k", [1, 5, LAST])
def test_a_forged_entry_inserted_before_the_genuine_one_is_found(
    log_path: Path, witness: SignedHead, k: int
) -> None:
    lines = read(log_path)
    write(log_path, [*lines[:k], attacker.forged_entry(lines, k), *lines[k:]])
    # The witness settles which of two last entries is genuine; inside the log the chain does.
    report = check(log_path, witness)
    assert kinds(report) == [(IssueKind.INSERTED, k, k + 1)]
    assert f"line {k + 2}" in report.issues[0].message


def test_a_forged_entry_inserted_after_the_genuine_one_is_found(log_path: Path) -> None:
    lines = read(log_path)
    write(log_path, [*lines[:6], attacker.forged_entry(lines, 5), *lines[6:]])
    assert kinds(check(log_path)) == [(IssueKind.INSERTED, 5, 7)]


def test_an_insertion_with_every_later_entry_renumbered_is_caught_by_the_checkpoints(
    log_path: Path,
) -> None:
    lines = read(log_path)
    forged = attacker.forged_entry(lines, 3)
    tail = attacker.rechain_from([*lines[:3], forged, *lines[3:]], 4, renumber_from=4)
    write(log_path, tail)
    report = check(log_path)
    # One entry more in the run overruns the interval, and the next checkpoint no longer matches.
    assert {issue.kind for issue in report.issues} == {
        IssueKind.MISSING_CHECKPOINT,
        IssueKind.REWRITTEN,
    }
    first = report.issues[0]
    assert first.earliest is not None
    assert first.sequence is not None
    assert first.earliest <= 3 <= first.sequence


def test_an_entry_from_another_partys_log_is_found(tmp_path: Path, log_path: Path) -> None:
    other = tmp_path / "edris.log"
    build_log(other, OTHER, appends=3, party="edris")
    lines = read(log_path)
    write(log_path, [*lines[:4], read(other)[3], *lines[4:]])
    assert kinds(check(log_path)) == [(IssueKind.INSERTED, 3, 5)]


@pytest.mark.parametrize("k", [2, 5, 7, LAST - 1])
def test_two_swapped_entries_are_found(log_path: Path, k: int) -> None:
    lines = read(log_path)
    lines[k], lines[k + 1] = lines[k + 1], lines[k]
    write(log_path, lines)
    report = check(log_path)
    assert len(report.issues) == 1
    assert report.issues[0].kind is IssueKind.REORDERED
    assert report.issues[0].sequence in (k, k + 1)


def test_an_entry_moved_to_the_end_is_the_one_reported(log_path: Path) -> None:
    lines = read(log_path)
    write(log_path, [*lines[:4], *lines[5:], lines[4]])
    assert kinds(check(log_path)) == [(IssueKind.REORDERED, 4, LAST + 1)]


@pytest.mark.parametrize("keep", [1, 7, LAST])
def test_a_truncated_tail_is_found_by_a_witnessed_head(
    log_path: Path, witness: SignedHead, keep: int
) -> None:
    write(log_path, read(log_path)[:keep])
    report = check(log_path, witness)
    assert kinds(report) == [(IssueKind.TRUNCATED, keep, None)]
    assert f"entry {LAST}" in report.issues[0].message


def test_a_truncated_tail_is_invisible_to_the_chain_alone(log_path: Path) -> None:
    # The documented limit (docs/audit-log.md): without a witness, a log cut back to an
    # earlier entry is a valid shorter log.
    write(log_path, read(log_path)[:9])
    assert check(log_path).ok


def test_a_log_emptied_is_found(log_path: Path, witness: SignedHead) -> None:
    write(log_path, [])
    assert kinds(check(log_path, witness)) == [
        (IssueKind.DELETED, 0, None),
        (IssueKind.TRUNCATED, 0, None),
    ]


@pytest.mark.parametrize("k", [0, 2, 5, 9])
def test_a_rechained_tail_is_caught_by_the_next_signed_checkpoint(log_path: Path, k: int) -> None:
    write(log_path, attacker.rechain_from(read(log_path), k))
    report = check(log_path)
    assert report.issues, "a re-chained tail that crosses a checkpoint must be caught"
    first = report.issues[0]
    assert first.kind is IssueKind.REWRITTEN
    assert first.earliest is not None
    assert first.sequence is not None
    assert first.earliest <= k <= first.sequence
    assert {issue.kind for issue in report.issues} == {IssueKind.REWRITTEN}


def test_a_rechained_tail_after_the_last_checkpoint_needs_a_witness(
    log_path: Path, witness: SignedHead
) -> None:
    write(log_path, attacker.rechain_from(read(log_path), 12))
    assert check(log_path).ok  # the documented limit of the chain alone
    report = check(log_path, witness)
    assert kinds(report) == [(IssueKind.REWRITTEN, LAST, LAST + 1)]
    assert report.issues[0].earliest == 11


def test_a_rechained_tail_with_its_checkpoints_removed_is_found(log_path: Path) -> None:
    lines = read(log_path)
    without = [line for i, line in enumerate(lines) if i not in (6, 11)]
    write(log_path, attacker.rechain_from(without, 4, renumber_from=4))
    report = check(log_path)
    assert kinds(report) == [(IssueKind.MISSING_CHECKPOINT, 6, 7)]
    assert report.issues[0].earliest == 2


def test_a_rechained_log_with_checkpoints_signed_by_another_key_is_found(log_path: Path) -> None:
    lines = attacker.edit_in_place(read(log_path), 3)
    write(log_path, attacker.resign_checkpoints(lines, OTHER))
    report = check(log_path)
    assert kinds(report) == [
        (IssueKind.FORGED_CHECKPOINT, 1, 2),
        (IssueKind.FORGED_CHECKPOINT, 6, 7),
        (IssueKind.FORGED_CHECKPOINT, 11, 12),
    ]
    assert report.signed_through is None


def test_a_checkpoint_with_a_damaged_signature_is_forged(log_path: Path) -> None:
    lines = read(log_path)
    cp = attacker.entry(lines[6])
    assert cp.checkpoint is not None
    signature = cp.checkpoint.signature
    flipped = ("B" if signature[0] == "A" else "A") + signature[1:]
    bad = cp.checkpoint.model_copy(update={"signature": flipped})
    lines[6] = attacker.rehashed(cp, checkpoint=bad).to_line()
    lines = attacker.rechain_from(lines, 7)
    write(log_path, lines)
    assert kinds(check(log_path))[0] == (IssueKind.FORGED_CHECKPOINT, 6, 7)


def test_a_log_made_afresh_without_the_key_is_found(tmp_path: Path, log_path: Path) -> None:
    fake = tmp_path / "fake.log"
    build_log(fake, OTHER, appends=APPENDS)
    report = check(fake)
    assert [issue.kind for issue in report.issues] == [IssueKind.FORGED_CHECKPOINT] * 3


@pytest.mark.parametrize("cut", [1, 40, -2])
def test_a_torn_last_line_is_found(log_path: Path, cut: int) -> None:
    data = log_path.read_bytes()
    last_line_start = data.rstrip(b"\n").rfind(b"\n") + 1
    log_path.write_bytes(data[: last_line_start + cut] if cut > 0 else data[:cut])
    report = check(log_path)
    assert kinds(report) == [(IssueKind.TORN, None, LAST + 1)]


def test_a_missing_final_newline_is_a_torn_line(log_path: Path) -> None:
    log_path.write_bytes(log_path.read_bytes()[:-1])
    assert kinds(check(log_path)) == [(IssueKind.TORN, None, LAST + 1)]


@pytest.mark.parametrize(
    "garbage",
    [b"not json", b"[1,2]", b'{"format":2}', b"\xff\xfe", b"{" + b" " * 20000 + b"}", b""],
)
def test_a_line_that_is_not_an_entry_is_malformed_and_not_also_a_deletion(
    log_path: Path, garbage: bytes
) -> None:
    lines = read(log_path)
    lines[5] = garbage + b"\n"
    write(log_path, lines)
    assert kinds(check(log_path)) == [(IssueKind.MALFORMED, None, 6)]


def test_a_non_canonical_line_with_the_same_content_is_malformed(log_path: Path) -> None:
    lines = read(log_path)
    lines[5] = lines[5].replace(b'"action":', b'"action": ')
    write(log_path, lines)
    report = check(log_path)
    assert kinds(report) == [(IssueKind.MALFORMED, None, 6)]
    assert "not-canonical" in report.issues[0].message


def test_witnesses_of_another_log_or_key_or_altered_are_bad(
    tmp_path: Path, log_path: Path, witness: SignedHead
) -> None:
    other_path = tmp_path / "edris.log"
    other = build_log(other_path, OTHER, appends=1, party="edris")
    foreign = sign_head(other.head(), OTHER)
    by_other_key = sign_head(witness.head, OTHER)
    altered = witness.model_copy(update={"head": witness.head.model_copy(update={"sequence": 3})})
    report = check(log_path, foreign, by_other_key, altered)
    assert sorted((i.kind, i.sequence) for i in report.issues) == sorted(
        [
            (IssueKind.BAD_WITNESS, 3),
            (IssueKind.BAD_WITNESS, other.head().sequence),
            (IssueKind.BAD_WITNESS, LAST),
        ]
    )


def test_a_witness_agreeing_with_an_earlier_entry_is_fine(log_path: Path) -> None:
    log = AuditLog(log_path, party="nrs", signing_key=KEY, clock=FixedClock())
    early = log.checkpoint()
    log.append(attacker.AuditAction.SENT)
    report = check(log_path, early)
    assert report.ok
    assert report.witnessed_through == early.head.sequence


def test_checkpoints_before_and_after_a_key_rotation_need_both_keys(log_path: Path) -> None:
    rotated = AuditLog(
        log_path, party="nrs", signing_key=OTHER, earlier_keys=[SIGNER], clock=FixedClock()
    )
    rotated.append(attacker.AuditAction.SENT)
    rotated.checkpoint()
    both = [SIGNER, public_key_text(OTHER.public_key())]
    assert verify_log(log_path, signer=both).ok
    only_new = verify_log(log_path, signer=public_key_text(OTHER.public_key()))
    assert [issue.kind for issue in only_new.issues] == [IssueKind.FORGED_CHECKPOINT] * 3


def test_a_failed_report_raises_an_audit_error_naming_the_line(log_path: Path) -> None:
    write(log_path, attacker.edit_in_place(read(log_path), 7))
    report = check(log_path)
    with pytest.raises(AuditError) as caught:
        report.raise_for_issues()
    assert caught.value.row == 8
    assert caught.value.file == str(log_path)
    assert "edited at entry 7, line 8" in str(caught.value)


def test_issue_messages_never_carry_entry_content(log_path: Path) -> None:
    lines = attacker.edit_in_place(read(log_path), 4)
    lines.insert(7, b'{"format":1,"party":"nrs","secret":"1234567890"}\n')
    write(log_path, lines)
    report = check(log_path)
    text = report.model_dump_json()
    assert "1234567890" not in text
    assert "secret" not in text


def test_a_missing_log_or_a_malformed_key_raises(tmp_path: Path, log_path: Path) -> None:
    with pytest.raises(AuditError, match="no audit log"):
        verify_log(tmp_path / "absent.log", signer=SIGNER)
    with pytest.raises(ConfigError):
        verify_log(log_path, signer="ed25519:nope")
    with pytest.raises(ConfigError):
        verify_log(log_path, signer=[])
