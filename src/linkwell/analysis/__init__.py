"""Need measures, coverage tables and disclosure control over a linkwell release.

:func:`analyse` takes the release file and a :class:`~linkwell.config.DisclosurePolicy` and
returns every table, model and disclosure log the report publishes; the registries document each
measure; :func:`protect` is the disclosure control applied to any cell system. Names are imported
on first use: the audit's worker processes load only the modules they run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from linkwell._exports import on_first_use

if TYPE_CHECKING:
    from linkwell.analysis.disclosure import AuditSummary, Protection, Rule, protect
    from linkwell.analysis.model import ModelResult, ModelStatus
    from linkwell.analysis.needs import NEED_REGISTRY, NeedMeasure
    from linkwell.analysis.pipeline import Analysis, analyse
    from linkwell.analysis.services import SERVICE_REGISTRY, ServiceMeasure, ServiceScope
    from linkwell.analysis.tables import (
        Column,
        ColumnKind,
        LogEntry,
        OutputTable,
        Symbol,
        TableCell,
    )

_EXPORTS: dict[str, str] = {
    "Analysis": "linkwell.analysis.pipeline",
    "analyse": "linkwell.analysis.pipeline",
    "AuditSummary": "linkwell.analysis.disclosure",
    "Protection": "linkwell.analysis.disclosure",
    "Rule": "linkwell.analysis.disclosure",
    "protect": "linkwell.analysis.disclosure",
    "ModelResult": "linkwell.analysis.model",
    "ModelStatus": "linkwell.analysis.model",
    "NEED_REGISTRY": "linkwell.analysis.needs",
    "NeedMeasure": "linkwell.analysis.needs",
    "SERVICE_REGISTRY": "linkwell.analysis.services",
    "ServiceMeasure": "linkwell.analysis.services",
    "ServiceScope": "linkwell.analysis.services",
    "Column": "linkwell.analysis.tables",
    "ColumnKind": "linkwell.analysis.tables",
    "LogEntry": "linkwell.analysis.tables",
    "OutputTable": "linkwell.analysis.tables",
    "Symbol": "linkwell.analysis.tables",
    "TableCell": "linkwell.analysis.tables",
}

__all__ = [
    "NEED_REGISTRY",
    "SERVICE_REGISTRY",
    "Analysis",
    "AuditSummary",
    "Column",
    "ColumnKind",
    "LogEntry",
    "ModelResult",
    "ModelStatus",
    "NeedMeasure",
    "OutputTable",
    "Protection",
    "Rule",
    "ServiceMeasure",
    "ServiceScope",
    "Symbol",
    "TableCell",
    "analyse",
    "protect",
]

__getattr__ = on_first_use(__name__, _EXPORTS)


def __dir__() -> list[str]:
    return sorted(__all__)
