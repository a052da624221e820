"""Tamper-evident audit logs: one hash-chained, append-only log per party, with signed heads.

:class:`AuditLog` writes a party's log; :func:`verify_log` checks one and reports every problem
with its position; a :class:`SignedHead` from :meth:`AuditLog.checkpoint` travels in each sealed
package so that recipients can later prove the sender's log was not cut back or rewritten.
The format and its guarantees are described in ``docs/audit-log.md``.
"""

from linkwell.audit.entry import (
    AuditAction,
    AuditDetail,
    AuditEntry,
    CountName,
    DigestRef,
    DigestSubject,
    PackageRef,
)
from linkwell.audit.findings import AuditIssue, IssueKind, VerifyReport
from linkwell.audit.head import (
    LogHead,
    SignedHead,
    public_key_from_text,
    public_key_text,
    sign_head,
    verify_head,
)
from linkwell.audit.log import (
    DEFAULT_CHECKPOINT_EVERY,
    AuditLog,
    LogLine,
    RepairResult,
    read_log,
    repair_log,
)
from linkwell.audit.verify import verify_log
from linkwell.audit.witness import load_witnesses, signing_keys, verify_log_files

__all__ = [
    "DEFAULT_CHECKPOINT_EVERY",
    "AuditAction",
    "AuditDetail",
    "AuditEntry",
    "AuditIssue",
    "AuditLog",
    "CountName",
    "DigestRef",
    "DigestSubject",
    "IssueKind",
    "LogHead",
    "LogLine",
    "PackageRef",
    "RepairResult",
    "SignedHead",
    "VerifyReport",
    "load_witnesses",
    "public_key_from_text",
    "public_key_text",
    "read_log",
    "repair_log",
    "sign_head",
    "signing_keys",
    "verify_head",
    "verify_log",
    "verify_log_files",
]
