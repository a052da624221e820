"""The tables as a spreadsheet and as CSV files, laid out as GSS spreadsheet guidance asks.

The workbook opens with a cover sheet, a contents sheet and a notes sheet explaining the symbols;
each table sits on its own sheet starting in cell A1 with its title, one header row and no merged
cells or blank rows, so screen readers and machines read it alike. Withheld values carry the GSS
symbols (``[c]`` confidential, ``[z]`` not applicable, ``[low]`` rounds to zero); numbers are
stored as numbers. Every table is also written as a CSV file, and the disclosure log as its own
CSV. All files are written atomically.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from linkwell.analysis.analyse import Analysis
from linkwell.analysis.model import ModelResult
from linkwell.analysis.tables import ColumnKind, OutputTable, Symbol
from linkwell.fileio import atomic_path, write_text_atomic

__all__ = ["SYMBOL_NOTES", "model_rows", "write_csvs", "write_disclosure_log", "write_workbook"]

SYMBOL_NOTES: Final = {
    Symbol.CONFIDENTIAL: "confidential: withheld by disclosure control (the log gives the rule)",
    Symbol.NOT_APPLICABLE: "not applicable: no children in the group answered or were linked",
    Symbol.LOW: "low: rounds to 0.0% but is not zero",
}
MODEL_HEADERS: Final = (
    "Need",
    "Status",
    "Children in model",
    "Odds ratio",
    "95% CI lower",
    "95% CI upper",
    "Covariates",
    "Standard errors",
    "Note",
)


def _value(cell_value: object, symbol: Symbol | None) -> object:
    return symbol.value if symbol is not None else cell_value


def model_rows(analysis: Analysis, rounding_base: int) -> list[list[object]]:
    """The models table as rows of values (odds ratios to two decimals, counts rounded)."""
    titles = {n.name: n.title for n in analysis.needs}
    return [_model_row(model, titles, rounding_base) for model in analysis.models]


def _model_row(model: ModelResult, titles: dict[str, str], base: int) -> list[object]:
    children = (model.children + base // 2) // base * base if base > 1 else model.children
    numbers: list[object] = (
        [round(model.odds_ratio, 2), round(model.lower or 0.0, 2), round(model.upper or 0.0, 2)]
        if model.odds_ratio is not None
        else [Symbol.CONFIDENTIAL.value] * 3
    )
    return [
        titles.get(model.need, model.need),
        model.status.value,
        children,
        *numbers,
        ", ".join(model.covariates),
        model.variance,
        model.note,
    ]


def _sheet_rows(table: OutputTable) -> list[list[object]]:
    return [[_value(cell.value, cell.symbol) for cell in row] for row in table.rows]


def write_workbook(
    path: Path,
    analysis: Analysis,
    *,
    title: str,
    cover: Sequence[str],
    configuration: Sequence[tuple[str, str]],
) -> None:
    """Write every table, the models, notes, the disclosure log and the configuration."""
    book = Workbook(write_only=True)
    bold = Font(bold=True)

    def heading(sheet: object, text: str) -> None:
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = Font(bold=True, size=14)
        sheet.append([cell])  # type: ignore[attr-defined]

    def header(sheet: object, names: Sequence[str]) -> None:
        cells = []
        for name in names:
            cell = WriteOnlyCell(sheet, value=name)
            cell.font = bold
            cells.append(cell)
        sheet.append(cells)  # type: ignore[attr-defined]

    sheet = book.create_sheet("Cover")
    heading(sheet, title)
    for line in cover:
        sheet.append([line])
    sheet = book.create_sheet("Contents")
    heading(sheet, "Contents")
    header(sheet, ["Sheet", "Table", "Withheld counts"])
    for table in analysis.tables:
        sheet.append([table.id, table.title, table.suppressed])
    sheet.append(["models", "Odds of receiving any service, by need", ""])
    sheet.append(["disclosure-log", "Every withheld count and its rule", ""])
    sheet.append(["configuration", "Effective configuration and checksums", ""])
    sheet = book.create_sheet("Notes")
    heading(sheet, "Notes")
    header(sheet, ["Symbol or term", "Meaning"])
    for symbol, meaning in SYMBOL_NOTES.items():
        sheet.append([symbol.value, meaning])
    sheet.append(
        ["Rounding", f"Counts are rounded to the nearest {analysis.policy.rounding_base}."]
    )
    sheet.append(["Percentages", "Computed from unrounded counts; 95% Wilson intervals."])
    for table in analysis.tables:
        sheet = book.create_sheet(table.id[:31])
        heading(sheet, table.title)
        sheet.append([" ".join(table.notes) or "This worksheet contains one table."])
        header(sheet, [c.header for c in table.columns])
        for row in _sheet_rows(table):
            sheet.append(row)
    sheet = book.create_sheet("models")
    heading(sheet, "Odds of receiving any service for children with each need")
    sheet.append(["Logistic regression allowing for SIMD quintile, sex and stage."])
    header(sheet, list(MODEL_HEADERS))
    for row in model_rows(analysis, analysis.policy.rounding_base):
        sheet.append(row)
    sheet = book.create_sheet("disclosure-log")
    heading(sheet, "Disclosure log: every withheld count")
    sheet.append([f"{sum(t.suppressed for t in analysis.tables):,} withheld counts."])
    header(sheet, ["Table", "Row", "Column", "Rule"])
    for table in analysis.tables:
        for entry in table.log:
            sheet.append([entry.table, entry.row, entry.column, entry.rule.value])
    sheet = book.create_sheet("configuration")
    heading(sheet, "Effective configuration and checksums")
    header(sheet, ["Setting", "Value"])
    for key, value in configuration:
        sheet.append([key, value])
    with atomic_path(path, mode=0o644) as partial:
        book.save(partial)


def _csv(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows(rows)
    return buffer.getvalue()


def write_csvs(directory: Path, analysis: Analysis) -> list[Path]:
    """One CSV per table (and the models); returns the paths written."""
    paths = []
    for table in analysis.tables:
        path = directory / f"{table.id}.csv"
        rows = [
            [
                cell.symbol.value
                if cell.symbol is not None
                else (
                    f"{cell.value:.1f}"
                    if column.kind is not ColumnKind.LABEL and isinstance(cell.value, float)
                    else cell.value
                )
                for column, cell in zip(table.columns, row, strict=True)
            ]
            for row in table.rows
        ]
        write_text_atomic(path, _csv([c.header for c in table.columns], rows), mode=0o644)
        paths.append(path)
    path = directory / "models.csv"
    write_text_atomic(
        path, _csv(MODEL_HEADERS, model_rows(analysis, analysis.policy.rounding_base)), mode=0o644
    )
    paths.append(path)
    return paths


def write_disclosure_log(path: Path, analysis: Analysis) -> None:
    """The disclosure log as CSV: table, row, column and rule of every withheld count."""
    rows = [
        [entry.table, entry.row, entry.column, entry.rule.value]
        for table in analysis.tables
        for entry in table.log
    ]
    write_text_atomic(path, _csv(["table", "row", "column", "rule"], rows), mode=0o644)
