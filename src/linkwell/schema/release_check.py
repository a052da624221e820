"""The last look before a release leaves the linker: nothing identifying may be left in it.

Two independent checks. By schema: every column must be one the release may carry (release
vocabulary and the datasets' content fields), and none may be a survey ID, row reference or link
ID. By value: every column that could hold one is scanned, as text, for anything shaped like a
survey ID with a valid check digit (a flag or a small-integer answer cannot hold ten digits).
Either failure refuses the release and names the column, never a value.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from linkwell.config import ProjectConfig, SourceKind
from linkwell.engine import Engine, quote_ident
from linkwell.errors import SeparationError
from linkwell.schema.definitions import load_dataset
from linkwell.schema.ids import damm_sql
from linkwell.schema.release import (
    AUTHORITY_LINKED,
    FORBIDDEN_COLUMNS,
    LONGITUDINAL_ID,
    RELEASE_ID,
    SURVEY,
    simd_column,
    urban_rural_column,
)

__all__ = ["check_release", "release_columns"]

# Authority fields that reach the release only recoded (areas) or not at all (school).
_AUTHORITY_RECODED = frozenset({"school", "simd_decile", "urban_rural"})
# Types whose values, written as text, can never be ten digits (at most 5, or true/false): a
# release holds dozens of such flags and answers, and scanning them could never find an ID.
_TOO_NARROW_FOR_AN_ID = frozenset({"BOOLEAN", "TINYINT", "SMALLINT", "UTINYINT", "USMALLINT"})


def release_columns(project: ProjectConfig) -> frozenset[str]:
    """Every column a release of ``project`` may carry, under its release policy."""
    policy = project.release
    allowed = {RELEASE_ID, SURVEY, AUTHORITY_LINKED}
    allowed |= {simd_column(policy.simd), urban_rural_column(policy.urban_rural)}
    if policy.longitudinal_id:
        allowed.add(LONGITUDINAL_ID)
    for source in project.sources:
        dataset = load_dataset(source.dataset, source.dataset_version)
        names = {f.name for f in dataset.content_fields}
        if source.kind is SourceKind.AUTHORITY:
            names -= _AUTHORITY_RECODED
        allowed |= names
    return frozenset(allowed)


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
    hits = ", ".join(
        "0"
        if types[c] in _TOO_NARROW_FOR_AN_ID
        else f"count(*) FILTER (WHERE {damm_sql(f'CAST({quote_ident(c)} AS VARCHAR)')})"
        for c in columns
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
