"""docs/audit-log.md names every member of the closed vocabularies and every issue kind."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import pytest

from linkwell.audit import AuditAction, AuditDetail, CountName, DigestSubject, IssueKind

DOC = Path(__file__).resolve().parents[2] / "docs" / "audit-log.md"


@pytest.mark.parametrize(
    "vocabulary", [AuditAction, AuditDetail, CountName, DigestSubject, IssueKind]
)
def test_every_member_is_documented(vocabulary: type[StrEnum]) -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = [member.value for member in vocabulary if f"`{member.value}`" not in text]
    assert missing == []
