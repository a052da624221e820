"""What verifying an audit log finds: each problem with its kind and position, and the summary.

A :class:`VerifyReport` is plain data the command line renders (as a table or JSON) and an
auditor can keep; its messages are built from fixed words and numbers only, never from the log's
content. :meth:`VerifyReport.raise_for_issues` is the one place a failed verification becomes an
:class:`~linkwell.errors.AuditError`.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from linkwell.audit.head import LogHead
from linkwell.errors import AuditError

__all__ = ["AuditIssue", "IssueKind", "VerifyReport"]


class IssueKind(StrEnum):
    """What kind of change or damage a problem shows."""

    TORN = "torn"
    MALFORMED = "malformed"
    EDITED = "edited"
    BROKEN_LINK = "broken-link"
    INSERTED = "inserted"
    DELETED = "deleted"
    REORDERED = "reordered"
    MISSING_CHECKPOINT = "missing-checkpoint"
    FORGED_CHECKPOINT = "forged-checkpoint"
    REWRITTEN = "rewritten"
    TRUNCATED = "truncated"
    BAD_WITNESS = "bad-witness"
    WRONG_PARTY = "wrong-party"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AuditIssue(_Model):
    """One problem: its kind, where it was found, and what it means, in words without data.

    ``sequence`` is the entry the problem is at (``None`` for a line that is not an entry),
    ``line`` the 1-based line of the file (``None`` for an entry that is missing). For a
    rewrite, ``earliest`` is the first entry that may have been changed: everything from there
    to ``sequence`` is untrustworthy.
    """

    kind: IssueKind
    sequence: int | None
    line: int | None
    message: str
    earliest: int | None = None

    @property
    def position(self) -> str:
        """``entry N, line L`` for the parts that are known."""
        parts = []
        if self.sequence is not None:
            parts.append(f"entry {self.sequence}")
        if self.line is not None:
            parts.append(f"line {self.line}")
        return ", ".join(parts)


class VerifyReport(_Model):
    """The result of verifying one log.

    ``signed_through`` is the last entry a valid checkpoint vouches for, ``witnessed_through``
    the last entry a valid witnessed head vouches for; entries after both could have been
    rewritten or cut off by someone with write access to the file without anything showing.
    """

    path: Path
    party: str | None
    lines: int
    head: LogHead | None
    checkpoints: int
    signed_through: int | None
    witnesses: int
    witnessed_through: int | None
    repairs: int
    issues: tuple[AuditIssue, ...]

    @property
    def ok(self) -> bool:
        """Whether the log verified without any problem."""
        return not self.issues

    def raise_for_issues(self) -> None:
        """Raise an :class:`AuditError` naming the first problem, if there is any."""
        if self.ok:
            return
        first = self.issues[0]
        more = f" (and {len(self.issues) - 1} more problem(s))" if len(self.issues) > 1 else ""
        where = f" at {first.position}" if first.position else ""
        raise AuditError(
            f"the audit log fails verification: {first.kind.value}{where}: {first.message}{more}",
            file=self.path,
            row=first.line,
            hint="keep the log unchanged as evidence, list every problem with "
            "`linkwell audit verify`, and tell the project's data controller",
        )
