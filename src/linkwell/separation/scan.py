"""Searching files for values a party must never hold, by looking at the values themselves.

Tables (Parquet and CSV; other formats are first landed as Parquet by the caller) are read in
full and every cell, whatever its type, is compared as text with the forbidden value sets; a
column whose name is a forbidden field counts its non-empty cells. Every other file (logs, JSON,
SQLite ledgers) is scanned as bytes for runs shaped like survey IDs (10 digits) and tokens (32
hex characters), which are then looked up in the same sets. The comparisons run in the engine,
so a national-scale workspace is scanned without Python loops over rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

import pyarrow as pa

from linkwell.engine import Engine, quote_ident, quote_string
from linkwell.errors import LinkwellError

__all__ = ["FileScan", "Forbidden", "ValueSets", "scan_file", "scan_table"]

_TOKEN_RUNS: Final = re.compile(
    rb"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])|(?<![0-9])[0-9]{10}(?![0-9])"
)
_MAX_TEXT_SCAN: Final = 256 * 1024 * 1024


class Forbidden(StrEnum):
    """Kinds of value a role may be forbidden to hold."""

    SURVEY_ID = "survey IDs"
    LINK_ID = "link IDs"
    ROW_REF = "row references"
    SURVEY_ANSWER = "survey answers"
    SERVICE_FLAG = "service data"


@dataclass(frozen=True)
class ValueSets:
    """Field names whose presence reveals a forbidden kind (lower-cased name -> kind).

    The exact values to look for are a table ``forbidden_values (value VARCHAR, kind VARCHAR)``
    the caller creates in the engine before scanning.
    """

    columns: dict[str, Forbidden]


@dataclass(frozen=True)
class FileScan:
    """Hits per kind in one file; ``opaque`` when the file could not be read by this party."""

    path: Path
    hits: dict[Forbidden, int]
    opaque: bool = False


def scan_table(
    engine: Engine, relation: str, kinds: frozenset[Forbidden], sets: ValueSets
) -> dict[Forbidden, int]:
    """Count forbidden values and forbidden columns' non-empty cells in one relation."""
    columns = [
        row[0]
        for row in engine.fetchall(
            f"SELECT column_name FROM (DESCRIBE SELECT * FROM {relation})", purpose="columns"
        )
    ]
    hits = dict.fromkeys(kinds, 0)
    if not columns:
        return hits
    cells = ", ".join(f"CAST({quote_ident(c)} AS VARCHAR)" for c in columns)
    wanted = [k.value for k in kinds]
    for kind, count in engine.fetchall(
        f"SELECT f.kind, count(*) FROM (SELECT unnest([{cells}]) AS value FROM {relation}) v "
        "JOIN forbidden_values f USING (value) WHERE f.kind IN (SELECT unnest($kinds)) "
        "GROUP BY f.kind",
        {"kinds": wanted},
        purpose="match forbidden values",
    ):
        hits[Forbidden(kind)] += int(count)
    named = [(c, sets.columns[c.lower()]) for c in columns if sets.columns.get(c.lower()) in kinds]
    if named:
        counts = engine.fetchall(
            "SELECT "
            + ", ".join(f"count({quote_ident(c)})" for c, _ in named)
            + f" FROM {relation}",
            purpose="count forbidden columns",
        )[0]
        for (_, kind), count in zip(named, counts, strict=True):
            hits[kind] += int(count)
    return hits


def _relation(path: Path) -> str | None:
    """SQL reading ``path`` as a table if it is one the engine reads directly, else ``None``."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return f"read_parquet({quote_string(path)})"
    if suffix in (".csv", ".tsv"):
        return f"read_csv({quote_string(path)}, all_varchar = true, header = true)"
    return None


def scan_file(engine: Engine, path: Path, kinds: frozenset[Forbidden], sets: ValueSets) -> FileScan:
    """Scan one plaintext file as a table if the engine reads it, else as bytes."""
    relation = _relation(path)
    if relation is not None:
        try:
            return FileScan(path, scan_table(engine, relation, kinds, sets))
        except LinkwellError:
            pass  # unreadable as a table (damaged, or not what its name says): scan its bytes
    hits = dict.fromkeys(kinds, 0)
    with path.open("rb") as handle:
        data = handle.read(_MAX_TEXT_SCAN)
    runs = sorted({m.decode("ascii") for m in _TOKEN_RUNS.findall(data)})
    if runs:
        engine.register("scan_runs", pa.table({"value": pa.array(runs, pa.string())}))
        try:
            for kind, count in engine.fetchall(
                "SELECT f.kind, count(*) FROM scan_runs JOIN forbidden_values f USING (value) "
                "WHERE f.kind IN (SELECT unnest($kinds)) GROUP BY f.kind",
                {"kinds": [k.value for k in kinds]},
                purpose="match forbidden runs",
            ):
                hits[Forbidden(kind)] += int(count)
        finally:
            engine.unregister("scan_runs")
    return FileScan(path, hits)
