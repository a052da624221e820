"""Counts the linker hands the analyst beside the release: disclosure risk and linkage quality.

Disclosure risk is measured as k-anonymity over the quasi-identifiers the policy names (school,
stage, sex, SIMD, urban/rural at the released resolution) and as the rarity of each service flag.
Linkage quality is the share of surveyed children whose authority row was linked, by school,
stage, sex, survey and authority, so the analyst can judge bias from unlinked children. Both
are counts only; groups smaller than the threshold are marked.
"""

from __future__ import annotations

from pathlib import Path

from linkwell.config import ReleasePolicy
from linkwell.engine import Engine, quote_ident
from linkwell.schema.release import AUTHORITY_LINKED, SURVEY, simd_column, urban_rural_column

__all__ = ["disclosure_risk", "linkage_quality"]

_QUALITY_DIMENSIONS = ("school", "stage", "sex", SURVEY, "authority")


def _columns(engine: Engine, release: Path) -> dict[str, str]:
    return {
        row[0]: row[1]
        for row in engine.fetchall(
            "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet(?))",
            [str(release)],
            purpose="release columns",
        )
    }


def _quasi_identifiers(policy: ReleasePolicy, present: dict[str, str]) -> list[str]:
    resolved = {
        "simd": simd_column(policy.simd),
        "urban_rural": urban_rural_column(policy.urban_rural),
    }
    names = [resolved.get(name, name) for name in policy.quasi_identifiers]
    return [name for name in names if name in present]


def disclosure_risk(
    engine: Engine, release: Path, policy: ReleasePolicy, dest: Path
) -> dict[str, int]:
    """Write ``(measure, subject, value)`` rows to ``dest`` and return the headline measures.

    The release is never loaded whole: each measure reads only the columns it needs from the
    Parquet file, and every flag is counted per school in one pass, so memory stays that of a
    few small group tables however large the release.
    """
    present = _columns(engine, release)
    quasi = _quasi_identifiers(policy, present)
    k = policy.k_anonymity
    params = {"release": str(release)}
    source = "read_parquet($release)"
    group = ", ".join(quote_ident(q) for q in quasi) or "NULL"
    engine.execute(
        f"CREATE OR REPLACE TEMP TABLE classes AS SELECT count(*) AS n FROM {source} "
        f"GROUP BY {group}",
        params,
        purpose="size equivalence classes",
    )
    flags = [n for n, t in present.items() if t == "BOOLEAN" and n != AUTHORITY_LINKED]
    by_school = "school" in present
    counted = "".join(
        f", count(*) FILTER (WHERE {quote_ident(name)}) AS {quote_ident(name)}" for name in flags
    )
    engine.execute(
        "CREATE OR REPLACE TEMP TABLE school_flags AS "
        + (
            f"SELECT school{counted} FROM {source} GROUP BY school"
            if by_school
            else f"SELECT NULL AS school{counted} FROM {source}"
        ),
        params,
        purpose="count flags per school",
    )
    parts = [
        f"SELECT 'records' AS measure, 'all' AS subject, count(*) AS value FROM {source}",
        "SELECT 'classes', 'all', count(*) FROM classes",
        f"SELECT 'classes below k', 'all', count(*) FILTER (WHERE n < {k}) FROM classes",
        (
            f"SELECT 'records in classes below k', 'all', "
            f"coalesce(sum(n) FILTER (WHERE n < {k}), 0) FROM classes"
        ),
    ]
    for name in quasi:
        column = quote_ident(name)
        parts.append(
            f"SELECT 'smallest group', '{name}', coalesce(min(n), 0) "
            f"FROM (SELECT count(*) AS n FROM {source} GROUP BY {column})"
        )
    for name in flags:
        column = quote_ident(name)
        parts.append(f"SELECT 'flag count', '{name}', coalesce(sum({column}), 0) FROM school_flags")
        if by_school:
            parts.append(
                f"SELECT 'schools with 1 to k-1 flagged', '{name}', "
                f"count(*) FILTER (WHERE {column} BETWEEN 1 AND {k - 1}) FROM school_flags"
            )
    query = " UNION ALL ".join(parts)
    engine.copy_to_parquet(
        f"SELECT measure, subject, CAST(value AS BIGINT) AS value FROM ({query})",
        dest,
        params,
        purpose="write disclosure risk",
    )
    return {
        f"{measure} ({subject})" if subject != "all" else measure: int(value)
        for measure, subject, value in engine.fetchall(
            "SELECT * FROM read_parquet(?) WHERE subject = 'all'", [str(dest)], purpose="read risk"
        )
    }


def linkage_quality(engine: Engine, release: Path, threshold: int, dest: Path) -> int:
    """Write ``(dimension, category, surveyed, linked, small)`` rows to ``dest``; return rows."""
    present = _columns(engine, release)
    parts = [
        f"SELECT '{d}' AS dimension, CAST({quote_ident(d)} AS VARCHAR) AS category, "
        f"count(*) AS surveyed, count(*) FILTER (WHERE {AUTHORITY_LINKED}) AS linked "
        f"FROM read_parquet($release) GROUP BY {quote_ident(d)}"
        for d in _QUALITY_DIMENSIONS
        if d in present
    ]
    parts.insert(
        0,
        "SELECT 'all' AS dimension, 'all' AS category, count(*) AS surveyed, "
        f"count(*) FILTER (WHERE {AUTHORITY_LINKED}) AS linked FROM read_parquet($release)",
    )
    query = " UNION ALL ".join(parts)
    return engine.copy_to_parquet(
        f"SELECT dimension, category, surveyed, linked, surveyed < $threshold AS small "
        f"FROM ({query}) ORDER BY dimension, category",
        dest,
        {"release": str(release), "threshold": threshold},
        purpose="write linkage quality",
    )
