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
import json
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
    iter_lines,
    lines_backwards,
    locked,
    torn_tail,
    truncate_to,
)
from linkwell.audit._tail import Tail, read_tail
from linkwell.audit.entry import (
    MAX_LINE_BYTES,
    ZERO_HASH,
    AuditAction,
    AuditDetail,
    AuditEntry,
    CountName,
    DigestRef,
    DigestSubject,
    Malformed,
    PackageRef,
    new_entry,
    parse_line,
)
from linkwell.audit.head import LogHead, SignedHead, public_key_text, sign_head
from linkwell.config import Role
from linkwell.errors import AuditError, ConfigError, InternalError
from linkwell.faults import kill_point

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
_MAX_TORN_BYTES: Final = 4 * MAX_LINE_BYTES
"""More than one append ever writes at once (an entry and up to two checkpoints)."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class AuditLog:
    """The audit log of one party, kept in one JSON-lines file.

    Args:
        path: the log file; created (with its first entry and checkpoint) on first write.
        party: the party whose log this is; every entry names it.
        signing_key: the party's Ed25519 signing key. Without it the log can be read but not
            written, because every write may have to sign a checkpoint.
        checkpoint_every: for a new log, the most entries between two checkpoints; an existing
            log keeps the interval recorded in its first entry.
        earlier_keys: public keys (``ed25519:…``) the party signed its log with before it
            rotated to ``signing_key``. A writer signs on only after a checkpoint made with
            one of its own keys, so that it never vouches for a log someone else re-signed.
        clock: the source of entry times (UTC); tests pass a fixed clock.
        create: whether a write may create the log. A party's workspace makes its log when it
            is made and passes ``False`` after: a log found missing or empty then is refused
            (restore it), never silently begun again at entry 0.
    """

    def __init__(
        self,
        path: Path,
        *,
        party: str,
        signing_key: Ed25519PrivateKey | None,
        checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
        earlier_keys: Iterable[str] = (),
        clock: Callable[[], datetime] = _utc_now,
        create: bool = True,
    ) -> None:
        if not 1 <= checkpoint_every <= 10_000:  # noqa: PLR2004 - the entry model's own bound
            raise ConfigError(
                "the checkpoint interval must be between 1 and 10000 entries",
                field="checkpoint_every",
            )
        self._path = path
        self._party = party
        self._key = signing_key
        self._own_keys = frozenset(earlier_keys) | (
            set() if signing_key is None else {public_key_text(signing_key.public_key())}
        )
        self._checkpoint_every = checkpoint_every
        self._clock = clock
        self._create = create

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
        with locked(self._path, write=True, create=self._create) as fd:
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
            kill_point("audit.before-append")
            append_bytes(fd, b"".join(lines), path=self._path)
            kill_point("audit.after-append")
        logger.debug("audit: %s recorded %s at entry %d", self._party, action, entry.sequence)
        return entry

    def start(self) -> None:
        """Create the log (its first entry and that entry's checkpoint) unless it exists."""
        key = self._require_key()
        with locked(self._path, write=True) as fd:
            self._tail_for_writing(fd, key, create=True)

    def checkpoint(self) -> SignedHead:
        """Sign the log's current head, record that in the log, and return the signed head.

        The head signed is the last entry before the checkpoint entry; hand it to others (it
        travels in every sealed package's manifest) so that they can later prove the log has not
        been cut back or rewritten behind that point.
        """
        key = self._require_key()
        with locked(self._path, write=True, create=self._create) as fd:
            tail = self._tail_for_writing(fd, key)
            entry, signed = self._checkpoint_entry(tail.last, key, AuditDetail.REQUESTED)
            kill_point("audit.before-checkpoint")
            append_bytes(fd, entry.to_line(), path=self._path)
            kill_point("audit.after-checkpoint")
        logger.debug("audit: %s checkpoint at entry %d", self._party, entry.sequence)
        return signed

    def seal_off(self) -> None:
        """Checkpoint the entries written since the last checkpoint, if there are any.

        Parties call this at the end of every step, so that nothing a step recorded can be
        edited and chained again without the party's key: entries after the last checkpoint can.
        """
        key = self._require_key()
        with locked(self._path, write=True, create=self._create) as fd:
            tail = self._tail_for_writing(fd, key)
            if tail.since_checkpoint == 0:
                return
            entry, _ = self._checkpoint_entry(tail.last, key, AuditDetail.REQUESTED)
            append_bytes(fd, entry.to_line(), path=self._path)
        logger.debug("audit: %s checkpoint at entry %d", self._party, entry.sequence)

    def recorded(self, action: AuditAction, package_id: str) -> bool:
        """Whether the log already holds an ``action`` entry about package ``package_id``.

        Steps ask this only when they find that a run before them was cut short after acting
        and perhaps before logging it (a package already delivered, received or opened), so that
        the log records each package's action exactly once. It reads the log from its end,
        parsing only lines that mention the package, and ignores a torn last line.
        """
        if not self._path.exists():
            return False
        wanted = (package_id.encode("ascii"), action.value.encode("ascii"))
        with locked(self._path, write=False) as fd:
            for raw in lines_backwards(fd, torn_tail(fd)[1]):
                if not all(part in raw for part in wanted):
                    continue
                entry = parse_line(raw)
                if (
                    not isinstance(entry, Malformed)
                    and entry.action is action
                    and any(ref.id == package_id for ref in entry.packages)
                ):
                    return True
        return False

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

    def _tail_for_writing(
        self, fd: int, key: Ed25519PrivateKey, *, create: bool | None = None
    ) -> Tail:
        """The tail of an intact log, creating the log (entry 0 and its checkpoint) if empty."""
        if os.fstat(fd).st_size == 0:
            if not (self._create if create is None else create):
                raise AuditError(
                    "the audit log is empty, though this log was made before",
                    file=self._path,
                    hint="restore the log from a backup; a new log would hide what it recorded",
                )
            with _entry_checked(self._path):
                genesis = new_entry(
                    sequence=0,
                    time=self._clock(),
                    party=self._party,
                    action=AuditAction.LOG_CREATED,
                    prev_hash=ZERO_HASH,
                    checkpoint_every=self._checkpoint_every,
                )
            first, signed = self._checkpoint_entry(genesis, key, AuditDetail.CREATED)
            append_bytes(fd, genesis.to_line() + first.to_line(), path=self._path)
            logger.debug("audit: created the log of %s", self._party)
            return Tail(
                last=first, interval=self._checkpoint_every, since_checkpoint=0, checkpoint=signed
            )
        return self._read_tail(fd)

    def _read_tail(self, fd: int) -> Tail:
        """The checked tail of an intact log whose last checkpoint this writer may sign on from."""
        size, end = torn_tail(fd)
        if end < size:
            raise AuditError(
                "the log's last line is incomplete (a write was interrupted)",
                file=self._path,
                hint="run `linkwell audit repair` to cut it off, with a record in the log",
            )
        tail = read_tail(fd, self._path, end=end, party=self._party)
        if self._key is not None and tail.checkpoint.signer not in self._own_keys:
            raise AuditError(
                f"the last checkpoint (entry {tail.checkpoint.head.sequence + 1}) was "
                "not signed with this party's key; nothing was added",
                file=self._path,
                hint="if the party rotated its key, pass its earlier public keys "
                "(earlier_keys); otherwise run `linkwell audit verify` on the log",
            )
        return tail


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
            parsed = parse_line(line.raw)
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
    line_end_added: bool = False


_ENTRY_START: Final = b'{"action":'
"""How every entry's line begins: canonical JSON, keys sorted, ``action`` first."""


def _torn_kind(torn: bytes) -> str | None:
    """What an interrupted write of one entry's line can leave: ``"prefix"`` or ``"whole"``.

    Such a write leaves a prefix of one line: it begins as every entry begins and holds no start
    of a second entry; the prefix may be the whole entry but its line end. ``None`` for anything
    else, which is not damage a crash makes: cutting it could erase entries.
    """
    if not (torn.startswith(_ENTRY_START) or _ENTRY_START.startswith(torn)):
        return None
    if torn.count(_ENTRY_START) > 1:
        return None
    try:
        json.loads(torn)
    except ValueError:  # JSONDecodeError, or bytes that are not text: cut short mid-character
        return "prefix"
    return "whole"


def _add_line_end(fd: int, path: Path, size: int) -> RepairResult:
    """Give back the line end of a whole last entry, if the log then reads as intact."""
    append_bytes(fd, b"\n", path=path)
    try:
        read_tail(fd, path, end=size + 1, party=None)
    except (AuditError, ConfigError) as exc:
        truncate_to(fd, size, path=path)
        raise AuditError(
            "the audit log's last entry lacks its line end and does not follow the entries "
            "before it; not repaired",
            file=path,
            hint="run `linkwell audit verify` on the log and keep it as evidence",
        ) from exc
    logger.info("audit: gave the last entry back its line end")
    return RepairResult(bytes_removed=0, entry=None, line_end_added=True)


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
        if size - end > _MAX_TORN_BYTES:
            raise AuditError(
                "the audit log ends in more bytes without a newline than any write makes; "
                "not repaired",
                file=path,
                hint="run `linkwell audit verify` on the log and keep it as evidence",
            )
        torn = os.pread(fd, size - end, end)
        kind = _torn_kind(torn)
        if kind == "whole":
            return _add_line_end(fd, path, size)
        if kind is None:
            raise AuditError(
                "the audit log's last line is not an interrupted write of one entry (it holds a "
                "whole entry, or more than one, or does not begin as an entry does); not repaired",
                file=path,
                hint="run `linkwell audit verify` on the log and keep it as evidence",
            )
        if end == 0:
            truncate_to(fd, 0, path=path)
            path.unlink()
            return RepairResult(bytes_removed=size, entry=None, log_removed=True)
        try:
            last = read_tail(fd, path, end=end, party=None).last
        except (AuditError, ConfigError) as exc:
            raise AuditError(
                "the audit log has damage other than an interrupted last write; not repaired",
                file=path,
                hint="run `linkwell audit verify` on the log and keep it as evidence",
            ) from exc
        entry = new_entry(
            sequence=last.sequence + 1,
            time=clock(),
            party=last.party,
            action=AuditAction.REPAIRED,
            prev_hash=last.entry_hash,
            counts={CountName.BYTES_REMOVED: len(torn)},
            digests=(
                DigestRef(subject=DigestSubject.TORN_TAIL, sha256=hashlib.sha256(torn).hexdigest()),
            ),
        )
        truncate_to(fd, end, path=path)
        append_bytes(fd, entry.to_line(), path=path)
    logger.info("audit: cut %d torn byte(s) off the log", len(torn))
    return RepairResult(bytes_removed=len(torn), entry=entry)
