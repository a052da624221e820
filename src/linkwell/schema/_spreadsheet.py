"""Excel workbooks (.xlsx): the sheet's extent from its header, its cells through the engine.

The engine's excel extension (a wheel of the same DuckDB release, loaded by path, never
downloaded) streams the cells as text; the range comes from the dimension the sheet records,
read by openpyxl without touching rows, so an empty row never ends the table early. The first row
holding anything is the header and every row keeps its spreadsheet number; only a workbook whose
writer left out the dimension is measured by walking its rows.
"""

from __future__ import annotations

import warnings
import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, BinaryIO, Final

import openpyxl
from openpyxl.utils.cell import get_column_letter, range_boundaries
from openpyxl.utils.exceptions import InvalidFileException

from linkwell.engine import Engine, quote_ident, quote_string
from linkwell.errors import ConfigError, InternalError, LinkwellError, ReadError

__all__ = ["MAX_COLUMNS", "SheetExtent", "load_excel_extension", "sheet_extent", "xlsx_relation"]

MAX_COLUMNS: Final = 4096
"""A sheet claiming more columns than this is refused rather than read as mostly empty cells."""

_EXTENSION: Final = ("duckdb_extension_excel", "extensions/v1.5.5/excel.duckdb_extension")


@dataclass(frozen=True)
class SheetExtent:
    """Where a sheet's table lies: its name, header row, last row and column span (1-based)."""

    sheet: str
    sheets: tuple[str, ...]
    header_row: int
    last_row: int
    first_column: int
    last_column: int

    @property
    def width(self) -> int:
        """Number of columns."""
        return self.last_column - self.first_column + 1

    def cells(self, first_row: int, last_row: int) -> str:
        """The A1-style range of this extent's columns from ``first_row`` to ``last_row``."""
        left = get_column_letter(self.first_column)
        right = get_column_letter(self.last_column)
        return f"{left}{first_row}:{right}{last_row}"


def load_excel_extension(engine: Engine) -> None:
    """Load the excel extension from its wheel, so nothing is fetched at run time."""
    package, member = _EXTENSION
    try:
        path = resources.files(package).joinpath(member)
    except ModuleNotFoundError as exc:
        raise InternalError(
            "the duckdb-extension-excel package is missing from this installation"
        ) from exc
    engine.execute(f"LOAD {quote_string(str(path))}", purpose="load the excel extension")


def _damaged(path: Path) -> ReadError:
    return ReadError(
        "the file looks like an Excel workbook but cannot be opened: it is damaged or truncated",
        file=path,
        hint="open it in Excel or LibreOffice and save it again as .xlsx, or export CSV",
    )


def sheet_extent(path: Path, sheet: str | None) -> SheetExtent:
    """Find ``sheet`` (default: the first) and the cells its table occupies."""
    # openpyxl warns about workbook features it does not model (styles, validation); they do
    # not affect cell values, so the warnings are kept from the caller's filters. The file is
    # opened here, not by openpyxl, because openpyxl leaves it open when a part fails to parse.
    with warnings.catch_warnings(), _open_workbook(path) as handle:
        warnings.simplefilter("ignore")
        # openpyxl parses whatever XML the archive holds, and a damaged or hostile part fails
        # in its own ways (XML ParseError, TypeError for an unknown attribute, ...): any error
        # but linkwell's own means the workbook cannot be read. Its chain is dropped, as
        # openpyxl's messages may quote a cell.
        try:
            book = openpyxl.load_workbook(handle, read_only=True, data_only=True)
        except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError) as exc:
            raise _damaged(path) from exc
        except Exception:  # noqa: BLE001 - see above
            raise _damaged(path) from None
        try:
            return _extent(book, path, sheet)
        except LinkwellError:
            raise
        except (zipfile.BadZipFile, KeyError, OSError, EOFError) as exc:
            raise _damaged(path) from exc
        except Exception:  # noqa: BLE001 - see above
            raise _damaged(path) from None
        finally:
            book.close()


def _open_workbook(path: Path) -> BinaryIO:
    try:
        return path.open("rb")
    except OSError as exc:
        raise _damaged(path) from exc


def _extent(book: openpyxl.Workbook, path: Path, sheet: str | None) -> SheetExtent:
    names = tuple(book.sheetnames)
    if not names:
        raise ReadError("the workbook has no sheets", file=path, hint="export the data again")
    chosen = names[0] if sheet is None else sheet
    if chosen not in names:
        raise ConfigError(
            f"the workbook has no sheet called {chosen!r}",
            file=path,
            hint="choose one of: " + ", ".join(repr(n) for n in names),
        )
    worksheet = book[chosen]
    if not hasattr(worksheet, "calculate_dimension"):
        raise ReadError(
            f"sheet {chosen!r} is a chart, not a table",
            file=path,
            hint="choose the sheet holding the data",
        )
    try:
        bounds = range_boundaries(worksheet.calculate_dimension())
    except ValueError:
        bounds = _measure(worksheet)
    first_column, header_row, last_column, last_row = bounds
    if None in bounds:
        raise ReadError(
            f"sheet {chosen!r} is empty", file=path, hint="choose the sheet holding the data"
        )
    extent = SheetExtent(
        sheet=chosen,
        sheets=names,
        header_row=int(header_row),
        last_row=int(last_row),
        first_column=int(first_column),
        last_column=int(last_column),
    )
    if extent.width > MAX_COLUMNS:
        raise ReadError(
            f"sheet {chosen!r} claims {extent.width} columns, more than {MAX_COLUMNS}",
            file=path,
            hint="delete the empty columns to the right of the table and save it again",
        )
    return extent


def _measure(worksheet: Any) -> tuple[int | None, int | None, int | None, int | None]:  # noqa: ANN401 - openpyxl's read-only sheet is untyped
    """The used range of a sheet whose writer did not record it, by walking its rows.

    This is the one per-row loop in reading, and only for such workbooks: openpyxl's own
    measure starts at A1 and would take empty leading rows for the header.
    """
    top = bottom = left = right = None
    for number, cells in enumerate(worksheet.iter_rows(values_only=True), start=1):
        filled = [i for i, value in enumerate(cells, start=1) if value is not None]
        if filled:
            top = number if top is None else top
            bottom = number
            left = filled[0] if left is None else min(left, filled[0])
            right = filled[-1] if right is None else max(right, filled[-1])
    return left, top, right, bottom


def xlsx_relation(path: Path, extent: SheetExtent, first_row: int) -> tuple[str, list[object]]:
    """SQL reading rows ``first_row``.. of the extent as ``_row`` (spreadsheet row) and ``c0..``.

    Cells are read as text exactly as stored; rows keep their sheet order, so the streaming row
    number plus the range's first row is the row number Excel shows.
    """
    aliases = ", ".join(quote_ident(f"c{i}") for i in range(extent.width))
    sql = (
        f"(SELECT row_number() OVER () + {int(first_row) - 1} AS _row, * FROM read_xlsx("
        f"{quote_string(path)}, sheet = ?, range = ?, header = false, all_varchar = true, "
        f"stop_at_empty = false) AS t({aliases}))"
    )
    return sql, [extent.sheet, extent.cells(first_row, max(first_row, extent.last_row))]
