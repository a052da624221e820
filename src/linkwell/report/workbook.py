"""The tables as a spreadsheet and as CSV files, laid out as GSS spreadsheet guidance asks.

The workbook opens with a cover sheet, a contents sheet and a notes sheet explaining the symbols;
each table sits on its own sheet starting in cell A1 with its title, one header row and no merged
cells or blank rows, so screen readers and machines read it alike. Withheld values carry the GSS
symbols (``[c]`` confidential, ``[z]`` not applicable, ``[low]`` rounds to zero); numbers are
stored as numbers and text as text, never as a formula: a school code that a provider wrote as
``=HYPERLINK(...)`` is shown, not run. The workbook is streamed row by row (xlsxwriter's
constant-memory mode, 1.5 to 1.9 times as fast as openpyxl's write-only one on 200,000 rows; a
national release has 600,000). Every table is also written as a CSV file, and the disclosure
log as its own CSV. All files are written atomically.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from xlsxwriter import Workbook
from xlsxwriter.format import Format

from linkwell.analysis.model import ModelResult
from linkwell.analysis.pipeline import Analysis
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


SHEET_ROWS: Final = 1_048_576
"""Rows in a worksheet (the format's limit): a longer table continues on further sheets."""
_HEAD_ROWS: Final = 3  # title, note, header
_SHEET_NAME: Final = 31  # longest sheet name


class _Sheets:
    """Adds sheets to a streamed workbook: a title, a note, one header row, then the rows."""

    def __init__(self, book: Workbook) -> None:
        self._book = book
        self._title: Format = book.add_format({"bold": True, "font_size": 14})
        self._bold: Format = book.add_format({"bold": True})

    def plain(self, name: str, title: str, rows: Sequence[Sequence[object]]) -> None:
        """A sheet of text rows under a title (the cover)."""
        sheet = self._book.add_worksheet(name)
        sheet.write_row(0, 0, [title], self._title)
        for number, row in enumerate(rows, start=1):
            sheet.write_row(number, 0, row)

    def table(
        self,
        name: str,
        title: str,
        note: str,
        headers: Sequence[str],
        rows: Sequence[Sequence[object]],
    ) -> None:
        """A table on sheet ``name``, continued on ``name (2)``... if it outgrows one sheet.

        Each continuation repeats the title and header and says which rows it holds, so every
        sheet still reads as one table starting in A1.
        """
        per_sheet = SHEET_ROWS - _HEAD_ROWS
        for part, start in enumerate(range(0, max(len(rows), 1), per_sheet), start=1):
            chunk = rows[start : start + per_sheet]
            suffix = "" if part == 1 else f" ({part})"
            label = name[: _SHEET_NAME - len(suffix)] + suffix
            sheet = self._book.add_worksheet(label)
            sheet.write_row(0, 0, [title], self._title)
            if len(rows) > per_sheet:
                shown = f"Rows {start + 1:,} to {start + len(chunk):,} of {len(rows):,}."
                sheet.write_row(1, 0, [f"{note} {shown}"])
            else:
                sheet.write_row(1, 0, [note])
            sheet.write_row(2, 0, headers, self._bold)
            for number, row in enumerate(chunk, start=_HEAD_ROWS):
                sheet.write_row(number, 0, row)


def write_workbook(
    path: Path,
    analysis: Analysis,
    *,
    title: str,
    cover: Sequence[str],
    configuration: Sequence[tuple[str, str]],
) -> None:
    """Write every table, the models, notes, the disclosure log and the configuration."""
    with atomic_path(path, mode=0o644) as partial:
        book = Workbook(str(partial), _OPTIONS)
        _fill(book, analysis, title=title, cover=cover, configuration=configuration)
        book.close()


_OPTIONS: Final = {
    "constant_memory": True,  # each row is written out as soon as the next one begins
    "strings_to_formulas": False,  # text is text: a provider's code cannot become a formula
    "strings_to_urls": False,
    "strings_to_numbers": False,
    "in_memory": False,
}


def _fill(
    book: Workbook,
    analysis: Analysis,
    *,
    title: str,
    cover: Sequence[str],
    configuration: Sequence[tuple[str, str]],
) -> None:
    sheets = _Sheets(book)
    sheets.plain("Cover", title, [[line] for line in cover])
    contents: list[list[object]] = [[t.id, t.title, t.suppressed] for t in analysis.tables]
    contents += [
        ["models", "Odds of receiving any service, by need", ""],
        ["disclosure-log", "Every withheld count and its rule", ""],
        ["configuration", "Effective configuration and checksums", ""],
    ]
    sheets.table(
        "Contents",
        "Contents",
        "Each table starts on the sheet named here; one too long for a sheet continues on "
        "'name (2)' and so on.",
        ["Sheet", "Table", "Withheld counts"],
        contents,
    )
    notes: list[list[object]] = [[s.value, meaning] for s, meaning in SYMBOL_NOTES.items()]
    notes += [
        ["Rounding", f"Counts are rounded to the nearest {analysis.policy.rounding_base}."],
        ["Percentages", "Computed from unrounded counts; 95% Wilson intervals."],
    ]
    sheets.table("Notes", "Notes", "Symbols and terms used.", ["Symbol or term", "Meaning"], notes)
    for table in analysis.tables:
        sheets.table(
            table.id,
            table.title,
            " ".join(table.notes) or "This worksheet contains one table.",
            [c.header for c in table.columns],
            _sheet_rows(table),
        )
    sheets.table(
        "models",
        "Odds of receiving any service for children with each need",
        "Logistic regression allowing for SIMD quintile, sex and stage.",
        MODEL_HEADERS,
        model_rows(analysis, analysis.policy.rounding_base),
    )
    log = _log_rows(analysis)
    sheets.table(
        "disclosure-log",
        "Disclosure log: every withheld count",
        f"{len(log):,} withheld counts.",
        ["Table", "Row", "Column", "Rule"],
        log,
    )
    sheets.table(
        "configuration",
        "Effective configuration and checksums",
        "The settings this report was made with.",
        ["Setting", "Value"],
        [list(item) for item in configuration],
    )


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
    write_text_atomic(
        path, _csv(["table", "row", "column", "rule"], _log_rows(analysis)), mode=0o644
    )


def _log_rows(analysis: Analysis) -> list[list[object]]:
    """Every withheld count of every table: table, row, column and rule."""
    return [
        [entry.table, entry.row, entry.column, entry.rule.value]
        for table in analysis.tables
        for entry in table.log
    ]
