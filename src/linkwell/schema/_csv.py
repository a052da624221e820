"""Delimited text: encoding detection, dialect sniffing and the engine query that reads it.

The file is checked once in blocks: control characters refuse it (binary, UTF-16 without a
BOM), valid UTF-8 is read as it is, anything else as Windows-1252 (Excel's UK "CSV") after
transcoding in blocks, unless it holds bytes Windows-1252 never uses. The delimiter is sniffed
from a bounded sample; the engine then reads every record with that dialect fixed, so no row is
skipped by a guess, and lines it cannot parse are collected and refused together.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

import numpy as np
from numpy.typing import NDArray

from linkwell.engine import Engine, quote_ident, quote_string
from linkwell.errors import ReadError
from linkwell.progress import ProgressTask

__all__ = [
    "DELIMITERS",
    "MAX_LINE_BYTES",
    "CsvDialect",
    "TextEncoding",
    "check_rejects",
    "csv_relation",
    "detect_encoding",
    "rejects_tables",
    "sniff_dialect",
    "transcode_to_utf8",
]

BLOCK: Final = 1 << 20
"""Bytes read at a time when checking or transcoding a file."""

SAMPLE_BYTES: Final = 1 << 18
"""Bytes of decoded text the dialect is sniffed from."""

MAX_LINE_BYTES: Final = 1 << 24
"""The engine refuses a physical line longer than this (16 MiB)."""

DELIMITERS: Final = (",", ";", "\t", "|")
"""Delimiters tried, in order of preference when two fit equally well."""

_UTF8_BOM: Final = b"\xef\xbb\xbf"
_EXCEL_SEP: Final = re.compile(r"sep=(?P<delimiter>[,;\t|])\r?\n")
# Bytes that never occur in a text table: C0 controls other than tab, LF and CR, and DEL.
_CONTROL: Final = np.zeros(256, dtype=bool)
_CONTROL[[*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F]] = True
# Bytes Windows-1252 leaves undefined: a file holding them is in no encoding we support.
_CP1252_UNDEFINED: Final = np.zeros(256, dtype=bool)
_CP1252_UNDEFINED[[0x81, 0x8D, 0x8F, 0x90, 0x9D]] = True
_NEWLINE: Final = 0x0A


class TextEncoding(StrEnum):
    """The encodings a provider's text file may be in."""

    UTF8 = "utf-8"
    UTF8_BOM = "utf-8-sig"
    CP1252 = "cp1252"


@dataclass(frozen=True)
class CsvDialect:
    """How a delimited file is laid out: its delimiter, header cells and lines before the header.

    ``skip`` is 1 when the file opens with Excel's ``sep=;`` line naming its delimiter.
    """

    delimiter: str
    header: tuple[str, ...]
    skip: int = 0


def detect_encoding(path: Path, task: ProgressTask) -> TextEncoding:
    """Check the whole file in blocks and return its encoding, or refuse it as not text.

    A refusal names the line of the first byte that is not text (or, for a file in neither
    encoding, of the byte that rules out Windows-1252), counting lines from 1.
    """
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    utf8 = True
    cp1252 = True
    lines = 0  # newlines before the current block
    line = 0  # where the last encoding still possible was ruled out
    with path.open("rb") as handle:
        while block := handle.read(BLOCK):
            codes = np.frombuffer(block, dtype=np.uint8)
            if _CONTROL[codes].any():
                nul = bool((codes == 0).any())
                raise ReadError(
                    "the file holds NUL bytes, so it is binary or UTF-16 text, not a table"
                    if nul
                    else "the file holds control characters that never occur in a text table",
                    file=path,
                    row=_line_of(codes, int(np.argmax(_CONTROL[codes])), lines),
                    hint="export the data again as CSV (UTF-8), Excel .xlsx, SPSS .sav or Parquet",
                )
            if utf8:
                try:
                    decoder.decode(block)
                except UnicodeDecodeError as exc:
                    utf8, line = False, _line_of(codes, exc.start, lines)
            if cp1252 and _CP1252_UNDEFINED[codes].any():
                cp1252 = False
                line = _line_of(codes, int(np.argmax(_CP1252_UNDEFINED[codes])), lines)
            if not utf8 and not cp1252:
                break
            lines += int(np.count_nonzero(codes == _NEWLINE))
            task.advance(len(codes))
    if utf8:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8, line = False, lines + 1
    if utf8:
        with path.open("rb") as handle:
            bom = handle.read(len(_UTF8_BOM)) == _UTF8_BOM
        return TextEncoding.UTF8_BOM if bom else TextEncoding.UTF8
    if cp1252:
        return TextEncoding.CP1252
    raise ReadError(
        "the file is in no supported text encoding (UTF-8 or Windows-1252)",
        file=path,
        row=line,
        hint="save it again as 'CSV UTF-8 (comma delimited)', or correct the characters on that "
        "line of the file",
    )


def _line_of(codes: NDArray[np.uint8], index: int, lines_before: int) -> int:
    """The file's line (from 1) holding byte ``index`` of a block after ``lines_before`` lines."""
    return lines_before + int(np.count_nonzero(codes[:index] == _NEWLINE)) + 1


def transcode_to_utf8(path: Path, encoding: TextEncoding, dest: Path) -> None:
    """Write ``path`` decoded from ``encoding`` to ``dest`` as UTF-8, block by block."""
    decoder = codecs.getincrementaldecoder(encoding.value)("strict")
    with path.open("rb") as source, dest.open("wb") as target:
        while block := source.read(BLOCK):
            target.write(decoder.decode(block).encode("utf-8"))
        target.write(decoder.decode(b"", final=True).encode("utf-8"))


def _sample(path: Path, encoding: TextEncoding) -> tuple[str, bool]:
    """The first :data:`SAMPLE_BYTES` of text, and whether that is the whole file."""
    with path.open("rb") as handle:
        raw = handle.read(SAMPLE_BYTES + 1)
    whole = len(raw) <= SAMPLE_BYTES
    text = raw[:SAMPLE_BYTES].decode(encoding.value, errors="ignore")
    return text, whole


def _records(text: str, delimiter: str, *, whole: bool) -> list[list[str]]:
    """Parse a sample into records; the last one is dropped when the sample was cut short."""
    records: list[list[str]] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"')
    try:
        records.extend(reader)
    except csv.Error:
        return records
    if not whole and len(records) > 1:
        records.pop()
    return [r for r in records if r]


def sniff_dialect(path: Path, encoding: TextEncoding) -> CsvDialect:
    """Pick the delimiter under which the sampled rows agree with the header's cell count.

    A delimiter that splits the header into more than one cell beats one that does not; among
    those, the one most rows agree with wins, then the one giving more cells. Only a bounded
    sample is parsed here; the engine reads the file itself.
    """
    text, whole = _sample(path, encoding)
    excel = _EXCEL_SEP.match(text.lstrip("\ufeff"))
    if excel:
        body = text.lstrip("\ufeff")[excel.end() :]
        records = _records(body, excel["delimiter"], whole=whole)
        if records:
            return CsvDialect(delimiter=excel["delimiter"], header=tuple(records[0]), skip=1)
    best: tuple[tuple[bool, float, int], str, list[str]] | None = None
    for delimiter in DELIMITERS:
        records = _records(text, delimiter, whole=whole)
        if not records:
            continue
        width = len(records[0])
        agree = sum(len(r) == width for r in records) / len(records)
        score = (width > 1, agree, width)
        if best is None or score > best[0]:
            best = (score, delimiter, records[0])
    if best is None:
        raise ReadError(
            "no header row could be read from the start of the file",
            file=path,
            hint="the first line must hold the column names",
        )
    return CsvDialect(delimiter=best[1], header=tuple(best[2]))


def csv_relation(path: Path, dialect: CsvDialect, rejects: tuple[str, str]) -> str:
    """SQL reading every record of ``path`` as ``_row`` (0 for the header) and text ``c0..``.

    The dialect is fixed (no sniffing) so the engine cannot skip or reinterpret rows. The row
    number comes from a streaming window, which keeps the file's order; lines that do not parse
    go to the ``rejects`` tables (errors, scans) instead of stopping the read.
    """
    width = len(dialect.header)
    columns = "{" + ", ".join(f"{quote_string(f'c{i}')}: 'VARCHAR'" for i in range(width)) + "}"
    options = ", ".join(
        [
            f"delim = {quote_string(dialect.delimiter)}",
            "quote = '\"'",
            "escape = '\"'",
            "header = false",
            f"skip = {int(dialect.skip)}",
            "auto_detect = false",
            f"columns = {columns}",
            "store_rejects = true",
            f"rejects_table = {quote_string(rejects[0])}",
            f"rejects_scan = {quote_string(rejects[1])}",
            f"max_line_size = {MAX_LINE_BYTES}",
        ]
    )
    return (
        f"(SELECT row_number() OVER () - 1 AS _row, * "
        f"FROM read_csv({quote_string(path)}, {options}))"
    )


@contextmanager
def rejects_tables(engine: Engine) -> Iterator[tuple[str, str]]:
    """Names for one read's rejects tables, dropped afterwards."""
    token = secrets.token_hex(6)
    names = (f"lw_rejects_{token}", f"lw_rejects_scan_{token}")
    try:
        yield names
    finally:
        for name in names:
            engine.execute(f"DROP TABLE IF EXISTS {quote_ident(name)}", purpose="drop rejects")


_REJECT_REASONS: Final = {
    "TOO MANY COLUMNS": "has more cells than the header row",
    "MISSING COLUMNS": "has fewer cells than the header row",
    "UNQUOTED VALUE": "has a quote mark in the wrong place (a quoted cell is not closed properly)",
    "LINE SIZE OVER MAXIMUM": f"is longer than {MAX_LINE_BYTES >> 20} MiB",
}


def check_rejects(engine: Engine, rejects: tuple[str, str], path: Path) -> None:
    """Refuse the file if the engine could not parse any of its lines, naming the first."""
    table = quote_ident(rejects[0])
    exists = engine.scalar(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ?",
        [rejects[0]],
        purpose="look for rejected lines",
    )
    if not exists:
        return
    rows = engine.fetchall(
        f"SELECT line, error_type, count(DISTINCT line) OVER () FROM {table} "
        "ORDER BY line, error_type LIMIT 1",
        purpose="first rejected line",
    )
    if not rows:
        return
    line, kind, lines = rows[0]
    reason = _REJECT_REASONS.get(str(kind), "cannot be read")
    others = f" ({int(lines) - 1} more line(s) have problems too)" if int(lines) > 1 else ""
    raise ReadError(
        f"line {int(line)} of the file {reason}{others}",
        file=path,
        hint="every row needs the same number of cells as the header; fix the file and send it "
        "again",
    )
