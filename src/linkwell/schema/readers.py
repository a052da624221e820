"""Landing a provider's file as Parquet: every column as text exactly as sent, plus its row number.

:func:`read_table` recognises CSV (UTF-8 or Windows-1252, any common delimiter), Excel .xlsx,
SPSS .sav and Parquet by their first bytes and streams them through the engine into one VARCHAR
column per provider column (an empty cell as NULL) plus ``_row``, the number a user would look
for: the record after the header, the spreadsheet row, the case number, the Parquet row. Rows
with every cell empty are skipped and counted. Anything unsafe to read is refused with a
:class:`~linkwell.errors.ReadError` naming the file and place, never quoting a cell.
"""

from __future__ import annotations

import re
import secrets
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Final

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from linkwell.engine import PARQUET_COMPRESSION, Engine, quote_ident, quote_string
from linkwell.errors import ConfigError, InternalError, ReadError, StorageError, ValidationError
from linkwell.fileio import PARTIAL_SUFFIX, atomic_path
from linkwell.progress import SILENT, Progress
from linkwell.schema import _csv, _spreadsheet, _spss

__all__ = [
    "CELL_LIMIT",
    "ROW_COLUMN",
    "ReadResult",
    "SourceFormat",
    "detect_format",
    "read_table",
]

CELL_LIMIT: Final = 32_767
"""Most characters a cell may hold: Excel's own limit, so no genuine extract exceeds it.

A file with a longer cell is refused, naming the row and column: such a cell is a corrupt export
or an attempt to smuggle something in, and either way the file needs a look before it goes on.
"""

ROW_COLUMN: Final = "_row"
"""Name of the row-number column every landed table carries."""

NAME_LIMIT: Final = 255
"""Most characters a column name may have."""

_HEAD: Final = 8192
# A run of six digits or a date in a header cell means the first row is data (an ID, a date of
# birth): such a file has no header, and its "column names" must not be echoed anywhere.
_DATA_LIKE: Final = re.compile(r"\d{6,}|\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}")
_CONTROL_CHARS: Final = re.compile(r"[\x00-\x1f\x7f]")


class SourceFormat(StrEnum):
    """The file formats a provider may send."""

    CSV = "csv"
    XLSX = "xlsx"
    SAV = "sav"
    PARQUET = "parquet"


@dataclass(frozen=True)
class ReadResult:
    """What :func:`read_table` landed, and how it read the file.

    ``rows`` counts the data rows landed; ``blank_rows`` the rows with every cell empty that were
    skipped between the header and the last data row. ``value_labels`` holds an SPSS file's
    labels per variable, keyed by the code as landed.
    """

    source: Path
    dest: Path
    format: SourceFormat
    columns: tuple[str, ...]
    rows: int
    blank_rows: int
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    value_labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


_REFUSED_MAGIC: Final = (
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Excel (.xls) or other Office file"),
    (b"\x1f\x8b", "a gzip-compressed file"),
    (b"BZh", "a bzip2-compressed file"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"%PDF", "a PDF document"),
    (b"\xff\xfe\x00\x00", "text in UTF-32"),
    (b"\x00\x00\xfe\xff", "text in UTF-32"),
    (b"\xff\xfe", "text in UTF-16"),
    (b"\xfe\xff", "text in UTF-16"),
)  # fmt: skip


def _open_head(path: Path) -> bytes:
    """The file's first bytes, after checking it is a readable, non-empty regular file."""
    if path.is_dir():
        raise ReadError("this is a folder, not a file", file=path, hint="give the data file itself")
    if path.exists() and not path.is_file():  # opening a pipe would wait for a writer forever
        raise ReadError(
            "this is not a regular file (a pipe, socket or device)",
            file=path,
            hint="save the data to a file and give that",
        )
    try:
        with path.open("rb") as handle:
            head = handle.read(_HEAD)
    except FileNotFoundError as exc:
        raise ReadError("the file does not exist", file=path, hint="check the path") from exc
    except PermissionError as exc:
        raise ReadError(
            "no permission to read the file", file=path, hint="check the file's permissions"
        ) from exc
    except OSError as exc:
        raise ReadError(
            f"the file cannot be read ({exc.strerror})",
            file=path,
            hint="check that the file is complete and on a working disk, then try again",
        ) from exc
    if not head:
        raise ReadError("the file is empty", file=path, hint="export the data again")
    return head


def _zip_format(path: Path) -> SourceFormat:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise ReadError(
            "the file is a ZIP archive (as an Excel workbook is) but it is damaged or truncated",
            file=path,
            hint="open it in Excel or LibreOffice and save it again as .xlsx, or export CSV",
        ) from exc
    if "xl/workbook.xml" in names:
        return SourceFormat.XLSX
    kind = "an OpenDocument file" if "content.xml" in names else "a ZIP archive"
    raise ReadError(
        f"the file is {kind}, not an Excel workbook or a table",
        file=path,
        hint="save the sheet as .xlsx or CSV, or extract the data file from the archive",
    )


def detect_format(path: Path) -> SourceFormat:
    """The file's format, from its content; known non-table formats are refused by name."""
    head = _open_head(path)
    if head.startswith(b"PAR1"):
        return SourceFormat.PARQUET
    if head.startswith((b"$FL2", b"$FL3")):
        return SourceFormat.SAV
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _zip_format(path)
    for magic, what in _REFUSED_MAGIC:
        if head.startswith(magic):
            raise ReadError(
                f"the file is {what}, which linkwell does not read",
                file=path,
                hint="export the data as CSV (UTF-8), Excel .xlsx, SPSS .sav or Parquet",
            )
    return SourceFormat.CSV


def _header_names(raw: Sequence[str | None], path: Path) -> tuple[str, ...]:
    """Check the header's names; unnamed columns get a placeholder. Errors give positions only."""
    if not raw:
        raise ReadError("the file has no columns", file=path, hint="export the data again")
    if len(raw) > _spreadsheet.MAX_COLUMNS:  # every column is held at once while landing
        raise ReadError(
            f"the file has {len(raw):,} columns, more than {_spreadsheet.MAX_COLUMNS:,}",
            file=path,
            hint="export only the columns your mapping names (and delete empty ones)",
        )
    names: list[str] = []
    for position, cell in enumerate(raw, start=1):
        text = "" if cell is None else str(cell)
        if _DATA_LIKE.search(text):
            raise ReadError(
                f"the first row looks like data, not column names (column {position})",
                file=path,
                hint="the first row must name the columns; add a header row",
            )
        if len(text) > NAME_LIMIT or _CONTROL_CHARS.search(text):
            raise ReadError(
                f"column {position}'s name is longer than {NAME_LIMIT} characters or holds "
                "control characters",
                file=path,
                hint="the first row must name the columns; add a header row",
            )
        names.append(text if text.strip() else f"(unnamed column {position})")
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        if name in seen:
            raise ReadError(
                f"columns {seen[name]} and {position} have the same name",
                file=path,
                hint="give every column its own name",
            )
        seen[name] = position
    if ROW_COLUMN in seen:
        raise ReadError(
            f"column {seen[ROW_COLUMN]} is called {ROW_COLUMN!r}, a name linkwell reserves",
            file=path,
            hint="rename that column",
        )
    return tuple(names)


@contextmanager
def _engine_reads(path: Path, what: str, writing: Path | None = None) -> Iterator[None]:
    """Turn the engine's failure to parse the input into a :class:`ReadError`.

    The engine's own message is dropped (``from None``): parse errors quote the offending line.
    A storage failure on ``writing`` (the output, e.g. a full disk) stays a storage error.
    """
    try:
        yield
    except (InternalError, StorageError) as exc:
        cause = exc.__cause__
        if writing is not None and isinstance(exc, StorageError) and writing.name in str(cause):
            raise
        # A damaged file fails in DuckDB's readers with many types, down to the plain
        # duckdb.Error (a corrupt Parquet footer, a page past the end): every one but a parse
        # error in linkwell's own SQL means the input cannot be read.
        unreadable = isinstance(exc, InternalError) and not isinstance(
            cause, duckdb.ParserException
        )
        if unreadable or isinstance(cause, (duckdb.InvalidInputException,
                                            duckdb.ConversionException, duckdb.BinderException,
                                            duckdb.IOException)):  # fmt: skip
            raise ReadError(
                f"the file cannot be read as {what}: it is damaged, truncated or not {what}",
                file=path,
                hint="export the data again",
            ) from None
        raise


@dataclass(frozen=True)
class _Landing:
    """A format's rows as SQL: ``_row`` and text columns ``c0..`` in provider order."""

    header: tuple[str | None, ...]
    relation: str
    params: list[object]
    first_row: int
    what: str
    check: Callable[[], None] = lambda: None


def _land(
    engine: Engine, landing: _Landing, path: Path, dest: Path
) -> tuple[tuple[str, ...], int, int]:
    """Copy a landing into ``dest`` atomically; return names, rows and skipped blank rows."""
    names = _header_names(landing.header, path)
    cells = [f"c{i}" for i in range(len(names))]
    select = ", ".join(
        f"{quote_ident(c)} AS {quote_ident(n)}" for c, n in zip(cells, names, strict=True)
    )
    not_blank = "coalesce(" + ", ".join(quote_ident(c) for c in cells) + ") IS NOT NULL"
    query = (
        f"SELECT CAST(_row AS BIGINT) AS {quote_ident(ROW_COLUMN)}, {select} "
        f"FROM {landing.relation} WHERE _row >= {int(landing.first_row)} AND {not_blank}"
    )
    with atomic_path(dest) as partial:
        with _engine_reads(path, landing.what, writing=partial):
            sql = (
                f"COPY ({query}) TO {quote_string(partial)} (FORMAT parquet, {PARQUET_COMPRESSION})"
            )
            row = engine.execute(sql, landing.params, purpose="land the provider's file").fetchone()
        landing.check()
        rows = int(row[0]) if row else 0
        if rows == 0:
            raise ValidationError(
                "the file has a header row but no data rows",
                file=path,
                hint="export the data again, with its rows",
            )
        blank = _check_cells(engine, partial, names, path) - int(landing.first_row) + 1 - rows
    return names, rows, blank


def _check_cells(engine: Engine, landed: Path, names: Sequence[str], path: Path) -> int:
    """Refuse a cell over :data:`CELL_LIMIT`, naming its row and column; return the last row."""
    lengths = ", ".join(f"max(length({quote_ident(n)}))" for n in names)
    source = f"read_parquet({quote_string(landed)})"
    stats = engine.fetchall(
        f"SELECT max({quote_ident(ROW_COLUMN)}), {lengths} FROM {source}",
        purpose="measure the landed cells",
    )[0]
    for name, longest in zip(names, stats[1:], strict=True):
        if longest is not None and int(longest) > CELL_LIMIT:
            first = engine.scalar(
                f"SELECT min({quote_ident(ROW_COLUMN)}) FROM {source} "
                f"WHERE length({quote_ident(name)}) > ?",
                [CELL_LIMIT],
                purpose="find the oversized cell",
            )
            raise ReadError(
                f"a cell holds more than {CELL_LIMIT:,} characters, the most a spreadsheet "
                "cell can hold",
                file=path,
                row=int(first),
                field=name,
                hint="this is not a normal data extract; check the file and export it again",
            )
    return int(stats[0])


def _read_csv(engine: Engine, path: Path, dest: Path, progress: Progress) -> ReadResult:
    with progress.task(f"checking {path.name}", total=path.stat().st_size) as task:
        encoding = _csv.detect_encoding(path, task)
    dialect = _csv.sniff_dialect(path, encoding)
    source = path
    transcoded = None
    if encoding is _csv.TextEncoding.CP1252:
        transcoded = dest.with_name(f".{dest.name}.{secrets.token_hex(6)}.utf8{PARTIAL_SUFFIX}")
        source = transcoded
    try:
        if transcoded is not None:
            _csv.transcode_to_utf8(path, encoding, transcoded)
        with _csv.rejects_tables(engine) as rejects:
            landing = _Landing(
                header=dialect.header,
                relation=_csv.csv_relation(source, dialect, rejects),
                params=[],
                first_row=1,
                what="delimited text (CSV)",
                check=lambda: _csv.check_rejects(engine, rejects, path),
            )
            with progress.task(f"reading {path.name}"):
                names, rows, blank = _land(engine, landing, path, dest)
    finally:
        if transcoded is not None:
            transcoded.unlink(missing_ok=True)
    return ReadResult(
        source=path,
        dest=dest,
        format=SourceFormat.CSV,
        columns=names,
        rows=rows,
        blank_rows=blank,
        encoding=encoding.value,
        delimiter=dialect.delimiter,
    )


def _read_xlsx(
    engine: Engine, path: Path, dest: Path, sheet: str | None, progress: Progress
) -> ReadResult:
    extent = _spreadsheet.sheet_extent(path, sheet)
    _spreadsheet.load_excel_extension(engine)
    what = "an Excel workbook"
    header_sql, header_params = _spreadsheet.xlsx_relation(path, extent, extent.header_row)
    with _engine_reads(path, what):
        header = engine.fetchall(
            f"SELECT * EXCLUDE (_row) FROM {header_sql} LIMIT 1",
            [header_params[0], extent.cells(extent.header_row, extent.header_row)],
            purpose="read the header row",
        )
    relation, params = _spreadsheet.xlsx_relation(path, extent, extent.header_row + 1)
    landing = _Landing(
        header=tuple(header[0]) if header else (),
        relation=relation,
        params=params,
        first_row=extent.header_row + 1,
        what=what,
    )
    with progress.task(f"reading {path.name}"):
        names, rows, blank = _land(engine, landing, path, dest)
    return ReadResult(
        source=path,
        dest=dest,
        format=SourceFormat.XLSX,
        columns=names,
        rows=rows,
        blank_rows=blank,
        sheet=extent.sheet,
    )


def _read_sav(engine: Engine, path: Path, dest: Path, progress: Progress) -> ReadResult:
    source = _spss.open_sav(path)
    view = f"lw_sav_{secrets.token_hex(6)}"
    engine.register(view, source.reader())
    try:
        landing = _Landing(
            header=source.columns,
            relation=quote_ident(view),
            params=[],
            first_row=1,
            what="an SPSS data file",
            check=lambda: _raise_if(source.failure),
        )
        with progress.task(f"reading {path.name}", total=source.cases) as task:
            try:
                names, rows, blank = _land(engine, landing, path, dest)
            except ReadError:
                _raise_if(source.failure)
                raise
            task.advance(source.cases)
    finally:
        engine.unregister(view)
    return ReadResult(
        source=path,
        dest=dest,
        format=SourceFormat.SAV,
        columns=names,
        rows=rows,
        blank_rows=blank,
        value_labels=source.value_labels,
    )


def _raise_if(failure: ReadError | None) -> None:
    if failure is not None:
        raise failure


_FLOAT32_EXACT: Final = 2**24
"""Whole numbers beyond this in magnitude are not all representable as 32-bit floats."""


def _text_sql(column: str, kind: str) -> str:
    """A Parquet column as text: whole numbers without a trailing ``.0``, empty text as NULL."""
    ident = quote_ident(column)
    if kind in ("DOUBLE", "FLOAT"):
        return (
            f"CASE WHEN isfinite({ident}) AND {ident} = trunc({ident}) AND abs({ident}) < 1e15 "
            f"THEN CAST(CAST({ident} AS BIGINT) AS VARCHAR) ELSE CAST({ident} AS VARCHAR) END"
        )
    return f"NULLIF(CAST({ident} AS VARCHAR), '')"


def _parquet_names(path: Path) -> list[str]:
    """The file's own column names, as written: DuckDB renames a repeated or empty one."""
    try:
        return list(pq.read_schema(path).names)
    except (pa.ArrowException, OSError) as exc:
        raise ReadError(
            "the Parquet file's schema cannot be read", file=path, hint="export the data again"
        ) from exc


def _check_float32(
    engine: Engine,
    source: str,
    columns: Sequence[tuple[str, str]],
    header: Sequence[str],
    path: Path,
) -> None:
    """Refuse a 32-bit float column holding whole numbers it cannot hold exactly.

    A 10-digit ID exported as a 32-bit float arrives rounded, and about one rounded ID in ten
    still passes the check digit: the wrong child. Above 2**24 not every whole number exists
    as a 32-bit float, so no such value can be trusted to be the one exported. All such columns
    are checked in one pass over the file.
    """
    floats = [(c, n) for (c, kind), n in zip(columns, header, strict=True) if kind == "FLOAT"]
    if not floats:
        return
    firsts = ", ".join(
        f"min(file_row_number) FILTER (WHERE abs({quote_ident(c)}) > {_FLOAT32_EXACT}) + 1"
        for c, _name in floats
    )
    (rows,) = engine.fetchall(f"SELECT {firsts} FROM {source}", purpose="check 32-bit floats")
    for (_column, name), row in zip(floats, rows, strict=True):
        if row is not None:
            raise ReadError(
                "the column is stored as 32-bit floating point, which holds whole numbers "
                f"exactly only up to {_FLOAT32_EXACT:,}; its values may not be those exported",
                file=path,
                row=int(row),
                field=name,
                hint="export the column as integers or text",
            )


def _read_parquet(engine: Engine, path: Path, dest: Path, progress: Progress) -> ReadResult:
    what = "a Parquet file"
    source = f"read_parquet({quote_string(path)}, file_row_number = true)"
    with _engine_reads(path, what):
        described = engine.fetchall(f"DESCRIBE SELECT * FROM {source}", purpose="read the schema")
    written = _parquet_names(path)
    if "file_row_number" in written:
        raise ReadError(
            "the file has a column called 'file_row_number', which linkwell reserves",
            file=path,
            hint="rename that column",
        )
    header = _header_names(written, path)  # before any name goes into SQL; repeats refused
    # DuckDB's names (a repeated or empty one renamed), position by position with the file's.
    columns = [(str(r[0]), str(r[1])) for r in described if r[0] != "file_row_number"]
    if len(columns) != len(header):
        raise InternalError("DuckDB and the Parquet footer disagree on the columns", file=path)
    with _engine_reads(path, what):
        _check_float32(engine, source, columns, header, path)
    texts = ", ".join(f"{_text_sql(name, kind)} AS c{i}" for i, (name, kind) in enumerate(columns))
    landing = _Landing(
        header=header,
        relation=f"(SELECT file_row_number + 1 AS _row, {texts} FROM {source})",
        params=[],
        first_row=1,
        what=what,
    )
    with progress.task(f"reading {path.name}"):
        names, rows, blank = _land(engine, landing, path, dest)
    return ReadResult(
        source=path,
        dest=dest,
        format=SourceFormat.PARQUET,
        columns=names,
        rows=rows,
        blank_rows=blank,
    )


def read_table(
    path: Path,
    *,
    engine: Engine,
    dest: Path,
    sheet: str | None = None,
    progress: Progress = SILENT,
) -> ReadResult:
    """Land ``path`` at ``dest`` as Parquet: text columns exactly as sent, plus ``_row``.

    ``sheet`` chooses a workbook's sheet (default: the first); giving one for a file that is
    not a workbook is a :class:`~linkwell.errors.ConfigError`. ``dest`` is written atomically and
    only when the whole file was read; on any error nothing is left behind.
    """
    fmt = detect_format(path)
    if sheet is not None and fmt is not SourceFormat.XLSX:
        raise ConfigError(
            f"a sheet was chosen but the file is {fmt.value}, not an Excel workbook",
            file=path,
            hint="leave out the sheet",
        )
    if fmt is SourceFormat.CSV:
        return _read_csv(engine, path, dest, progress)
    if fmt is SourceFormat.XLSX:
        return _read_xlsx(engine, path, dest, sheet, progress)
    if fmt is SourceFormat.SAV:
        return _read_sav(engine, path, dest, progress)
    return _read_parquet(engine, path, dest, progress)
