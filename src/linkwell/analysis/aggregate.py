"""Every count the report needs, computed in DuckDB with one GROUP BY GROUPING SETS per breakdown.

An *atom* is a set of children given by a filter (need yes, service no, need and no service...);
for each atom and each group of a breakdown the query returns the number of children and, for a
weighted release, the sum of weights, the sum of squared weights (for the effective sample size)
and the sum of the ``dominance_n`` largest weights (for the dominance rule). Everything else the
tables show is a sum of atoms. This module is the whole of the work that the benchmark's baseline
repeats without disclosure control or rendering.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa

from linkwell.analysis.groups import BreakdownPlan
from linkwell.analysis.source import ANALYSIS_TABLE
from linkwell.engine import Engine, quote_ident

__all__ = ["MEMBERS", "Atom", "aggregate", "measure_column"]

MEMBERS = "members"
"""Result column identifying a group's children: the XOR of a hash of each one's row.

Two groups of different breakdowns holding exactly the same children (the unlinked children are
both SIMD's and urban/rural's "not known") have the same value and size; every count of one is
then a count of the other, which an intruder can read across the two tables.
"""


@dataclass(frozen=True)
class Atom:
    """A set of children counted in every group: ``name`` names its result columns.

    ``weighted`` atoms also get weight sums and the largest-weights sum; atoms used only as
    unweighted counts (surveyed, linked) do not.
    """

    name: str
    filter_sql: str
    weighted: bool = True


def measure_column(stat: str, atom: str) -> str:
    """Result column of statistic ``stat`` (``n``, ``w``, ``q``, ``top``) of ``atom``."""
    return f"{stat}:{atom}"


def _aggregates(atoms: Sequence[Atom], *, weighted: bool, dominance_n: int) -> list[str]:
    # count_if and CASE rather than FILTER clauses: DuckDB runs hundreds of distinct FILTER
    # clauses in one query dozens of times slower than the equivalent plain aggregates. Counts
    # are cast to BIGINT and weight sums to DOUBLE, because HUGEINT and DECIMAL columns reach
    # Python as one Decimal object per value (an unweighted release's weight is the decimal
    # 1.0: its exact sums become the nearest double, as Python's float() of them would).
    select = []
    for atom in atoms:
        select.append(
            f"CAST(count_if({atom.filter_sql}) AS BIGINT) "
            f"AS {quote_ident(measure_column('n', atom.name))}"
        )
        if weighted and atom.weighted:
            value = f"CASE WHEN {atom.filter_sql} THEN weight END"
            select += [
                (
                    f"CAST(coalesce(sum({value}), 0) AS DOUBLE) "
                    f"AS {quote_ident(measure_column('w', atom.name))}"
                ),
                (
                    f"CAST(coalesce(sum({value} * {value}), 0) AS DOUBLE) "
                    f"AS {quote_ident(measure_column('q', atom.name))}"
                ),
                (
                    f"CAST(coalesce(list_sum(max({value}, {int(dominance_n)})), 0) AS DOUBLE) "
                    f"AS {quote_ident(measure_column('top', atom.name))}"
                ),
            ]
    return select


def aggregate(
    engine: Engine,
    plan: BreakdownPlan,
    atoms: Sequence[Atom],
    *,
    weighted: bool,
    dominance_n: int,
) -> pa.Table:
    """Counts of every atom for every group of every level of ``plan``.

    The result has one column per dimension of the plan (NULL both for "not known" and where a
    level does not use the dimension), one ``g:<dim>`` column per dimension telling the two apart
    (1 when the dimension is rolled up), and the atom statistics.
    """
    dims = plan.dims
    sets = ", ".join("(" + ", ".join(quote_ident(d) for d in s) + ")" for s in plan.grouping_sets)
    select = [quote_ident(d) for d in dims]
    select += [f"grouping({quote_ident(d)}) AS {quote_ident('g:' + d)}" for d in dims]
    select += _aggregates(atoms, weighted=weighted, dominance_n=dominance_n)
    select.append(f"bit_xor(hash(rowid)) AS {quote_ident(MEMBERS)}")
    sql = (
        f"SELECT {', '.join(select)} FROM {quote_ident(ANALYSIS_TABLE)} "
        f"GROUP BY GROUPING SETS ({sets}) "
        # Threads finish groups in any order; cells built in a fixed order make the disclosure
        # audit, and so the report, the same on every run.
        f"ORDER BY ALL NULLS FIRST"
    )
    return engine.arrow(sql, purpose=f"aggregate by {plan.breakdown.value}")
