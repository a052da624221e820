"""Scoring of questionnaire instruments, as SQL that runs over whole columns in the engine.

Each scale follows its instrument's own rule (:class:`~linkwell.schema.definitions.ScaleDef`):
the plain sum when every item is answered; prorated from at least ``min_answered`` items as the
mean of the answered items times the number of items, rounded half up; missing otherwise.
Reverse-scored items count ``item_min + item_max - value``. Totals are missing when any of their
scales is missing, and bands label a score by its instrument's published cut-offs.
"""

from __future__ import annotations

from linkwell.engine import quote_ident
from linkwell.engine.sql import quote_string
from linkwell.schema.definitions import BandDef, DatasetDef, ScaleDef, TotalDef

__all__ = ["band_sql", "scale_sql", "score_query", "scored_columns", "total_sql"]


def scale_sql(scale: ScaleDef) -> str:
    """SQL for one scale's score over its item columns (INTEGER, NULL when not scorable)."""
    values = []
    for item in scale.items:
        column = quote_ident(item)
        if item in scale.reverse:
            values.append(f"({scale.item_min + scale.item_max} - {column})")
        else:
            values.append(column)
    answered = " + ".join(f"CAST({quote_ident(i)} IS NOT NULL AS INTEGER)" for i in scale.items)
    total = " + ".join(f"coalesce({v}, 0)" for v in values)
    n = len(scale.items)
    # Half-up rounding of total * n / answered in integers: floor((2*total*n + a) / (2*a)).
    prorated = f"(2 * ({total}) * {n} + ({answered})) // (2 * ({answered}))"
    return (
        f"CAST(CASE WHEN ({answered}) = {n} THEN {total} "
        f"WHEN ({answered}) >= {scale.min_answered} THEN {prorated} END AS INTEGER)"
    )


def total_sql(total: TotalDef) -> str:
    """SQL for a total of already-scored scale columns (NULL if any scale is NULL)."""
    return "CAST(" + " + ".join(quote_ident(s) for s in total.scales) + " AS INTEGER)"


def band_sql(band: BandDef) -> str:
    """SQL labelling an already-scored column by its band (NULL when the score is NULL)."""
    score = quote_ident(band.score)
    cases = " ".join(
        f"WHEN {score} BETWEEN {cut.min} AND {cut.max} THEN {quote_string(cut.label)}"
        for cut in band.cuts
    )
    return f"CASE {cases} END"


def scored_columns(dataset: DatasetDef) -> tuple[str, ...]:
    """Names of every scale, total and band column :func:`score_query` adds, in order."""
    names: list[str] = []
    for instrument in dataset.instruments:
        names += [s.name for s in instrument.scales]
    for instrument in dataset.instruments:
        names += [t.name for t in instrument.totals]
    for instrument in dataset.instruments:
        names += [b.name for b in instrument.bands]
    return tuple(names)


def score_query(dataset: DatasetDef, relation: str) -> str:
    """A SELECT of every column of ``relation`` plus the dataset's scales, totals and bands.

    ``relation`` is trusted SQL naming a table, view or parenthesised subquery that holds the
    dataset's item columns, typed as validation leaves them (integers, NULL when missing).
    """
    scales = [(s.name, scale_sql(s)) for i in dataset.instruments for s in i.scales]
    totals = [(t.name, total_sql(t)) for i in dataset.instruments for t in i.totals]
    bands = [(b.name, band_sql(b)) for i in dataset.instruments for b in i.bands]
    query = f"SELECT * FROM {relation}"
    for stage in (scales, totals, bands):
        if stage:
            columns = ", ".join(f"{expr} AS {quote_ident(name)}" for name, expr in stage)
            query = f"SELECT *, {columns} FROM ({query})"
    return query
