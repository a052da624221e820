"""The last look before a release leaves the linker: nothing identifying may be left in it.

Two independent checks. By schema: every column must be one the release may carry (release
vocabulary and the datasets' content fields), and none may be a survey ID, row reference or link
ID. By value: every column that could hold one is scanned for anything shaped like a survey ID
with a valid check digit, standing alone in text or as a whole number in a fractional column (a
flag or a small-integer answer cannot hold ten digits). A scan finds IDs written as IDs; one
split or encoded on purpose is beyond it, which is why the schema check comes first.
Either failure refuses the release and names the column, never a value.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from linkwell.engine import Engine, quote_ident
from linkwell.errors import SeparationError
from linkwell.schema.ids import damm_sql
from linkwell.schema.release import FORBIDDEN_COLUMNS, release_columns

__all__ = ["check_release", "release_columns"]

# Types whose values, written as text, can never be ten digits (at most 5, or true/false): a
# release holds dozens of such flags and answers, and scanning them could never find an ID.
_TOO_NARROW_FOR_AN_ID = frozenset({"BOOLEAN", "TINYINT", "SMALLINT", "UTINYINT", "USMALLINT"})
_STANDING_ALONE = "(?:^|[^0-9A-Za-z])([0-9]{10})(?:[^0-9A-Za-z]|$)"


def _id_hits_sql(column: str, kind: str) -> str:
    """SQL counting the values of ``column`` that hold a survey ID.

    Text is searched for ten digits standing alone (the whole value, or between characters that
    are neither letters nor digits: ``id:4839201175``); a fractional type is read as the whole
    number it holds (an ID stored as a double is written ``4839201175.0``); any other type as
    its text. Letters around digits are left alone, or every random release ID would be read.
    """
    ident = quote_ident(column)
    if kind in _TOO_NARROW_FOR_AN_ID:
        return "0"
    if kind == "VARCHAR":
        runs = f"regexp_extract_all({ident}, '{_STANDING_ALONE}', 1)"
        found = f"list_bool_or(list_transform({runs}, lambda run: {damm_sql('run')}))"
        # One cheap search first: the runs are taken apart only where there is one.
        standing = f"regexp_matches({ident}, '{_STANDING_ALONE}')"
        return f"count(*) FILTER (WHERE CASE WHEN {standing} THEN {found} END)"
    if kind in ("FLOAT", "DOUBLE") or kind.startswith("DECIMAL"):
        number = f"CAST({ident} AS DOUBLE)"
        text = (
            f"CASE WHEN isfinite({number}) AND {number} = trunc({number}) "
            f"AND abs({number}) < 1e15 THEN CAST(CAST({number} AS BIGINT) AS VARCHAR) END"
        )
        return f"count(*) FILTER (WHERE {damm_sql(text)})"
    return f"count(*) FILTER (WHERE {damm_sql(f'CAST({ident} AS VARCHAR)')})"


def check_release(engine: Engine, release: Path, *, allowed: Iterable[str]) -> dict[str, int]:
    """Refuse a release holding a forbidden or unknown column, or an ID-shaped value.

    Returns the number of values scanned per column (all zero hits), for the audit record.
    """
    types = dict(
        engine.fetchall(
            "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet(?))",
            [str(release)],
            purpose="release columns",
        )
    )
    columns = list(types)
    forbidden = sorted(set(columns) & FORBIDDEN_COLUMNS)
    unknown = sorted(set(columns) - set(allowed))
    if forbidden or unknown:
        raise SeparationError(
            "the release holds a column it must not carry; nothing was sealed",
            file=release,
            field=", ".join(forbidden + unknown),
            hint="this is a fault in the content packages or the project file; do not release",
        )
    hits = ", ".join(_id_hits_sql(c, types[c]) for c in columns)
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
