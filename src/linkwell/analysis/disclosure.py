"""Statistical disclosure control over the whole cell system at once, audited by linear programming.

Primary suppression marks cells that may not be published: counts below the threshold, sensitive
zeros, weighted cells dominated by a few children's weights, and national-only flags below
authority level. Secondary suppression then makes every suppressed cell safe against an intruder
who knows every published count *exactly* (percentages and intervals are computed from unrounded
counts, so rounding is not relied on) and every relation of the cell system, across all tables at
once. The protection requirement: for a suppressed cell of true value ``x``, some table
consistent with everything published puts the cell at ``x + t`` or more, or at ``x - t`` or less
(``t`` the threshold) - no suppressed cell is pinned to within plus or minus the threshold.

The method is audit-and-repair. A cheap pass first removes every relation left with a single
unknown cell (which would give that cell away by subtraction). Then, one connected group of
unknown cells at a time, linear programmes (HiGHS via scipy) look for feasible tables that move
suppressed cells by ``t``; each solution certifies every cell it moves that far. Batched
programmes, each maximising many cells' moves capped at ``t``, certify most cells of a group. A
large one (a national release ties hundreds of thousands of cells together through its margins)
is mostly certified by templates: the nearest table moving one school's cell, over the school
and a few lenders, made again in every other school where it fits, each copy checked against
every relation; then by blocks of a few schools with every other cell held at its true value,
whose tables are tables of the whole. The rest get a programme each, over a small neighbourhood
of the cell first (where a relaxed programme may also prove the cell unprotected) and the whole
group last. A cell that cannot be moved gets one more cell suppressed, chosen from the
constraints that bind it (by the programme's dual values) at the lowest cost: fine cells before
margins, and never the whole-area row if anything else will do. Suppressing a cell only
enlarges the feasible set, so certificates already found stay valid and the loop ends.
Rounding to the base comes last, on published cells.

A large component's blocks, its programmes with lenders and its cell-by-cell judgements do not
depend on each other within a wave of a few, so they run on worker processes
(:mod:`linkwell.analysis.workers`), each wave from what the waves before it certified: the cells
withheld are the same whatever the number of workers.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cached_property
from typing import TYPE_CHECKING, Any, Final, TypeAlias

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from scipy.optimize import OptimizeResult, linprog
from scipy.sparse.csgraph import connected_components

from linkwell.analysis.workers import Workers, available_cores
from linkwell.errors import ConfigError, InternalError
from linkwell.progress import SILENT, Progress

if TYPE_CHECKING:  # a worker process runs this module without the cell system's dependencies
    from linkwell.analysis.cells import CellSystem, PopKey
    from linkwell.analysis.groups import GroupKey
    from linkwell.config import DisclosurePolicy

__all__ = [
    "PUBLISHED",
    "AuditSummary",
    "Protection",
    "Rule",
    "primary_suppression",
    "protect",
    "round_to_base",
    "secondary_suppression",
]

PUBLISHED: Final = 0
"""Rule code of a cell that is published."""

_TOLERANCE: Final = 1e-6
_SEED: Final = 20240611
_BATCH_ROUNDS: Final = 400
_STALL_ROUNDS: Final = 3
_HALVED_SHARE: Final = 0.5
_LOCAL_RADII: Final = (2, 2)
"""Growth of the neighbourhood a withheld cell is judged in: 2 hops, then 4 (then the whole)."""
_LOCAL_SHARE: Final = 0.25
"""A neighbourhood holding more than this share of its component is left to the whole programme."""
_GROUPED_ABOVE: Final = 20_000
"""Components of more withheld cells than this (where one programme over the whole takes
seconds) are first audited by blocks of groups, unless their levels nest
(:attr:`_GroupLayout.nested`)."""
_BLOCK_CELLS: Final = 2000
"""Withheld cells per block of groups."""
_BLOCK_ROUNDS: Final = 10
_PARTNER_ROUNDS: Final = 4
_PARTNER_GROUPS: Final = 16
"""Groups still pending after the blocks that share one programme with their lenders."""
_PARTNER_ROOM: Final = 4
"""Widths of room the lenders of one such programme hold in each sum."""
_PARTNERS_PER_SUM: Final = 16
"""At most this many cells the groups borrow room from in any one sum."""
_POOLED_ABOVE: Final = 20_000
"""Components audited by blocks with more withheld cells than this spread their programmes over
worker processes (starting them takes a second or two; the audit, minutes)."""
_WAVE: Final = 8
"""Tasks run between two updates of what is certified (the same whatever the workers)."""
_JUDGED_TOGETHER: Final = 32
"""Pending cells of neighbouring groups one task judges in turn."""
_TEMPLATE_MISSES: Final = 3
"""Templates of one population that carry to few cells before it is given no more."""
_TEMPLATE_GAIN: Final = 20
"""A template whose copies certify fewer cells than this is a miss for its population."""


class Rule(StrEnum):
    """Why a cell is suppressed; the codes are the positions in this list plus one."""

    PRIMARY = "primary (below threshold)"
    SENSITIVE_ZERO = "sensitive zero"
    DOMINANCE = "dominance"
    NATIONAL_ONLY = "national-only"
    SECONDARY = "secondary"

    @property
    def code(self) -> int:
        """The rule's code in :attr:`Protection.codes`."""
        return list(Rule).index(self) + 1

    @staticmethod
    def of(code: int) -> Rule | None:
        """The rule with ``code``; ``None`` for a published cell."""
        return None if code == PUBLISHED else _RULES[code - 1]


_RULES: Final = tuple(Rule)


@dataclass(frozen=True)
class AuditSummary:
    """What the secondary suppression and its audit did, for the disclosure log."""

    primary: int
    secondary_by_singleton: int
    secondary_by_repair: int
    components: int
    linear_programmes: int
    certified: int

    @property
    def secondary(self) -> int:
        """Cells withheld by secondary suppression, however found."""
        return self.secondary_by_singleton + self.secondary_by_repair

    @property
    def withheld(self) -> int:
        """Every cell withheld, by any rule."""
        return self.primary + self.secondary


@dataclass(frozen=True)
class Protection:
    """The outcome: a rule code per cell (0 = published) and the audit summary."""

    codes: NDArray[np.int8]
    audit: AuditSummary

    @property
    def suppressed(self) -> NDArray[np.bool_]:
        """True for every cell not published."""
        return np.asarray(self.codes != PUBLISHED, dtype=np.bool_)

    def rule(self, index: int) -> Rule | None:
        """The rule suppressing cell ``index``, or ``None`` if it is published."""
        return Rule.of(int(self.codes[index]))


def round_to_base(values: NDArray[np.int64], base: int) -> NDArray[np.int64]:
    """Round counts to the nearest multiple of ``base``, halves up (base 5: 7 -> 5, 8 -> 10)."""
    if base <= 1:
        return values.copy()
    return ((values + base // 2) // base * base).astype(np.int64)


def primary_suppression(
    system: CellSystem, policy: DisclosurePolicy, *, weighted: bool
) -> NDArray[np.int8]:
    """Rule codes of the primary rules, in precedence national-only, zero, threshold, dominance."""
    codes = np.zeros(len(system), dtype=np.int8)
    count = system.count
    dominated = np.zeros(len(system), dtype=np.bool_)
    if weighted:
        positive = system.wsum > 0
        dominated = positive & (system.top > policy.dominance_k * system.wsum + _TOLERANCE)
        dominated &= count > 0
    codes[dominated] = Rule.DOMINANCE.code
    codes[(count > 0) & (count < policy.threshold)] = Rule.PRIMARY.code
    if policy.suppress_sensitive_zeros:
        codes[(count == 0) & (system.base > 0)] = Rule.SENSITIVE_ZERO.code
    codes[system.national_only] = Rule.NATIONAL_ONLY.code
    codes[system.structural] = PUBLISHED
    return codes


@dataclass
class _State:
    """Mutable working state of one secondary-suppression run."""

    width: float
    unknown: NDArray[np.bool_]
    certified: NDArray[np.bool_]
    low: NDArray[np.float64]
    high: NDArray[np.float64]
    codes: NDArray[np.int8]
    cost: NDArray[np.float64]
    count: NDArray[np.int64]
    singleton: int = 0
    capacity: int = 0
    repaired: int = 0
    programmes: int = 0
    components: int = 0

    def suppress(self, cell: int) -> None:
        self.unknown[cell] = True
        self.codes[cell] = Rule.SECONDARY.code

    def suppressible(self, cells: NDArray[np.int64]) -> NDArray[np.int64]:
        """Those of ``cells`` still published and allowed to be suppressed."""
        return cells[~self.unknown[cells] & np.isfinite(self.cost[cells])]


@dataclass(frozen=True)
class _Relations:
    """The system's relation matrices by row (for sums) and by column (for lookups)."""

    eq: sparse.csr_matrix
    le: sparse.csr_matrix
    eq_by_cell: sparse.csc_matrix
    le_by_cell: sparse.csc_matrix

    @staticmethod
    def of(system: CellSystem) -> _Relations:
        return _Relations(system.eq, system.le, system.eq.tocsc(), system.le.tocsc())

    def rows_of(self, cells: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Sum and inclusion relations (row numbers) that involve any of ``cells``."""
        return _rows_touching(self.eq_by_cell, self.le_by_cell, cells)


def _rows_touching(
    eq_by_cell: sparse.csc_matrix, le_by_cell: sparse.csc_matrix, columns: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The rows of two relation matrices (stored by column) with an entry in any of ``columns``."""
    return (
        np.unique(eq_by_cell[:, columns].indices).astype(np.int64),
        np.unique(le_by_cell[:, columns].indices).astype(np.int64),
    )


def _choose(
    state: _State, candidates: NDArray[np.int64], count: NDArray[np.int64], need: float
) -> int:
    """The cell to suppress among ``candidates``.

    The cheapest cost class first (fine cells before margins, the whole area last); within it
    the smallest count that still gives ``need`` more room, or failing that the largest, so
    that large, useful numbers are kept where possible.
    """
    cheapest = candidates[state.cost[candidates] == state.cost[candidates].min()]
    values = count[cheapest]
    enough = cheapest[values >= need]
    if enough.size:
        return int(enough[np.argmin(count[enough])])
    return int(cheapest[np.argmax(values)])


def _singleton_pass(relations: _Relations, state: _State) -> None:
    """Suppress one more cell in every sum relation that has exactly one unknown cell."""
    eq = relations.eq
    if eq.shape[0] == 0:
        return
    pattern = eq.copy()
    pattern.data = np.ones_like(pattern.data)
    while True:
        unknown_per_row = pattern @ state.unknown.astype(np.float64)
        rows = np.flatnonzero(np.abs(unknown_per_row - 1) < _TOLERANCE)
        changed = False
        for row in rows:
            cells = eq.indices[eq.indptr[row] : eq.indptr[row + 1]]
            if int(state.unknown[cells].sum()) != 1:
                continue
            published = state.suppressible(cells)
            if published.size == 0:
                continue
            state.suppress(_choose(state, published, state.count, state.width))
            state.singleton += 1
            changed = True
        if not changed:
            return


def _capacity_pass(relations: _Relations, state: _State, count: NDArray[np.int64]) -> None:
    """Give every suppressed cell room of at least the width within each relation it is in.

    In a sum with a published total, a small unknown part can rise by the width only if the
    other unknown parts add up to the width, so the unknown parts must add up to the width plus
    the largest small one; parts are added cheapest first, the total only when none is left.
    In an inclusion ``small <= big`` whose two sides differ by less than the width, the
    published side would pin the suppressed one, so both are suppressed: nearly identical
    populations (children answering an item and children surveyed; children with a need and
    those of them linked) are suppressed together or published together.
    """
    eq, le = relations.eq, relations.le
    parts_matrix = eq.multiply(eq < 0).tocsr()
    parts_matrix.data = np.ones_like(parts_matrix.data)
    parts_matrix.eliminate_zeros()
    total_of = _column_of_sign(eq, 1)
    small_of = _column_of_sign(le, 1)
    big_of = _column_of_sign(le, -1)
    while True:
        changed = False
        if eq.shape[0]:
            unknown_sum = parts_matrix @ np.where(state.unknown, count, 0).astype(np.float64)
            unknown_parts = parts_matrix @ state.unknown.astype(np.float64)
            short = (
                (unknown_parts > 0)
                & (unknown_sum < _room_needed(parts_matrix, state, count))
                & ~state.unknown[total_of]
            )
            for row in np.flatnonzero(short):
                changed |= _widen_sum(parts_matrix, state, count, int(row), int(total_of[row]))
        if le.shape[0]:
            close = count[big_of] - count[small_of] < state.width
            for ends in (
                big_of[close & state.unknown[small_of] & ~state.unknown[big_of]],
                small_of[close & state.unknown[big_of] & ~state.unknown[small_of]],
            ):
                for cell in state.suppressible(np.unique(ends)):
                    state.suppress(int(cell))
                    state.capacity += 1
                    changed = True
        if not changed:
            return


def _column_of_sign(matrix: sparse.csr_matrix, sign: int) -> NDArray[np.int64]:
    """Per relation, the cell of its one coefficient of ``sign``, or 0 if it has none.

    A sum's total has the coefficient 1, an inclusion's small side 1 and its big side -1. Read
    from the stored entries at once: scipy's row-wise ``argmax`` loops over the rows in Python,
    seconds for a national release's million relations.
    """
    entries = matrix.tocoo()
    signed = np.sign(entries.data) == sign
    column = np.zeros(matrix.shape[0], dtype=np.int64)
    column[entries.row[signed]] = entries.col[signed]
    return column


def _room_needed(
    parts_matrix: sparse.csr_matrix, state: _State, count: NDArray[np.int64]
) -> NDArray[np.float64]:
    """Per sum: the width plus its largest unknown part below the width (what it must hold)."""
    small = np.where(state.unknown & (count < state.width), count, 0).astype(np.float64)
    largest = parts_matrix.multiply(small).max(axis=1).toarray().ravel()
    return np.asarray(state.width + largest, dtype=np.float64)


def _widen_sum(
    parts_matrix: sparse.csr_matrix,
    state: _State,
    count: NDArray[np.int64],
    row: int,
    total: int,
) -> bool:
    """Suppress parts (then the total) of sum ``row`` until its unknown parts have the room."""
    if state.unknown[total]:
        return False
    parts = parts_matrix.indices[parts_matrix.indptr[row] : parts_matrix.indptr[row + 1]]

    def shortfall() -> float:
        unknown = count[parts[state.unknown[parts]]]
        small = unknown[unknown < state.width]
        room = state.width + (float(small.max()) if small.size else 0.0)
        return room - float(unknown.sum())

    if shortfall() <= 0:
        return False
    published = state.suppressible(parts)
    while published.size:
        cell = _choose(state, published, count, shortfall())
        state.suppress(cell)
        state.capacity += 1
        if shortfall() <= 0:
            return True
        published = published[published != cell]
    if not np.isfinite(state.cost[total]):
        return False
    state.suppress(total)
    state.capacity += 1
    return True


def _components(relations: _Relations, state: _State) -> NDArray[np.int32]:
    """Component label of every cell: unknown cells linked through shared relations."""
    n = state.unknown.size
    rows_parts = []
    cols_parts = []
    offset = n
    for matrix in (relations.eq, relations.le):
        coo = matrix.tocoo()
        keep = state.unknown[coo.col]
        rows_parts.append(coo.row[keep].astype(np.int64) + offset)
        cols_parts.append(coo.col[keep].astype(np.int64))
        offset += matrix.shape[0]
    rows = np.concatenate(rows_parts)
    cols = np.concatenate(cols_parts)
    graph = sparse.coo_matrix((np.ones(rows.size), (rows, cols)), shape=(offset, offset))
    _, labels = connected_components(graph, directed=False)
    return np.asarray(labels[:n], dtype=np.int32)


@dataclass(frozen=True)
class _Groups:
    """The group (a school, a SIMD decile, everyone) each cell counts, and the group's level.

    Cells of one group are tied by short relations (need + no need = answered); groups are tied
    to each other by long sums over a level (every school's count adds up to the area's).
    """

    of_cell: NDArray[np.int64]
    level: NDArray[np.int64]
    """Per group: its level (the dimensions its key names)."""
    parent: NDArray[np.int64]
    """Per group: the group keyed by its key's leading dimensions (a school's authority), or -1."""
    population: NDArray[np.int64]
    """Per cell: the population it counts, numbered (the same number in every group)."""

    @staticmethod
    def of(system: CellSystem) -> _Groups:
        groups: dict[GroupKey, int] = {}
        levels: dict[tuple[str, ...], int] = {}
        populations: dict[PopKey, int] = {}
        of_cell = np.fromiter(
            (groups.setdefault(group, len(groups)) for _, group in system.keys),
            dtype=np.int64,
            count=len(system),
        )
        population = np.fromiter(
            (populations.setdefault(pop, len(populations)) for pop, _ in system.keys),
            dtype=np.int64,
            count=len(system),
        )
        level = np.empty(len(groups), dtype=np.int64)
        parent = np.full(len(groups), -1, dtype=np.int64)
        for group, label in groups.items():
            dims = tuple(name for name, _ in group)
            level[label] = levels.setdefault(dims, len(levels))
            if len(group) > 1:
                parent[label] = groups.get(group[:-1], -1)
        return _Groups(of_cell, level, parent, population)


@dataclass(frozen=True)
class _Programme:
    """The feasible set of a component's unknown cells given every published count."""

    cells: NDArray[np.int64]
    eq_rows: NDArray[np.int64]
    le_rows: NDArray[np.int64]
    a_eq: sparse.csr_matrix
    b_eq: NDArray[np.float64]
    a_ub: sparse.csr_matrix
    b_ub: NDArray[np.float64]

    @cached_property
    def by_cell(self) -> tuple[sparse.csc_matrix, sparse.csc_matrix]:
        """``a_eq`` and ``a_ub`` by column, to find the relations a few cells are in quickly."""
        return self.a_eq.tocsc(), self.a_ub.tocsc()

    def rows_of(self, positions: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """The sum and inclusion rows (of ``a_eq``, ``a_ub``) that involve any of ``positions``."""
        return _rows_touching(*self.by_cell, positions)


_Proof: TypeAlias = tuple[_Programme, OptimizeResult]
"""A relaxed programme that cannot move a cell by the width, and its maximisation result."""


def _programme(
    system: CellSystem, relations: _Relations, state: _State, cells: NDArray[np.int64]
) -> _Programme:
    known = np.where(state.unknown, 0, system.count).astype(np.float64)
    eq_rows, le_rows = relations.rows_of(cells)
    eq = relations.eq[eq_rows]
    le = relations.le[le_rows]
    return _Programme(
        cells=cells,
        eq_rows=eq_rows,
        le_rows=le_rows,
        a_eq=eq[:, cells].tocsr(),
        b_eq=-(eq @ known),
        a_ub=le[:, cells].tocsr(),
        b_ub=-(le @ known),
    )


_OPTIMAL: Final = 0
_UNBOUNDED: Final = 3


def _solve(
    programme: _Programme,
    objective: NDArray[np.float64],
    state: _State,
    *,
    bounds: NDArray[np.float64] | tuple[float, None] = (0.0, None),
) -> OptimizeResult:
    state.programmes += 1
    has_eq = programme.a_eq.shape[0] > 0
    has_ub = programme.a_ub.shape[0] > 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # HiGHS reports through the result status instead
        return linprog(
            objective,
            A_eq=programme.a_eq if has_eq else None,
            b_eq=programme.b_eq if has_eq else None,
            A_ub=programme.a_ub if has_ub else None,
            b_ub=programme.b_ub if has_ub else None,
            bounds=bounds,
            method="highs",
        )


def _certify(state: _State, programme: _Programme, solution: NDArray[np.float64]) -> None:
    """Widen each cell's seen interval by the feasible table ``solution``; certify moved ones.

    A suppressed cell is protected once some feasible table puts it at least the threshold
    above its true value, or at least the threshold below: then no one can pin it to within
    plus or minus the threshold. (An interval merely that wide is not enough: a true 5 seen
    between 0 and 10 is still known to within 5.)
    """
    _widen(state, programme.cells, solution, solution)


def _widen(
    state: _State, cells: NDArray[np.int64], low: NDArray[np.float64], high: NDArray[np.float64]
) -> None:
    """Widen ``cells``' seen intervals to ``low`` and ``high``; certify those moved far enough."""
    state.low[cells] = np.minimum(state.low[cells], low)
    state.high[cells] = np.maximum(state.high[cells], high)
    truth = state.count[cells].astype(np.float64)
    moved = (state.high[cells] >= truth + state.width - _TOLERANCE) | (
        state.low[cells] <= truth - state.width + _TOLERANCE
    )
    state.certified[cells[moved]] = True


def _repair_candidate(
    relations: _Relations, state: _State, programme: _Programme, result: OptimizeResult
) -> int:
    """The published cell whose suppression most plausibly frees the failing cell.

    Cells in relations that bind the failing cell's maximum (non-zero dual value) come first;
    failing that, any published cell in the component's relations. The cheapest wins.
    """
    scores = np.zeros(state.unknown.size)
    if programme.eq_rows.size and getattr(result, "eqlin", None) is not None:
        duals = np.asarray(result.eqlin.marginals)
        scores += np.abs(relations.eq[programme.eq_rows].T @ duals)
    if programme.le_rows.size and getattr(result, "ineqlin", None) is not None:
        duals = np.asarray(result.ineqlin.marginals)
        scores += np.abs(relations.le[programme.le_rows].T @ duals)
    candidates = state.suppressible(np.flatnonzero(scores > _TOLERANCE))
    if candidates.size == 0:
        touching = sparse.vstack([relations.eq[programme.eq_rows], relations.le[programme.le_rows]])
        candidates = state.suppressible(np.unique(touching.tocoo().col))
    if candidates.size == 0:
        raise InternalError("a suppressed cell cannot be protected and no cell is left to suppress")
    return _choose(state, candidates, state.count, state.width)


def _audit_component(
    system: CellSystem,
    relations: _Relations,
    state: _State,
    cells: NDArray[np.int64],
    *,
    groups: _Groups,
    rng: np.random.Generator,
    workers: int,
) -> list[int]:
    """Certify the component's cells; suppress a cell for each that fails and return those.

    Batched rounds first (each optimum is one feasible table that moves many cells at once):
    over the whole component, or for a large one, where a programme over the whole takes
    seconds, templates carried from group to group (:func:`_audit_by_templates`) and then
    blocks of its groups (:func:`_audit_by_groups`), unless its dealt levels nest
    (:attr:`_GroupLayout.nested`). Then each
    remaining cell in its neighbourhoods, which certify it or prove it unprotected; then batched
    rounds over the whole for the cells they could not decide, and last each cell still
    undecided in the whole programme, the dearest step, taken as rarely as possible. The
    programmes over blocks and neighbourhoods of a large component run on up to ``workers``
    processes, with the same outcome whatever their number.
    """
    programme = _programme(system, relations, state, cells)
    truth = system.count[cells].astype(np.float64)
    layout = _GroupLayout.of(groups, programme, truth) if cells.size > _GROUPED_ABOVE else None
    if layout is not None and layout.nested:
        layout = None
    if layout is None:
        _batch_rounds(
            state, programme, rng, among=np.ones(cells.size, dtype=np.bool_), rounds=_BATCH_ROUNDS
        )
        repairs, undecided = _judge_each_locally(relations, state, programme, truth)
    else:
        held = _Component.of(programme, layout, truth, state.width)
        with Workers(held, workers if cells.size > _POOLED_ABOVE else 1) as pool:
            carrier = _Carrier.of(held, groups.population[cells])
            _audit_by_templates(state, cells, carrier, pool)
            _audit_by_groups(state, cells, layout, pool)
            repairs, undecided = _judge_each_with_lenders(relations, state, cells, layout, pool)
    if undecided.any():
        _batch_rounds(state, programme, rng, among=undecided, rounds=_BATCH_ROUNDS)
    for position in np.flatnonzero(undecided & ~state.certified[cells]):
        upward = _stuck(state, programme, int(cells[position]), feasible=True)
        if upward is not None:
            repairs.append(_repair_candidate(relations, state, programme, upward))
    for repair in dict.fromkeys(repairs):
        state.suppress(repair)
        state.repaired += 1
    return list(dict.fromkeys(repairs))


def _judge_each_locally(
    relations: _Relations, state: _State, programme: _Programme, truth: NDArray[np.float64]
) -> tuple[list[int], NDArray[np.bool_]]:
    """Each pending cell judged in its neighbourhoods (:func:`_judge_locally`), in turn.

    Returns the repairs of the cells proved unprotected and which cells none could decide.
    """
    proofs, left = _judge_in_turn(
        state,
        programme,
        np.flatnonzero(~state.certified[programme.cells]),
        lambda position: _judge_locally(state, programme, truth, position),
    )
    undecided = np.zeros(programme.cells.size, dtype=np.bool_)
    undecided[left] = True
    return [_repair_candidate(relations, state, *proof) for proof in proofs], undecided


def _judge_in_turn(
    state: _State,
    programme: _Programme,
    positions: NDArray[np.int64],
    judge: Callable[[int], _Proof | None],
) -> tuple[list[_Proof], list[int]]:
    """Judge each of the programme's cells at ``positions`` still uncertified, in turn.

    A judgement that certifies the cells after it spares them theirs. Returns the proofs of
    the cells found unprotected and the positions of those no judgement could decide.
    """
    proofs: list[_Proof] = []
    undecided: list[int] = []
    for position in positions.tolist():
        cell = int(programme.cells[position])
        if state.certified[cell]:
            continue
        proof = judge(position)
        if proof is not None:
            proofs.append(proof)
        elif not state.certified[cell]:
            undecided.append(position)
    return proofs, undecided


@dataclass(frozen=True)
class _GroupLayout:
    """A large component's cells by group, for the programmes over a few groups each."""

    group: NDArray[np.int64]
    """Per cell of the programme: its group, numbered within the component."""
    shared: NDArray[np.bool_]
    """Per cell: whether its level has so few withheld cells that it joins every programme."""
    nested: bool
    """Whether a dealt group's parent is dealt too: an authority withheld beside its schools.

    Its counts move only with its schools' and against another authority's, which move only
    with that authority's schools': programmes over a few groups and their lenders hold the
    other authorities without their schools, fixed, and decide nothing, cell after cell. Such a
    component is audited whole (bench/README.md, "Many authorities"). A release's other nested
    levels (sex, and sex by stage) are withheld beside each other only in small areas.
    """
    at_truth: tuple[NDArray[np.float64], NDArray[np.float64]]
    """Each relation's left side at the true values (see :func:`_local`)."""
    ranked: NDArray[np.integer[Any]]
    """Each sum's cells largest true count first (see :func:`_ranked`)."""

    @staticmethod
    def of(groups: _Groups, programme: _Programme, truth: NDArray[np.float64]) -> _GroupLayout:
        present, group = np.unique(groups.of_cell[programme.cells], return_inverse=True)
        shared = _shared_levels(groups.level[present], np.bincount(group))
        parent = groups.parent[present]
        found = np.minimum(np.searchsorted(present, parent), present.size - 1)
        nested = (parent >= 0) & (present[found] == parent) & ~shared[found] & ~shared
        at_truth = (programme.a_eq @ truth, programme.a_ub @ truth)
        return _GroupLayout(
            np.asarray(group, dtype=np.int64),
            shared[group],
            bool(nested.any()),
            at_truth,
            _ranked(programme, truth),
        )

    def local(
        self, programme: _Programme, truth: NDArray[np.float64], inside: NDArray[np.bool_]
    ) -> _Programme:
        """:func:`_local` over ``inside``."""
        return _local(programme, truth, inside, at_truth=self.at_truth)

    def with_lenders(
        self,
        programme: _Programme,
        truth: NDArray[np.float64],
        mine: NDArray[np.bool_],
        width: float,
    ) -> NDArray[np.bool_]:
        """The cells ``mine``, the shared levels, and the groups of the cells they borrow from.

        A shared cell borrows through the other shared levels too: a count for everyone moves
        only if some schools' counts move with it.
        """
        borrowing = mine | self.shared if np.any(mine & self.shared) else mine
        lending = np.zeros(int(self.group.max()) + 1, dtype=np.bool_)
        lending[self.group[_lenders(programme, truth, borrowing, width, self.ranked)]] = True
        return np.asarray(mine | self.shared | lending[self.group], dtype=np.bool_)


def _audit_by_groups(
    state: _State,
    cells: NDArray[np.int64],
    layout: _GroupLayout,
    pool: Workers[_Component],
) -> None:
    """Certify most of a large component with programmes over a few groups each.

    A programme over some of the component's groups, every other cell held at its true value
    (:func:`_local`), has only feasible tables of the whole, so what it moves is certified; it
    is just far smaller. Levels with few withheld cells (everyone, sex by stage, the deciles)
    join every programme whole, since their sums tie each to the rest; the groups of the other
    levels (schools) are dealt into blocks, smallest to largest in turn, so that each block
    holds large groups with room to lend as well as small ones that need it. Rare counts are
    spread thin, though: a school's child-protection count can rise by the width only if other
    schools' counts of it hold the width between them. So the groups still pending then get
    programmes, a few groups each, with their *lenders*: in every sum their cells are in, the
    largest other cells until they hold a few widths, and the lenders' groups.
    What is left goes to the cell-by-cell steps.
    """
    truth = state.count[cells].astype(np.float64)
    position, shared = layout.group, layout.shared
    per_group = np.bincount(position)
    dealt = np.unique(position[~shared])
    dealt = dealt[np.argsort(np.bincount(position, weights=truth)[dealt], kind="stable")]
    room = max(_BLOCK_CELLS - int(shared.sum()), 1)
    blocks = max(1, -(-int(per_group[dealt].sum()) // room))
    _in_waves(
        state,
        cells,
        pool,
        [
            _Task(
                _Step.BLOCK,
                first,
                np.flatnonzero(shared | np.isin(position, dealt[first::blocks])),
            )
            for first in range(blocks)
        ],
    )
    pending = np.unique(position[~state.certified[cells]])
    _in_waves(
        state,
        cells,
        pool,
        [
            _Task(
                _Step.PARTNERS,
                first,
                np.flatnonzero(np.isin(position, pending[first : first + _PARTNER_GROUPS])),
            )
            for first in range(0, pending.size, _PARTNER_GROUPS)
        ],
    )


def _audit_by_templates(
    state: _State,
    cells: NDArray[np.int64],
    carrier: _Carrier,
    pool: Workers[_Component],
) -> None:
    """Certify most of a large component by carrying single certificates to every group alike.

    Schools are alike: the feasible table that moves one school's count of a population by the
    width, through a few of its own cells and a few lenders elsewhere, often fits another school
    as it stands, the same moves made in that school's cells of the same populations. So each
    template here is the feasible table nearest the truth (:func:`_least_move`) that moves one
    pending cell, over its group and lenders (:func:`_with_lenders`), and :class:`_Carrier`
    makes the same moves in every other group where that population is pending, keeping only
    the copies that satisfy every relation and bound of the component, as checked on the
    copies themselves: what they move is certified as any feasible table's moves are. The
    populations with the most cells pending give the next wave of templates (found on the
    workers, carried here in order), each from a cell drawn at random (so that a cell whose
    table fits nowhere is not drawn again and again), until each population has missed
    :data:`_TEMPLATE_MISSES` times. What is left goes to the blocks.
    """
    population = carrier.population
    misses = np.zeros(carrier.populations, dtype=np.int64)
    rng = np.random.default_rng((_SEED, list(_Step).index(_Step.TEMPLATE)))
    while True:
        certified = state.certified[cells]
        pending = np.flatnonzero(~certified)
        per_population = np.bincount(population[pending], minlength=misses.size)
        per_population[misses >= _TEMPLATE_MISSES] = 0
        chosen = np.argsort(-per_population, kind="stable")[:_WAVE]
        chosen = chosen[per_population[chosen] > 0]
        if chosen.size == 0:
            return
        targets = [int(rng.choice(pending[population[pending] == c])) for c in chosen]
        packed = np.packbits(certified)
        tasks = [
            _Task(_Step.TEMPLATE, number, np.array([target], dtype=np.int64), packed)
            for number, target in enumerate(targets)
        ]
        for which, target, found in zip(chosen, targets, pool.map(_run_task, tasks), strict=True):
            state.programmes += found.programmes
            template = found.templates[0]
            carried = 0 if template is None else carrier.carry(state, cells, target, template)
            if carried < _TEMPLATE_GAIN:
                misses[which] += 1


_Moves: TypeAlias = tuple[NDArray[np.int64], NDArray[np.float64]]
"""A feasible table as the cells it moves (positions in the component) and how far each."""


def _least_move_with_lenders(state: _State, component: _Component, position: int) -> _Moves | None:
    """The nearest table moving the cell at ``position`` by the width, over its group and lenders.

    ``None`` when neither restricted programme of :func:`_with_lenders` can move it that far.
    """
    truth = component.truth
    directions = (1.0, -1.0) if truth[position] >= state.width else (1.0,)
    for local in _with_lenders(component.programme, component.layout, truth, position, state.width):
        target = int(np.searchsorted(local.cells, position))
        for direction in directions:
            moves = _least_move(state, local, truth[local.cells], target, direction)
            if moves is not None:
                return moves
    return None


def _least_move(
    state: _State,
    programme: _Programme,
    truth: NDArray[np.float64],
    target: int,
    direction: float,
) -> _Moves | None:
    """The feasible table nearest the truth that moves cell ``target`` by the width ``direction``.

    Nearest in the sum of every cell's change, so that it moves few cells, and those little:
    the table most likely to fit another group. The change is split into a rise and a fall
    (``x = truth + rise - fall``, ``fall <= truth``), the target's fixed at the width. A table of
    whole numbers is returned as such; ``None`` when no table moves the target that far.
    """
    size = programme.cells.size
    split = _Programme(
        cells=programme.cells,
        eq_rows=programme.eq_rows,
        le_rows=programme.le_rows,
        a_eq=sparse.hstack([programme.a_eq, -programme.a_eq]).tocsr(),
        b_eq=programme.b_eq - programme.a_eq @ truth,
        a_ub=sparse.hstack([programme.a_ub, -programme.a_ub]).tocsr(),
        b_ub=programme.b_ub - programme.a_ub @ truth,
    )
    bounds = np.zeros((2 * size, 2))
    bounds[:size, 1] = np.inf
    bounds[size:, 1] = truth
    moving = target if direction > 0 else size + target
    bounds[moving] = state.width
    bounds[size + target if direction > 0 else target, 1] = 0.0
    result = _solve(split, np.ones(2 * size), state, bounds=bounds)
    if result.status != _OPTIMAL:
        return None
    change = np.asarray(result.x[:size] - result.x[size:])
    whole = np.round(change)
    if np.allclose(change, whole, rtol=0.0, atol=_TOLERANCE):
        change = whole
    moved = np.flatnonzero(np.abs(change) > _TOLERANCE)
    return programme.cells[moved], change[moved]


@dataclass(frozen=True)
class _Carrier:
    """Makes a table's moves in one group instead in other groups, keeping the copies that hold.

    A copy keeps the moves outside the template's group (its lenders) and makes the group's
    own in the other group's cells of the same populations. Whether a copy is a feasible table
    of the component is not assumed from the groups' likeness but checked: every sum it
    touches still adds up, every inclusion still holds and no count falls below zero.
    """

    programme: _Programme
    truth: NDArray[np.float64]
    group: NDArray[np.int64]
    population: NDArray[np.int64]
    populations: int
    """How many populations are numbered: the base of :attr:`keys`."""
    keys: NDArray[np.int64]
    """Every position's group and population as one number, sorted."""
    at_key: NDArray[np.int64]
    """The position of each of :attr:`keys`."""
    le_at_truth: NDArray[np.float64]
    """Each inclusion's left side at the true values."""

    @staticmethod
    def of(component: _Component, population: NDArray[np.int64]) -> _Carrier:
        group = component.layout.group
        populations = int(population.max()) + 1
        keys = group * populations + population
        order = np.argsort(keys, kind="stable")
        return _Carrier(
            component.programme,
            component.truth,
            group,
            population,
            populations,
            keys[order],
            order.astype(np.int64),
            component.layout.at_truth[1],
        )

    def carry(self, state: _State, cells: NDArray[np.int64], target: int, template: _Moves) -> int:
        """Certify by ``template`` (moving the cell at ``target``) and its copies that hold.

        Returns how many cells the copies certified beyond what the template itself did.
        """
        pending = ~state.certified[cells]
        moved, move = template
        tables = self._checked(
            sparse.csc_matrix(
                (move, (moved, np.zeros(moved.size, dtype=np.int64))), shape=(self.truth.size, 1)
            )
        )
        _widen_by(state, cells, self.truth, tables)
        before = int(state.certified[cells].sum())
        _widen_by(state, cells, self.truth, self._checked(self._copies(target, template, pending)))
        return int(state.certified[cells].sum()) - before

    def _position(
        self, group: NDArray[np.int64], population: NDArray[np.int64]
    ) -> NDArray[np.int64]:
        """The position of each group's cell of each population; -1 where it has none."""
        keys = group * self.populations + population
        found = np.minimum(np.searchsorted(self.keys, keys), self.keys.size - 1)
        return np.where(self.keys[found] == keys, self.at_key[found], -1)

    def _copies(
        self, target: int, template: _Moves, pending: NDArray[np.bool_]
    ) -> sparse.csc_matrix:
        """One column of moves per other group with the target's population pending."""
        moved, move = template
        home = self.group[target]
        own = self.group[moved] == home
        lent, lent_move = moved[~own], move[~own]
        others = np.flatnonzero(pending & (self.population == self.population[target]))
        others = others[
            (self.group[others] != home) & ~np.isin(self.group[others], self.group[lent])
        ]
        at = self._position(self.group[others][:, np.newaxis], self.population[moved[own]])
        at = at[np.all(at >= 0, axis=1)]
        copies = at.shape[0]
        rows = np.concatenate([at, np.broadcast_to(lent, (copies, lent.size))], axis=1)
        values = np.broadcast_to(np.concatenate([move[own], lent_move]), rows.shape)
        columns = np.repeat(np.arange(copies), rows.shape[1])
        return sparse.csc_matrix(
            (values.ravel(), (rows.ravel(), columns)), shape=(self.truth.size, copies)
        )

    def _checked(self, tables: sparse.csc_matrix) -> sparse.coo_matrix:
        """The columns of ``tables`` (moves from the truth) that are feasible tables."""
        holds = np.ones(tables.shape[1], dtype=np.bool_)
        # by table, then by relation: only the relations of the cells a table moves are read
        eq_by_cell, le_by_cell = self.programme.by_cell
        sums = (tables.T @ eq_by_cell.T).tocoo()
        holds[sums.row[np.abs(sums.data) > _TOLERANCE]] = False
        inclusions = (tables.T @ le_by_cell.T).tocoo()
        broken = (
            self.le_at_truth[inclusions.col] + inclusions.data
            > self.programme.b_ub[inclusions.col] + _TOLERANCE
        )
        holds[inclusions.row[broken]] = False
        entries = tables.tocoo()
        holds[entries.col[self.truth[entries.row] + entries.data < -_TOLERANCE]] = False
        kept = np.flatnonzero(holds)
        return tables[:, kept].tocoo()


def _widen_by(
    state: _State, cells: NDArray[np.int64], truth: NDArray[np.float64], tables: sparse.coo_matrix
) -> None:
    """Widen the seen intervals by feasible ``tables`` (moves from the truth, a column each)."""
    if tables.nnz == 0:
        return
    touched, at = np.unique(tables.row, return_inverse=True)
    value = truth[tables.row] + tables.data
    low, high = truth[touched].copy(), truth[touched].copy()
    np.minimum.at(low, at, value)
    np.maximum.at(high, at, value)
    _widen(state, cells[touched], low, high)


def _judge_each_with_lenders(
    relations: _Relations,
    state: _State,
    cells: NDArray[np.int64],
    layout: _GroupLayout,
    pool: Workers[_Component],
) -> tuple[list[int], NDArray[np.bool_]]:
    """Each pending cell of a large component judged by :func:`_judge_with_lenders`.

    A few cells of neighbouring groups are judged in turn by one worker, since a table that
    certifies one of them often certifies the next. Returns the repairs of the cells proved
    unprotected and which cells none could decide.
    """
    pending = np.flatnonzero(~state.certified[cells])
    pending = pending[np.argsort(layout.group[pending], kind="stable")]
    tasks = [
        _Task(_Step.JUDGE, first, pending[first : first + _JUDGED_TOGETHER])
        for first in range(0, pending.size, _JUDGED_TOGETHER)
    ]
    repairs: list[int] = []
    undecided = np.zeros(cells.size, dtype=np.bool_)
    for found in _in_waves(state, cells, pool, tasks):
        repairs += [_repair_candidate(relations, state, *proof) for proof in found.proofs]
        undecided[found.undecided] = True
    return repairs, undecided & ~state.certified[cells]


class _Step(StrEnum):
    """What a task of a large component's audit does with the cells it aims at."""

    BLOCK = "block"
    """Batched rounds over the cells, every other cell at its true value."""
    PARTNERS = "partners"
    """Batched rounds over the cells and the groups they borrow room from."""
    JUDGE = "judge"
    """Each cell judged in turn by :func:`_judge_with_lenders`."""
    TEMPLATE = "template"
    """The nearest table moving each cell, by :func:`_least_move_with_lenders`."""


@dataclass(frozen=True)
class _Component:
    """A large component as every worker holds it: its cells numbered by their position."""

    programme: _Programme
    layout: _GroupLayout
    truth: NDArray[np.float64]
    width: float

    @staticmethod
    def of(
        programme: _Programme, layout: _GroupLayout, truth: NDArray[np.float64], width: float
    ) -> _Component:
        numbered = replace(programme, cells=np.arange(programme.cells.size, dtype=np.int64))
        return _Component(numbered, layout, truth, width)

    def state(self, certified: NDArray[np.bool_]) -> _State:
        """A fresh working state over the component: only the tables a task finds widen it."""
        size = self.truth.size
        return _State(
            width=self.width,
            unknown=np.ones(size, dtype=np.bool_),
            certified=certified,
            low=self.truth.copy(),
            high=self.truth.copy(),
            codes=np.zeros(size, dtype=np.int8),
            cost=np.zeros(size),
            count=self.truth.astype(np.int64),
        )


@dataclass(frozen=True)
class _Task:
    """One independent piece of a large component's audit, by position in the component."""

    step: _Step
    number: int
    """Which task of its step: seeds its random directions."""
    aimed: NDArray[np.int64]
    certified: NDArray[np.uint8] = field(default_factory=lambda: np.zeros(0, dtype=np.uint8))
    """What was certified when its wave began, packed a bit per cell of the component."""


@dataclass(frozen=True)
class _Found:
    """What a task found: how far its tables moved the cells they moved, and its proofs."""

    moved: NDArray[np.int64]
    low: NDArray[np.float64]
    high: NDArray[np.float64]
    certified: NDArray[np.int64]
    """Every cell the task certified (one a programme found unbounded moved no interval)."""
    programmes: int
    proofs: tuple[_Proof, ...]
    """Per cell proved unprotected: the relaxed programme and its maximisation result."""
    undecided: NDArray[np.int64]
    templates: tuple[_Moves | None, ...] = ()
    """Per cell aimed at by a template task: the nearest table moving it, if any."""


def _run_task(component: _Component, task: _Task) -> _Found:
    """Run ``task`` over ``component`` (in a worker process, or in this one)."""
    programme, layout, truth = component.programme, component.layout, component.truth
    before = np.unpackbits(task.certified, count=truth.size).astype(np.bool_)
    state = component.state(before.copy())
    proofs: list[_Proof] = []
    undecided: list[int] = []
    templates: tuple[_Moves | None, ...] = ()
    if task.step is _Step.TEMPLATE:
        templates = tuple(
            _least_move_with_lenders(state, component, position) for position in task.aimed.tolist()
        )
    elif task.step is _Step.JUDGE:
        proofs, undecided = _judge_in_turn(
            state,
            programme,
            task.aimed,
            lambda position: _judge_with_lenders(state, programme, layout, truth, position),
        )
    else:
        aimed = np.zeros(truth.size, dtype=np.bool_)
        aimed[task.aimed] = True
        inside = (
            layout.with_lenders(programme, truth, aimed, state.width * _PARTNER_ROOM)
            if task.step is _Step.PARTNERS
            else aimed
        )
        _batch_rounds(
            state,
            layout.local(programme, truth, inside),
            np.random.default_rng((_SEED, list(_Step).index(task.step), task.number)),
            among=aimed[inside],
            rounds=_BLOCK_ROUNDS if task.step is _Step.BLOCK else _PARTNER_ROUNDS,
        )
    moved = np.flatnonzero((state.low != truth) | (state.high != truth))
    return _Found(
        moved,
        state.low[moved],
        state.high[moved],
        np.flatnonzero(state.certified & ~before),
        state.programmes,
        tuple(proofs),
        np.asarray(undecided, dtype=np.int64),
        templates,
    )


def _in_waves(
    state: _State, cells: NDArray[np.int64], pool: Workers[_Component], tasks: list[_Task]
) -> list[_Found]:
    """Run ``tasks`` a wave at a time, each wave from what the waves before it certified.

    A task whose cells are all certified when its wave begins is skipped. Waves are of a fixed
    size and their findings are taken in order, so the outcome does not depend on the workers.
    """
    found: list[_Found] = []
    for first in range(0, len(tasks), _WAVE):
        certified = state.certified[cells]
        packed = np.packbits(certified)
        wave = [
            replace(task, certified=packed)
            for task in tasks[first : first + _WAVE]
            if not certified[task.aimed].all()
        ]
        for finding in pool.map(_run_task, wave):
            _widen(state, cells[finding.moved], finding.low, finding.high)
            state.certified[cells[finding.certified]] = True
            state.programmes += finding.programmes
            found.append(finding)
    return found


def _judge_with_lenders(
    state: _State,
    programme: _Programme,
    layout: _GroupLayout,
    truth: NDArray[np.float64],
    position: int,
) -> _Proof | None:
    """Certify one cell of a large component, or prove it unprotected, by small programmes.

    As :func:`_judge_locally` does, but over the neighbourhoods that suit a component whose sums
    run over thousands of schools: the restricted programme over the cell's group and the groups
    lending a width to the sums of the cell and its neighbours in the group certifies, or failing
    that the one whose lenders hold a few widths in every sum of the group; the relaxed one over
    the relations the cell itself is in, or failing that those among its group's cells with its
    own, or last every relation of its group (which reaches along the group's area-wide sums,
    about the whole component), proves it unprotected.
    ``None`` when the cell is certified or neither decides. Small programmes matter here: a
    service that only 22 children in a million receive lets one programme certify two schools'
    zeros.
    """
    cell = int(programme.cells[position])
    for restricted in _with_lenders(programme, layout, truth, position, state.width):
        if _stuck(state, restricted, cell, feasible=True) is None:
            return None
    group = layout.group == layout.group[position]
    alone = np.zeros(programme.cells.size, dtype=np.bool_)
    alone[position] = True
    # Narrowest first, each built only when the one before could not decide: the last reaches
    # along every area-wide sum of the group.
    for inside, within in ((alone, None), (group, group), (group, None)):
        relaxed = _relaxed(programme, inside, within=within, position=position)
        upward = _stuck(state, relaxed, cell, feasible=False)
        if upward is not None:
            return relaxed, upward
    return None


def _with_lenders(
    programme: _Programme,
    layout: _GroupLayout,
    truth: NDArray[np.float64],
    position: int,
    width: float,
) -> Iterator[_Programme]:
    """Restricted programmes around one cell of a large component, the smaller first.

    The cell's group and the groups lending a width to the sums of the cell and its neighbours
    in the group; then the group and the groups whose lenders hold a few widths in every sum of
    the group. Every other cell is held at its true value, so their tables are the whole's.
    """
    group = layout.group == layout.group[position]
    near = np.zeros(programme.cells.size, dtype=np.bool_)
    near[_touching(programme, np.array([position], dtype=np.int64))] = True
    for borrowing, room in ((near & group, 1), (group, _PARTNER_ROOM)):
        inside = layout.with_lenders(programme, truth, borrowing, width * room)
        yield layout.local(programme, truth, inside)


def _shared_levels(level: NDArray[np.int64], cells: NDArray[np.int64]) -> NDArray[np.bool_]:
    """Per group: whether its level is small enough to join every block.

    Levels are taken fewest cells first while together they fill at most a quarter of a block.
    """
    levels, position = np.unique(level, return_inverse=True)
    per_level = np.bincount(position, weights=cells)
    order = np.argsort(per_level, kind="stable")
    small = np.zeros(levels.size, dtype=np.bool_)
    small[order[np.cumsum(per_level[order]) <= _BLOCK_CELLS / 4]] = True
    return np.asarray(small[position], dtype=np.bool_)


def _ranked(programme: _Programme, truth: NDArray[np.float64]) -> NDArray[np.integer[Any]]:
    """Each sum's cells, largest true count first, row by row as ``programme.a_eq`` holds them.

    Ranked once per component: a national release's sums run over thousands of schools, and
    every programme with lenders looks at the largest few of each sum it touches. Positions
    are kept in the matrix's own index type (four bytes, not eight, below two billion cells):
    one per entry of every sum, in this process and on every worker.
    """
    entries = programme.a_eq.tocoo()
    order = np.lexsort((-truth[entries.col], entries.row))
    return np.asarray(entries.col[order])


def _lenders(
    programme: _Programme,
    truth: NDArray[np.float64],
    mine: NDArray[np.bool_],
    width: float,
    ranked: NDArray[np.integer[Any]],
) -> NDArray[np.int64]:
    """Positions of the cells that groups (the cells ``mine``) borrow room from.

    In every sum one of their cells is in, the other cells largest first (``ranked``, from
    :func:`_ranked`), until those taken hold ``width`` (at most :data:`_PARTNERS_PER_SUM` of
    them). Only the head of each sum is read: its own cells and that many more.
    """
    rows, mine_in_row = np.unique(
        programme.by_cell[0][:, np.flatnonzero(mine)].indices, return_counts=True
    )
    if rows.size == 0:
        return np.zeros(0, dtype=np.int64)
    indptr = programme.a_eq.indptr
    lengths = np.minimum(indptr[rows + 1] - indptr[rows], mine_in_row + _PARTNERS_PER_SUM)
    offsets = np.repeat(indptr[rows] - np.cumsum(lengths) + lengths, lengths)
    col = ranked[offsets + np.arange(int(lengths.sum()))]
    row = np.repeat(rows, lengths)
    others = ~mine[col]
    row, col = row[others], col[others]
    if row.size == 0:
        return np.asarray(col, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, row[1:] != row[:-1]])
    lengths = np.diff(np.r_[starts, row.size])
    held = np.cumsum(truth[col])
    held_before = held - truth[col] - np.repeat(held[starts] - truth[col][starts], lengths)
    rank = np.arange(row.size) - np.repeat(starts, lengths)
    return np.asarray(col[(held_before < width) & (rank < _PARTNERS_PER_SUM)], dtype=np.int64)


def _batch_rounds(
    state: _State,
    programme: _Programme,
    rng: np.random.Generator,
    *,
    among: NDArray[np.bool_],
    rounds: int,
) -> None:
    """Certify most of a component with a few programmes that each move many cells by the width.

    Each round maximises the sum of the pending cells' moves, each *capped at the width*, so the
    optimum spreads the slack over as many cells as it can instead of spending it on one. The
    first round raises every pending cell, the second lowers those at least the width (a smaller
    one cannot fall that far), later ones pick each large cell's direction at random: cells in
    one sum can often move only in opposite directions. Cells competing for the same slack hold
    each other back, so once a round certifies nothing new, later rounds aim at a random half.
    Only cells ``among`` are aimed at (any cell a solution moves far enough is certified), for
    at most ``rounds``; whatever is left is certified, or found unprotected, cell by cell.
    """
    cells = programme.cells
    truth = state.count[cells].astype(np.float64)
    large = truth >= state.width
    halved = False
    stalled = 0
    for round_number in range(rounds):
        eligible = among & ~state.certified[cells]
        if not eligible.any():
            return
        if round_number == 0:
            directions = np.ones(cells.size)
        elif round_number == 1:
            directions = -np.ones(cells.size)
            eligible &= large
        else:
            directions = np.where(large, rng.choice([-1.0, 1.0], size=cells.size), 1.0)
        if halved:
            eligible &= rng.random(cells.size) < _HALVED_SHARE
        batch = np.flatnonzero(eligible)
        before = int(state.certified[cells].sum())
        if batch.size:
            result = _solve_capped(programme, truth, batch, directions[batch], state)
            if result.status != _OPTIMAL:
                raise InternalError("the disclosure audit found the published counts inconsistent")
            _certify(state, programme, np.asarray(result.x[: cells.size]))
        if int(state.certified[cells].sum()) == before:
            halved = True
            stalled += 1
            if stalled >= _STALL_ROUNDS:
                return
        else:
            stalled = 0


def _solve_capped(
    programme: _Programme,
    truth: NDArray[np.float64],
    batch: NDArray[np.int64],
    directions: NDArray[np.float64],
    state: _State,
) -> OptimizeResult:
    """Maximise the sum of the ``batch`` cells' moves, each in its direction, capped at the width.

    Variables are the programme's cells ``x`` and one move ``m`` per batch cell, with
    ``m <= direction * (x - truth)`` and ``m <= width``; ``x`` keeps every relation of the
    programme, so the optimum's ``x`` is a feasible table.
    """
    size, moves = programme.cells.size, batch.size
    rows = np.arange(moves)
    move_rows = sparse.hstack(
        [
            sparse.csr_matrix((-directions, (rows, batch)), shape=(moves, size)),
            sparse.identity(moves, format="csr"),
        ]
    )
    no_moves = sparse.csr_matrix((programme.a_eq.shape[0], moves))
    capped = _Programme(
        cells=programme.cells,
        eq_rows=programme.eq_rows,
        le_rows=programme.le_rows,
        a_eq=sparse.hstack([programme.a_eq, no_moves]).tocsr(),
        b_eq=programme.b_eq,
        a_ub=sparse.vstack(
            [
                sparse.hstack(
                    [programme.a_ub, sparse.csr_matrix((programme.a_ub.shape[0], moves))]
                ),
                move_rows,
            ]
        ).tocsr(),
        b_ub=np.concatenate([programme.b_ub, -directions * truth[batch]]),
    )
    objective = np.concatenate([np.zeros(size), -np.ones(moves)])
    bounds = np.array([[0.0, np.inf]] * size + [[-np.inf, state.width]] * moves)
    return _solve(capped, objective, state, bounds=bounds)


def _touching(programme: _Programme, frontier: NDArray[np.int64]) -> NDArray[np.int64]:
    """Positions of the programme's cells that share a relation with any of ``frontier``.

    Found from the relations each time: the whole adjacency of a large component (every pair
    of cells in one long sum) would not fit in memory.
    """
    reached = [frontier]
    for matrix, rows in zip(
        (programme.a_eq, programme.a_ub), programme.rows_of(frontier), strict=True
    ):
        reached.append(matrix[rows].indices.astype(np.int64))
    return np.unique(np.concatenate(reached))


def _local(
    programme: _Programme,
    truth: NDArray[np.float64],
    inside: NDArray[np.bool_],
    *,
    at_truth: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None,
) -> _Programme:
    """The programme with every cell outside ``inside`` fixed at its true value.

    Its feasible tables are feasible tables of the whole programme (the fixed cells keep values
    that satisfy every relation), so an interval it proves is proven for the whole; it is just
    much smaller to solve. ``at_truth`` (each relation's left side at the true values, which a
    caller building many such programmes computes once) spares reading the long sums whole:
    only the inside cells' entries are read.
    """
    if at_truth is None:
        at_truth = (programme.a_eq @ truth, programme.a_ub @ truth)
    members = np.flatnonzero(inside)
    parts = []
    for by_cell, rhs, full in zip(
        programme.by_cell, (programme.b_eq, programme.b_ub), at_truth, strict=True
    ):
        entries = by_cell[:, members].tocoo()
        rows, row = np.unique(entries.row, return_inverse=True)
        block = sparse.csr_matrix(
            (entries.data, (row, entries.col)), shape=(rows.size, members.size)
        )
        # outside cells at their true values: the whole left side less the inside cells' part
        parts.append((rows, block, rhs[rows] - full[rows] + block @ truth[members]))
    return _Programme(
        cells=programme.cells[inside],
        eq_rows=programme.eq_rows[parts[0][0]],
        le_rows=programme.le_rows[parts[1][0]],
        a_eq=parts[0][1],
        b_eq=parts[0][2],
        a_ub=parts[1][1],
        b_ub=parts[1][2],
    )


def _judge_locally(
    state: _State,
    programme: _Programme,
    truth: NDArray[np.float64],
    position: int,
) -> _Proof | None:
    """Certify one cell, or prove it unprotected, from programmes over growing neighbourhoods.

    Two programmes bracket the whole one around a neighbourhood. The restricted one fixes every
    cell outside it at its true value: its tables are feasible tables of the whole, so a move it
    finds certifies the cell. The relaxed one keeps only the relations touching the
    neighbourhood and leaves the cells they reach free: the whole programme cannot move the cell
    further than it can, so when it cannot move the cell by the width the cell needs a repair.
    Returns that relaxed programme and its maximisation result (for choosing the repair), or
    ``None`` when the cell is certified or no neighbourhood could decide (one nearly as large as
    the whole programme is not tried: the whole decides instead).
    """
    cell = int(programme.cells[position])
    inside = np.zeros(programme.cells.size, dtype=np.bool_)
    inside[position] = True
    frontier = np.array([position], dtype=np.int64)
    for radius in _LOCAL_RADII:
        for _ in range(radius):  # breadth first, touching only the frontier's rows
            reached = _touching(programme, frontier)
            frontier = reached[~inside[reached]]
            inside[frontier] = True
        if inside.sum() > _LOCAL_SHARE * inside.size:
            return None
        if _stuck(state, _local(programme, truth, inside), cell, feasible=True) is None:
            return None
        relaxed = _relaxed(programme, inside)
        upward = _stuck(state, relaxed, cell, feasible=False)
        if upward is not None:
            return relaxed, upward
    return None


def _stuck(
    state: _State, programme: _Programme, cell: int, *, feasible: bool
) -> OptimizeResult | None:
    """The maximisation result if ``programme`` moves ``cell`` by the width in no direction.

    ``None`` when some direction moves it that far. A ``feasible`` programme's tables are tables
    of the whole, so what they move is certified; a relaxed programme's are not, and only say
    how far the cell might move.
    """
    target = int(np.flatnonzero(programme.cells == cell)[0])
    truth = float(state.count[cell])
    upward = None
    # A cell below the width cannot fall a width below its value: only its maximum can help.
    for sign in (-1.0,) if truth < state.width else (-1.0, 1.0):
        objective = np.zeros(programme.cells.size)
        objective[target] = sign
        result = _solve(programme, objective, state)
        if result.status == _UNBOUNDED:
            if feasible:
                state.certified[cell] = True
            return None
        if result.status != _OPTIMAL:
            raise InternalError("the disclosure audit found the published counts inconsistent")
        if feasible:
            _certify(state, programme, np.asarray(result.x))
            if state.certified[cell]:
                return None
        elif abs(float(result.x[target]) - truth) >= state.width - _TOLERANCE:
            return None
        if sign < 0:
            upward = result
    return upward


def _relaxed(
    programme: _Programme,
    inside: NDArray[np.bool_],
    *,
    within: NDArray[np.bool_] | None = None,
    position: int = 0,
) -> _Programme:
    """The relations touching ``inside``, over every cell they reach; all other relations dropped.

    Dropping relations only enlarges the feasible set, so no cell moves further in the whole
    programme than here: a cell this programme pins is pinned. ``within``: only the relations
    among those cells, and those of the cell at ``position`` (a school's own relations and the
    cell's sums, without the area-wide sums of every other cell of the school, which reach the
    whole component of a national release: a programme of hundreds of megabytes).
    """
    members = np.flatnonzero(inside)
    parts = []
    for matrix, rhs, touching in zip(
        (programme.a_eq, programme.a_ub),
        (programme.b_eq, programme.b_ub),
        programme.rows_of(members),
        strict=True,
    ):
        rows, found = touching, matrix[touching].tocsr()
        if within is not None:
            outside = np.diff(found[:, np.flatnonzero(~within)].tocsr().indptr) > 0
            own = np.diff(found[:, [position]].tocsr().indptr) > 0
            keep = ~outside | own
            rows, found = touching[keep], found[keep]
        parts.append((rows, found, rhs[rows]))
    reached = np.unique(
        np.concatenate([members, parts[0][1].indices, parts[1][1].indices]).astype(np.int64)
    )
    return _Programme(
        cells=programme.cells[reached],
        eq_rows=programme.eq_rows[parts[0][0]],
        le_rows=programme.le_rows[parts[1][0]],
        a_eq=parts[0][1][:, reached].tocsr(),
        b_eq=parts[0][2],
        a_ub=parts[1][1][:, reached].tocsr(),
        b_ub=parts[1][2],
    )


def _neighbour_labels(
    relations: _Relations, state: _State, labels: NDArray[np.int32], cell: int
) -> set[int]:
    """Labels of the components a newly suppressed ``cell`` joins."""
    eq_rows, le_rows = relations.rows_of(np.array([cell], dtype=np.int64))
    touched = sparse.vstack([relations.eq[eq_rows], relations.le[le_rows]]).tocoo().col
    touched = touched[state.unknown[touched]]
    return {int(label) for label in labels[touched]}


def _tie_identical_costs(relations: _Relations, state: _State, system: CellSystem) -> None:
    """Give cells that count the same children the cost of the dearest of them.

    A sum whose parts are all structural zeros but one says that part *is* its total (all
    linked children live in urban areas, say): suppressing either suppresses both, so neither
    may look cheaper than the other.
    """
    eq = relations.eq
    if eq.shape[0] == 0:
        return
    live = eq.multiply(~system.structural[np.newaxis, :]).tocsr()
    live.eliminate_zeros()
    pairs = np.flatnonzero(np.diff(live.indptr) == 2)  # noqa: PLR2004 - a total and one part
    for _ in range(8):  # chains of identical groups are short: levels of one breakdown
        changed = False
        for row in pairs:
            cells = live.indices[live.indptr[row] : live.indptr[row + 1]]
            dearest = state.cost[cells].max()
            if np.any(state.cost[cells] < dearest):
                state.cost[cells] = dearest
                changed = True
        if not changed:
            return


def secondary_suppression(
    system: CellSystem,
    codes: NDArray[np.int8],
    policy: DisclosurePolicy,
    *,
    progress: Progress = SILENT,
    workers: int | None = None,
) -> Protection:
    """Add secondary suppressions to the primary ``codes`` until every suppressed cell is safe.

    A large component's programmes run on ``workers`` processes (default: one per core this
    process may use); the cells withheld are the same whatever their number.
    """
    if workers is not None and workers < 1:
        raise ConfigError(
            f"the disclosure audit needs at least one worker, not {workers}",
            hint="give a positive number of workers, or none for one per core",
        )
    relations = _Relations.of(system)
    count = system.count.astype(np.float64)
    state = _State(
        width=float(policy.threshold),
        unknown=codes != PUBLISHED,
        certified=np.zeros(len(system), dtype=np.bool_),
        low=count,
        high=count.copy(),
        codes=codes.copy(),
        cost=np.where(system.structural, np.inf, system.cost).astype(np.float64),
        count=system.count,
    )
    _tie_identical_costs(relations, state, system)
    primary = int(state.unknown.sum())
    rng = np.random.default_rng(_SEED)
    groups = _Groups.of(system)
    with progress.task("disclosure control", total=None) as task:
        _singleton_pass(relations, state)
        _capacity_pass(relations, state, system.count)
        _singleton_pass(relations, state)
        while True:
            pending = state.unknown & ~state.certified
            if not pending.any():
                break
            labels = _components(relations, state)
            stale: set[int] = set()
            for label in np.unique(labels[pending]):
                if int(label) in stale:
                    continue
                members = np.flatnonzero((labels == label) & state.unknown).astype(np.int64)
                state.components += 1
                for repair in _audit_component(
                    system,
                    relations,
                    state,
                    members,
                    groups=groups,
                    rng=rng,
                    workers=workers or available_cores(),
                ):
                    stale |= {int(label)} | _neighbour_labels(relations, state, labels, repair)
                task.advance(1)
            _singleton_pass(relations, state)
            _capacity_pass(relations, state, system.count)
            _singleton_pass(relations, state)
    audit = AuditSummary(
        primary=primary,
        secondary_by_singleton=state.singleton + state.capacity,
        secondary_by_repair=state.repaired,
        components=state.components,
        linear_programmes=state.programmes,
        certified=int(state.certified.sum()),
    )
    return Protection(codes=state.codes, audit=audit)


def protect(
    system: CellSystem,
    policy: DisclosurePolicy,
    *,
    weighted: bool,
    progress: Progress = SILENT,
    workers: int | None = None,
) -> Protection:
    """Primary then secondary suppression of ``system`` under ``policy``.

    ``workers``: processes for a large release's audit (default: one per core).
    """
    codes = primary_suppression(system, policy, weighted=weighted)
    return secondary_suppression(system, codes, policy, progress=progress, workers=workers)
