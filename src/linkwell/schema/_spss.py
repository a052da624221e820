"""SPSS data files (.sav, .zsav): codes land, value labels travel beside them.

Cases are read with pyreadstat in chunks and streamed into the engine as Arrow batches of text
(numbers in their shortest exact form, ``1`` not ``1.0``), so memory does not grow with the file.
Codes land rather than labels because codes are what a variable holds: a SIMD decile stays a
number where its label ("1 - most deprived") would not parse, and labels change between waves;
the labels are returned with the read, for a mapping's per-field code map to use. User-missing
values land as missing, and dates as SPSS stores them (seconds since 14 October 1582). A file is
parsed once in a child process first, because ReadStat crashes the process on some damaged files.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyreadstat

from linkwell.errors import ReadError

__all__ = ["CHUNK_CASES", "SavSource", "open_sav"]

CHUNK_CASES: Final = 50_000
"""Cases read into memory at a time."""


@dataclass
class SavSource:
    """A .sav file's variables, value labels, and a stream of ``_row`` + text batches.

    ``failure`` is set when reading fails part-way; the stream then ends early and the caller
    raises it, because an exception inside an Arrow stream reaches the caller as the engine's.
    """

    path: Path
    columns: tuple[str, ...]
    value_labels: Mapping[str, Mapping[str, str]]
    cases: int
    failure: ReadError | None = field(default=None)

    def schema(self) -> pa.Schema:
        """``_row`` then one text column per variable, named ``c0..``."""
        return pa.schema(
            [pa.field("_row", pa.int64())]
            + [pa.field(f"c{i}", pa.string()) for i in range(len(self.columns))]
        )

    def reader(self) -> pa.RecordBatchReader:
        """The cases as a stream of Arrow batches."""
        return pa.RecordBatchReader.from_batches(self.schema(), self._batches())

    def _batches(self) -> Iterator[pa.RecordBatch]:
        schema = self.schema()
        offset = 0
        chunks = pyreadstat.read_file_in_chunks(
            pyreadstat.read_sav,
            self.path,
            chunksize=CHUNK_CASES,
            disable_datetime_conversion=True,
            user_missing=False,
        )
        try:
            for frame, _meta in chunks:
                rows = np.arange(offset + 1, offset + len(frame) + 1, dtype=np.int64)
                arrays = [pa.array(rows)]
                arrays += [_as_text(frame[name]) for name in self.columns]
                offset += len(frame)
                yield pa.RecordBatch.from_arrays(arrays, schema=schema)
        except (pyreadstat.ReadstatError, pyreadstat.PyreadstatError) as exc:
            self.failure = _damaged(self.path)
            self.failure.__cause__ = exc
        except ValueError:
            # A conversion error may quote a value; it is not kept in the chain.
            self.failure = _damaged(self.path)


def _as_text(series: Any) -> pa.Array:  # noqa: ANN401 - a pandas Series, untyped upstream
    """One column as text: numbers in their shortest exact form, empty strings as missing."""
    array = pa.array(series, from_pandas=True)
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        return pc.if_else(pc.equal(array, ""), pa.scalar(None, pa.string()), array).cast(
            pa.string()
        )
    if pa.types.is_null(array.type):
        return pa.nulls(len(array), pa.string())
    if pa.types.is_floating(array.type):
        # Arrow writes 13797302400.0 as "1.37973024e+10"; whole numbers go through int64.
        whole = pc.and_(pc.equal(array, pc.trunc(array)), pc.less(pc.abs(array), pa.scalar(1e15)))
        whole = pc.fill_null(whole, fill_value=False)
        as_int = pc.cast(pc.if_else(whole, array, 0.0), pa.int64()).cast(pa.string())
        return pc.if_else(whole, as_int, pc.cast(array, pa.string()))
    return pc.cast(array, pa.string())


def _code_text(code: object) -> str:
    """A value-label key written the way :func:`_as_text` writes the cell."""
    if isinstance(code, float) and code.is_integer():
        return str(int(code))
    return str(code)


def _damaged(path: Path) -> ReadError:
    return ReadError(
        "the file looks like an SPSS data file but cannot be read: it is damaged or truncated",
        file=path,
        hint="save it again from SPSS (File > Save As > .sav), or export CSV",
    )


def _parse_in_a_child(path: Path) -> None:
    """Parse the whole file once in a child process; refuse it if that kills the child.

    ReadStat, the C library under pyreadstat, crashes the process (a segmentation fault, not
    an exception) on some damaged files: one changed byte in a variable record is enough. A
    crash in a child is a refusal here instead of the end of the step. The child runs the
    same parse the reading does, so a file it survives is read safely in this process.
    """
    size = path.stat().st_size
    try:
        result = subprocess.run(  # noqa: S603 - our own interpreter and script; no shell
            [sys.executable, "-c", _PARSE_SCRIPT, str(path), str(CHUNK_CASES)],
            capture_output=True,
            timeout=_PARSE_SECONDS + size / 1_000_000,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise _damaged(path) from exc
    if result.returncode < 0:
        raise _damaged(path)


_PARSE_SCRIPT: Final = """
import sys, pyreadstat
chunks = pyreadstat.read_file_in_chunks(
    pyreadstat.read_sav, sys.argv[1], chunksize=int(sys.argv[2]),
    disable_datetime_conversion=True, user_missing=False,
)
for _ in chunks:
    pass
"""
_PARSE_SECONDS: Final = 60.0
"""Time allowed for the child's parse, plus a second per megabyte of file."""


def open_sav(path: Path) -> SavSource:
    """Read a .sav file's dictionary (variables, labels, case count) without its cases."""
    try:
        _parse_in_a_child(path)
    except OSError as exc:
        raise _damaged(path) from exc
    try:
        _frame, meta = pyreadstat.read_sav(path, metadataonly=True)
    except (pyreadstat.ReadstatError, pyreadstat.PyreadstatError, ValueError, OSError) as exc:
        raise _damaged(path) from exc
    labels = {
        str(name): {_code_text(code): str(label) for code, label in mapping.items()}
        for name, mapping in (meta.variable_value_labels or {}).items()
    }
    return SavSource(
        path=path,
        columns=tuple(str(c) for c in meta.column_names),
        value_labels=labels,
        cases=int(meta.number_rows or 0),
    )
