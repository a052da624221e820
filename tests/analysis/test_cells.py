"""The cell system's builder: cells kept once with their figures, relations kept once in order."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkwell.analysis.cells import COEFFICIENT, CellSystem, CellSystemBuilder, Pop, PopKey
from linkwell.errors import InternalError

_CELLS = 9


def _zeros(cells: int = _CELLS) -> CellSystemBuilder:
    b = CellSystemBuilder()
    for cell in range(cells):
        b.cell((PopKey(Pop.NEED_YES, "n"), (("school", f"S{cell}"),)), 0)
    return b


def _rows(system: CellSystem) -> list[tuple[int, Counter[int]]]:
    """Each equality as its total and the multiset of its parts, in the system's order."""
    rows = []
    for r in range(system.eq.shape[0]):
        row = system.eq.getrow(r)
        coefficients = dict(zip(row.indices.tolist(), row.data.tolist(), strict=True))
        (total,) = [c for c, v in coefficients.items() if v > 0]
        parts = Counter({c: int(-v) for c, v in coefficients.items() if v < 0})
        rows.append((total, parts))
    return rows


relations = st.lists(
    st.tuples(
        st.integers(0, _CELLS - 1),
        st.lists(st.integers(1, _CELLS - 1), min_size=1, max_size=5),
    ).map(lambda r: (r[0], [(r[0] + step) % _CELLS for step in r[1]])),  # never the total
    max_size=40,
)


@given(relations)
@settings(max_examples=200, deadline=None)
def test_each_relation_is_kept_once_in_the_order_first_recorded(
    recorded: list[tuple[int, list[int]]],
) -> None:
    # Copies are the same total and the same parts in any order, a part named twice counting
    # twice.
    b = _zeros()
    for total, parts in recorded:
        b.equal(total, parts)
    expected = list(dict.fromkeys((total, tuple(sorted(parts))) for total, parts in recorded))
    rows = _rows(b.build())
    assert [(total, Counter(parts)) for total, parts in expected] == rows


def test_relations_of_every_length_keep_their_first_copy_only() -> None:
    b = _zeros(6000)
    long_parts = list(range(1, 6000))
    b.equal(0, long_parts)
    b.equal(1, [2, 3])
    b.equal(0, long_parts[::-1])  # the first relation again, its parts reversed
    b.equal(0, long_parts[:-1])  # one part fewer: another relation
    b.equal(1, [3, 2])
    rows = _rows(b.build())
    assert [(total, sum(parts.values())) for total, parts in rows] == [(0, 5999), (1, 2), (0, 5998)]


def test_relations_hold_their_coefficients_a_byte_each_and_exact() -> None:
    # A part named 127 times is a coefficient of 127; the counts the relations hold on are
    # read with them in their own type, so every check stays exact.
    b = CellSystemBuilder()
    part = b.cell((PopKey(Pop.NEED_YES, "n"), (("school", "S"),)), 3_000_000)
    total = b.cell((PopKey(Pop.NEED_YES, "n"), ()), 127 * 3_000_000)
    other = b.cell((PopKey(Pop.NEED_KNOWN), ()), 127 * 3_000_000)
    b.equal(total, [part] * 127)
    b.at_most(total, other)
    system = b.build()
    assert system.eq.dtype == system.le.dtype == COEFFICIENT
    assert system.eq.toarray().tolist() == [[-127, 1, 0]]
    assert (system.eq @ system.count).tolist() == [0]
    assert (system.le @ system.count).tolist() == [0]


def test_a_relation_naming_a_part_beyond_a_coefficient_is_a_bug() -> None:
    b = CellSystemBuilder()
    part = b.cell((PopKey(Pop.NEED_YES, "n"), (("school", "S"),)), 1)
    total = b.cell((PopKey(Pop.NEED_YES, "n"), ()), 128)
    b.equal(total, [part] * 128)
    with pytest.raises(InternalError, match="more than 127 times"):
        b.build()


def test_a_builder_without_relations_builds_empty_matrices() -> None:
    b = _zeros(3)
    b.equal(1, [1])  # a cell equal to itself says nothing
    b.at_most(2, 2)
    system = b.build()
    assert system.eq.shape == (0, 3)
    assert system.le.shape == (0, 3)


def test_a_cell_keeps_its_figures_and_its_first_index() -> None:
    b = CellSystemBuilder()
    key = (PopKey(Pop.SVC_YES, service="s"), (("school", "S"),))
    first = b.cell(key, 7, wsum=6.5, wsq=9.25, top=2.0, base=12, cost=31.0, national_only=True)
    other = b.cell((PopKey(Pop.LINKED), ()), 12)
    assert b.cell(key, 7) == first
    assert b.find(key) == first
    b.at_most(first, other)
    system = b.build()
    assert system.count.tolist() == [7, 12]
    assert system.wsum.tolist() == [6.5, 0.0]
    assert system.wsq.tolist() == [9.25, 0.0]
    assert system.top.tolist() == [2.0, 0.0]
    assert system.base.tolist() == [12, 0]
    assert system.cost.tolist() == [31.0, 0.0]
    assert system.national_only.tolist() == [True, False]
    assert system.count.dtype == np.int64
    assert system.le.toarray().tolist() == [[1.0, -1.0]]
    assert system.find(*key) == first


def test_a_cell_counted_twice_with_another_count_is_a_bug() -> None:
    b = CellSystemBuilder()
    key = (PopKey(Pop.LINKED), ())
    b.cell(key, 3)
    with pytest.raises(InternalError, match="counted twice"):
        b.cell(key, 4)


def test_a_group_counted_as_another_shares_its_cells() -> None:
    b = CellSystemBuilder()
    pop = PopKey(Pop.LINKED)
    known = b.cell((pop, (("simd", "not known"),)), 5)
    b.same_group((("urban_rural", "not known"),), (("simd", "not known"),))
    assert b.cell((pop, (("urban_rural", "not known"),)), 5) == known
    system = b.build()
    assert len(system) == 1
    assert system.find(pop, (("urban_rural", "not known"),)) == known


def test_a_built_system_takes_nothing_more() -> None:
    b = _zeros(2)
    system = b.build()
    with pytest.raises(InternalError, match="after its system was built"):
        b.cell((PopKey(Pop.LINKED), ()), 3)
    with pytest.raises(InternalError, match="after its system was built"):
        b.equal(0, [1])
    with pytest.raises(InternalError, match="after its system was built"):
        b.at_most(0, 1)
    with pytest.raises(InternalError, match="after its system was built"):
        b.build()
    assert len(system) == 2
    assert len(system.index) == 2
