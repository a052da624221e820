"""A party's append-only audit log: one JSON line per entry, hash-chained, with signed checkpoints.

:class:`AuditLog` appends entries under an exclusive file lock, each flushed to disk before the
call returns, and signs the log's head at a checkpoint entry: at creation, every
``checkpoint_every`` entries, and whenever a step asks (:meth:`AuditLog.checkpoint`, whose
:class:`~linkwell.audit.head.SignedHead` goes into the next sealed package). Before it writes, it
checks the tail it is about to sign over and refuses a torn or altered one: such a log is only
ever cut back by :func:`repair_log`, explicitly and with a record of what was removed.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError as PydanticValidationError

from linkwell.audit._logfile import (
    append_bytes,
    first_line,
    iter_lines,
    lines_backwards,
    locked,
    torn_tail,
    truncate_to,
)
from linkwell.audit.entry import (
    ZERO_HASH,
    AuditAction,
    AuditDetail,
    AuditEntry,
    CountName,
    DigestRef,
    DigestSubject,
    Malformed,
    PackageRef,
    counts_toward_checkpoint,
    new_entry,
    parse_line,
)
from linkwell.audit.head import LogHead, SignedHead, sign_head, verify_head
from linkwell.config import Role
from linkwell.errors import AuditError, ConfigError, InternalError

__all__ = [
    "DEFAULT_CHECKPOINT_EVERY",
    "AuditLog",
    "LogLine",
    "RepairResult",
    "read_log",
    "repair_log",
]

logger = logging.getLogger(__name__)

DEFAULT_CHECKPOINT_EVERY: Final = 16
"""Entries between automatic checkpoints: the most a same-host attacker can rewrite unseen."""

_INTERNAL_ACTIONS: Final = frozenset(
    {AuditAction.LOG_CREATED, AuditAction.CHECKPOINT, AuditAction.REPAIRED}
)
_VERIFY_HINT: Final = (
    "run `linkwell audit verify` on the log to see what changed; nothing was added"
)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class _Tail:
    """What a writer needs to know about the log's end, read under the exclusive lock."""

    last: AuditEntry
    interval: int
    since_checkpoint: int


class AuditLog:
    """The audit log of one party, kept in one JSON-lines file.

    Args:
        path: the log file; created (with its first entry and checkpoint) on first write.
        party: the party whose log this is; every entry names it.
        signing_key: the party's Ed25519 signing key. Without it the log can be read but not
            written, because every write may have to sign a checkpoint.
        checkpoint_every: for a new log, the most entries between two checkpoints; an existing
            log keeps the interval recorded in its first entry.
        clock: the source of entry times (UTC); tests pass a fixed clock.
    """

    def __init__(
        self,
        path: Path,
        *,
        party: str,
        signing_key: Ed25519PrivateKey | None,
        checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        if not 1 <= checkpoint_every <= 10_000:  # noqa: PLR2004 - the entry model's own bound
            raise ConfigError(
                "the checkpoint interval must be between 1 and 10000 entries",
                field="checkpoint_every",
            )
        self._path = path
        self._party = party
        self._key = signing_key
        self._checkpoint_every = checkpoint_every
        self._clock = clock

    @property
    def path(self) -> Path:
        """The log file."""
        return self._path

    @property
    def party(self) -> str:
        """The party whose log this is."""
        return self._party

    def append(
        self,
        action: AuditAction,
        *,
        detail: AuditDetail | None = None,
        peer_role: Role | None = None,
        packages: Iterable[PackageRef] = (),
        digests: Iterable[DigestRef] = (),
        counts: Mapping[CountName, int] | None = None,
        config_digest: str | None = None,
    ) -> AuditEntry:
        """Record one action; returns the entry as written (and flushed to disk).

        A checkpoint is written first if the interval is already used up (after a crash) and
        after the entry if this entry uses it up.
        """
        if action in _INTERNAL_ACTIONS:
            raise InternalError(f"the log writes {action.value!r} entries itself")
        key = self._require_key()
        with locked(self._path, write=True) as fd:
            tail = self._tail_for_writing(fd, key)
            lines: list[bytes] = []
            last, run = tail.last, tail.since_checkpoint
            if run >= tail.interval:
                last = self._checkpoint_entry(last, key, AuditDetail.PERIODIC)[0]
                lines.append(last.to_line())
                run = 0
            with _entry_checked(self._path):
                entry = new_entry(
                    sequence=last.sequence + 1,
                    time=self._clock(),
                    party=self._party,
                    action=action,
                    prev_hash=last.entry_hash,
                    detail=detail,
                    peer_role=peer_role,
                    packages=tuple(packages),
                    digests=tuple(digests),
                    counts=dict(counts or {}),
                    config_digest=config_digest,
                )
            lines.append(entry.to_line())
            if run + 1 >= tail.interval:
                lines.append(self._checkpoint_entry(entry, key, AuditDetail.PERIODIC)[0].to_line())
            append_bytes(fd, b"".join(lines), path=self._path)
        logger.debug("audit: %s recorded %s at entry %d", self._party, action, entry.sequence)
        return entry

    def checkpoint(self) -> SignedHead:
        """Sign the log's current head, record that in the log, and return the signed head.

        The head signed is the last entry before the checkpoint entry; hand it to others (it
        travels in every sealed package's manifest) so that they can later prove the log has not
        been cut back or rewritten behind that point.
        """
        key = self._require_key()
        with locked(self._path, write=True) as fd:
            tail = self._tail_for_writing(fd, key)
            entry, signed = self._checkpoint_entry(tail.last, key, AuditDetail.REQUESTED)
            append_bytes(fd, entry.to_line(), path=self._path)
        logger.debug("audit: %s checkpoint at entry %d", self._party, entry.sequence)
        return signed

    def head(self) -> LogHead:
        """The log's last entry as an unsigned head; the log must exist and its end be intact."""
        with locked(self._path, write=False) as fd:
            return self._read_tail(fd).last.as_head()

    def _require_key(self) -> Ed25519PrivateKey:
        if self._key is None:
            raise ConfigError(
                f"the audit log of {self._party!r} needs the party's signing key to be written",
                file=self._path,
                hint="open the party's identity before running a step that records to the log",
            )
        return self._key

    def _checkpoint_entry(
        self, last: AuditEntry, key: Ed25519PrivateKey, detail: AuditDetail
    ) -> tuple[AuditEntry, SignedHead]:
        time = self._clock()
        head = LogHead(
            party=self._party, sequence=last.sequence, entry_hash=last.entry_hash, time=time
        )
        signed = sign_head(head, key)
        with _entry_checked(self._path):
            entry = new_entry(
                sequence=last.sequence + 1,
                time=time,
                party=self._party,
                action=AuditAction.CHECKPOINT,
                prev_hash=last.entry_hash,
                detail=detail,
                checkpoint=signed,
            )
        return entry, signed

    def _tail_for_writing(self, fd: int, key: Ed25519PrivateKey) -> _Tail:
        """The tail of an intact log, creating the log (entry 0 and its checkpoint) if empty."""
        if os.fstat(fd).st_size == 0:
            with _entry_checked(self._path):
                genesis = new_entry(
                    sequence=0,
                    time=self._clock(),
                    party=self._party,
                    action=AuditAction.LOG_CREATED,
                    prev_hash=ZERO_HASH,
                    checkpoint_every=self._checkpoint_every,
                )
            first, _ = self._checkpoint_entry(genesis, key, AuditDetail.CREATED)
            append_bytes(fd, genesis.to_line() + first.to_line(), path=self._path)
            logger.debug("audit: created the log of %s", self._party)
            return _Tail(last=first, interval=self._checkpoint_every, since_checkpoint=0)
        return self._read_tail(fd)

    def _read_tail(self, fd: int) -> _Tail:
        """Check the log from its last checkpoint to its end, and read its interval from entry 0.

        This is not a full verification (that is :func:`~linkwell.audit.verify.verify_log`), but
        it guarantees that a checkpoint never signs over a tail that is torn, altered or
        spliced since the previous checkpoint.
        """
        size, end = torn_tail(fd)
        if end < size:
            raise AuditError(
                "the log's last line is incomplete (a write was interrupted)",
                file=self._path,
                hint="run `linkwell audit repair` to cut it off, with a record in the log",
            )
        genesis = self._parsed(first_line(fd) or b"", "its first entry", any_party=True)
        if genesis.checkpoint_every is None:
            raise self._damaged("its first entry is not the log's creation")
        if genesis.party != self._party:
            raise ConfigError(
                f"this audit log belongs to {genesis.party!r}, not {self._party!r}",
                file=self._path,
                hint="use the log in the party's own workspace",
            )
        entries: list[AuditEntry] = []
        checkpoint_at: int | None = None
        for raw in lines_backwards(fd, end):
            entry = self._parsed(raw, "an entry near its end")
            if entries and (
                entry.entry_hash != entries[-1].prev_hash
                or entry.sequence != entries[-1].sequence - 1
            ):
                raise self._damaged(f"entry {entries[-1].sequence} does not follow the one before")
            entries.append(entry)
            if checkpoint_at is not None:
                break  # the entry the last checkpoint signed has been read
            if entry.action is AuditAction.CHECKPOINT:
                checkpoint_at = len(entries) - 1
        if checkpoint_at is None or entries[checkpoint_at].checkpoint is None:
            raise self._damaged("it has no checkpoint")
        self._check_checkpoint(entries[checkpoint_at], entries[checkpoint_at + 1])
        since = sum(counts_toward_checkpoint(entry.action) for entry in entries[:checkpoint_at])
        return _Tail(last=entries[0], interval=genesis.checkpoint_every, since_checkpoint=since)

    def _check_checkpoint(self, checkpoint: AuditEntry, signed_entry: AuditEntry) -> None:
        signed = checkpoint.checkpoint
        if (
            signed is None
            or signed.head.sequence != signed_entry.sequence
            or signed.head.entry_hash != signed_entry.entry_hash
        ):
            raise self._damaged(f"the checkpoint at entry {checkpoint.sequence} does not match it")
        try:
            verify_head(signed, signed.signer)
        except AuditError as exc:
            raise self._damaged(f"the checkpoint at entry {checkpoint.sequence} is forged") from exc

    def _parsed(self, raw: bytes, what: str, *, any_party: bool = False) -> AuditEntry:
        parsed = parse_line(raw)
        if isinstance(parsed, Malformed):
            raise self._damaged(f"{what} cannot be read ({parsed.reason.value})")
        if parsed.computed_hash() != parsed.entry_hash:
            raise self._damaged(f"entry {parsed.sequence} does not match its hash")
        if not any_party and parsed.party != self._party:
            raise self._damaged(f"entry {parsed.sequence} belongs to another party's log")
        return parsed

    def _damaged(self, what: str) -> AuditError:
        return AuditError(f"the audit log is damaged: {what}", file=self._path, hint=_VERIFY_HINT)


@contextmanager
def _entry_checked(path: Path) -> Iterator[None]:
    """Turn an entry the model refuses into an :class:`InternalError`: a caller passed bad data."""
    try:
        yield
    except PydanticValidationError as exc:
        # Not chained: a pydantic error's location can quote the refused value (a dict key),
        # and that value may be exactly what must never be written down. The field is enough.
        loc = exc.errors(include_input=False, include_url=False)[0]["loc"]
        raise InternalError(
            "an audit entry was given a value its field does not allow",
            file=path,
            field=str(loc[0]) if loc else None,
        ) from None


@dataclass(frozen=True)
class LogLine:
    """One line of a log for display: its number and its entry, or why it is not one."""

    number: int
    entry: AuditEntry | None
    problem: str | None = None


def read_log(path: Path, *, tail: int | None = None) -> tuple[LogLine, ...]:
    """Every line of the log (or its last ``tail`` lines), parsed where possible, never trusted.

    This is for looking at a log, damaged or not; it does not verify anything.
    """
    if tail is not None and tail < 1:
        raise ConfigError("--tail must be at least 1", field="tail")
    kept: deque[LogLine] = deque(maxlen=tail)
    with locked(path, write=False) as fd, open(fd, "rb", closefd=False) as handle:
        for line in iter_lines(handle):
            if not line.complete:
                kept.append(LogLine(line.number, None, "incomplete last line"))
                continue
            parsed = parse_line(line.raw + (b"\0" if line.too_long else b""))
            if isinstance(parsed, Malformed):
                kept.append(LogLine(line.number, None, f"not an entry ({parsed.reason.value})"))
            else:
                kept.append(LogLine(line.number, parsed))
    return tuple(kept)


@dataclass(frozen=True)
class RepairResult:
    """What :func:`repair_log` did: bytes cut off, and the entry recording it (if any)."""

    bytes_removed: int
    entry: AuditEntry | None
    log_removed: bool = False


def repair_log(path: Path, *, clock: Callable[[], datetime] = _utc_now) -> RepairResult:
    """Cut off a torn last line, and record the cut (its length and digest) in the log.

    This is the only repair there is: it refuses any log whose damage is anything but an
    interrupted final write, because every other change is evidence to keep. It needs no
    signing key; the party's next checkpoint signs over the repair entry. If the torn line
    was the log's only content, the empty file is removed.
    """
    with locked(path, write=True) as fd:
        size, end = torn_tail(fd)
        if end == size:
            return RepairResult(bytes_removed=0, entry=None)
        torn = os.pread(fd, size - end, end)
        if end == 0:
            truncate_to(fd, 0, path=path)
            path.unlink()
            return RepairResult(bytes_removed=size, entry=None, log_removed=True)
        last = next(lines_backwards(fd, end))
        parsed = parse_line(last)
        if isinstance(parsed, Malformed) or parsed.computed_hash() != parsed.entry_hash:
            raise AuditError(
                "the audit log has damage other than an interrupted last write; not repaired",
                file=path,
                hint="run `linkwell audit verify` on the log and keep it as evidence",
            )
        entry = new_entry(
            sequence=parsed.sequence + 1,
            time=clock(),
            party=parsed.party,
            action=AuditAction.REPAIRED,
            prev_hash=parsed.entry_hash,
            counts={CountName.BYTES_REMOVED: len(torn)},
            digests=(
                DigestRef(subject=DigestSubject.TORN_TAIL, sha256=hashlib.sha256(torn).hexdigest()),
            ),
        )
        truncate_to(fd, end, path=path)
        append_bytes(fd, entry.to_line(), path=path)
    logger.info("audit: cut %d torn byte(s) off the log", len(torn))
    return RepairResult(bytes_removed=len(torn), entry=entry)
