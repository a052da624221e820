"""An intruder's differencing attack on published tables, written independently of the library.

The intruder knows every published count (exactly, or only as the rounded value), every
additivity relation between the tables (rebuilt here from what the rows *mean*: a quintile is its
two deciles, an authority its schools, a row's parts its total) and, optionally, every inclusion
(a flag never exceeds its group). For each withheld count it solves linear programmes
(scipy's HiGHS) for the smallest and largest value consistent with all of that, jointly over every
table. A cell is *pinned* when every consistent table puts it within ``t`` (the threshold) of
its true value; a feasible table that moves it by ``t`` or more proves it is not, and only cells
not proven that way get their own exact minimum and maximum programmes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from scipy import sparse
from scipy.optimize import linprog
from scipy.sparse.csgraph import connected_components

from linkwell.analysis.cells import Pop, PopKey
from linkwell.analysis.groups import OTHER_SEX, GroupKey
from linkwell.analysis.pipeline import Analysis
from linkwell.analysis.tables import ColumnKind
from linkwell.schema.areas import URBAN_RURAL_FROM_8

Relation = tuple[list[int], list[float]]


@dataclass
class Problem:
    """Cells (true values, what is published) and the relations the intruder knows."""

    values: np.ndarray
    published: np.ndarray
    shown: np.ndarray
    eq: list[Relation]
    le: list[Relation]


def pinned(values: np.ndarray, low: np.ndarray, high: np.ndarray, threshold: float) -> np.ndarray:
    """Cells whose known range lies within plus or minus ``threshold`` of their true value."""
    return (high < values + threshold - 1e-6) & (low > values - threshold + 1e-6)


def ranges(
    problem: Problem,
    *,
    rounding: int,
    threshold: int,
    seed: int = 0,
    exact: dict[int, tuple[float, float]] | None = None,
) -> dict[int, tuple[float, float]]:
    """Proven ``(low, high)`` range of every withheld cell.

    The result is an inner bound of each cell's true feasible range, exact wherever the cell
    would otherwise be pinned. With ``rounding`` above 1 the intruder knows published counts
    only to within half the base (and that they are 0 or at least the threshold): that feasible
    set contains the exact-knowledge one, so ranges proven with exact knowledge carry over and
    only cells not proven that way are solved again over the rounded set (``exact`` passes in
    ranges already computed with exact knowledge).
    """
    if exact is None:
        exact = _ranges(problem, rounding=1, threshold=threshold, seed=seed, only=None)
    exact = dict(exact)
    if rounding <= 1:
        return exact
    unproven = {
        cell
        for cell, (low, high) in exact.items()
        if pinned(problem.values[cell : cell + 1], np.array([low]), np.array([high]), threshold)[0]
    }
    if unproven:
        exact.update(
            _ranges(problem, rounding=rounding, threshold=threshold, seed=seed, only=unproven)
        )
    return exact


@dataclass
class _Component:
    """One connected group of unknown cells: its programme and the ranges seen so far."""

    a_eq: sparse.csr_matrix
    b_eq: np.ndarray
    a_ub: sparse.csr_matrix
    b_ub: np.ndarray
    bounds: list[tuple[float, float]]
    truth: np.ndarray
    low: np.ndarray
    high: np.ndarray

    def solve(self, objective: np.ndarray, inside: np.ndarray | None = None) -> np.ndarray | None:
        """A feasible table optimising ``objective``; cells outside ``inside`` held at truth.

        Holding cells at their true values keeps every solution feasible for the whole
        component, so it still proves ranges. ``None`` means unbounded.
        """
        if inside is None:
            inside = np.ones(self.truth.size, dtype=bool)
        fixed = np.where(inside, 0.0, self.truth)
        columns = np.flatnonzero(inside)
        parts = []
        for matrix, rhs in ((self.a_eq, self.b_eq), (self.a_ub, self.b_ub)):
            rows = np.unique(matrix[:, columns].tocoo().row)
            parts.append(
                (matrix[rows][:, columns], rhs[rows] - matrix[rows] @ fixed)
                if rows.size
                else (None, None)
            )
        res = linprog(
            objective,
            A_eq=parts[0][0],
            b_eq=parts[0][1],
            A_ub=parts[1][0],
            b_ub=parts[1][1],
            bounds=[self.bounds[i] for i in columns],
            method="highs",
        )
        if res.status == 3:  # unbounded in the objective's direction
            return None
        assert res.status == 0, res.message
        full = self.truth.copy()
        full[inside] = res.x
        return full

    def widen(self, solution: np.ndarray | None, position: int) -> None:
        if solution is None:
            self.high[position] = np.inf
        else:
            self.low = np.minimum(self.low, solution)
            self.high = np.maximum(self.high, solution)


def _bounds(
    problem: Problem, rounding: int, threshold: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower and upper bound of every cell as the intruder knows it, and the values it sees."""
    if rounding <= 1:  # exact knowledge: the true value of every published count
        values = problem.values.astype(float)
        return (
            np.where(problem.published, values, 0.0),
            np.where(problem.published, values, np.inf),
            values,
        )
    shown = problem.shown.astype(float)
    half = rounding // 2
    # A published value v means v +- half, and by the threshold rule 0 or at least the threshold.
    lower = np.where(problem.published, np.maximum(shown - half, 0), 0.0)
    lower = np.where(problem.published & (shown > 0), np.maximum(lower, threshold), lower)
    upper = np.where(problem.published, np.where(shown == 0, 0.0, shown + half), np.inf)
    return lower, upper, shown


def _ranges(
    problem: Problem, *, rounding: int, threshold: int, seed: int, only: set[int] | None
) -> dict[int, tuple[float, float]]:
    n = len(problem.values)
    eq, le = _matrix(problem.eq, n), _matrix(problem.le, n)
    lower, upper, shown = _bounds(problem, rounding, threshold)
    free = ~problem.published if rounding <= 1 else np.ones(n, dtype=bool)
    variables = np.flatnonzero(free)
    known = np.where(free, 0.0, shown)
    sub_eq, sub_le = eq[:, variables], le[:, variables]
    rhs_eq, rhs_le = -(eq @ known), -(le @ known)
    stacked = sparse.vstack([sub_eq, sub_le])
    _, labels = connected_components(
        abs(sparse.bmat([[None, stacked.T], [stacked, None]])) > 0, directed=False
    )
    labels = labels[: variables.size]
    rng = np.random.default_rng(seed)
    result: dict[int, tuple[float, float]] = {}
    for label in np.unique(labels[~problem.published[variables]]):
        members = np.flatnonzero(labels == label)
        targets = ~problem.published[variables[members]]
        if only is not None:
            targets &= np.isin(variables[members], list(only))
        if not targets.any():
            continue
        rows_eq = np.unique(sub_eq[:, members].tocoo().row)
        rows_le = np.unique(sub_le[:, members].tocoo().row)
        truth = problem.values[variables[members]].astype(float)
        component = _Component(
            a_eq=sub_eq[rows_eq][:, members].tocsr(),
            b_eq=rhs_eq[rows_eq],
            a_ub=sub_le[rows_le][:, members].tocsr(),
            b_ub=rhs_le[rows_le],
            bounds=list(zip(lower[variables[members]], upper[variables[members]], strict=True)),
            truth=truth,
            low=truth.copy(),
            high=truth.copy(),
        )
        _prove(component, targets, threshold, rng)
        for position in np.flatnonzero(targets):
            cell = int(variables[members[position]])
            result[cell] = (float(component.low[position]), float(component.high[position]))
    return result


def _prove(
    component: _Component, targets: np.ndarray, threshold: int, rng: np.random.Generator
) -> None:
    """Widen the targets' ranges: random objectives, then small programmes, then exact ones."""
    for _ in range(6):
        objective = np.where(targets, rng.choice([-1.0, 1.0], targets.size), 0.0)
        solution = component.solve(objective)
        if solution is not None:
            component.widen(solution, 0)
    pattern = abs(sparse.vstack([component.a_eq, component.a_ub]).tocsr()) > 0
    adjacency = (pattern.T @ pattern).tocsr()

    def open_targets() -> np.ndarray:
        return np.flatnonzero(
            targets & pinned(component.truth, component.low, component.high, threshold)
        )

    for position in open_targets():
        inside = np.zeros(targets.size, dtype=bool)
        inside[position] = True
        for _ in range(2):
            inside |= adjacency @ inside.astype(float) > 0
        for sign in (-1.0, 1.0):
            objective = np.zeros(int(inside.sum()))
            objective[int(np.searchsorted(np.flatnonzero(inside), position))] = sign
            component.widen(component.solve(objective, inside), position)
    for position in open_targets():
        for sign in (-1.0, 1.0):  # the exact minimum and maximum over the whole component
            objective = np.zeros(targets.size)
            objective[position] = sign
            component.widen(component.solve(objective), position)


def _matrix(relations: Sequence[Relation], n: int) -> sparse.csr_matrix:
    rows, cols, vals = [], [], []
    for r, (cells, coefs) in enumerate(relations):
        rows += [r] * len(cells)
        cols += cells
        vals += coefs
    return sparse.csr_matrix((vals, (rows, cols)), shape=(len(relations), n))


# --- rebuilding the relations of a linkwell publication from what its rows mean ---------------


def _whole_area_partitions(present: set[GroupKey]) -> list[list[GroupKey]]:
    by_dims: dict[tuple[str, ...], list[GroupKey]] = defaultdict(list)
    for g in present:
        by_dims[tuple(d for d, _ in g)].append(g)
    partitions = [
        groups
        for dims, groups in by_dims.items()
        if dims in (("sex",), ("authority",), ("simd_decile",), ("simd_quintile",))
        or (len(dims) == 1 and dims[0].startswith("urban_rural_"))
    ]
    if by_dims.get(("stage",)):  # girls and boys by stage, and the other-or-not-known group
        other = [g for g in present if g == (("sex", OTHER_SEX),)]
        partitions.append([*by_dims[("stage",)], *other])
    return partitions


def _urban_rural_partitions(key: GroupKey, present: set[GroupKey]) -> list[list[GroupKey]]:
    ((dim, value),) = key
    fold = int(dim.rsplit("_", 1)[1])
    partitions = []
    for finer in (8, 6, 3):
        if finer > fold:
            members = {
                URBAN_RURAL_FROM_8[finer][e]
                for e in range(1, 9)
                if URBAN_RURAL_FROM_8[fold][e] == value
            }
            members = {None} if value is None else members
            dim_finer = f"urban_rural_{finer}"
            partitions.append(
                [g for g in present if g and g[0][0] == dim_finer and g[0][1] in members]
            )
    return partitions


def _children(key: GroupKey, present: set[GroupKey]) -> list[list[GroupKey]]:
    """Every partition of group ``key`` into other groups that the tables show."""
    dims = dict(key)
    if not key:
        partitions = _whole_area_partitions(present)
    elif set(dims) == {"sex"} and dims["sex"] != OTHER_SEX:
        partitions = [[g for g in present if len(g) == 2 and g[0] == ("sex", dims["sex"])]]
    elif set(dims) == {"stage"}:
        partitions = [[g for g in present if len(g) == 2 and g[1] == ("stage", dims["stage"])]]
    elif set(dims) == {"simd_quintile"}:
        q = dims["simd_quintile"]
        deciles = [None] if q is None else [2 * int(q) - 1, 2 * int(q)]
        partitions = [[g for g in present if g and g[0][0] == "simd_decile" and g[0][1] in deciles]]
    elif set(dims) == {"authority"}:
        authority = ("authority", dims["authority"])
        partitions = [[g for g in present if len(g) == 2 and g[0] == authority]]
    elif len(dims) == 1 and next(iter(dims)).startswith("urban_rural_"):
        partitions = _urban_rural_partitions(key, present)
    else:
        partitions = []
    return [p for p in partitions if p]


_LINKED_TWIN: Final = {
    Pop.SURVEYED: Pop.LINKED,
    Pop.NEED_KNOWN: Pop.NEED_KNOWN_LINKED,
    Pop.NEED_YES: Pop.NEED_LINKED,
    Pop.NEED_NO: Pop.NEED_NO_LINKED,
}
"""A population of everyone, and the same population of linked children."""


def _design_facts(by_key: dict[tuple[PopKey, GroupKey], int]) -> list[Relation]:
    """What anyone reading the method knows: SIMD and urban/rural come from the authority's row.

    So their "not known" groups are the same children (the unlinked ones, and any linked child
    whose row had no class) in every table, and in a known SIMD or urban/rural group every child
    is linked: each population's count there is its linked children's count.
    """
    facts: list[Relation] = []
    for (pop, group), i in by_key.items():
        if len(group) != 1:
            continue
        ((dim, value),) = group
        if not dim.startswith(("simd_", "urban_rural_")):
            continue
        if value is None and dim != "simd_decile":
            twin = by_key.get((pop, (("simd_decile", None),)))
            if twin is not None:
                facts.append(([i, twin], [1.0, -1.0]))
        if value is not None and pop.kind in _LINKED_TWIN:
            linked = by_key.get((PopKey(_LINKED_TWIN[pop.kind], pop.need), group))
            if linked is not None:
                facts.append(([i, linked], [1.0, -1.0]))
    return facts


def publication_problem(analysis: Analysis, *, inclusions: bool) -> Problem:
    """Every count cell shown in any table, with the relations rebuilt from the keys' meaning."""
    system = analysis.publication.system
    shown_cells: dict[int, int | None] = {}
    for table in analysis.tables:
        for row in table.rows:
            for column, cell in zip(table.columns, row, strict=True):
                if column.kind is ColumnKind.COUNT and cell.cell is not None:
                    shown_cells[cell.cell] = None if cell.symbol is not None else int(cell.value)  # type: ignore[arg-type]
    # One variable per meaning: a cell the library counts once may stand for several (a group
    # of the same children in two breakdowns, or a population known to be another); the
    # intruder ties them only by what the method says (see _design_facts).
    meanings: dict[int, list[tuple[PopKey, GroupKey]]] = defaultdict(list)
    for key, index in system.index.items():
        meanings[index].append(key)
    for alias, canonical in system.aliases.items():
        for (pop, group), index in list(system.index.items()):
            if group == canonical:
                meanings[index].append((pop, alias))
    order = [c for c in sorted(shown_cells) for _ in meanings[c]]
    keys = [key for c in sorted(shown_cells) for key in meanings[c]]
    by_key = {k: i for i, k in enumerate(keys)}
    eq = _sums(keys, by_key)
    le: list[Relation] = []
    parents = {s.name: s.parents for s in analysis.services}
    for (pop, group), i in by_key.items():
        new_eq, new_le = _row_relations(pop, group, i, by_key, parents, inclusions=inclusions)
        eq += new_eq
        le += new_le
    eq += _design_facts(by_key)
    return Problem(
        values=np.array([system.count[c] for c in order]),
        published=np.array([shown_cells[c] is not None for c in order]),
        shown=np.array([shown_cells[c] or 0 for c in order]),
        eq=eq,
        le=le,
    )


def _sums(
    keys: list[tuple[PopKey, GroupKey]], by_key: dict[tuple[PopKey, GroupKey], int]
) -> list[Relation]:
    """A group's count is the sum of its parts', for every population and every partition."""
    groups_of: dict[PopKey, set[GroupKey]] = defaultdict(set)
    for pop, group in keys:
        groups_of[pop].add(group)
    relations: list[Relation] = []
    for pop, groups in groups_of.items():
        for group in groups:
            for parts in _children(group, groups):
                cells = [by_key[(pop, group)]] + [by_key[(pop, g)] for g in parts]
                relations.append((cells, [1.0] + [-1.0] * len(parts)))
    return relations


def _row_relations(
    pop: PopKey,
    group: GroupKey,
    cell: int,
    by_key: dict[tuple[PopKey, GroupKey], int],
    parents: dict[str, tuple[str, ...]],
    *,
    inclusions: bool,
) -> tuple[list[Relation], list[Relation]]:
    """What one cell's row says: its parts make its total, and (optionally) inclusions."""

    def find(kind: Pop, need: str = "", service: str = "") -> int | None:
        return by_key.get((PopKey(kind, need, service), group))

    eq: list[Relation] = []
    le: list[Relation] = []

    def at_most(small: int | None, big: int | None) -> None:
        if small is not None and big is not None:
            le.append(([small, big], [1.0, -1.0]))

    if pop.kind is Pop.NEED_YES:
        at_most(cell, find(Pop.NEED_KNOWN, pop.need))  # without the need = answered - with it
    if pop.kind is Pop.NEED_KNOWN_LINKED:  # a prevalence of linked children
        at_most(find(Pop.NEED_LINKED, pop.need), cell)
        at_most(cell, find(Pop.LINKED))
        if inclusions:
            at_most(cell, find(Pop.NEED_KNOWN, pop.need))
    if inclusions:
        le += _scored_within(pop, group, cell, by_key)
    if pop.kind is Pop.LINKED:
        at_most(cell, find(Pop.SURVEYED))
    if pop.kind is Pop.SVC_YES:
        total, no = find(Pop.LINKED), find(Pop.SVC_NO, service=pop.service)
        if total is not None and no is not None:  # 'not in receipt' is shown for any service
            eq.append(([total, cell, no], [1.0, -1.0, -1.0]))
        else:
            at_most(cell, total)
        if inclusions:
            for parent in parents.get(pop.service, ()):
                at_most(cell, find(Pop.SVC_YES, service=parent))
    if pop.kind is Pop.JOINT_A:
        b = find(Pop.JOINT_B, pop.need, pop.service)
        c = find(Pop.JOINT_C, pop.need, pop.service)
        with_need = find(Pop.NEED_LINKED, pop.need)
        receiving = find(Pop.SVC_KNOWN, pop.need, pop.service)
        assert None not in (b, c, with_need, receiving)
        eq.append(([with_need, cell, b], [1.0, -1.0, -1.0]))  # type: ignore[list-item]
        eq.append(([receiving, cell, c], [1.0, -1.0, -1.0]))  # type: ignore[list-item]
        if inclusions:
            at_most(with_need, find(Pop.NEED_YES, pop.need))
            at_most(receiving, find(Pop.SVC_YES, service=pop.service))
    return eq, le


def _scored_within(
    pop: PopKey, group: GroupKey, cell: int, by_key: dict[tuple[PopKey, GroupKey], int]
) -> list[Relation]:
    """The definitions say the SDQ total needs every problem subscale: whoever answered it
    answered each subscale need too (the needs on a subscale are the other "sdq_" ones)."""
    if pop.kind not in (Pop.NEED_KNOWN, Pop.NEED_KNOWN_LINKED) or not pop.need.startswith(
        "sdq_total"
    ):
        return []
    return [
        ([cell, index], [1.0, -1.0])
        for (other, other_group), index in by_key.items()
        if other_group == group
        and other.kind is pop.kind
        and other.need.startswith("sdq_")
        and not other.need.startswith("sdq_total")
    ]
