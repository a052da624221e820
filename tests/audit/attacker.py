"""What an attacker with write access to a log file (but not the party's key) can do to it.

Each function takes and returns the log as a list of lines (bytes, newline included), and knows
the format as well as linkwell does: it recomputes hashes, so only what a hash chain cannot
fake — a signature, or a head held by someone else — is left to catch it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from linkwell.audit import AuditAction, AuditEntry, AuditLog, CountName, sign_head
from linkwell.audit.entry import Malformed, new_entry, parse_line

Lines = list[bytes]


class FixedClock:
    """A clock that advances one second per reading, so entries differ and tests are stable."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def build_log(
    path: Path, key: Ed25519PrivateKey, *, appends: int, every: int = 4, party: str = "nrs"
) -> AuditLog:
    """A log with ``appends`` ordinary entries (and its automatic checkpoints)."""
    log = AuditLog(path, party=party, signing_key=key, checkpoint_every=every, clock=FixedClock())
    for number in range(appends):
        log.append(AuditAction.VALIDATED, counts={CountName.ROWS: number})
    return log


def entry(line: bytes) -> AuditEntry:
    parsed = parse_line(line.rstrip(b"\n"))
    assert not isinstance(parsed, Malformed), parsed
    return parsed


def read(path: Path) -> Lines:
    return path.read_bytes().splitlines(keepends=True)


def write(path: Path, lines: Lines) -> None:
    path.write_bytes(b"".join(lines))


def rehashed(item: AuditEntry, **update: object) -> AuditEntry:
    """``item`` with fields replaced and its hash recomputed, as a forger would."""
    changed = item.model_copy(update=update)
    return changed.model_copy(update={"entry_hash": changed.computed_hash()})


def edit_in_place(lines: Lines, index: int) -> Lines:
    """Change entry ``index``'s time by one microsecond, leaving its stored hash alone."""
    item = entry(lines[index])
    changed = item.model_copy(update={"time": item.time + timedelta(microseconds=1)})
    return [*lines[:index], changed.to_line(), *lines[index + 1 :]]


def edit_and_rehash(lines: Lines, index: int) -> Lines:
    """Change entry ``index`` and fix its own hash, but not the entries after it."""
    item = entry(lines[index])
    changed = rehashed(item, time=item.time + timedelta(microseconds=1))
    return [*lines[:index], changed.to_line(), *lines[index + 1 :]]


def rechain_from(lines: Lines, index: int, *, renumber_from: int | None = None) -> Lines:
    """Edit entry ``index`` and recompute every later hash and link (and, optionally, numbers).

    Checkpoint entries keep their old signatures: the attacker cannot sign.
    """
    out = list(lines[:index])
    prev = entry(lines[index - 1]).entry_hash if index > 0 else None
    for position, raw in enumerate(lines[index:], start=index):
        item = entry(raw)
        update: dict[str, object] = {}
        if position == index:
            update["time"] = item.time + timedelta(microseconds=1)
        if prev is not None:
            update["prev_hash"] = prev
        if renumber_from is not None:
            update["sequence"] = renumber_from + position - index
        item = rehashed(item, **update)
        out.append(item.to_line())
        prev = item.entry_hash
    return out


def resign_checkpoints(lines: Lines, key: Ed25519PrivateKey) -> Lines:
    """Re-chain the whole log, signing every checkpoint with ``key`` (not the party's)."""
    out: Lines = []
    prev = None
    for raw in lines:
        item = entry(raw)
        update: dict[str, object] = {}
        if prev is not None:
            update["prev_hash"] = prev.entry_hash
        if item.checkpoint is not None and prev is not None:
            update["checkpoint"] = sign_head(prev.as_head(), key)
        item = rehashed(item, **update)
        out.append(item.to_line())
        prev = item
    return out


def forged_entry(lines: Lines, sequence: int) -> bytes:
    """A well-formed entry claiming ``sequence``, chained to the genuine entry before it."""
    before = entry(lines[sequence - 1])
    forged = new_entry(
        sequence=sequence,
        time=before.time,
        party=before.party,
        action=AuditAction.RELEASED,
        prev_hash=before.entry_hash,
        counts={CountName.ROWS: 1},
    )
    return forged.to_line()
