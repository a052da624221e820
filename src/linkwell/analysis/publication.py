"""What the report publishes for a release, counted and assembled into one cell system.

The publication plan decides which tables each breakdown gets (prevalence of needs, receipt of
services, reach of any service, the full need x service matrix at authority level, linkage), and
therefore which populations are counted for which groups. Counting is delegated to
:mod:`linkwell.analysis.aggregate`; this module turns the counts into cells, deduplicated across
breakdowns, with every sum and inclusion relation between them, ready for disclosure control.
"""

from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, NamedTuple

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from linkwell.analysis.aggregate import MEMBERS, Atom, aggregate, measure_column
from linkwell.analysis.cells import CellSystem, CellSystemBuilder, Pop, PopKey
from linkwell.analysis.collector import without_cycle_collection
from linkwell.analysis.groups import ALL_LEVEL, Breakdown, BreakdownPlan, GroupKey, Level
from linkwell.analysis.needs import NeedMeasure
from linkwell.analysis.services import ANY_SERVICE, ServiceMeasure, ServiceScope
from linkwell.analysis.source import PreparedRelease
from linkwell.engine import Engine, quote_ident
from linkwell.progress import SILENT, Progress

__all__ = ["Prevalence", "Publication", "TableKind", "build_publication"]


class TableKind(StrEnum):
    """The kinds of table the report publishes."""

    PREVALENCE = "prevalence"
    SERVICES = "services"
    REACH = "reach"
    MATRIX = "matrix"
    LINKAGE = "linkage"


_KINDS: Final[dict[Breakdown, tuple[TableKind, ...]]] = {
    Breakdown.SEX_STAGE: (TableKind.PREVALENCE, TableKind.SERVICES, TableKind.REACH),
    Breakdown.SIMD: (TableKind.PREVALENCE, TableKind.SERVICES, TableKind.REACH),
    Breakdown.URBAN_RURAL: (TableKind.PREVALENCE, TableKind.SERVICES, TableKind.REACH),
    Breakdown.AUTHORITY: (
        TableKind.PREVALENCE,
        TableKind.SERVICES,
        TableKind.REACH,
        TableKind.MATRIX,
        TableKind.LINKAGE,
    ),
    Breakdown.SCHOOL: (TableKind.PREVALENCE, TableKind.SERVICES, TableKind.REACH),
}
"""Linkage is published by authority only, under disclosure control like every other count (a
rate from the linker's exact counts beside the tables' linked children gave away how many
children of a school were not linked). Linkage by school withheld 15% more counts across the
tables of a 20,000-pupil release, and with it, or by sex and stage, the audit of a
1,000,000-pupil release did not end in a quarter of an hour (against about a minute)."""
_LINKED_ONLY: Final = frozenset({Breakdown.SIMD, Breakdown.URBAN_RURAL})
"""Breakdowns by a class only the authority's row gives, so known for linked children alone.

Their prevalence is counted among linked children. Counted among everyone surveyed, a known
class would have two counts of its children with a need (with the need; with the need and
linked) that anyone reading the method knows are equal, and a count withheld as one of them
could be read from the other, or pinned by the relations each takes part in; the disclosure
audit, which knows only the relations it is given, cannot search such a system in time at
national scale. The children of the "not known" class are then the linked children without a
class, and the unlinked children's needs are counted in every other breakdown."""


class Prevalence(NamedTuple):
    """The populations of a prevalence table, and the counted atoms they come from."""

    answered: Pop
    yes: Pop
    no: Pop
    yes_atom: str
    no_atom: str
    among_linked: bool


_OF_EVERYONE: Final = Prevalence(
    Pop.NEED_KNOWN, Pop.NEED_YES, Pop.NEED_NO, "need_yes", "need_no", among_linked=False
)
_OF_LINKED: Final = Prevalence(
    Pop.NEED_KNOWN_LINKED, Pop.NEED_LINKED, Pop.NEED_NO_LINKED, "r", "rn", among_linked=True
)
"""The prevalence of linked children (see ``_LINKED_ONLY``). Its counts are not tied to the
whole area's counts of everyone (beyond the joint tables' "with the need, linked" <= "with the
need"): where nearly every child was linked those inclusions are tight, and the audit's rule for
them (suppressed together or published together) carried a withheld whole-area count into every
class's linked children and services, which stalled the audit of a 1,000,000-pupil release. The
independent attack in the tests knows them."""
_TOP_LEVELS: Final = frozenset({"authority", "all"})
_MARGINS: Final = frozenset(kind for kind in Pop if kind.margin)
_TOTALS: Final = frozenset(kind for kind in Pop if kind.is_total)
_RANKS: Final = {kind: 2 if kind is Pop.LINKED else int(kind.margin) for kind in Pop}
"""Secondary suppression's order within a level: interior cells, then margins, then linked."""


@dataclass(frozen=True)
class Publication:
    """The counted cell system and what the tables are made of.

    ``groups`` lists, per breakdown, each level with the groups found in the release (finest
    level first); ``kinds`` the tables each breakdown gets.
    """

    prepared: PreparedRelease
    plans: tuple[BreakdownPlan, ...]
    groups: dict[Breakdown, tuple[tuple[Level, tuple[GroupKey, ...]], ...]]
    kinds: dict[Breakdown, tuple[TableKind, ...]]
    system: CellSystem

    @property
    def needs(self) -> tuple[NeedMeasure, ...]:
        """Needs with at least one child answering."""
        return self.prepared.needs

    @property
    def services(self) -> tuple[ServiceMeasure, ...]:
        """Every service of the release."""
        return self.prepared.services

    def services_for(self, breakdown: Breakdown) -> tuple[ServiceMeasure, ...]:
        """Services shown in ``breakdown``'s tables (TOP-scope ones by authority only)."""
        return _services_for(self.prepared.services, breakdown)

    @property
    def matrix_services(self) -> tuple[ServiceMeasure, ...]:
        """Services in the need x service matrix: every FULL-scope one."""
        return _matrix_services(self.prepared.services)

    def cell(self, pop: PopKey, group: GroupKey) -> int | None:
        """Index of the cell counting ``pop`` in ``group``, if it is part of the publication."""
        return self.system.find(pop, group)

    @staticmethod
    def prevalence(breakdown: Breakdown) -> Prevalence:
        """``breakdown``'s prevalence: of linked children (SIMD, urban/rural) or of everyone."""
        return _OF_LINKED if breakdown in _LINKED_ONLY else _OF_EVERYONE


def _services_for(
    services: Sequence[ServiceMeasure], breakdown: Breakdown
) -> tuple[ServiceMeasure, ...]:
    if breakdown is Breakdown.AUTHORITY:
        return tuple(services)
    return tuple(s for s in services if s.scope is not ServiceScope.TOP)


def _matrix_services(services: Sequence[ServiceMeasure]) -> tuple[ServiceMeasure, ...]:
    return tuple(s for s in services if s.scope is ServiceScope.FULL)


def _joint_pairs(
    prepared: PreparedRelease, kinds: Sequence[TableKind]
) -> list[tuple[NeedMeasure, ServiceMeasure]]:
    services = {s.name: s for s in prepared.services}
    pairs: list[tuple[NeedMeasure, ServiceMeasure]] = []
    if TableKind.MATRIX in kinds:
        pairs = [(n, s) for n in prepared.needs for s in _matrix_services(prepared.services)]
    elif TableKind.REACH in kinds and ANY_SERVICE in services:
        pairs = [(n, services[ANY_SERVICE]) for n in prepared.needs]
    return pairs


def _atoms(prepared: PreparedRelease, breakdown: Breakdown) -> list[Atom]:
    kinds = _KINDS[breakdown]
    linked = quote_ident("linked")
    atoms = [
        Atom("surveyed", "TRUE", weighted=False),
        Atom("linked", linked),
        Atom("not_linked", f"NOT {linked}", weighted=False),
    ]
    among_linked = breakdown in _LINKED_ONLY
    if not among_linked:
        for need in prepared.needs:
            column = quote_ident(prepared.need_column(need.name))
            atoms += [
                Atom(f"need_yes|{need.name}", column),
                Atom(f"need_no|{need.name}", f"NOT {column}"),
            ]
    for service in _services_for(prepared.services, breakdown):
        column = quote_ident(prepared.service_column(service.name))
        atoms.append(Atom(f"svc_yes|{service.name}", column))
    pairs = _joint_pairs(prepared, kinds)
    # Children with the need who were linked, and those who answered and were linked: the
    # joint tables' bases, and with those without the need who were linked, the prevalence of
    # a breakdown counted among linked children.
    for need in prepared.needs if among_linked else dict.fromkeys(n for n, _ in pairs):
        n = quote_ident(prepared.need_column(need.name))
        atoms += [
            Atom(f"r|{need.name}", f"{n} AND {linked}"),
            Atom(f"base|{need.name}", f"{n} IS NOT NULL AND {linked}", weighted=False),
        ]
        if among_linked:
            atoms.append(Atom(f"rn|{need.name}", f"NOT {n} AND {linked}"))
    for need, service in pairs:
        n = quote_ident(prepared.need_column(need.name))
        s = quote_ident(prepared.service_column(service.name))
        suffix = f"{need.name}|{service.name}"
        atoms += [
            Atom(f"a|{suffix}", f"{n} AND {s}"),
            Atom(f"k|{suffix}", f"{n} IS NOT NULL AND {s}"),
        ]
    return atoms


def _minus(whole: str, part: str) -> str:
    """A derived atom: the children of ``whole`` not in ``part`` (``part`` inside ``whole``)."""
    return f"{whole}-{part}"


class _Counts:
    """One breakdown's aggregated statistics, a column of doubles per statistic and atom.

    Each column is read from Arrow once, for every group at once, and a derived atom (see
    :func:`_minus`) is computed once as a column: a national release reads a statistic six
    million times, each now a look-up and an index. A column is a typed array, not a list:
    indexed as fast, at eight bytes a value instead of a float object and a pointer (a
    national breakdown's columns held over a hundred megabytes as lists).
    """

    def __init__(self, table: pa.Table) -> None:
        self._table = table
        self._positions = {name: i for i, name in enumerate(table.column_names)}
        self._columns: dict[tuple[str, str], array[float]] = {}

    def column(self, stat: str, atom: str) -> array[float]:
        key = (stat, atom)
        found = self._columns.get(key)
        if found is None:
            found = self._columns[key] = array("d", self._read(stat, atom).tobytes())
        return found

    def _read(self, stat: str, atom: str) -> NDArray[np.float64]:
        if "-" in atom:  # a difference of two counted atoms, see _minus
            whole, part = atom.split("-", 1)
            if stat == "top":  # the largest weights of a subset never exceed the whole's
                return self._read(stat, whole)
            return self._read(stat, whole) - self._read(stat, part)
        position = self._positions.get(measure_column(stat, atom))
        if position is None:
            return np.zeros(self._table.num_rows)
        column = self._table.column(position).fill_null(0)
        return np.asarray(column.to_numpy(), dtype=np.float64)


class _Row:
    """One aggregated group's statistics, read by atom name."""

    __slots__ = ("_counts", "_position")

    def __init__(self, counts: _Counts, position: int) -> None:
        self._counts = counts
        self._position = position

    def stat(self, stat: str, atom: str) -> float:
        return self._counts.column(stat, atom)[self._position]

    def n(self, atom: str) -> int:
        return int(self._counts.column("n", atom)[self._position])

    def total(self, stat: str, atoms: Sequence[str]) -> float:
        """``stat`` summed over ``atoms``."""
        if len(atoms) == 1:
            return self.stat(stat, atoms[0])
        return sum(self.stat(stat, atom) for atom in atoms)


def _rows(
    plan: BreakdownPlan, table: pa.Table
) -> Iterator[tuple[Level, GroupKey, _Row, tuple[int, int]]]:
    """Each counted group, with its children's identity: their rows' hash and their number."""
    columns = table.select([*plan.dims, *(f"g:{d}" for d in plan.dims), MEMBERS]).to_pydict()
    counts = _Counts(table)
    for position in range(table.num_rows):
        dims = [d for d in plan.dims if columns[f"g:{d}"][position] == 0]
        level = plan.level_of(dims)
        key = plan.canonical(level, tuple((d, columns[d][position]) for d in level.dims))
        if key is not None:
            row = _Row(counts, position)
            yield level, key, row, (columns[MEMBERS][position], row.n("surveyed"))


class _Assembler:
    """Adds one breakdown's counted groups to the builder as cells and relations."""

    def __init__(self, builder: CellSystemBuilder, prepared: PreparedRelease) -> None:
        self.builder = builder
        self.prepared = prepared
        # The populations counted, in the order first met: one key object each however many
        # groups count it, and an order that does not depend on hashing (see _hierarchy).
        self.pops: dict[PopKey, PopKey] = {}

    def _cell(
        self,
        pop: PopKey,
        group: GroupKey,
        level: Level,
        row: _Row,
        parts: Sequence[str],
        *,
        base: int = 0,
        national_only: bool = False,
    ) -> int:
        pop = self.pops.setdefault(pop, pop)
        interior = pop.kind not in _MARGINS
        return self.builder.cell(
            (pop, group),
            int(row.total("n", parts)),
            wsum=row.total("w", parts),
            wsq=row.total("q", parts),
            top=row.stat("top", parts[0]) if interior and len(parts) == 1 else 0.0,
            base=base if pop.kind not in _TOTALS else 0,
            cost=level.rank * 10 + _RANKS[pop.kind],
            national_only=national_only,
        )

    def add(self, breakdown: Breakdown, level: Level, group: GroupKey, row: _Row) -> None:
        kinds = _KINDS[breakdown]
        linked = self._cell(PopKey(Pop.LINKED), group, level, row, ["linked"])
        surveyed = None
        if TableKind.LINKAGE in kinds:
            surveyed = self._cell(PopKey(Pop.SURVEYED), group, level, row, ["surveyed"])
            not_linked = self._cell(
                PopKey(Pop.NOT_LINKED), group, level, row, ["not_linked"], base=row.n("surveyed")
            )
            self.builder.equal(surveyed, [linked, not_linked])
        if TableKind.PREVALENCE in kinds:
            prevalence = Publication.prevalence(breakdown)
            within = linked if prevalence.among_linked else surveyed
            self._needs(prevalence, level, group, row, within)
        if TableKind.SERVICES in kinds:
            self._services(breakdown, level, group, row, linked)
        for need, service in _joint_pairs(self.prepared, kinds):
            self._joint(need, service, level, group, row)

    def _needs(
        self, of: Prevalence, level: Level, group: GroupKey, row: _Row, within: int | None
    ) -> None:
        """Each need's answered, yes and no cells; ``within``: the children answered is among."""
        b = self.builder
        answered: dict[str, int] = {}
        for need in self.prepared.needs:
            yes_atom, no_atom = f"{of.yes_atom}|{need.name}", f"{of.no_atom}|{need.name}"
            known = row.n(yes_atom) + row.n(no_atom)
            yes = self._cell(PopKey(of.yes, need.name), group, level, row, [yes_atom], base=known)
            no = self._cell(PopKey(of.no, need.name), group, level, row, [no_atom], base=known)
            total = self._cell(
                PopKey(of.answered, need.name), group, level, row, [yes_atom, no_atom]
            )
            b.equal(total, [yes, no])
            if within is not None:
                b.at_most(total, within)
            answered[need.name] = total
        for need in self.prepared.needs:
            for other in need.answered_within:
                if other in answered:
                    b.at_most(answered[need.name], answered[other])

    def _services(
        self, breakdown: Breakdown, level: Level, group: GroupKey, row: _Row, linked: int
    ) -> None:
        b = self.builder
        national_level = level.name not in _TOP_LEVELS
        cells: dict[str, tuple[int, int]] = {}
        for service in _services_for(self.prepared.services, breakdown):
            national = service.scope is ServiceScope.NATIONAL_ONLY and national_level
            yes_atom = f"svc_yes|{service.name}"
            base = row.n("linked")
            yes = self._cell(
                PopKey(Pop.SVC_YES, service=service.name),
                group,
                level,
                row,
                [yes_atom],
                base=base,
                national_only=national,
            )
            no = self._cell(
                PopKey(Pop.SVC_NO, service=service.name),
                group,
                level,
                row,
                [_minus("linked", yes_atom)],
                base=base,
                national_only=national,
            )
            b.equal(linked, [yes, no])
            cells[service.name] = (yes, no)
        for service in _services_for(self.prepared.services, breakdown):
            for parent in service.parents:
                if parent in cells:
                    b.at_most(cells[service.name][0], cells[parent][0])
                    b.at_most(cells[parent][1], cells[service.name][1])

    def _joint(
        self, need: NeedMeasure, service: ServiceMeasure, level: Level, group: GroupKey, row: _Row
    ) -> None:
        b = self.builder
        suffix = f"{need.name}|{service.name}"
        a_atom, r_atom, k_atom = f"a|{suffix}", f"r|{need.name}", f"k|{suffix}"
        b_atom, c_atom = _minus(r_atom, a_atom), _minus(k_atom, a_atom)
        base = row.n(f"base|{need.name}")
        names = {"need": need.name, "service": service.name}
        a = self._cell(PopKey(Pop.JOINT_A, **names), group, level, row, [a_atom], base=base)
        bb = self._cell(PopKey(Pop.JOINT_B, **names), group, level, row, [b_atom], base=base)
        c = self._cell(PopKey(Pop.JOINT_C, **names), group, level, row, [c_atom], base=base)
        need_linked = self._cell(
            PopKey(Pop.NEED_LINKED, need=need.name), group, level, row, [r_atom], base=base
        )
        service_known = self._cell(
            PopKey(Pop.SVC_KNOWN, **names), group, level, row, [k_atom], base=base
        )
        b.equal(need_linked, [a, bb])
        b.equal(service_known, [a, c])
        need_yes = b.find((PopKey(Pop.NEED_YES, need.name), group))
        if need_yes is not None:
            b.at_most(need_linked, need_yes)
        service_yes = b.find((PopKey(Pop.SVC_YES, service=service.name), group))
        if service_yes is not None:
            b.at_most(service_known, service_yes)
        for parent in service.parents:
            parent_names = {"need": need.name, "service": parent}
            found = [
                b.find((PopKey(kind, **parent_names), group))
                for kind in (Pop.JOINT_A, Pop.JOINT_B, Pop.JOINT_C, Pop.SVC_KNOWN)
            ]
            if any(f is None for f in found):
                continue
            pa_, pb, pc, pk = (int(f) for f in found)  # type: ignore[arg-type]
            b.at_most(a, pa_)
            b.at_most(c, pc)
            b.at_most(service_known, pk)
            b.at_most(pb, bb)


def _hierarchy(
    builder: CellSystemBuilder,
    plan: BreakdownPlan,
    found: dict[Level, list[GroupKey]],
    pops: Iterable[PopKey],
) -> None:
    """Record ``parent == sum(children)`` for every population and every level pair.

    ``pops`` comes in the order the populations were first counted, never a set's: the order of
    the relations steers which cells the audit suppresses, and the same release must give the
    same tables every time it is analysed (two patterns of one release, published side by side,
    could reveal what each withholds).
    """
    for child_level, _parent_level, to_parent in plan.parents:
        children: dict[GroupKey, list[GroupKey]] = defaultdict(list)
        for child in found.get(child_level, []):
            parent = to_parent(child)
            if parent != child:
                children[parent].append(child)
        for parent, members in children.items():
            for pop in pops:
                total = builder.find((pop, parent))
                if total is None:
                    continue
                parts = [builder.find((pop, m)) for m in members]
                if any(p is None for p in parts):
                    continue
                builder.equal(total, [int(p) for p in parts])  # type: ignore[arg-type]


def _count_breakdown(
    engine: Engine,
    plan: BreakdownPlan,
    assembler: _Assembler,
    first_of: dict[tuple[int, int], tuple[Breakdown, GroupKey]],
    *,
    dominance_n: int,
) -> dict[Level, list[GroupKey]]:
    """Count one breakdown and add its groups' cells and its hierarchy's sums to the builder.

    Returns the groups found at each level. The breakdown's counts are let go on return, before
    the next breakdown is counted. ``first_of`` maps each group's children (see :func:`_rows`)
    to the first group met with exactly those children.
    """
    prepared, builder = assembler.prepared, assembler.builder
    table = aggregate(
        engine,
        plan,
        _atoms(prepared, plan.breakdown),
        weighted=prepared.weighted,
        dominance_n=dominance_n,
    )
    found: dict[Level, list[GroupKey]] = defaultdict(list)
    assembler.pops = {}
    with without_cycle_collection():
        for level, key, row, identity in _rows(plan, table):
            found[level].append(key)
            if key:
                breakdown, first = first_of.setdefault(identity, (plan.breakdown, key))
                if breakdown is not plan.breakdown:
                    builder.same_group(key, first)
            assembler.add(plan.breakdown, level, key, row)
        _hierarchy(builder, plan, found, assembler.pops)
    return found


def build_publication(
    engine: Engine,
    prepared: PreparedRelease,
    plans: Sequence[BreakdownPlan],
    *,
    dominance_n: int,
    progress: Progress = SILENT,
) -> Publication:
    """Count every table's populations and assemble the cell system with its relations."""
    builder = CellSystemBuilder()
    assembler = _Assembler(builder, prepared)
    groups: dict[Breakdown, tuple[tuple[Level, tuple[GroupKey, ...]], ...]] = {}
    # Groups of other breakdowns holding exactly the same children count as one group: SIMD's
    # and urban/rural's "not known" are both the unlinked children (both classes come from the
    # authority's row), and a count withheld in one table and published in the other would be
    # read straight across. Within a breakdown the sums already tie such groups together.
    first_of: dict[tuple[int, int], tuple[Breakdown, GroupKey]] = {}
    with progress.task("counting", total=len(plans)) as task:
        for plan in plans:
            found = _count_breakdown(engine, plan, assembler, first_of, dominance_n=dominance_n)
            groups[plan.breakdown] = (
                *(
                    (level, tuple(found.get(level, [])))
                    for level in plan.levels
                    if level != ALL_LEVEL
                ),
                (ALL_LEVEL, ((),)),
            )
            task.advance(1)
    with without_cycle_collection():
        system = builder.build()
    return Publication(
        prepared=prepared,
        plans=tuple(plans),
        groups=groups,
        kinds={plan.breakdown: _KINDS[plan.breakdown] for plan in plans},
        system=system,
    )
