"""Verifying a party's audit log: every edit, deletion, insertion, reordering or cut, and where.

:func:`verify_log` reads the whole log and always returns a :class:`VerifyReport` listing every
problem it finds, each with its kind and position (entry sequence and line number); it raises
only when the log cannot be read at all or the keys given are malformed.
:meth:`VerifyReport.raise_for_issues` turns a failed report into an :class:`AuditError` naming
the first problem. A hash chain alone shows edits, deletions, insertions and reordering; signed
checkpoints show a tail re-chained by someone without the party's key; heads witnessed by other
parties show a log cut back or rewritten after that head was given away.
"""

from __future__ import annotations

import bisect
import os
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

from linkwell.audit._logfile import LineRead, iter_lines, locked
from linkwell.audit.entry import (
    AuditAction,
    Malformed,
    ReadEntry,
    counts_toward_checkpoint,
    read_line,
)
from linkwell.audit.findings import AuditIssue, IssueKind, VerifyReport
from linkwell.audit.head import LogHead, SignedHead, public_key_from_text, verify_head
from linkwell.errors import AuditError, ConfigError
from linkwell.progress import SILENT, Progress

__all__ = ["verify_log"]

_PROGRESS_EVERY: Final = 1024


@dataclass(slots=True)
class _Rec:
    """What verification keeps of one parsed entry (not the whole model, to bound memory)."""

    line: int
    sequence: int
    time: datetime
    action: AuditAction
    party: str
    prev_hash: str
    stored_hash: str
    hash_ok: bool
    checkpoint: SignedHead | None
    checkpoint_every: int | None

    @classmethod
    def of(cls, line: int, read: ReadEntry) -> _Rec:
        entry = read.entry
        return cls(
            line=line,
            sequence=entry.sequence,
            time=entry.time,
            action=entry.action,
            party=entry.party,
            prev_hash=entry.prev_hash,
            stored_hash=entry.entry_hash,
            hash_ok=read.hash_ok,
            checkpoint=entry.checkpoint,
            checkpoint_every=entry.checkpoint_every,
        )


def verify_log(
    path: Path,
    *,
    signer: str | Iterable[str],
    witnessed: Iterable[SignedHead] = (),
    party: str | None = None,
    progress: Progress = SILENT,
) -> VerifyReport:
    """Verify the log at ``path`` and report every problem with its position.

    Args:
        path: the log file.
        signer: the party's signing key (``ed25519:…``), or all of its keys, retired ones
            included, when it has rotated: a checkpoint or witness signed by any other key is
            forged.
        witnessed: signed heads of this log that other parties hold (from the manifests of
            packages they received); each must name an entry the log still has, unchanged.
        party: the party whose log it must be; a log whose entries name another is a problem
            (by default the log is taken to be of the party its entries name).
        progress: receives the bytes read.
    """
    signers = _signer_set(signer)
    heads = tuple(witnessed)
    scan = _Scan()
    with (
        locked(path, write=False) as fd,
        open(fd, "rb", closefd=False) as handle,
        progress.task("verifying the audit log", total=os.fstat(fd).st_size) as task,
    ):
        reported = 0
        for line in iter_lines(handle):
            scan.add(line)
            if line.number % _PROGRESS_EVERY == 0:
                task.advance(handle.tell() - reported)
                reported = handle.tell()
        task.advance(handle.tell() - reported)
    return _Verifier(path, scan, signers, heads, expected=party).report()


def _signer_set(signer: str | Iterable[str]) -> frozenset[str]:
    keys = frozenset([signer] if isinstance(signer, str) else signer)
    if not keys:
        raise ConfigError(
            "no signing key given to verify the log against",
            field="signer",
            hint="give the party's public signing key or its identity card",
        )
    for key in keys:
        public_key_from_text(key)  # a malformed key is a ConfigError, not a failed log
    return keys


class _Scan:
    """The first pass: parse every line, keeping compact records and line-level problems."""

    def __init__(self) -> None:
        self.lines = 0
        self.recs: list[_Rec] = []
        self.unreadable: list[int] = []
        self.issues: list[AuditIssue] = []

    def add(self, line: LineRead) -> None:
        self.lines = line.number
        if not line.complete:
            self.unreadable.append(line.number)
            self.issues.append(
                AuditIssue(
                    kind=IssueKind.TORN,
                    sequence=None,
                    line=line.number,
                    message="the last line is incomplete: a write was interrupted "
                    "(`linkwell audit repair` cuts it off, with a record in the log)",
                )
            )
            return
        parsed = read_line(line.raw)
        if isinstance(parsed, Malformed):
            self.unreadable.append(line.number)
            where = f" (field {parsed.field!r})" if parsed.field else ""
            self.issues.append(
                AuditIssue(
                    kind=IssueKind.MALFORMED,
                    sequence=None,
                    line=line.number,
                    message=f"the line is not an audit entry: {parsed.reason.value}{where}",
                )
            )
            return
        rec = _Rec.of(line.number, parsed)
        self.recs.append(rec)
        if not rec.hash_ok:
            self.issues.append(
                AuditIssue(
                    kind=IssueKind.EDITED,
                    sequence=rec.sequence,
                    line=rec.line,
                    message="the entry's content does not match its hash: it was edited",
                )
            )


class _Verifier:
    """The second pass: chain, order, checkpoints and witnesses over the compact records."""

    def __init__(
        self,
        path: Path,
        scan: _Scan,
        signers: frozenset[str],
        heads: tuple[SignedHead, ...],
        *,
        expected: str | None,
    ) -> None:
        self.path = path
        self.scan = scan
        self.signers = signers
        self.heads = heads
        self.issues = scan.issues
        self.party = _log_party(scan.recs)
        if expected is not None and self.party != expected:
            named = "no party" if self.party is None else f"{self.party!r}"
            self._issue(
                IssueKind.WRONG_PARTY,
                None,
                None,
                f"the log was to be the log of {expected!r}, but its entries name {named}",
            )
        self.chain: dict[int, _Rec] = {}
        self.anchors: list[int] = []  # entries a valid signature vouches for, as found
        self.signed_through: int | None = None
        self.witnessed_through: int | None = None
        self.checkpoints = 0

    def report(self) -> VerifyReport:
        own = self._own_entries()
        genuine = self._resolve_duplicates(own)
        self._check_order(genuine)
        self.chain = {rec.sequence: rec for rec in genuine}
        self._check_gaps(genuine)
        self._check_links()
        self._check_checkpoints()
        self._check_interval()
        self._check_witnesses()
        last = self.chain[max(self.chain)] if self.chain else None
        return VerifyReport(
            path=self.path,
            party=self.party,
            lines=self.scan.lines,
            head=None if last is None else _head_of(last, self.party),
            checkpoints=self.checkpoints,
            signed_through=self.signed_through,
            witnesses=len(self.heads),
            witnessed_through=self.witnessed_through,
            repairs=sum(rec.action is AuditAction.REPAIRED for rec in self.chain.values()),
            issues=tuple(sorted(self.issues, key=_issue_order)),
        )

    def _issue(
        self,
        kind: IssueKind,
        sequence: int | None,
        line: int | None,
        message: str,
        earliest: int | None = None,
    ) -> None:
        self.issues.append(
            AuditIssue(kind=kind, sequence=sequence, line=line, message=message, earliest=earliest)
        )

    def _own_entries(self) -> list[_Rec]:
        own = []
        for rec in self.scan.recs:
            if rec.party == self.party:
                own.append(rec)
            else:
                self._issue(
                    IssueKind.INSERTED,
                    rec.sequence,
                    rec.line,
                    "the entry belongs to another party's log and was spliced in",
                )
        return own

    def _resolve_duplicates(self, own: list[_Rec]) -> list[_Rec]:
        """Where two entries claim one sequence number, keep the one the chain refers to."""
        by_sequence: dict[int, list[_Rec]] = defaultdict(list)
        for rec in own:
            by_sequence[rec.sequence].append(rec)
        if all(len(group) == 1 for group in by_sequence.values()):
            return own
        linked = {(rec.sequence - 1, rec.prev_hash) for rec in own}
        signed = {
            (h.head.sequence, h.head.entry_hash)
            for h in self._all_signed_heads(own)
            if self._signature_ok(h)
        }
        inserted: set[int] = set()
        for sequence, group in by_sequence.items():
            if len(group) == 1:
                continue
            keep = max(
                group,
                key=lambda rec: (
                    (sequence, rec.stored_hash) in linked,
                    (sequence, rec.stored_hash) in signed,
                    rec.hash_ok,
                    -rec.line,
                ),
            )
            for rec in group:
                if rec is not keep:
                    inserted.add(rec.line)
                    self._issue(
                        IssueKind.INSERTED,
                        sequence,
                        rec.line,
                        f"a second entry {sequence} (the genuine one is on line {keep.line}) "
                        "was inserted",
                    )
        return [rec for rec in own if rec.line not in inserted]

    def _all_signed_heads(self, own: list[_Rec]) -> list[SignedHead]:
        return [rec.checkpoint for rec in own if rec.checkpoint is not None] + list(self.heads)

    def _check_order(self, genuine: list[_Rec]) -> None:
        """Entries outside the longest run in increasing order are the ones moved."""
        for rec in _out_of_order(genuine):
            self._issue(
                IssueKind.REORDERED,
                rec.sequence,
                rec.line,
                "the entry is out of place: entries were moved or swapped",
            )

    def _check_gaps(self, genuine: list[_Rec]) -> None:
        # A line that is not an entry stands in for the entry after the one before it, so
        # that damage is reported once (as malformed or torn) and not again as a deletion.
        stand_ins: set[int] = set()
        previous = -1
        lines = sorted(
            [(rec.line, rec.sequence) for rec in genuine]
            + [(line, None) for line in self.scan.unreadable],
            key=lambda pair: pair[0],
        )
        for _, sequence in lines:
            if sequence is None:
                previous += 1
                stand_ins.add(previous)
            else:
                previous = sequence
        if not lines:
            self._issue(IssueKind.DELETED, 0, None, "the log is empty: every entry is gone")
            return
        present = set(self.chain) | stand_ins
        missing = [s for s in range(max(present) + 1) if s not in present]
        for first, last in _runs(missing):
            after = self.chain.get(last + 1)
            what = f"entry {first} is" if first == last else f"entries {first} to {last} are"
            self._issue(
                IssueKind.DELETED,
                first,
                None if after is None else after.line,
                f"{what} missing: deleted from the log",
            )

    def _check_links(self) -> None:
        for sequence, rec in sorted(self.chain.items()):
            before = self.chain.get(sequence - 1)
            if before is not None and rec.prev_hash != before.stored_hash:
                self._issue(
                    IssueKind.BROKEN_LINK,
                    sequence,
                    rec.line,
                    f"the entry does not follow entry {sequence - 1}: one of the two was "
                    "replaced or altered",
                )

    def _check_checkpoints(self) -> None:
        for sequence, rec in sorted(self.chain.items()):
            signed = rec.checkpoint
            if signed is None:
                continue
            if not self._signature_ok(signed):
                self._issue(
                    IssueKind.FORGED_CHECKPOINT,
                    sequence,
                    rec.line,
                    "the checkpoint's signature is not by the party's key, or does not verify",
                )
                continue
            signed_entry = self.chain.get(signed.head.sequence)
            if signed.head.sequence != sequence - 1 or (
                signed_entry is not None and signed_entry.stored_hash != signed.head.entry_hash
            ):
                self._issue(
                    IssueKind.REWRITTEN,
                    sequence,
                    rec.line,
                    f"the checkpoint signed entry {signed.head.sequence} as it was; the log "
                    "no longer has that entry: the log was rewritten and re-chained before here",
                    earliest=self._earliest_before(sequence),
                )
                continue
            self.checkpoints += 1
            self.anchors.append(signed.head.sequence)
            self.signed_through = max(self.signed_through or 0, signed.head.sequence)

    def _check_interval(self) -> None:
        genesis = self.chain.get(0)
        if genesis is None or genesis.checkpoint_every is None:
            return  # already reported as missing or edited
        every = genesis.checkpoint_every
        first = self.chain.get(1)
        if first is not None and first.action is not AuditAction.CHECKPOINT:
            self._issue(
                IssueKind.MISSING_CHECKPOINT,
                1,
                first.line,
                "the log's creation was not checkpointed: its start may have been replaced",
            )
        run, run_start = 0, 0
        for sequence, rec in sorted(self.chain.items()):
            if rec.action is AuditAction.CHECKPOINT:
                run = 0
            elif counts_toward_checkpoint(rec.action):
                run += 1
                run_start = sequence if run == 1 else run_start
                if run == every + 1:
                    self._issue(
                        IssueKind.MISSING_CHECKPOINT,
                        sequence,
                        rec.line,
                        f"more than {every} entries without a checkpoint: checkpoints were "
                        "removed, and the entries since the last one may have been rewritten",
                        earliest=run_start,
                    )

    def _check_witnesses(self) -> None:
        last = max(self.chain, default=-1)
        for signed in self.heads:
            head = signed.head
            if self.party is None and self._signature_ok(signed):
                self.party = head.party  # a log with no entries left is the witness's party's
            if head.party != self.party:
                self._issue(
                    IssueKind.BAD_WITNESS,
                    head.sequence,
                    None,
                    f"a witnessed head is of the log of {head.party!r}, not of this log",
                )
            elif not self._signature_ok(signed):
                self._issue(
                    IssueKind.BAD_WITNESS,
                    head.sequence,
                    None,
                    "a witnessed head is not signed by the party's key, or does not verify",
                )
            elif head.sequence > last:
                ends = f"ends at entry {last}" if last >= 0 else "has no entries"
                self._issue(
                    IssueKind.TRUNCATED,
                    last + 1,
                    None,
                    f"the log {ends}, but its head at entry {head.sequence} was signed and "
                    "given away: the log was cut back",
                )
            elif head.sequence in self.chain:
                rec = self.chain[head.sequence]
                if rec.stored_hash == head.entry_hash:
                    self.anchors.append(head.sequence)
                    self.witnessed_through = max(self.witnessed_through or 0, head.sequence)
                else:
                    self._issue(
                        IssueKind.REWRITTEN,
                        head.sequence,
                        rec.line,
                        "the entry differs from the one whose signed head was given away: "
                        "the log was rewritten and re-chained",
                        earliest=self._earliest_before(head.sequence),
                    )

    def _signature_ok(self, signed: SignedHead) -> bool:
        if signed.signer not in self.signers:
            return False
        try:
            verify_head(signed, signed.signer)
        except AuditError:
            return False
        return True

    def _earliest_before(self, sequence: int) -> int:
        vouched = [anchor for anchor in self.anchors if anchor < sequence]
        return max(vouched) + 1 if vouched else 0


def _log_party(recs: list[_Rec]) -> str | None:
    """The party named by entry 0, or else by most entries."""
    for rec in recs:
        if rec.sequence == 0 and rec.hash_ok:
            return rec.party
    common = Counter(rec.party for rec in recs).most_common(1)
    return common[0][0] if common else None


def _head_of(rec: _Rec, party: str | None) -> LogHead | None:
    if party is None:
        return None
    return LogHead(party=party, sequence=rec.sequence, entry_hash=rec.stored_hash, time=rec.time)


def _out_of_order(recs: list[_Rec]) -> list[_Rec]:
    """The records not on one longest increasing run of sequence numbers (in file order)."""
    tails: list[int] = []  # sequence numbers ending the best run of each length
    tail_index: list[int] = []
    back: list[int] = []
    for index, rec in enumerate(recs):
        length = bisect.bisect_left(tails, rec.sequence)
        if length == len(tails):
            tails.append(rec.sequence)
            tail_index.append(index)
        else:
            tails[length] = rec.sequence
            tail_index[length] = index
        back.append(tail_index[length - 1] if length > 0 else -1)
    keep: set[int] = set()
    index = tail_index[-1] if tail_index else -1
    while index >= 0:
        keep.add(index)
        index = back[index]
    return [rec for index, rec in enumerate(recs) if index not in keep]


def _runs(numbers: list[int]) -> Iterable[tuple[int, int]]:
    """Consecutive runs ``(first, last)`` in a sorted list of integers."""
    start = None
    previous = None
    for number in numbers:
        if start is None:
            start = number
        elif previous is not None and number != previous + 1:
            yield start, previous
            start = number
        previous = number
    if start is not None and previous is not None:
        yield start, previous


def _issue_order(issue: AuditIssue) -> tuple[int, int]:
    sequence = issue.sequence if issue.sequence is not None else (issue.line or 1) - 1
    return sequence, issue.line or 0
