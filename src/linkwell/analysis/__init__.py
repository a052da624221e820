"""Need measures, coverage tables and disclosure control over a linkwell release.

:func:`analyse` takes the release file and a :class:`~linkwell.config.DisclosurePolicy` and
returns every table, model and disclosure log the report publishes; the registries document each
measure; :func:`protect` is the disclosure control applied to any cell system.
"""

from linkwell.analysis.analyse import Analysis, analyse
from linkwell.analysis.disclosure import AuditSummary, Protection, Rule, protect
from linkwell.analysis.model import ModelResult, ModelStatus
from linkwell.analysis.needs import NEED_REGISTRY, NeedMeasure
from linkwell.analysis.services import SERVICE_REGISTRY, ServiceMeasure, ServiceScope
from linkwell.analysis.tables import Column, ColumnKind, LogEntry, OutputTable, Symbol, TableCell

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
