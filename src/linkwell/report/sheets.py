"""The workbook file, its sheets written in order by one process: :class:`BookFile`.

A sheet starts in cell A1 with its title, then one note, one header row and the rows, with no
merged cells or blank rows, so screen readers and machines read it alike; a table longer than a
sheet continues on further sheets. Cells are written as given: numbers as numbers and text as
text, never as a formula, so a school code that a provider wrote as ``=HYPERLINK(...)`` is shown,
not run. The file is streamed row by row (xlsxwriter's constant-memory mode, 1.5 to 1.9 times as
fast as openpyxl's write-only one on 200,000 rows).

:class:`BookFile`'s methods are jobs for :class:`~linkwell.analysis.workers.Background`: a
national release's workbook (3.3 million cells, at about 150,000 a second) is written on a
process of its own while the tables are still being made. This module therefore imports nothing
of linkwell's analysis: that process loads xlsxwriter and this module alone.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, NamedTuple

from xlsxwriter import Workbook
from xlsxwriter.exceptions import FileCreateError
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from linkwell.errors import InternalError

__all__ = ["SHEET_ROWS", "BookFile", "Sheet"]

SHEET_ROWS: Final = 1_048_576
"""Rows in a worksheet (the format's limit): a longer table continues on further sheets."""
_HEAD_ROWS: Final = 3  # title, note, header
_SHEET_NAME: Final = 31  # longest sheet name
_OPTIONS: Final = {
    "constant_memory": True,  # each row is written out as soon as the next one begins
    "strings_to_formulas": False,  # text is text: a provider's code cannot become a formula
    "strings_to_urls": False,
    "strings_to_numbers": False,
    "in_memory": False,
}


class Sheet(NamedTuple):
    """One table for the workbook: a title, a note, one header row and the rows' values.

    ``note`` ``None`` makes a plain sheet (the cover): the title, then the rows, no header.
    """

    name: str
    title: str
    note: str | None
    headers: Sequence[str]
    rows: Sequence[Sequence[object]]


@dataclass
class BookFile:
    """A workbook being written at ``path``: opened, given its sheets in order, closed.

    Its methods are the jobs a :class:`~linkwell.analysis.workers.Background` runs on the
    process that writes the file. ``scratch`` is a folder for each sheet's rows until the file
    is assembled, which the caller removes whatever happens (a process killed mid-way leaves
    them there). ``sheet_rows`` is the rows a worksheet holds (the format's limit unless a test
    lowers it).
    """

    path: Path
    scratch: Path
    sheet_rows: int = SHEET_ROWS
    _book: Workbook | None = field(default=None, init=False, repr=False)
    _head: dict[str, Worksheet] = field(default_factory=dict, init=False, repr=False)
    _formats: tuple[Format, Format] | None = field(default=None, init=False, repr=False)

    def open(self, head: Sequence[str]) -> None:
        """Open the file with the sheets named ``head`` first, to be filled by :meth:`close`.

        The cover and the contents come first but say what every table holds, so they are
        written last: a streamed workbook may fill its sheets in any order, each sheet's rows in
        order.
        """
        book = Workbook(str(self.path), {**_OPTIONS, "tmpdir": str(self.scratch)})
        self._formats = (
            book.add_format({"bold": True, "font_size": 14}),
            book.add_format({"bold": True}),
        )
        self._head = {name: book.add_worksheet(name) for name in head}
        self._book = book

    def add(self, table: Sheet) -> None:
        """``table`` on sheet ``table.name``, continued on ``name (2)``... if it outgrows one.

        Each continuation repeats the title and header and says which rows it holds, so every
        sheet still reads as one table starting in A1.
        """
        per_sheet = self.sheet_rows - _HEAD_ROWS
        rows = table.rows
        for part, start in enumerate(range(0, max(len(rows), 1), per_sheet), start=1):
            chunk = rows[start : start + per_sheet]
            suffix = "" if part == 1 else f" ({part})"
            sheet = self._open_book().add_worksheet(
                table.name[: _SHEET_NAME - len(suffix)] + suffix
            )
            shown = (
                f"Rows {start + 1:,} to {start + len(chunk):,} of {len(rows):,}."
                if len(rows) > per_sheet
                else ""
            )
            self._write(sheet, table._replace(rows=chunk), shown)

    def close(self, last: tuple[Sequence[Sheet], Sequence[Sheet]]) -> None:
        """Fill the head sheets, add the tables that end the workbook, and close the file.

        ``last`` is the head sheets' tables (each short enough for one sheet), then the tables
        that end the workbook. xlsxwriter's error for a file it cannot write is raised as the
        ``OSError`` it wraps, which the caller reports naming the file.
        """
        head, tail = last
        for table in head:
            if len(table.rows) > self.sheet_rows - _HEAD_ROWS:
                raise InternalError("a head sheet of the workbook is longer than a sheet")
            self._write(self._head[table.name], table, "")
        for table in tail:
            self.add(table)
        book, self._book = self._open_book(), None
        try:
            book.close()
        except FileCreateError as error:
            cause = error.args[0] if error.args else None
            if isinstance(cause, OSError):
                raise cause from None
            raise

    def abandon(self) -> None:
        """Close the file, if open, after a failure: its sheets' files are closed and removed.

        What it wrote is incomplete and left for the caller to delete.
        """
        if self._book is not None:
            book, self._book = self._book, None
            with contextlib.suppress(Exception):  # the failure being handled is the one to tell
                book.close()

    def _open_book(self) -> Workbook:
        if self._book is None:
            raise InternalError("a sheet was written before the workbook was opened")
        return self._book

    def _write(self, sheet: Worksheet, table: Sheet, shown: str) -> None:
        """``table`` (or the part of it given) into the empty ``sheet``, from A1."""
        if self._formats is None:
            raise InternalError("a sheet was written before the workbook was opened")
        title, bold = self._formats
        sheet.write_row(0, 0, [table.title], title)
        start = 1
        if table.note is not None:
            sheet.write_row(1, 0, [f"{table.note} {shown}" if shown else table.note])
            sheet.write_row(2, 0, table.headers, bold)
            start = _HEAD_ROWS
        for number, row in enumerate(table.rows, start=start):
            sheet.write_row(number, 0, row)
