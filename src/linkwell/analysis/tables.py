"""The published tables: checked counts, rounded, with percentages and 95% intervals.

Every number shown comes from the cell system and its suppression codes, so a cell appears the
same in every table that shows it. Counts are rounded to the policy's base after suppression;
percentages and intervals are computed from the unrounded counts (weighted where the release is)
and shown only when both their counts are published and the denominator reaches the threshold.
Withheld values carry the symbols of the Government Statistical Service: ``[c]`` confidential,
``[z]`` not applicable, ``[low]`` rounds to zero but is not zero. Each table carries its
disclosure log: every withheld count with its rule, and the checks it passed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import numpy as np

from linkwell.analysis.cells import Pop, PopKey
from linkwell.analysis.collector import without_cycle_collection
from linkwell.analysis.disclosure import PUBLISHED, Protection, Rule, round_to_base
from linkwell.analysis.groups import (
    ALL_LEVEL,
    Breakdown,
    GroupKey,
    Level,
    group_label,
    sort_groups,
)
from linkwell.analysis.intervals import effective_n, wilson
from linkwell.analysis.publication import Publication, TableKind
from linkwell.analysis.services import ANY_SERVICE
from linkwell.config import DisclosurePolicy
from linkwell.errors import DisclosureError

__all__ = [
    "Column",
    "ColumnKind",
    "LogEntry",
    "OutputTable",
    "Symbol",
    "TableCell",
    "build_tables",
]


class Symbol(StrEnum):
    """GSS / Scottish Government symbols for values that are not shown."""

    CONFIDENTIAL = "[c]"
    NOT_APPLICABLE = "[z]"
    LOW = "[low]"


class ColumnKind(StrEnum):
    """What a column holds."""

    LABEL = "label"
    COUNT = "count"
    PERCENT = "percent"
    LOWER = "lower"
    UPPER = "upper"


@dataclass(frozen=True)
class Column:
    """A column: its key (for CSV headers), its reader's header and its kind."""

    key: str
    header: str
    kind: ColumnKind


@dataclass(frozen=True, slots=True)
class TableCell:
    """One shown value: a number, a label, or a symbol; ``cell`` indexes the cell system.

    Slotted: a national report's tables hold millions, each 40 bytes smaller so.
    """

    value: float | int | str | None = None
    symbol: Symbol | None = None
    cell: int | None = None

    @property
    def text(self) -> str:
        """How the value is written in tables: symbols as themselves, percentages to 1 dp."""
        if self.symbol is not None:
            return self.symbol.value
        if isinstance(self.value, float):
            return f"{self.value:.1f}"
        if isinstance(self.value, int):
            return f"{self.value:,}"
        return "" if self.value is None else str(self.value)


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One withheld count: where it is shown and why."""

    table: str
    row: str
    column: str
    rule: Rule


@dataclass(frozen=True)
class OutputTable:
    """A published table with its disclosure log and the checks it passed."""

    id: str
    title: str
    kind: TableKind
    breakdown: Breakdown | None
    columns: tuple[Column, ...]
    rows: tuple[tuple[TableCell, ...], ...]
    log: tuple[LogEntry, ...]
    checks: tuple[str, ...]
    notes: tuple[str, ...] = ()

    @property
    def suppressed(self) -> int:
        """How many counts in the table are withheld."""
        return len(self.log)


_LABEL: Final = ColumnKind.LABEL
_BREAKDOWN_TITLES: Final = {
    Breakdown.SEX_STAGE: "sex and stage",
    Breakdown.SIMD: "SIMD",
    Breakdown.URBAN_RURAL: "urban/rural class",
    Breakdown.AUTHORITY: "local authority",
    Breakdown.SCHOOL: "school",
}


@dataclass(frozen=True)
class _Ratio:
    """A percentage column with its interval: numerator and denominator populations."""

    key: str
    header: str
    numerator: Pop
    denominator: Pop


_NOT_APPLICABLE: Final = TableCell(symbol=Symbol.NOT_APPLICABLE)
_CONFIDENTIAL: Final = TableCell(symbol=Symbol.CONFIDENTIAL)
_SHOWN, _NOT_APPLICABLE_3, _CONFIDENTIAL_3 = 0, 1, 2  # how a percentage and interval show


@dataclass(frozen=True)
class _Group:
    """A row's group and the two cells that name it (its level, its label)."""

    key: GroupKey
    level: TableCell
    label: TableCell


class _Maker:
    """Builds tables from the publication and its protection."""

    def __init__(
        self, publication: Publication, protection: Protection, policy: DisclosurePolicy
    ) -> None:
        system = publication.system
        self.publication = publication
        self.policy = policy
        self.weighted = publication.prepared.weighted
        # Read a cell at a time, a million times for a national release: as Python lists, each
        # read is a list index instead of a NumPy scalar (a tenth of the time).
        self._codes: list[int] = protection.codes.tolist()
        self._rounded: list[int] = round_to_base(system.count, policy.rounding_base).tolist()
        self.protection = protection
        self._groups: dict[Breakdown, list[_Group]] = {}

    def count(self, index: int | None) -> TableCell:
        if index is None:
            return _NOT_APPLICABLE
        if self._codes[index] != PUBLISHED:
            return TableCell(symbol=Symbol.CONFIDENTIAL, cell=index)
        return TableCell(self._rounded[index], cell=index)

    def ratios(
        self,
        numerators: Sequence[int | None],
        denominators: Sequence[int | None],
        *,
        weighted: bool = True,
    ) -> list[list[TableCell]]:
        """Percentage, lower and upper bound cells for each ``numerator / denominator``.

        All pairs are computed at once: a national release has a million percentages, and
        one interval computed at a time cost 15 microseconds, nearly all of it NumPy's
        overhead on a single value.
        """
        system = self.publication.system
        num = np.array([-1 if i is None else i for i in numerators], dtype=np.int64)
        den = np.array([-1 if i is None else i for i in denominators], dtype=np.int64)
        known = (num >= 0) & (den >= 0)
        num, den = np.where(known, num, 0), np.where(known, den, 0)
        codes = self.protection.codes
        published = known & (codes[num] == PUBLISHED) & (codes[den] == PUBLISHED)
        size = system.count[den]
        shown = np.select(  # the first that applies, in the order the rules are read
            [~known, ~published, size == 0, size < self.policy.threshold],
            [_NOT_APPLICABLE_3, _CONFIDENTIAL_3, _NOT_APPLICABLE_3, _CONFIDENTIAL_3],
            default=_SHOWN,
        ).tolist()
        by_weight = (system.wsum[den] > 0) & (weighted and self.weighted)
        with np.errstate(divide="ignore", invalid="ignore"):  # in pairs shown as symbols
            share = np.where(
                by_weight,
                system.wsum[num] / system.wsum[den],
                system.count[num] / size,
            )
        n = np.where(
            by_weight, effective_n(system.wsum[den], system.wsq[den]), size.astype(np.float64)
        )
        low, high = wilson(share, n)
        withheld = {
            _NOT_APPLICABLE_3: [_NOT_APPLICABLE] * 3,
            _CONFIDENTIAL_3: [_CONFIDENTIAL] * 3,
        }
        return [
            [_percent(p), _percent(lo), _percent(hi)] if how == _SHOWN else withheld[how]
            for how, p, lo, hi in zip(
                shown, share.tolist(), low.tolist(), high.tolist(), strict=True
            )
        ]

    def rows_for(self, breakdown: Breakdown) -> list[_Group]:
        """Groups of a breakdown in reading order: the whole area, then coarse to fine."""
        found = self._groups.get(breakdown)
        if found is None:
            levels = self.publication.groups[breakdown]
            ordered: list[tuple[Level, GroupKey]] = [(ALL_LEVEL, ())]
            for level, groups in reversed(levels):
                if level != ALL_LEVEL:
                    ordered += [(level, g) for g in sort_groups(groups)]
            titles = {level: TableCell(level.title) for level, _ in ordered}
            found = [_Group(g, titles[level], TableCell(group_label(g))) for level, g in ordered]
            self._groups[breakdown] = found
        return found


def _percent(share: float) -> TableCell:
    value = 100.0 * share
    if 0 < value < 0.05:  # noqa: PLR2004 - half the last digit shown
        return TableCell(symbol=Symbol.LOW)
    return TableCell(round(value, 1))


def _ratio_columns(prefix: str, header: str) -> list[Column]:
    return [
        Column(f"{prefix}_pct", f"{header} (%)", ColumnKind.PERCENT),
        Column(f"{prefix}_lower", f"{header}: 95% CI lower (%)", ColumnKind.LOWER),
        Column(f"{prefix}_upper", f"{header}: 95% CI upper (%)", ColumnKind.UPPER),
    ]


def _label_columns(*first: tuple[str, str]) -> list[Column]:
    columns = [Column(key, header, _LABEL) for key, header in first]
    return [*columns, Column("level", "Breakdown level", _LABEL), Column("group", "Group", _LABEL)]


def _finish(
    maker: _Maker,
    *,
    table_id: str,
    title: str,
    kind: TableKind,
    breakdown: Breakdown | None,
    columns: list[Column],
    rows: list[list[TableCell]],
    notes: Sequence[str] = (),
) -> OutputTable:
    log: list[LogEntry] = []
    label_count = sum(1 for c in columns if c.kind is _LABEL)
    counts = [(i, c.header) for i, c in enumerate(columns) if c.kind is ColumnKind.COUNT]
    for row in rows:
        row_label = None  # written once a row, shared by its withheld counts' entries
        for position, header in counts:
            withheld = row[position]
            if withheld.symbol is not None and withheld.cell is not None:
                rule = maker.protection.rule(withheld.cell)
                if rule is not None:
                    if row_label is None:
                        row_label = " / ".join(str(c.value) for c in row[:label_count] if c.value)
                    log.append(LogEntry(table_id, row_label, header, rule))
    checks = _checks(maker, rows, columns)
    return OutputTable(
        id=table_id,
        title=title,
        kind=kind,
        breakdown=breakdown,
        columns=tuple(columns),
        rows=tuple(tuple(r) for r in rows),
        log=tuple(log),
        checks=checks,
        notes=tuple(notes),
    )


def _checks(maker: _Maker, rows: list[list[TableCell]], columns: list[Column]) -> tuple[str, ...]:
    """Verify the table's published counts against the policy; the passed checks, in words."""
    policy = maker.policy
    system = maker.publication.system
    cells = np.array(
        [
            v.cell
            for row in rows
            for c, v in zip(columns, row, strict=True)
            if c.kind is ColumnKind.COUNT and v.cell is not None and v.symbol is None
        ],
        dtype=np.int64,
    )
    counts = system.count[cells]
    if np.any((counts > 0) & (counts < policy.threshold)):
        raise DisclosureError(
            "a published count is below the threshold",
            hint="this is a bug in disclosure control; do not publish the output",
        )
    checks = [f"threshold: every published count is zero or at least {policy.threshold}"]
    if policy.suppress_sensitive_zeros:
        if np.any((counts == 0) & (system.base[cells] > 0)):
            raise DisclosureError(
                "a sensitive zero is published",
                hint="this is a bug in disclosure control; do not publish the output",
            )
        checks.append("sensitive zeros: no published zero describes a non-empty group")
    if maker.weighted:
        top, total = system.top[cells], system.wsum[cells]
        if np.any((total > 0) & (top > policy.dominance_k * total + 1e-9)):
            raise DisclosureError(
                "a published weighted cell is dominated by a few weights",
                hint="this is a bug in disclosure control; do not publish the output",
            )
        checks.append(
            f"dominance ({policy.dominance_n}, {policy.dominance_k:g}): no published weighted "
            f"total has its {policy.dominance_n} largest weights above "
            f"{policy.dominance_k:.0%} of it"
        )
    checks += [
        (
            "secondary suppression: each withheld count, given every published count in every "
            "table and every sum and inclusion between them (among one measure's counts, and "
            "children answering the SDQ total among those answering each subscale), "
            f"can still take a value at least {policy.threshold} away from its true one (checked "
            "by linear programming)"
        ),
        f"rounding: published counts rounded to the nearest {policy.rounding_base}",
        (
            "percentages: shown only where both counts are published and the denominator is "
            f"at least {policy.threshold}"
        ),
    ]
    if policy.national_only:
        checks.append(
            "national-only: " + ", ".join(policy.national_only) + " shown at authority level only"
        )
    return tuple(checks)


def _prevalence(maker: _Maker, breakdown: Breakdown) -> OutputTable:
    pub = maker.publication
    prevalence = pub.prevalence(breakdown)
    suffix = " (linked)" if prevalence.among_linked else ""
    columns = [
        *_label_columns(("need", "Need")),
        Column("answered", f"Children answering{suffix}", ColumnKind.COUNT),
        Column("with_need", f"With the need{suffix}", ColumnKind.COUNT),
        *_ratio_columns("prevalence", "Prevalence"),
    ]
    groups = maker.rows_for(breakdown)
    rows = []
    for need in pub.needs:
        need_cell = TableCell(need.title)
        known = [pub.cell(PopKey(prevalence.answered, need.name), g.key) for g in groups]
        yes = [pub.cell(PopKey(prevalence.yes, need.name), g.key) for g in groups]
        rows += [
            [need_cell, g.level, g.label, maker.count(k), maker.count(y), *ratio]
            for g, k, y, ratio in zip(groups, known, yes, maker.ratios(yes, known), strict=True)
        ]
    title = f"Prevalence of each need by {_BREAKDOWN_TITLES[breakdown]}"
    note = (
        f"Linked children only: a child's {_BREAKDOWN_TITLES[breakdown]} comes from the "
        "authority's row, so it is known only where that row was linked."
    )
    notes = (note,) if prevalence.among_linked else ()
    return _finish(
        maker,
        table_id=f"prevalence-{breakdown.value}",
        title=title,
        kind=TableKind.PREVALENCE,
        breakdown=breakdown,
        columns=columns,
        rows=rows,
        notes=notes,
    )


def _services(maker: _Maker, breakdown: Breakdown) -> OutputTable:
    pub = maker.publication
    columns = [
        *_label_columns(("service", "Service")),
        Column("linked", "Children linked", ColumnKind.COUNT),
        Column("receiving", "Receiving", ColumnKind.COUNT),
        *_ratio_columns("receipt", "Receipt"),
    ]
    groups = maker.rows_for(breakdown)
    linked = [pub.cell(PopKey(Pop.LINKED), g.key) for g in groups]
    linked_cells = [maker.count(c) for c in linked]
    rows = []
    for service in pub.services_for(breakdown):
        kinds = [(Pop.SVC_YES, service.title)]
        if service.name == ANY_SERVICE:
            kinds.append((Pop.SVC_NO, "Not in receipt of children's services"))
        for kind, title in kinds:
            label = TableCell(title)
            receiving = [pub.cell(PopKey(kind, service=service.name), g.key) for g in groups]
            rows += [
                [label, g.level, g.label, total, maker.count(r), *ratio]
                for g, total, r, ratio in zip(
                    groups, linked_cells, receiving, maker.ratios(receiving, linked), strict=True
                )
            ]
    title = f"Receipt of each service by {_BREAKDOWN_TITLES[breakdown]}"
    notes = ("Linked children only: services are known only where the authority's row was linked.",)
    return _finish(
        maker,
        table_id=f"services-{breakdown.value}",
        title=title,
        kind=TableKind.SERVICES,
        breakdown=breakdown,
        columns=columns,
        rows=rows,
        notes=notes,
    )


_JOINT_COLUMNS: Final = [
    Column("with_need_linked", "With the need (linked)", ColumnKind.COUNT),
    Column("need_and_service", "With the need, receiving", ColumnKind.COUNT),
    *_ratio_columns("reach", "Reach"),
    Column("need_no_service", "With the need, not receiving", ColumnKind.COUNT),
    *_ratio_columns("unmet", "Not receiving"),
    Column("service_need_known", "Receiving (need known)", ColumnKind.COUNT),
    Column("service_no_need", "Receiving, without the need", ColumnKind.COUNT),
    *_ratio_columns("targeting", "Targeting"),
]


def _joint_rows(
    maker: _Maker, need: str, service: str, groups: Sequence[_Group]
) -> list[list[TableCell]]:
    """The joint columns of ``need`` and ``service`` for each of ``groups``."""
    pub = maker.publication
    names = {"need": need, "service": service}

    def cells(pop: PopKey) -> list[int | None]:
        return [pub.cell(pop, g.key) for g in groups]

    need_linked = cells(PopKey(Pop.NEED_LINKED, need=need))
    a = cells(PopKey(Pop.JOINT_A, **names))
    b = cells(PopKey(Pop.JOINT_B, **names))
    c = cells(PopKey(Pop.JOINT_C, **names))
    known = cells(PopKey(Pop.SVC_KNOWN, **names))
    return [
        [
            maker.count(linked_i),
            maker.count(a_i),
            *reach,
            maker.count(b_i),
            *unmet,
            maker.count(known_i),
            maker.count(c_i),
            *targeting,
        ]
        for (linked_i, a_i, b_i, c_i, known_i), reach, unmet, targeting in zip(
            zip(need_linked, a, b, c, known, strict=True),
            maker.ratios(a, need_linked),
            maker.ratios(b, need_linked),
            maker.ratios(a, known),
            strict=True,
        )
    ]


def _reach(maker: _Maker, breakdown: Breakdown) -> OutputTable:
    pub = maker.publication
    columns = [*_label_columns(("need", "Need")), *_JOINT_COLUMNS]
    groups = maker.rows_for(breakdown)
    rows = []
    for need in pub.needs:
        need_cell = TableCell(need.title)
        rows += [
            [need_cell, g.level, g.label, *joint]
            for g, joint in zip(
                groups, _joint_rows(maker, need.name, ANY_SERVICE, groups), strict=True
            )
        ]
    title = f"Reach of any service, and need without any service, by {_BREAKDOWN_TITLES[breakdown]}"
    notes = (
        (
            "Reach: % of linked children with the need who receive any children's service. "
            "Not receiving: % of them with no service (unmet need). Targeting: % of children "
            "receiving any service (whose need is known) who report the need."
        ),
    )
    return _finish(
        maker,
        table_id=f"reach-{breakdown.value}",
        title=title,
        kind=TableKind.REACH,
        breakdown=breakdown,
        columns=columns,
        rows=rows,
        notes=notes,
    )


def _matrix(maker: _Maker) -> OutputTable:
    pub = maker.publication
    columns = [*_label_columns(("need", "Need"), ("service", "Service")), *_JOINT_COLUMNS]
    groups = maker.rows_for(Breakdown.AUTHORITY)
    rows = []
    for need in pub.needs:
        need_title = TableCell(need.title)
        for service in pub.matrix_services:
            service_title = TableCell(service.title)
            rows += [
                [need_title, service_title, g.level, g.label, *joint]
                for g, joint in zip(
                    groups, _joint_rows(maker, need.name, service.name, groups), strict=True
                )
            ]
    notes = (
        "Flags withheld under the national-only policy are not crossed with needs: "
        + (", ".join(maker.policy.national_only) or "none")
        + ".",
    )
    return _finish(
        maker,
        table_id="matrix-authority",
        title="Need x service matrix: reach and targeting of every service",
        kind=TableKind.MATRIX,
        breakdown=Breakdown.AUTHORITY,
        columns=columns,
        rows=rows,
        notes=notes,
    )


def _linkage(maker: _Maker, breakdown: Breakdown) -> OutputTable:
    pub = maker.publication
    columns = [
        *_label_columns(),
        Column("surveyed", "Children surveyed", ColumnKind.COUNT),
        Column("linked", "Linked to authority data", ColumnKind.COUNT),
        *_ratio_columns("linked", "Linked"),
    ]
    groups = maker.rows_for(breakdown)
    surveyed = [pub.cell(PopKey(Pop.SURVEYED), g.key) for g in groups]
    linked = [pub.cell(PopKey(Pop.LINKED), g.key) for g in groups]
    rows = [
        [g.level, g.label, maker.count(s), maker.count(k), *ratio]
        for g, s, k, ratio in zip(
            groups, surveyed, linked, maker.ratios(linked, surveyed, weighted=False), strict=True
        )
    ]
    title = f"Linkage of surveyed children to authority data by {_BREAKDOWN_TITLES[breakdown]}"
    return _finish(
        maker,
        table_id=f"linkage-{breakdown.value}",
        title=title,
        kind=TableKind.LINKAGE,
        breakdown=breakdown,
        columns=columns,
        rows=rows,
    )


_BUILDERS: Final = {
    TableKind.PREVALENCE: _prevalence,
    TableKind.SERVICES: _services,
    TableKind.REACH: _reach,
    TableKind.LINKAGE: _linkage,
}


def build_tables(
    publication: Publication,
    protection: Protection,
    policy: DisclosurePolicy,
    *,
    on_table: Callable[[OutputTable], None] | None = None,
) -> tuple[OutputTable, ...]:
    """Every table of the publication, in report order.

    ``on_table`` is given each table as soon as it is made, so that writing it can begin while
    the rest are made.
    """
    maker = _Maker(publication, protection, policy)
    makers: list[Callable[[], OutputTable]] = [
        functools.partial(_BUILDERS[kind], maker, plan.breakdown)
        for kind in (TableKind.PREVALENCE, TableKind.SERVICES, TableKind.REACH)
        for plan in publication.plans
        if kind in publication.kinds[plan.breakdown]
    ]
    makers.append(functools.partial(_matrix, maker))
    makers += [
        functools.partial(_linkage, maker, plan.breakdown)
        for plan in publication.plans
        if TableKind.LINKAGE in publication.kinds[plan.breakdown]
    ]
    tables = []
    for make in makers:
        with without_cycle_collection():
            table = make()
        if on_table is not None:
            on_table(table)
        tables.append(table)
    return tuple(tables)
