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

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

from linkwell.analysis.groups import GroupKey
from linkwell.errors import InternalError

__all__ = ["CellKey", "CellSystem", "CellSystemBuilder", "Pop", "PopKey"]


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


@dataclass(frozen=True)
class CellSystem:
    """Cells as parallel arrays, and their relations as sparse matrices.

    ``eq`` rows hold ``sum(coef * cell) == 0``; ``le`` rows hold ``sum(coef * cell) <= 0``.
    ``base`` is the size of the population a zero in the cell would describe (0 where a zero is
    not sensitive); ``cost`` orders cells for secondary suppression (low cost suppressed first);
    ``national_only`` marks cells withheld under ``DisclosurePolicy.national_only``.
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
    """Collects cells (deduplicated by key) and relations, then freezes them into a system."""

    def __init__(self) -> None:
        self._index: dict[CellKey, int] = {}
        self._keys: list[CellKey] = []
        self._count: list[int] = []
        self._wsum: list[float] = []
        self._wsq: list[float] = []
        self._top: list[float] = []
        self._base: list[int] = []
        self._cost: list[float] = []
        self._national: list[bool] = []
        self._eq: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
        self._le: list[tuple[int, int]] = []
        self._seen_eq: set[tuple[int, tuple[int, ...]]] = set()
        self._aliases: dict[GroupKey, GroupKey] = {}

    def same_group(self, group: GroupKey, as_group: GroupKey) -> None:
        """Count ``group`` as ``as_group``: the same children, so every count is the same cell.

        Two tables showing one count then show it alike, withheld in both or in neither, as
        for a margin two tables share; two cells tied only by a relation could be withheld in
        one and published in the other by a pattern the audit has to search for.
        """
        self._aliases[group] = self._aliases.get(as_group, as_group)

    def _resolve(self, key: CellKey) -> CellKey:
        pop, group = key
        return (pop, self._aliases.get(group, group))

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
        self._index[key] = len(self._keys)
        self._keys.append(key)
        self._count.append(int(count))
        self._wsum.append(float(wsum))
        self._wsq.append(float(wsq))
        self._top.append(float(top))
        self._base.append(int(base))
        self._cost.append(float(cost))
        self._national.append(national_only)
        return len(self._keys) - 1

    def find(self, key: CellKey) -> int | None:
        """Index of ``key`` if it has been added."""
        return self._index.get(self._resolve(key))

    def count_of(self, index: int) -> int:
        """The count of an added cell."""
        return self._count[index]

    def equal(self, total: int, parts: Sequence[int]) -> None:
        """Record ``total == sum(parts)``; a relation recorded twice is kept once."""
        signature = (total, tuple(sorted(parts)))
        if signature in self._seen_eq or not parts or tuple(parts) == (total,):
            return
        self._seen_eq.add(signature)
        self._eq.append(((total,), tuple(parts)))

    def at_most(self, small: int, big: int) -> None:
        """Record ``small <= big`` (a population inside another)."""
        if small != big:
            self._le.append((small, big))

    def build(self) -> CellSystem:
        """Freeze into a :class:`CellSystem`, checking every relation holds on the counts."""
        n = len(self._keys)
        rows: list[int] = []
        cols: list[int] = []
        vals: list[int] = []
        for r, (totals, parts) in enumerate(self._eq):
            for c in totals:
                rows.append(r)
                cols.append(c)
                vals.append(1)
            for c in parts:
                rows.append(r)
                cols.append(c)
                vals.append(-1)
        eq = sparse.csr_matrix(
            (np.array(vals, dtype=np.float64), (rows, cols)), shape=(len(self._eq), n)
        )
        le_rows = np.repeat(np.arange(len(self._le)), 2)
        le_cols = np.array([c for pair in self._le for c in pair], dtype=np.int64)
        le_vals = np.tile(np.array([1.0, -1.0]), len(self._le))
        le = sparse.csr_matrix((le_vals, (le_rows, le_cols)), shape=(len(self._le), n))
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
            index=dict(self._index),
            aliases=dict(self._aliases),
        )
