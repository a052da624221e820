"""For any log and any single tampering, verify reports it where it happened; else it is silent."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from linkwell.audit import (
    AuditAction,
    AuditLog,
    CountName,
    IssueKind,
    SignedHead,
    VerifyReport,
    public_key_text,
    sign_head,
    verify_log,
)
from linkwell.config import Role
from tests.audit import attacker
from tests.audit.attacker import FixedClock, read, write

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
SIGNER = public_key_text(KEY.public_key())
ORDINARY = [
    a
    for a in AuditAction
    if a not in (AuditAction.LOG_CREATED, AuditAction.CHECKPOINT, AuditAction.REPAIRED)
]


@pytest.fixture(autouse=True)
def _no_fsync(monkeypatch: pytest.MonkeyPatch) -> None:
    """Durability is not what these tests are about; skipping fsync makes examples cheap."""
    monkeypatch.setattr("linkwell.audit._logfile.os.fsync", lambda fd: None)


@dataclass(frozen=True)
class Step:
    action: AuditAction
    rows: int
    role: Role | None
    checkpoint: bool


steps = st.lists(
    st.builds(
        Step,
        action=st.sampled_from(ORDINARY),
        rows=st.integers(0, 10**9),
        role=st.none() | st.sampled_from(Role),
        checkpoint=st.booleans(),
    ),
    min_size=1,
    max_size=14,
)


def build(tmp_path: Path, plan: list[Step], every: int) -> tuple[Path, SignedHead]:
    """Write the log; return it and a witness of its final entry, as another party holds it."""
    path = tmp_path / f"{uuid.uuid4().hex}.log"
    log = AuditLog(path, party="nrs", signing_key=KEY, checkpoint_every=every, clock=FixedClock())
    for step in plan:
        log.append(step.action, peer_role=step.role, counts={CountName.ROWS: step.rows})
        if step.checkpoint:
            log.checkpoint()
    return path, sign_head(log.head(), KEY)


def check(path: Path, witness: SignedHead) -> VerifyReport:
    return verify_log(path, signer=SIGNER, witnessed=[witness])


@settings(max_examples=40)
@given(plan=steps, every=st.integers(1, 6))
def test_an_untampered_log_always_verifies(tmp_path: Path, plan: list[Step], every: int) -> None:
    path, witness = build(tmp_path, plan, every)
    report = check(path, witness)
    assert report.ok, report.issues
    assert report.head is not None
    assert report.head == witness.head.model_copy(update={"time": report.head.time})
    assert report.witnessed_through == report.head.sequence


OPERATIONS = ["edit", "delete", "insert", "swap", "truncate", "rechain", "tear"]


tamperings = {
    "plan": steps,
    "every": st.integers(1, 6),
    "operation": st.sampled_from(OPERATIONS),
    "where": st.floats(0, 1, exclude_max=True),
}


@settings(max_examples=120)
@given(**tamperings)
def test_a_single_tampering_is_reported_where_it_happened(
    tmp_path: Path, plan: list[Step], every: int, operation: str, where: float
) -> None:
    tamper_and_check(tmp_path, plan, every, operation, where)


@pytest.mark.fuzz
@settings(max_examples=int(os.environ.get("LINKWELL_FUZZ_EXAMPLES", "20000")))
@given(**tamperings)
def test_a_single_tampering_is_reported_where_it_happened_fuzz(
    tmp_path: Path, plan: list[Step], every: int, operation: str, where: float
) -> None:
    tamper_and_check(tmp_path, plan, every, operation, where)


def tamper_and_check(
    tmp_path: Path, plan: list[Step], every: int, operation: str, where: float
) -> None:
    """Apply ``operation`` at relative position ``where`` and check the first problem's place."""
    path, witness = build(tmp_path, plan, every)
    lines = read(path)
    n = len(lines)
    k = int(where * n)
    if operation == "edit":
        write(path, attacker.edit_in_place(lines, k))
        first = check(path, witness).issues[0]
        assert (first.kind, first.sequence, first.line) == (IssueKind.EDITED, k, k + 1)
    elif operation == "delete":
        write(path, lines[:k] + lines[k + 1 :])
        first = check(path, witness).issues[0]
        assert first.sequence == k
        assert first.kind is (IssueKind.TRUNCATED if k == n - 1 else IssueKind.DELETED)
    elif operation == "insert":
        k = max(k, 1)  # entry 0 has no predecessor to chain a forgery to
        write(path, [*lines[:k], attacker.forged_entry(lines, k), *lines[k:]])
        first = check(path, witness).issues[0]
        assert (first.kind, first.sequence, first.line) == (IssueKind.INSERTED, k, k + 1)
    elif operation == "swap":
        k = min(k, n - 2)
        lines[k], lines[k + 1] = lines[k + 1], lines[k]
        write(path, lines)
        report = check(path, witness)
        assert [issue.kind for issue in report.issues] == [IssueKind.REORDERED]
        assert report.issues[0].sequence in (k, k + 1)
    elif operation == "truncate":
        write(path, lines[:k])
        first = check(path, witness).issues[0]
        assert first.sequence == k
        assert first.kind in (IssueKind.TRUNCATED, IssueKind.DELETED)
    elif operation == "rechain":
        write(path, attacker.rechain_from(lines, k))
        report = check(path, witness)
        first = report.issues[0]
        assert first.kind is IssueKind.REWRITTEN
        assert first.earliest is not None
        assert first.sequence is not None
        assert first.earliest <= k <= first.sequence
    else:
        cut = max(1, int(where * (len(lines[-1]) - 1)))
        write(path, [*lines[:-1], lines[-1][:cut]])
        report = check(path, witness)
        assert (IssueKind.TORN, None, n) in [(i.kind, i.sequence, i.line) for i in report.issues]
        assert all(
            (i.sequence if i.sequence is not None else n - 1) >= n - 1 for i in report.issues
        )
