"""The last look before a release leaves the linker: nothing identifying may be left in it.

Two independent checks. By schema: every column must be one the release may carry (release
vocabulary and the datasets' content fields), and none may be a survey ID, row reference or link
ID. By value: every column, whatever its type, is scanned for anything shaped like a survey ID
with a valid check digit. Either failure refuses the release and names the column, never a value.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from linkwell.engine import Engine, quote_ident
from linkwell.errors import SeparationError
from linkwell.schema.ids import damm_sql
from linkwell.schema.release import FORBIDDEN_COLUMNS

__all__ = ["check_release"]


def check_release(engine: Engine, release: Path, *, allowed: Iterable[str]) -> dict[str, int]:
    """Refuse a release holding a forbidden or unknown column, or an ID-shaped value.

    Returns the number of values scanned per column (all zero hits), for the audit record.
    """
    columns = [
        row[0]
        for row in engine.fetchall(
            "SELECT column_name FROM (DESCRIBE SELECT * FROM read_parquet(?))",
            [str(release)],
            purpose="release columns",
        )
    ]
    forbidden = sorted(set(columns) & FORBIDDEN_COLUMNS)
    unknown = sorted(set(columns) - set(allowed))
    if forbidden or unknown:
        raise SeparationError(
            "the release holds a column it must not carry; nothing was sealed",
            file=release,
            field=", ".join(forbidden + unknown),
            hint="this is a fault in the content packages or the project file; do not release",
        )
    hits = ", ".join(
        f"count(*) FILTER (WHERE {damm_sql(f'CAST({quote_ident(c)} AS VARCHAR)')})" for c in columns
    )
    counts = engine.fetchall(
        f"SELECT count(*), {hits} FROM read_parquet(?)", [str(release)], purpose="scan for IDs"
    )[0]
    leaking = [column for column, hit in zip(columns, counts[1:], strict=True) if hit]
    if leaking:
        raise SeparationError(
            "values shaped like survey IDs were found in the release; nothing was sealed",
            file=release,
            field=", ".join(leaking),
            hint="a provider put IDs into a content field: ask them to correct it and split again",
        )
    return dict.fromkeys(columns, int(counts[0]))
