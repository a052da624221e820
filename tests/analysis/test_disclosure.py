"""Disclosure control on hand-built cell systems: every rule, rounding, and a property test.

The property test builds random two-way tables with all their margins, protects them, and runs
the independent intruder of :mod:`.attack` on the result: whatever the counts, no withheld cell
is pinned to within plus or minus the threshold of its true value.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkwell.analysis import disclosure
from linkwell.analysis.cells import CellSystem, CellSystemBuilder, Pop, PopKey
from linkwell.analysis.disclosure import (
    PUBLISHED,
    Rule,
    primary_suppression,
    protect,
    round_to_base,
)
from linkwell.analysis.groups import GroupKey
from linkwell.analysis.workers import Workers
from linkwell.config import DisclosurePolicy
from linkwell.errors import ConfigError, InternalError

from .attack import Problem, pinned, ranges

POLICY = DisclosurePolicy()


def _pinned(system: CellSystem, found: dict[int, tuple[float, float]]) -> int:
    cells = np.array(list(found), dtype=np.int64)
    low = np.array([found[c][0] for c in cells])
    high = np.array([found[c][1] for c in cells])
    return int(pinned(system.count[cells].astype(float), low, high, POLICY.threshold).sum())


_YES, _NO, _KNOWN = (PopKey(k, "n") for k in (Pop.NEED_YES, Pop.NEED_NO, Pop.NEED_KNOWN))


def _yes_no_total(
    b: CellSystemBuilder, key: GroupKey, yes: int, no: int, cost: float = 0, **cell: object
) -> list[int]:
    """A group's yes, no and total cells (the total their sum), the total dearer by one."""
    cells = [
        b.cell((_YES, key), yes, base=yes + no, cost=cost, **cell),  # type: ignore[arg-type]
        b.cell((_NO, key), no, base=yes + no, cost=cost),
        b.cell((_KNOWN, key), yes + no, cost=cost + 1),
    ]
    b.equal(cells[2], cells[:2])
    return cells


def _margin(
    b: CellSystemBuilder,
    key: GroupKey,
    rows: list[list[int]],
    counts: list[tuple[int, int]],
    cost: float,
) -> list[int]:
    """The group ``key`` over ``rows`` (each a group's yes, no and total cells, whose yes and no
    counts are ``counts``): each of its cells the sum of the rows' cells of its kind."""
    yes, no = (sum(column) for column in zip(*counts, strict=True))
    margin = _yes_no_total(b, key, yes, no, cost=cost)
    for total, column in zip(margin, zip(*rows, strict=True), strict=True):
        b.equal(total, list(column))
    return margin


def _row_table(yes: list[int], no: list[int], **cell: object) -> tuple[CellSystem, list[int]]:
    """Groups with yes/no/total cells and an all-groups row: a two-column table with margins."""
    b = CellSystemBuilder()
    counts = list(zip(yes, no, strict=True))
    rows = [
        _yes_no_total(b, (("school", f"S{g}"),), y, n, **cell) for g, (y, n) in enumerate(counts)
    ]
    _margin(b, (), rows, counts, cost=30)
    return b.build(), [row[0] for row in rows]


def _nested_table(authorities: list[list[tuple[int, int]]]) -> CellSystem:
    """Schools' yes/no/total rows within their authorities', and the area's: two nested margins."""
    b = CellSystemBuilder()
    margins = []
    for a, schools in enumerate(authorities):
        rows = [
            _yes_no_total(b, (("authority", f"A{a}"), ("school", f"S{g}")), y, n)
            for g, (y, n) in enumerate(schools)
        ]
        margins.append(_margin(b, (("authority", f"A{a}"),), rows, schools, cost=10))
    _margin(b, (), margins, [pair for schools in authorities for pair in schools], cost=30)
    return b.build()


def _attack(system: CellSystem, codes: np.ndarray) -> dict[int, tuple[float, float]]:
    eq = []
    for r in range(system.eq.shape[0]):
        row = system.eq.getrow(r)
        eq.append((row.indices.tolist(), row.data.tolist()))
    problem = Problem(
        values=system.count,
        published=codes == PUBLISHED,
        shown=system.count * (codes == PUBLISHED),
        eq=eq,
        le=[],
    )
    return ranges(problem, rounding=1, threshold=POLICY.threshold)


def test_primary_rules_and_their_precedence() -> None:
    system, yes = _row_table([3, 0, 40, 25], [50, 30, 60, 5])
    codes = primary_suppression(system, POLICY, weighted=False)
    assert Rule.of(int(codes[yes[0]])) is Rule.PRIMARY
    assert Rule.of(int(codes[yes[1]])) is Rule.SENSITIVE_ZERO
    assert Rule.of(int(codes[yes[2]])) is None
    no_zeros = DisclosurePolicy(suppress_sensitive_zeros=False)
    assert primary_suppression(system, no_zeros, weighted=False)[yes[1]] == PUBLISHED


def test_zeros_of_empty_groups_are_structural_not_sensitive() -> None:
    system, yes = _row_table([0, 40], [0, 60])
    codes = primary_suppression(system, POLICY, weighted=False)
    assert codes[yes[0]] == PUBLISHED
    assert system.structural[yes[0]]
    protection = protect(system, POLICY, weighted=False)
    assert protection.codes[yes[0]] == PUBLISHED


def test_dominance_applies_to_weighted_cells_only() -> None:
    # Twelve children, one of weight 50 among weights of 1: two weights make 51 of 61 < 90%...
    system, yes = _row_table([12, 40], [50, 60], wsum=61.0, top=51.0)
    assert primary_suppression(system, POLICY, weighted=True)[yes[0]] == PUBLISHED
    # ... but one of weight 200 makes 201 of 211 > 90%.
    system, yes = _row_table([12, 40], [50, 60], wsum=211.0, top=201.0)
    codes = primary_suppression(system, POLICY, weighted=True)
    assert Rule.of(int(codes[yes[0]])) is Rule.DOMINANCE
    assert primary_suppression(system, POLICY, weighted=False)[yes[0]] == PUBLISHED


def test_national_only_cells_are_withheld() -> None:
    system, yes = _row_table([40, 40], [50, 60], national_only=True)
    codes = primary_suppression(system, POLICY, weighted=False)
    assert all(Rule.of(int(codes[i])) is Rule.NATIONAL_ONLY for i in yes)


def test_a_lone_small_cell_gets_a_partner_in_its_row_and_column() -> None:
    system, _ = _row_table([3, 40, 25, 60], [50, 60, 30, 80])
    protection = protect(system, POLICY, weighted=False)
    suppressed = {system.keys[i] for i in np.flatnonzero(protection.codes)}
    assert len(suppressed) >= 4  # the small cell, its row partner and a rectangle's corners
    assert _pinned(system, _attack(system, protection.codes)) == 0
    assert protection.audit.certified == len(suppressed)


def test_a_cell_its_neighbourhood_pins_is_judged_by_the_whole_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No batched rounds and a neighbourhood of the cell alone: every other cell is held at its
    # true value there, so only the whole programme can show how far a suppressed cell moves.
    system, _ = _row_table([3, 40, 25, 60, 4], [50, 60, 30, 80, 45])
    monkeypatch.setattr(disclosure, "_BATCH_ROUNDS", 0)
    monkeypatch.setattr(disclosure, "_LOCAL_RADII", (len(system),))
    whole = protect(system, POLICY, weighted=False)
    monkeypatch.setattr(disclosure, "_LOCAL_RADII", (0,))
    narrow = protect(system, POLICY, weighted=False)
    assert narrow.codes.tolist() == whole.codes.tolist()
    assert _pinned(system, _attack(system, narrow.codes)) == 0


def test_the_whole_area_row_is_kept_when_anything_else_will_do() -> None:
    system, _ = _row_table([3, 40, 25, 60], [50, 60, 30, 80])
    protection = protect(system, POLICY, weighted=False)
    for i in np.flatnonzero(protection.codes):
        assert system.keys[i][1] != ()


@pytest.mark.parametrize(
    ("values", "base", "expected"),
    [
        ([0, 1, 2, 3, 7, 8, 12, 13, 1234], 5, [0, 0, 0, 5, 5, 10, 10, 15, 1235]),
        ([5, 14, 15], 10, [10, 10, 20]),
    ],
)
def test_rounding_to_base(values: list[int], base: int, expected: list[int]) -> None:
    assert round_to_base(np.array(values), base).tolist() == expected


def test_relations_that_do_not_hold_are_a_bug() -> None:
    b = CellSystemBuilder()
    total = b.cell((PopKey(Pop.LINKED), ()), 10)
    part = b.cell((PopKey(Pop.LINKED), (("school", "S"),)), 4)
    b.equal(total, [part])
    with pytest.raises(InternalError):
        b.build()


@pytest.mark.parametrize("by_blocks", [False, True], ids=["whole", "by-blocks-of-groups"])
@settings(max_examples=25)
@given(
    rows=st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)), min_size=2, max_size=7).filter(
        lambda rows: sum(y + n for y, n in rows) > 0
    )
)
def test_property_no_random_table_leaks(rows: list[tuple[int, int]], by_blocks: bool) -> None:
    # by blocks: every table takes the path of a national release, in blocks of two schools
    system, _ = _row_table([y for y, _ in rows], [n for _, n in rows])
    with pytest.MonkeyPatch.context() as patch:
        if by_blocks:
            patch.setattr(disclosure, "_GROUPED_ABOVE", 0)
            patch.setattr(disclosure, "_BLOCK_CELLS", 4)
        protection = protect(system, POLICY, weighted=False)
    codes = protection.codes
    published = codes == PUBLISHED
    small = (system.count > 0) & (system.count < POLICY.threshold)
    assert not np.any(published & small)
    assert _pinned(system, _attack(system, codes)) == 0


@settings(max_examples=25)
@given(
    authorities=st.lists(
        st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40)), min_size=1, max_size=4),
        min_size=2,
        max_size=3,
    ).filter(lambda areas: sum(y + n for schools in areas for y, n in schools) > 0)
)
def test_property_no_nested_table_leaks(authorities: list[list[tuple[int, int]]]) -> None:
    # On the path of a national release: by blocks of eight cells where only schools are
    # withheld, whole where authorities are withheld beside them.
    system = _nested_table(authorities)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(disclosure, "_GROUPED_ABOVE", 0)
        patch.setattr(disclosure, "_BLOCK_CELLS", 8)
        codes = protect(system, POLICY, weighted=False).codes
    small = (system.count > 0) & (system.count < POLICY.threshold)
    assert not np.any((codes == PUBLISHED) & small)
    assert _pinned(system, _attack(system, codes)) == 0


def _maximum(programme: disclosure._Programme, cell: int) -> float:
    """The largest value ``cell`` takes in ``programme`` (infinite when unbounded)."""
    objective = np.zeros(programme.cells.size)
    objective[int(np.flatnonzero(programme.cells == cell)[0])] = -1.0
    state = disclosure._State(
        width=1.0,
        unknown=np.zeros(0, dtype=np.bool_),
        certified=np.zeros(0, dtype=np.bool_),
        low=np.zeros(0),
        high=np.zeros(0),
        codes=np.zeros(0, dtype=np.int8),
        cost=np.zeros(0),
        count=np.zeros(0, dtype=np.int64),
    )
    result = disclosure._solve(programme, objective, state)
    assert result.status in {0, 3}
    return np.inf if result.status == 3 else -float(result.fun)  # 3: unbounded


@settings(max_examples=25)
@given(
    st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40)), min_size=2, max_size=6),
    st.data(),
)
def test_property_neighbourhood_programmes_bracket_the_whole(
    rows: list[tuple[int, int]], data: st.DataObject
) -> None:
    # The restricted programme (outside cells held at their values) never moves a cell further
    # than the whole programme, and the relaxed ones (other relations dropped) never less: so
    # the first may certify a cell and the others may prove it unprotected.
    system, _ = _row_table([y for y, _ in rows], [n for _, n in rows])
    unknown = np.array(
        data.draw(st.lists(st.booleans(), min_size=len(system), max_size=len(system)))
    )
    if not unknown.any():
        return
    _, whole, cells = _withholding(system, unknown)
    position = data.draw(st.integers(0, cells.size - 1))
    inside = np.zeros(cells.size, dtype=np.bool_)
    inside[position] = True
    for _ in range(data.draw(st.integers(0, 2))):
        inside[disclosure._touching(whole, np.flatnonzero(inside))] = True
    truth = system.count[cells].astype(float)
    cell = int(cells[position])
    restricted = disclosure._local(whole, truth, inside)
    relaxed = disclosure._relaxed(whole, inside)
    # Only the relations among the cells inside, and the cell's own: fewer still.
    within = disclosure._relaxed(whole, inside, within=inside, position=position)
    assert _maximum(restricted, cell) <= _maximum(whole, cell) + 1e-6
    assert _maximum(relaxed, cell) >= _maximum(whole, cell) - 1e-6
    assert _maximum(within, cell) >= _maximum(relaxed, cell) - 1e-6


def _withheld_parts(system: CellSystem, depths: tuple[int, ...]) -> np.ndarray:
    """The yes and no cells of groups keyed by ``depths`` dimensions withheld (1: schools of a
    row table, authorities of a nested one; 2: schools of a nested one); the rest published."""
    parts = (Pop.NEED_YES, Pop.NEED_NO)
    return np.array([len(group) in depths and pop.kind in parts for pop, group in system.keys])


def _withheld_programme(
    system: CellSystem, depths: tuple[int, ...] = (1, 2)
) -> tuple[disclosure._State, disclosure._Programme, np.ndarray]:
    """The audit's state and programme with :func:`_withheld_parts` withheld, and their cells."""
    return _withholding(system, _withheld_parts(system, depths))


def _withholding(
    system: CellSystem, unknown: np.ndarray
) -> tuple[disclosure._State, disclosure._Programme, np.ndarray]:
    """The audit's state and programme with the cells ``unknown`` withheld, and those cells."""
    cells = np.flatnonzero(unknown).astype(np.int64)
    state = disclosure._State(
        width=float(POLICY.threshold),
        unknown=unknown,
        certified=np.zeros(len(system), dtype=np.bool_),
        low=system.count.astype(float),
        high=system.count.astype(float),
        codes=unknown.astype(np.int8),
        cost=system.cost.astype(float),
        count=system.count,
    )
    programme = disclosure._programme(system, disclosure._Relations.of(system), state, cells)
    return state, programme, cells


def test_blocks_of_groups_certify_only_cells_the_intruder_cannot_pin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # School 6 (2 yes of 5) is pinned: its published size holds its yes count within [0, 5].
    # Every other withheld cell can move by the threshold, borrowing from the large schools.
    system, _ = _row_table([2, 30, 4, 25, 3, 40, 2, 35, 1], [40, 20, 35, 30, 50, 25, 3, 30, 45])
    state, programme, cells = _withheld_programme(system)
    monkeypatch.setattr(disclosure, "_BLOCK_CELLS", 4)  # blocks of two schools
    truth = system.count[cells].astype(float)
    layout = disclosure._GroupLayout.of(disclosure._Groups.of(system), programme, truth)
    held = disclosure._Component.of(programme, layout, truth, state.width)
    with Workers(held, 1) as pool:
        disclosure._audit_by_groups(state, cells, layout, pool)
    found = _attack(system, state.codes)
    low = np.array([found[c][0] for c in cells])
    high = np.array([found[c][1] for c in cells])
    truly_pinned = pinned(system.count[cells].astype(float), low, high, POLICY.threshold)
    assert truly_pinned.sum() == 2  # school 6's yes and no
    assert state.certified[cells].tolist() == (~truly_pinned).tolist()


_SIZES = [(5, 40), (30, 20), (4, 35), (25, 30), (3, 50), (40, 25)]
_THREE_AUTHORITIES = [_SIZES, _SIZES[::-1], _SIZES[1:] + _SIZES[:1]]


def _component(
    system: CellSystem, unknown: np.ndarray
) -> tuple[disclosure._State, np.ndarray, disclosure._Component, np.ndarray]:
    """The audit's state over the cells ``unknown`` withheld, those cells, their component as a
    worker holds it, and each cell's population number."""
    state, programme, cells = _withholding(system, unknown)
    truth = system.count[cells].astype(float)
    groups = disclosure._Groups.of(system)
    layout = disclosure._GroupLayout.of(groups, programme, truth)
    held = disclosure._Component.of(programme, layout, truth, state.width)
    return state, cells, held, groups.population[cells]


def _by_templates(
    state: disclosure._State,
    cells: np.ndarray,
    held: disclosure._Component,
    population: np.ndarray,
) -> None:
    with Workers(held, 1) as pool:
        carrier = disclosure._Carrier.of(held, population)
        disclosure._audit_by_templates(state, cells, carrier, pool)


def _truly_pinned(system: CellSystem, unknown: np.ndarray, cells: np.ndarray) -> np.ndarray:
    found = _attack(system, unknown.astype(np.int8))
    low = np.array([found[c][0] for c in cells])
    high = np.array([found[c][1] for c in cells])
    return pinned(system.count[cells].astype(float), low, high, POLICY.threshold)


def test_a_template_is_carried_only_to_the_groups_where_it_holds() -> None:
    # The template raises school 0's yes by the width (10) and lowers its no, school 1 lending
    # the other way. School 2 can do the same; school 3's no (3) cannot fall by 10; school 4's
    # no is published.
    system, _ = _row_table([2, 30, 4, 2, 3], [40, 20, 35, 3, 50])
    unknown = _withheld_parts(system, (1,))
    unknown[system.index[(_NO, (("school", "S4"),))]] = False
    state, cells, held, population = _component(system, unknown)
    at = {system.keys[c]: p for p, c in enumerate(cells)}
    moved = [at[(pop, (("school", school),))] for school in ("S0", "S1") for pop in (_YES, _NO)]
    template = (np.array(moved, dtype=np.int64), np.array([10.0, -10.0, -10.0, 10.0]))
    carrier = disclosure._Carrier.of(held, population)
    assert carrier.carry(state, cells, moved[0], template) == 2
    certified = {system.keys[c][::-1] for c in cells[state.certified[cells]]}
    assert certified == {
        ((("school", school),), pop) for school in ("S0", "S1", "S2") for pop in (_YES, _NO)
    }
    assert state.high[cells[at[(_YES, (("school", "S2"),))]]] == 14


def _carried(
    system: CellSystem, unknown: np.ndarray, template: dict[tuple[PopKey, GroupKey], float]
) -> set[tuple[PopKey, GroupKey]]:
    """The cells certified by carrying ``template`` (moves by cell key; the first the target)."""
    state, cells, held, population = _component(system, unknown)
    at = {system.keys[c]: p for p, c in enumerate(cells)}
    moved = np.array([at[key] for key in template], dtype=np.int64)
    moves = (moved, np.array(list(template.values())))
    disclosure._Carrier.of(held, population).carry(state, cells, int(moved[0]), moves)
    return {system.keys[c] for c in cells[state.certified[cells]]}


def test_a_copy_that_breaks_a_sum_is_dropped() -> None:
    # School 0's yes rises by the width against school 1's, both in authority 0. Made instead in
    # authority 1 (its yes and no withheld too, its schools published), the same moves would
    # leave the authority's counts no longer the sums of its schools'.
    system = _nested_table([[(2, 40), (30, 20)], [(25, 30), (30, 35)]])
    unknown = _withheld_parts(system, (2,))
    for authority in ("A0", "A1"):
        for pop in (_YES, _NO):
            unknown[system.index[(pop, (("authority", authority),))]] = True
    school = [(("authority", "A0"), ("school", f"S{g}")) for g in (0, 1)]
    template = {
        (_YES, school[0]): 10.0,
        (_NO, school[0]): -10.0,
        (_YES, school[1]): -10.0,
        (_NO, school[1]): 10.0,
    }
    certified = _carried(system, unknown, template)
    assert set(template) <= certified
    assert not any(group[0] == ("authority", "A1") for _, group in certified)


def test_a_copy_that_breaks_an_inclusion_is_dropped() -> None:
    # Each school's linked children are among those with the need (published). School 0's yes
    # falls by the width against school 1's; school 2 could do the same by its sums, but its
    # yes (12) would fall below its 8 linked children.
    linked = PopKey(Pop.NEED_LINKED, "n")
    b = CellSystemBuilder()
    counts = [(30, 20, 5), (10, 40, 2), (12, 30, 8)]
    rows = []
    for g, (yes, no, with_need) in enumerate(counts):
        key = (("school", f"S{g}"),)
        rows.append(_yes_no_total(b, key, yes, no))
        b.at_most(b.cell((linked, key), with_need, base=yes), rows[-1][0])
    _margin(b, (), rows, [(yes, no) for yes, no, _ in counts], cost=30)
    system = b.build()
    unknown = _withheld_parts(system, (1,))
    template = {
        (_YES, (("school", "S0"),)): -10.0,
        (_NO, (("school", "S0"),)): 10.0,
        (_YES, (("school", "S1"),)): 10.0,
        (_NO, (("school", "S1"),)): -10.0,
    }
    certified = _carried(system, unknown, template)
    assert certified == set(template)


def test_templates_certify_every_cell_the_intruder_cannot_pin() -> None:
    # School 6 (2 yes of 5) is pinned; templates, carried, certify every other school.
    system, _ = _row_table([2, 30, 4, 25, 3, 40, 2, 35, 1], [40, 20, 35, 30, 50, 25, 3, 30, 45])
    unknown = _withheld_parts(system, (1,))
    state, cells, held, population = _component(system, unknown)
    _by_templates(state, cells, held, population)
    assert state.certified[cells].tolist() == (~_truly_pinned(system, unknown, cells)).tolist()


@settings(max_examples=40, deadline=None)
@given(
    authorities=st.lists(
        st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40)), min_size=1, max_size=5),
        min_size=1,
        max_size=3,
    ),
    data=st.data(),
)
def test_property_templates_certify_no_cell_the_intruder_can_pin(
    authorities: list[list[tuple[int, int]]], data: st.DataObject
) -> None:
    # Any cells withheld, at any level: a copy made in another group (a school's moves made in
    # an authority, say) certifies only if it is a table an intruder could not rule out.
    system = _nested_table(authorities)
    unknown = np.array(
        data.draw(st.lists(st.booleans(), min_size=len(system), max_size=len(system)))
    )
    unknown &= ~system.structural
    if not unknown.any():
        return
    state, cells, held, population = _component(system, unknown)
    _by_templates(state, cells, held, population)
    assert not np.any(state.certified[cells] & _truly_pinned(system, unknown, cells))


@pytest.mark.parametrize(("depths", "nested"), [((2,), False), ((1, 2), True)])
def test_a_component_whose_dealt_levels_nest_is_audited_whole(
    monkeypatch: pytest.MonkeyPatch, depths: tuple[int, ...], nested: bool
) -> None:
    # Schools withheld alone are dealt into blocks; withheld beside their authorities, whose
    # counts move only with theirs and against each other's, the component is audited whole.
    system = _nested_table(_THREE_AUTHORITIES)
    state, programme, cells = _withheld_programme(system, depths)
    truth = system.count[cells].astype(float)
    monkeypatch.setattr(disclosure, "_GROUPED_ABOVE", 0)
    monkeypatch.setattr(disclosure, "_BLOCK_CELLS", 8)  # no level joins every block
    groups = disclosure._Groups.of(system)
    assert disclosure._GroupLayout.of(groups, programme, truth).nested is nested
    by_groups: list[int] = []
    audit = disclosure._audit_by_groups

    def counted(*args: object, **options: object) -> None:
        by_groups.append(1)
        audit(*args, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(disclosure, "_audit_by_groups", counted)
    relations = disclosure._Relations.of(system)
    rng = np.random.default_rng(0)
    disclosure._audit_component(system, relations, state, cells, groups=groups, rng=rng, workers=1)
    assert bool(by_groups) is not nested
    assert state.certified[cells].all()


def test_a_group_borrows_from_the_largest_cells_of_each_sum_until_they_hold_the_width() -> None:
    system, _ = _row_table([2, 4, 9, 3, 6], [40, 35, 30, 50, 45])
    state, programme, cells = _withheld_programme(system)
    truth = system.count[cells].astype(float)
    school = [system.keys[c][1] for c in cells]
    mine = np.array([group == (("school", "S0"),) for group in school])
    lent = {
        (system.keys[cells[p]][0].kind, school[p][0][1])
        for p in disclosure._lenders(
            programme, truth, mine, state.width, disclosure._ranked(programme, truth)
        )
    }
    # yes column: 9 then 6 hold the width; no column: 50 alone does.
    assert lent == {(Pop.NEED_YES, "S2"), (Pop.NEED_YES, "S4"), (Pop.NEED_NO, "S3")}


@pytest.mark.parametrize(
    ("templates", "expected"),
    [(False, ["block", "partners", "judge"]), (True, ["template"])],
    ids=["blocks-partners-judgements", "templates"],
)
def test_the_cells_withheld_do_not_depend_on_the_workers(
    monkeypatch: pytest.MonkeyPatch, templates: bool, expected: list[str]
) -> None:
    # Templates, blocks, partners and judgements run as tasks in waves of a fixed size, each
    # from what the waves before it certified: in worker processes they find exactly what they
    # find here. (Templates, which come first, leave the other steps too little to do.)
    rng = np.random.default_rng(2)
    system, _ = _row_table(rng.integers(0, 3, 80).tolist(), rng.integers(0, 30, 80).tolist())
    for name, value in [
        ("_GROUPED_ABOVE", 0),
        ("_POOLED_ABOVE", 0),
        ("_BLOCK_CELLS", 6),
        ("_PARTNER_GROUPS", 2),
        ("_WAVE", 2),
        ("_JUDGED_TOGETHER", 2),
    ]:
        monkeypatch.setattr(disclosure, name, value)
    if not templates:
        monkeypatch.setattr(disclosure, "_TEMPLATE_MISSES", 0)
    pools: list[int] = []
    steps: list[str] = []

    class Counted(Workers[object]):
        def __init__(self, held: object, count: int) -> None:
            pools.append(count)
            super().__init__(held, count)

    run_task = disclosure._run_task

    def counted(component: Any, task: Any) -> Any:  # in this process: one worker
        steps.append(task.step)
        return run_task(component, task)

    monkeypatch.setattr(disclosure, "Workers", Counted)
    with monkeypatch.context() as patch:
        patch.setattr(disclosure, "_run_task", counted)
        alone = protect(system, POLICY, weighted=False, workers=1)
    assert pools == [1]
    frequent = {str(step) for step in steps if steps.count(step) > 2}
    assert set(expected) <= frequent
    assert ("template" in steps) is templates
    pooled = protect(system, POLICY, weighted=False, workers=2)
    assert pools == [1, 2]
    assert alone.audit == pooled.audit
    assert np.array_equal(alone.codes, pooled.codes)


def test_the_audit_needs_a_worker() -> None:
    system, _ = _row_table([2, 30], [40, 20])
    with pytest.raises(ConfigError, match="at least one worker"):
        protect(system, POLICY, weighted=False, workers=0)


def test_a_cell_a_task_finds_unbounded_comes_back_certified() -> None:
    # With every count withheld nothing bounds a cell: its programme is unbounded and moves no
    # interval, so the certificate must travel on its own, or the cell would be audited forever.
    system, _ = _row_table([2, 30, 4], [40, 20, 35])
    state, programme, cells = _withholding(system, np.ones(len(system), dtype=np.bool_))
    truth = system.count.astype(float)
    layout = disclosure._GroupLayout.of(disclosure._Groups.of(system), programme, truth)
    held = disclosure._Component.of(programme, layout, truth, state.width)
    judge = disclosure._Task(disclosure._Step.JUDGE, 0, np.array([0, 1], dtype=np.int64))
    with Workers(held, 1) as pool:
        disclosure._in_waves(state, cells, pool, [judge])
    assert state.certified[:2].tolist() == [True, True]
    assert state.low[:2].tolist() == truth[:2].tolist()
    assert state.high[:2].tolist() == truth[:2].tolist()


@given(st.lists(st.permutations(range(12)).map(lambda cells: cells[:5]), min_size=1, max_size=30))
@settings(max_examples=50, deadline=None)
def test_each_relation_names_its_total_and_its_two_sides(relations: list[list[int]]) -> None:
    # Each relation: a total and four distinct parts (one recorded twice is kept once), and an
    # inclusion of the total in the first part.
    b = CellSystemBuilder()
    for cell in range(12):
        b.cell((_YES, (("school", f"S{cell}"),)), 0)
    for total, *parts in relations:
        b.equal(total, parts)
        b.at_most(total, parts[0])
    system = b.build()
    seen = list(dict.fromkeys((total, tuple(sorted(parts))) for total, *parts in relations))
    assert disclosure._column_of_sign(system.eq, 1).tolist() == [total for total, _ in seen]
    assert disclosure._column_of_sign(system.le, 1).tolist() == [r[0] for r in relations]
    assert disclosure._column_of_sign(system.le, -1).tolist() == [r[1] for r in relations]
