"""The tables as a spreadsheet and as CSV files, laid out as GSS spreadsheet guidance asks.

The workbook opens with a cover sheet, a contents sheet and a notes sheet explaining the symbols;
each table sits on its own sheet (laid out by :mod:`linkwell.report.sheets`). Withheld values
carry the GSS symbols (``[c]`` confidential, ``[z]`` not applicable, ``[low]`` rounds to zero).
Every table is also written as a CSV file. All files are written atomically.

Which rule withheld a count is not published: "below the threshold" would tell a reader the count
is small, "sensitive zero" that it is nought, and the audit protects a withheld count only
against what the tables themselves show. :func:`write_disclosure_log` writes that record for the
analyst to keep, never beside the tables.
"""

from __future__ import annotations

import contextlib
import csv
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from itertools import chain
from pathlib import Path
from types import TracebackType
from typing import Final, Self

from linkwell.analysis.model import ModelResult, ModelStatus
from linkwell.analysis.pipeline import Analysis
from linkwell.analysis.tables import ColumnKind, OutputTable, Symbol
from linkwell.analysis.workers import Background
from linkwell.fileio import atomic_path
from linkwell.report.sheets import SHEET_ROWS, BookFile, Sheet

__all__ = [
    "SYMBOL_NOTES",
    "WorkbookWriter",
    "model_rows",
    "write_csvs",
    "write_disclosure_log",
    "write_workbook",
]

SYMBOL_NOTES: Final = {
    Symbol.CONFIDENTIAL: "confidential: withheld by disclosure control",
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
        ", ".join(model.adjusted_for),
        model.variance,
        model.note,
    ]


def _sheet(table: OutputTable) -> Sheet:
    return Sheet(
        name=table.id,
        title=table.title,
        note=" ".join(table.notes) or "This worksheet contains one table.",
        headers=[c.header for c in table.columns],
        rows=[[_value(cell.value, cell.symbol) for cell in row] for row in table.rows],
    )


_HEAD: Final = ("Cover", "Contents", "Notes")


class WorkbookWriter:
    """Writes the workbook one table at a time, as the tables are made, on a process of its own.

    xlsxwriter writes about 150,000 cells a second, in Python, and a national release's tables
    hold 3.3 million: written after the tables, the workbook alone would take 20 seconds. Given
    each table as it is made (:meth:`add`), a second process writes it while this one makes the
    next; :meth:`finish` adds the sheets that need every table (cover, contents, models) and
    waits for the file. With ``process=False`` it is all written here, the same workbook. Use
    as a context manager: the file appears, atomically, only once finished.
    """

    def __init__(
        self, path: Path, *, title: str, process: bool, sheet_rows: int = SHEET_ROWS
    ) -> None:
        self._path = path
        self._title = title
        self._process = process
        self._sheet_rows = sheet_rows
        self._stack = contextlib.ExitStack()
        self._writer: Background[BookFile] | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stack.__exit__(kind, error, traceback)

    def _started(self) -> Background[BookFile]:
        """The writer, started at the first table: no process waits idle through the audit."""
        if self._writer is None:
            stack = self._stack
            partial = stack.enter_context(atomic_path(self._path, mode=0o644))
            scratch = stack.enter_context(
                tempfile.TemporaryDirectory(dir=self._path.parent, prefix=f".{self._path.name}.")
            )
            book = BookFile(partial, Path(scratch), self._sheet_rows)
            if not self._process:
                # Written here, a failure must close the file; killing its own process does.
                stack.callback(book.abandon)
            writer = stack.enter_context(Background(book, process=self._process))
            writer.submit(BookFile.open, _HEAD)
            self._writer = writer
        return self._writer

    def add(self, table: OutputTable) -> None:
        """Queue ``table``'s sheet; it is written while the caller goes on."""
        self._started().submit(BookFile.add, _sheet(table))

    def finish(
        self, analysis: Analysis, *, cover: Sequence[str], configuration: Sequence[tuple[str, str]]
    ) -> None:
        """Add the sheets that need every table, then wait until the file is in place."""
        writer = self._started()
        contents: list[list[object]] = [[t.id, t.title, t.suppressed] for t in analysis.tables]
        contents += [
            ["models", "Odds of receiving any service, by need", ""],
            ["configuration", "Effective configuration and checksums", ""],
        ]
        notes: list[list[object]] = [[s.value, meaning] for s, meaning in SYMBOL_NOTES.items()]
        notes += [
            ["Rounding", f"Counts are rounded to the nearest {analysis.policy.rounding_base}."],
            ["Percentages", "Computed from unrounded counts; 95% Wilson intervals."],
        ]
        head = [
            Sheet("Cover", self._title, None, (), [[line] for line in cover]),
            Sheet(
                "Contents",
                "Contents",
                "Each table starts on the sheet named here; one too long for a sheet continues "
                "on 'name (2)' and so on.",
                ["Sheet", "Table", "Withheld counts"],
                contents,
            ),
            Sheet(
                "Notes", "Notes", "Symbols and terms used.", ["Symbol or term", "Meaning"], notes
            ),
        ]
        tail = [
            Sheet(
                "models",
                "Odds of receiving any service for children with each need",
                "Logistic regression allowing for SIMD quintile, sex and stage.",
                MODEL_HEADERS,
                model_rows(analysis, analysis.policy.rounding_base),
            ),
            Sheet(
                "configuration",
                "Effective configuration and checksums",
                "The settings this report was made with.",
                ["Setting", "Value"],
                [list(item) for item in configuration],
            ),
        ]
        writer.finish(BookFile.close, (head, tail))
        self._stack.close()  # the file is renamed into place


def write_workbook(
    path: Path,
    analysis: Analysis,
    *,
    title: str,
    cover: Sequence[str],
    configuration: Sequence[tuple[str, str]],
    process: bool = False,
    sheet_rows: int = SHEET_ROWS,
) -> None:
    """Write every table, the models, notes and the configuration."""
    with WorkbookWriter(path, title=title, process=process, sheet_rows=sheet_rows) as writer:
        for table in analysis.tables:
            writer.add(table)
        writer.finish(analysis, cover=cover, configuration=configuration)


def _write_csv(
    path: Path, headers: Sequence[str], rows: Iterable[Sequence[object]], *, mode: int
) -> None:
    """``headers`` and ``rows`` as CSV into ``path``, atomically, a row at a time.

    Streamed, never held as one text: a national report's disclosure log has millions of rows.
    """
    with (
        atomic_path(path, mode=mode) as partial,
        partial.open("w", encoding="utf-8", newline="") as handle,
    ):
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(headers)
        writer.writerows(rows)


def _shown(table: OutputTable) -> Iterator[list[object]]:
    """``table``'s rows as the CSV shows them: symbols as themselves, percentages to 1 dp."""
    for row in table.rows:
        yield [
            cell.symbol.value
            if cell.symbol is not None
            else (
                f"{cell.value:.1f}"
                if column.kind is not ColumnKind.LABEL and isinstance(cell.value, float)
                else cell.value
            )
            for column, cell in zip(table.columns, row, strict=True)
        ]


def write_csvs(directory: Path, analysis: Analysis) -> list[Path]:
    """One CSV per table (and the models); returns the paths written."""
    paths = []
    for table in analysis.tables:
        path = directory / f"{table.id}.csv"
        _write_csv(path, [c.header for c in table.columns], _shown(table), mode=0o644)
        paths.append(path)
    path = directory / "models.csv"
    rows = model_rows(analysis, analysis.policy.rounding_base)
    _write_csv(path, MODEL_HEADERS, rows, mode=0o644)
    paths.append(path)
    return paths


def write_disclosure_log(path: Path, analysis: Analysis) -> None:
    """The disclosure log as CSV: table, row, column and rule of every withheld count and model.

    The analyst's record, readable by its owner only: it says which withheld counts are small
    or nought, and why a model was withheld, which the published tables must not.
    """
    titles = {n.name: n.title for n in analysis.needs}
    cells = (
        [entry.table, entry.row, entry.column, entry.rule.value]
        for table in analysis.tables
        for entry in table.log
    )
    models = (
        ["models", titles.get(m.need, m.need), "Odds ratio", f"model: {m.withheld_because}"]
        for m in analysis.models
        if m.status is ModelStatus.WITHHELD
    )
    _write_csv(path, ["table", "row", "column", "rule"], chain(cells, models), mode=0o600)
