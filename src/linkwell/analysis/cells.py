"""The cell system: every count the report publishes, once, with every relation an intruder knows.

A cell is a count of the children in one *population* (need yes, service no, need and service...)
within one *group* (a school, a SIMD decile, everyone). It is identified by that pair alone, so a
cell shown in several tables (the whole-area row of every breakdown, a margin shared by two
tables) is one cell with one suppression status: that is what makes suppression consistent
across tables. Relations are the linear facts that hold between cells whatever the data: sums
(a decile pair makes a quintile, a row's parts make its total) and inclusions (a flag never
exceeds its group, children with a need who were linked never exceed children with the need).
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

from linkwell.analysis.groups import GroupKey
from linkwell.errors import InternalError

__all__ = ["COEFFICIENT", "CellKey", "CellSystem", "CellSystemBuilder", "Pop", "PopKey"]


class Pop(StrEnum):
    """Kinds of population a cell counts; joint kinds pair one need with one service."""

    SURVEYED = "surveyed"
    LINKED = "linked"
    NOT_LINKED = "not linked"
    NEED_KNOWN = "answered"
    NEED_YES = "with the need"
    NEED_NO = "without the need"
    SVC_YES = "receiving"
    SVC_NO = "not receiving"
    NEED_LINKED = "with the need, linked"
    NEED_NO_LINKED = "without the need, linked"
    NEED_KNOWN_LINKED = "answered, linked"
    JOINT_A = "with the need, receiving"
    JOINT_B = "with the need, not receiving"
    JOINT_C = "without the need, receiving"
    SVC_KNOWN = "receiving, need known"

    @property
    def is_total(self) -> bool:
        """Counts of a whole group (its size): a zero here only says the group is empty."""
        return self in (Pop.SURVEYED, Pop.LINKED, Pop.NEED_KNOWN, Pop.NEED_KNOWN_LINKED)

    @property
    def margin(self) -> bool:
        """Totals and joint margins, which disclosure control prefers not to suppress."""
        return self.is_total or self in (Pop.NEED_LINKED, Pop.SVC_KNOWN)


class PopKey(NamedTuple):
    """A population: its kind and, where the kind needs them, the need and service names.

    A tuple rather than a dataclass: a national release has a million cells keyed by population,
    and a tuple hashes in C and holds no per-instance dictionary.
    """

    kind: Pop
    need: str = ""
    service: str = ""


CellKey = tuple[PopKey, GroupKey]

COEFFICIENT = np.int8
"""The relation matrices' entries: small whole numbers (a cell's sign in a sum, or how often a
sum names it), a byte each rather than a double's eight, which the disclosure audit's copies of
the matrices (by column, per component, on every worker) hold tens of millions of nationally.
Arithmetic with them gives the other operand's type: ``matrix @ counts`` stays exact.
"""


@dataclass(frozen=True)
class CellSystem:
    """Cells as parallel arrays, and their relations as sparse matrices.

    ``eq`` rows hold ``sum(coef * cell) == 0``; ``le`` rows hold ``sum(coef * cell) <= 0``, with
    coefficients of type :data:`COEFFICIENT`. ``base`` is the size of the population a zero in
    the cell would describe (0 where a zero is not sensitive); ``cost`` orders cells for
    secondary suppression (low cost suppressed first); ``national_only`` marks cells withheld
    under ``DisclosurePolicy.national_only``.
    """

    keys: tuple[CellKey, ...]
    count: NDArray[np.int64]
    wsum: NDArray[np.float64]
    wsq: NDArray[np.float64]
    top: NDArray[np.float64]
    base: NDArray[np.int64]
    cost: NDArray[np.float64]
    national_only: NDArray[np.bool_]
    eq: sparse.csr_matrix
    le: sparse.csr_matrix
    index: dict[CellKey, int] = field(repr=False)
    aliases: dict[GroupKey, GroupKey] = field(default_factory=dict, repr=False)
    """Groups counted as another group of exactly the same children (see the builder)."""

    def __len__(self) -> int:
        return len(self.keys)

    def find(self, pop: PopKey, group: GroupKey) -> int | None:
        """Index of the cell counting ``pop`` in ``group`` (or in the group it is one with)."""
        return self.index.get((pop, self.aliases.get(group, group)))

    @property
    def structural(self) -> NDArray[np.bool_]:
        """Zeros of empty populations (an empty group, or nobody asked): zero by definition.

        They say nothing about any child, are published as they are, and are never chosen for
        secondary suppression: a cell pinned at zero by definition protects nothing.
        """
        return np.asarray((self.count == 0) & (self.base == 0), dtype=np.bool_)


class CellSystemBuilder:
    """Collects cells (deduplicated by key) and relations, then freezes them into a system.

    A national release has millions of cells, each added and related one at a time. Their
    numbers go straight into typed arrays (eight bytes a value, not a Python object and a
    pointer to it) and their relations into flat arrays of cell indices, so the builder's
    memory at its peak, which a process keeps for the rest of the report, is about half what
    lists of objects and tuples held; duplicate relations are dropped once, when it is built.
    """

    def __init__(self) -> None:
        self._index: dict[CellKey, int] = {}
        self._keys: list[CellKey] = []
        self._count = array("q")
        self._wsum = array("d")
        self._wsq = array("d")
        self._top = array("d")
        self._base = array("q")
        self._cost = array("d")
        self._national = array("B")
        self._eq_cells = array("q")
        """Each equality's cells: its total, then its parts."""
        self._eq_ends = array("q")
        """Where each equality's cells end in ``_eq_cells``."""
        self._le = array("q")
        """Each inclusion's small and big cell, in turn."""
        self._aliases: dict[GroupKey, GroupKey] = {}
        self._built = False

    def same_group(self, group: GroupKey, as_group: GroupKey) -> None:
        """Count ``group`` as ``as_group``: the same children, so every count is the same cell.

        Two tables showing one count then show it alike, withheld in both or in neither, as
        for a margin two tables share; two cells tied only by a relation could be withheld in
        one and published in the other by a pattern the audit has to search for.
        """
        self._aliases[group] = self._aliases.get(as_group, as_group)

    def _resolve(self, key: CellKey) -> CellKey:
        pop, group = key
        alias = self._aliases.get(group)
        return key if alias is None else (pop, alias)

    def cell(
        self,
        key: CellKey,
        count: int,
        *,
        wsum: float = 0.0,
        wsq: float = 0.0,
        top: float = 0.0,
        base: int = 0,
        cost: float = 0.0,
        national_only: bool = False,
    ) -> int:
        """Add the cell ``key`` (or find it, checking the count agrees) and return its index."""
        key = self._resolve(key)
        found = self._index.get(key)
        if found is not None:
            if self._count[found] != count:
                raise InternalError("one cell was counted twice with different results")
            return found
        self._check_open()
        index = self._index[key] = len(self._keys)
        self._keys.append(key)
        self._count.append(count)
        self._wsum.append(wsum)
        self._wsq.append(wsq)
        self._top.append(top)
        self._base.append(base)
        self._cost.append(cost)
        self._national.append(national_only)
        return index

    def find(self, key: CellKey) -> int | None:
        """Index of ``key`` if it has been added."""
        return self._index.get(self._resolve(key))

    def equal(self, total: int, parts: Sequence[int]) -> None:
        """Record ``total == sum(parts)``; a relation recorded twice is kept once (see build)."""
        self._check_open()
        if not parts or (len(parts) == 1 and parts[0] == total):
            return
        self._eq_cells.append(total)
        self._eq_cells.extend(parts)
        self._eq_ends.append(len(self._eq_cells))

    def at_most(self, small: int, big: int) -> None:
        """Record ``small <= big`` (a population inside another)."""
        self._check_open()
        if small != big:
            self._le.append(small)
            self._le.append(big)

    def _check_open(self) -> None:
        if self._built:
            raise InternalError("a cell or relation was added after its system was built")

    def build(self) -> CellSystem:
        """Freeze into a :class:`CellSystem`, checking every relation holds on the counts.

        Once only: the builder's index passes to the system as it is (a copy would be one more
        dictionary entry a cell at the report's peak), so nothing may be added afterwards.
        """
        self._check_open()
        self._built = True
        n = len(self._keys)
        cells, starts = _distinct_relations(
            np.frombuffer(self._eq_cells, dtype=np.int64), np.frombuffer(self._eq_ends, np.int64)
        )
        coef = np.full(cells.size, -1, dtype=np.int64)
        coef[starts] = 1  # each relation's total comes first
        # The relations are already rows: laid out as such, without a coordinate list's copies.
        eq = sparse.csr_matrix((coef, cells, np.append(starts, cells.size)), shape=(starts.size, n))
        eq.sum_duplicates()  # canonical: each row's cells in order, a part named twice summed
        if eq.nnz and np.abs(eq.data).max() > np.iinfo(COEFFICIENT).max:
            raise InternalError("an additivity relation names one cell more than 127 times")
        eq = eq.astype(COEFFICIENT)
        pairs = np.frombuffer(self._le, dtype=np.int64)
        le_rows = np.repeat(np.arange(pairs.size // 2), 2)
        le_vals = np.tile(np.array([1, -1], dtype=COEFFICIENT), pairs.size // 2)
        le = sparse.csr_matrix((le_vals, (le_rows, pairs)), shape=(pairs.size // 2, n))
        count = np.array(self._count, dtype=np.int64)
        if eq.shape[0] and np.any(eq @ count != 0):
            raise InternalError("an additivity relation does not hold on the counts")
        if le.shape[0] and np.any(le @ count > 0):
            raise InternalError("an inclusion relation does not hold on the counts")
        return CellSystem(
            keys=tuple(self._keys),
            count=count,
            wsum=np.array(self._wsum, dtype=np.float64),
            wsq=np.array(self._wsq, dtype=np.float64),
            top=np.array(self._top, dtype=np.float64),
            base=np.array(self._base, dtype=np.int64),
            cost=np.array(self._cost, dtype=np.float64),
            national_only=np.array(self._national, dtype=np.bool_),
            eq=eq,
            le=le,
            index=self._index,
            aliases=dict(self._aliases),
        )


def _distinct_relations(
    cells: NDArray[np.int64], ends: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Each relation once, the first of its copies in the order recorded; parts sorted.

    A relation is ``cells[start:end]``, its total first. Two are copies when their totals and
    their parts (as multisets) agree: each relation's parts are sorted, fingerprinted by a
    wrapping polynomial hash, and a relation is dropped only when it matches, value for value,
    the first relation of its length and fingerprint, so a fingerprint shared by two different
    relations can keep a copy (redundant, harmless) but never drop a relation. Returns the kept
    relations' cells and where each starts.
    """
    count = ends.size
    starts = np.zeros(count, dtype=np.int64)
    starts[1:] = ends[:-1]
    lengths = ends - starts
    # Each temporary is let go as soon as it is used: at national scale each is a gigabyte's
    # tenth, and this runs at the report's peak.
    relation = np.repeat(np.arange(count), lengths)
    later = np.ones(cells.size, dtype=np.bool_)
    later[starts] = False  # the total stays first; the parts after it are sorted
    order = np.lexsort((cells, later, relation))
    del relation, later
    canonical = cells[order]
    del order
    position = np.arange(1, cells.size + 1, dtype=np.uint64) - np.repeat(
        starts.astype(np.uint64), lengths
    )
    with np.errstate(over="ignore"):
        position *= np.uint64(0xC2B2AE3D27D4EB4F)
        mixed = canonical.astype(np.uint64)
        mixed += np.uint64(1)
        mixed *= np.uint64(0x9E3779B97F4A7C15)
        mixed ^= position
        del position
        mixed *= np.uint64(0x165667B19E3779F9)
    fingerprint = np.add.reduceat(mixed, starts) if count else np.zeros(0, dtype=np.uint64)
    del mixed
    order = np.lexsort((np.arange(count), fingerprint, lengths))
    same_class = np.zeros(count, dtype=np.bool_)
    same_class[1:] = (lengths[order][1:] == lengths[order][:-1]) & (
        fingerprint[order][1:] == fingerprint[order][:-1]
    )
    first = order[np.maximum.accumulate(np.where(same_class, 0, np.arange(count)))]
    candidates = order[same_class]  # the first of each class is never a candidate
    firsts = first[same_class]
    copy = np.zeros(count, dtype=np.bool_)
    if candidates.size:
        sizes = lengths[candidates]
        offsets = np.repeat(np.cumsum(sizes) - sizes, sizes)
        step = np.arange(int(sizes.sum()), dtype=np.int64) - offsets
        agree = (
            canonical[np.repeat(starts[candidates], sizes) + step]
            == canonical[np.repeat(starts[firsts], sizes) + step]
        )
        copy[candidates] = np.logical_and.reduceat(agree, np.cumsum(sizes) - sizes)
    kept = np.flatnonzero(~copy)
    kept_lengths = lengths[kept]
    kept_starts = np.cumsum(kept_lengths) - kept_lengths
    offsets = np.repeat(kept_starts, kept_lengths)
    step = np.arange(int(kept_lengths.sum()), dtype=np.int64) - offsets
    return canonical[np.repeat(starts[kept], kept_lengths) + step], kept_starts
