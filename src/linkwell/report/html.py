"""The HTML report: one self-contained file rendered by Jinja2 with autoescaping.

Nothing is fetched when the page opens: styles are inline, charts are inline SVG, there is no
script and no web font. Every value reaches the page through the template's autoescaping except
the SVG charts, which :mod:`linkwell.report.charts` builds with every text escaped. Large tables
keep their finest level (schools) out of the page, which points to the workbook instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from linkwell.analysis.pipeline import Analysis
from linkwell.analysis.services import ServiceScope
from linkwell.analysis.tables import ColumnKind, OutputTable
from linkwell.report.charts import Chart
from linkwell.report.findings import Finding

__all__ = ["HTML_ROW_LIMIT", "HtmlContent", "render_html"]

HTML_ROW_LIMIT: Final = 1500
"""Rows a table may show in the page before its finest level is left to the workbook."""
_KIND_TITLES: Final = {
    "prevalence": "Prevalence of needs",
    "services": "Receipt of services",
    "reach": "Reach, unmet need and targeting of any service",
    "matrix": "Every need against every service",
    "linkage": "Linkage",
}
_SCOPE_TEXT: Final = {
    ServiceScope.TOP: "for the whole area and each authority only",
    ServiceScope.NATIONAL_ONLY: (
        "at authority level only (national-only policy); finer cells withheld"
    ),
}


@dataclass(frozen=True)
class HtmlContent:
    """Everything the page shows besides the analysis itself."""

    title: str
    lede: str
    findings: Sequence[Finding]
    main_charts: Sequence[Chart]
    school_charts: Sequence[Chart]
    model_headers: Sequence[str]
    model_rows: Sequence[Sequence[object]]
    method: dict[str, object]
    caveats: Sequence[str]
    configuration: Sequence[tuple[str, str]]
    checksums: Sequence[tuple[str, str]]
    workbook_name: str
    symbols: Sequence[tuple[str, str]]
    version: str


@dataclass(frozen=True)
class _Cell:
    text: str
    numeric: bool = False
    symbol: bool = False
    row_header: bool = False


def _table_view(table: OutputTable) -> dict[str, object]:
    kinds = [c.kind for c in table.columns]
    header_at = max(i for i, k in enumerate(kinds) if k is ColumnKind.LABEL)
    level_at = next((i for i, c in enumerate(table.columns) if c.header == "Breakdown level"), None)
    rows = list(table.rows)
    omitted = 0
    if len(rows) > HTML_ROW_LIMIT and level_at is not None:
        levels = [str(r[level_at].value) for r in rows]
        finest = max(set(levels), key=levels.count)
        kept = [r for r, level in zip(rows, levels, strict=True) if level != finest]
        omitted = len(rows) - len(kept)
        rows = kept
    view_rows = [
        [
            _Cell(
                cell.text,
                numeric=kind is not ColumnKind.LABEL,
                symbol=cell.symbol is not None,
                row_header=i == header_at,
            )
            for i, (kind, cell) in enumerate(zip(kinds, row, strict=True))
        ]
        for row in rows
    ]
    return {
        "id": table.id,
        "title": table.title,
        "notes": table.notes,
        "columns": [
            {"header": c.header, "numeric": c.kind is not ColumnKind.LABEL} for c in table.columns
        ],
        "rows": view_rows,
        "row_count": len(table.rows),
        "suppressed": table.suppressed,
        "omitted": omitted,
    }


def _disclosure_view(analysis: Analysis) -> dict[str, object]:
    outputs = [
        {
            "id": table.id,
            "status": "pass" if not table.suppressed else "pass, with suppression",
            "css": "status-pass" if not table.suppressed else "status-suppressed",
            "suppressed": table.suppressed,
        }
        for table in analysis.tables
    ]
    audit = analysis.audit
    policy = analysis.policy
    text = [
        f"Counts below {policy.threshold} are withheld (primary suppression), as are zeros that "
        "would reveal something about every child in a group (sensitive zeros)"
        + (
            ", weighted totals dominated by a few children's weights"
            if analysis.release.weighted
            else ""
        )
        + " and the national-only flags below authority level.",
        (
            "Other counts are then withheld (secondary suppression) so that none of the withheld "
            "counts can be worked out from the others: every table is suppressed together, so a "
            "margin shared by two tables is withheld in both or in neither, and the intruder is "
            "assumed to know every published count exactly and every sum and inclusion between "
            "tables. The pattern is audited by linear programming: each withheld count can "
            f"still take values over a range at least {policy.threshold} wide. The sums and "
            "inclusions are those among the counts of one measure (a group and its parts, "
            "children linked among all, a service within its family) and, between measures, "
            "that a child with an SDQ total answered every subscale; that secondary and primary "
            "items are answered by different children is not among them, so it may narrow a "
            "withheld count. ACRO, the safe-haven output checker, does no secondary "
            "suppression; this does."
        ),
        (
            "The cell system behind the tables, which also holds the counts they imply "
            "(children without each need, or not receiving each service) and counts each "
            f"once however many tables show it, has {audit.withheld:,} counts withheld, audited by "
            f"{audit.linear_programmes:,} linear programmes. Which rule withheld each count is "
            "not published: that a count is below the threshold, or a sensitive zero, is what "
            "withholding it hides. The analyst keeps that record, the disclosure log, with the "
            "release."
        ),
        (
            f"Counts are then rounded to the nearest {policy.rounding_base}; "
            "rounding comes after suppression because the threshold must judge true counts, and "
            "rounding is not relied on for protection because percentages are computed from "
            "unrounded counts."
        ),
    ]
    checks = list(analysis.tables[0].checks) if analysis.tables else []
    return {
        "text": text,
        "outputs": outputs,
        "checks": checks,
        "models_withheld": sum(1 for m in analysis.models if m.odds_ratio is None),
    }


def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("linkwell.report", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def render_html(analysis: Analysis, content: HtmlContent) -> str:
    """The whole report page."""
    groups: dict[str, list[dict[str, object]]] = {}
    for table in analysis.tables:
        groups.setdefault(table.kind.value, []).append(_table_view(table))
    services = [
        {
            "title": s.title,
            "definition": s.definition,
            "scope": s.scope.value,
            "scope_text": _SCOPE_TEXT.get(s.scope, ""),
        }
        for s in analysis.services
    ]
    template = _environment().get_template("report.html.j2")
    return template.render(
        title=content.title,
        lede=content.lede,
        version=content.version,
        policy=analysis.policy,
        findings=content.findings,
        main_charts=content.main_charts,
        school_charts=content.school_charts,
        model_headers=content.model_headers,
        model_rows=content.model_rows,
        table_groups=[
            {"title": _KIND_TITLES.get(kind, kind), "tables": tables}
            for kind, tables in groups.items()
        ],
        needs=analysis.needs,
        services=services,
        method=content.method,
        caveats=content.caveats,
        disclosure=_disclosure_view(analysis),
        configuration=content.configuration,
        checksums=content.checksums,
        workbook_name=content.workbook_name,
        symbols=content.symbols,
    )
