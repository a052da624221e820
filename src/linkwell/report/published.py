"""Read access to published tables by row labels, so charts and sentences use only checked numbers.

Charts and headline findings never touch the cell system: they look values up in the same
:class:`~linkwell.analysis.tables.OutputTable` rows the tables show, so a number withheld in a
table is withheld everywhere, and a number in a sentence is the number in the table.
"""

from __future__ import annotations

from dataclasses import dataclass

from linkwell.analysis.pipeline import Analysis
from linkwell.analysis.tables import ColumnKind, OutputTable, Symbol, TableCell

__all__ = ["Estimate", "PublishedRow", "TableIndex"]

_LEVEL = "Breakdown level"


@dataclass(frozen=True)
class Estimate:
    """A published percentage with its 95% interval (all in percent)."""

    percent: float
    lower: float
    upper: float


@dataclass(frozen=True, slots=True)
class PublishedRow:
    """One row of a published table, read by column header.

    The row is the table's own tuple of cells, and ``positions`` (header to position) is
    shared by every row of the table: a national report indexes hundreds of thousands of rows,
    which a dictionary each made the largest object of the report's last steps.
    """

    row: tuple[TableCell, ...]
    positions: dict[str, int]

    def cell(self, header: str) -> TableCell:
        """The cell under ``header``."""
        return self.row[self.positions[header]]

    def count(self, header: str) -> int | None:
        """The published (rounded) count, or ``None`` if withheld or not applicable."""
        cell = self.cell(header)
        return cell.value if cell.symbol is None and isinstance(cell.value, int) else None

    def estimate(self, prefix: str) -> Estimate | None:
        """The percentage whose headers start with ``prefix`` and its interval, if published."""
        point = self.cell(f"{prefix} (%)")
        low = self.cell(f"{prefix}: 95% CI lower (%)")
        high = self.cell(f"{prefix}: 95% CI upper (%)")
        if point.symbol is Symbol.LOW:
            return Estimate(0.0, 0.0, float(high.value or 0.0))
        values = [point.value, low.value, high.value]
        if any(c.symbol is not None for c in (point, low, high)) or not all(
            isinstance(v, float) for v in values
        ):
            return None
        return Estimate(*(float(v) for v in values))  # type: ignore[arg-type]


class TableIndex:
    """Rows of every table of an analysis, found by table id and label cells.

    A table is indexed when it is first read: the report reads a few tables by label, and a
    national release's school tables, hundreds of thousands of rows each, are never read so.
    """

    def __init__(self, analysis: Analysis) -> None:
        self._tables = {table.id: table for table in analysis.tables}
        self._rows: dict[str, dict[tuple[str, ...], PublishedRow]] = {}

    def _rows_of(self, table_id: str) -> dict[tuple[str, ...], PublishedRow]:
        rows = self._rows.get(table_id)
        if rows is None:
            table = self._tables.get(table_id)
            rows = {} if table is None else _indexed(table)
            self._rows[table_id] = rows
        return rows

    def has(self, table_id: str) -> bool:
        """Whether the analysis has table ``table_id``."""
        return table_id in self._tables

    def row(self, table_id: str, *labels: str, level: str | None = None) -> PublishedRow | None:
        """The row of ``table_id`` whose label cells are ``labels`` (at ``level`` if given)."""
        key = tuple(labels) if level is None else (*labels, level)
        return self._rows_of(table_id).get(key)

    def groups(self, table_id: str, level: str, *labels: str) -> list[tuple[str, PublishedRow]]:
        """``(group label, row)`` of every row at ``level`` whose leading labels are ``labels``."""
        found = []
        prefix = len(labels)
        for key, row in self._rows_of(table_id).items():
            if len(key) == prefix + 2 and key[-1] == level and key[:prefix] == tuple(labels):
                found.append((key[prefix], row))
        return found


def _indexed(table: OutputTable) -> dict[tuple[str, ...], PublishedRow]:
    """``table``'s rows by their label cells, and by those and their level."""
    headers = [c.header for c in table.columns]
    positions = {header: i for i, header in enumerate(headers)}
    level_at = headers.index(_LEVEL)
    labels = [
        i for i, c in enumerate(table.columns) if c.kind is ColumnKind.LABEL and i != level_at
    ]
    rows: dict[tuple[str, ...], PublishedRow] = {}
    for row in table.rows:
        key = tuple(str(row[i].value) for i in labels)
        published = PublishedRow(row, positions)
        rows.setdefault(key, published)  # the first (coarsest) level wins a shared label
        rows[(*key, str(row[level_at].value))] = published
    return rows
