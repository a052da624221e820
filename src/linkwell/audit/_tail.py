"""The check a writer makes before it adds to a log: the tail since the last checkpoint is intact.

This is not a full verification (that is :func:`~linkwell.audit.verify.verify_log`): it reads the
log's first entry (for its party and checkpoint interval) and its lines back to the last
checkpoint and the entry that checkpoint signs, and refuses anything torn, unreadable, altered,
out of order or spliced among them. Writing and repairing both rely on it, so that a checkpoint
never signs over a tail that changed since the previous one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from linkwell.audit._logfile import first_line, lines_backwards
from linkwell.audit.entry import (
    AuditAction,
    AuditEntry,
    Malformed,
    counts_toward_checkpoint,
    read_line,
)
from linkwell.audit.head import SignedHead, verify_head
from linkwell.errors import AuditError, ConfigError

__all__ = ["Tail", "read_tail"]

_VERIFY_HINT: Final = (
    "run `linkwell audit verify` on the log to see what changed; nothing was added"
)


@dataclass(frozen=True)
class Tail:
    """What a writer needs to know about the end of an intact log."""

    last: AuditEntry
    interval: int
    since_checkpoint: int
    checkpoint: SignedHead


def read_tail(fd: int, path: Path, *, end: int, party: str | None) -> Tail:
    """Check and describe the log's tail; ``end`` is where its last complete line ends.

    ``party`` is the party expected to own the log; ``None`` accepts whichever party entry 0
    names.
    """
    genesis = _parsed(path, first_line(fd) or b"", "its first entry")
    if genesis.checkpoint_every is None:
        raise _damaged(path, "its first entry is not the log's creation")
    if party is not None and genesis.party != party:
        raise ConfigError(
            f"this audit log belongs to {genesis.party!r}, not {party!r}",
            file=path,
            hint="use the log in the party's own workspace",
        )
    entries: list[AuditEntry] = []
    checkpoint_at: int | None = None
    for raw in lines_backwards(fd, end):
        entry = _parsed(path, raw, "an entry near its end")
        if entry.party != genesis.party:
            raise _damaged(path, f"entry {entry.sequence} belongs to another party's log")
        if entries and (
            entry.entry_hash != entries[-1].prev_hash or entry.sequence != entries[-1].sequence - 1
        ):
            raise _damaged(path, f"entry {entries[-1].sequence} does not follow the one before")
        entries.append(entry)
        if checkpoint_at is not None:
            break  # the entry the last checkpoint signed has been read
        if entry.action is AuditAction.CHECKPOINT:
            checkpoint_at = len(entries) - 1
    if checkpoint_at is None or checkpoint_at + 1 >= len(entries):
        raise _damaged(path, "it has no checkpoint")
    signed = _checked_checkpoint(path, entries[checkpoint_at], entries[checkpoint_at + 1])
    since = sum(counts_toward_checkpoint(entry.action) for entry in entries[:checkpoint_at])
    return Tail(
        last=entries[0],
        interval=genesis.checkpoint_every,
        since_checkpoint=since,
        checkpoint=signed,
    )


def _checked_checkpoint(path: Path, checkpoint: AuditEntry, signed_entry: AuditEntry) -> SignedHead:
    signed = checkpoint.checkpoint
    if (
        signed is None
        or signed.head.sequence != signed_entry.sequence
        or signed.head.entry_hash != signed_entry.entry_hash
    ):
        raise _damaged(path, f"the checkpoint at entry {checkpoint.sequence} does not match it")
    try:
        verify_head(signed, signed.signer)
    except AuditError as exc:
        raise _damaged(path, f"the checkpoint at entry {checkpoint.sequence} is forged") from exc
    return signed


def _parsed(path: Path, raw: bytes, what: str) -> AuditEntry:
    read = read_line(raw)
    if isinstance(read, Malformed):
        raise _damaged(path, f"{what} cannot be read ({read.reason.value})")
    if not read.hash_ok:
        raise _damaged(path, f"entry {read.entry.sequence} does not match its hash")
    return read.entry


def _damaged(path: Path, what: str) -> AuditError:
    return AuditError(f"the audit log is damaged: {what}", file=path, hint=_VERIFY_HINT)
