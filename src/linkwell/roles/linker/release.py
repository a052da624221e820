"""Joining content through the linkage key into the release: one row per surveyed child.

Survey content rows are keyed by the indexer's link IDs; authority rows join to them by link ID,
so a child's service data reaches the release only when the child took part in the survey. Link
IDs and row references stop here: each row gets a fresh random release ID, rows are written in
release-ID order, and area fields are recoded to the resolution the release policy allows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from linkwell.config import ReleasePolicy, SourceKind
from linkwell.engine import Engine, quote_ident
from linkwell.engine.tokens import random_tokens
from linkwell.errors import ValidationError
from linkwell.schema.areas import simd_quintile_sql, urban_rural_sql
from linkwell.schema.release import (
    AUTHORITY_LINKED,
    LONGITUDINAL_ID,
    RELEASE_ID,
    SURVEY,
    simd_column,
    urban_rural_column,
)

__all__ = ["ContentFile", "JoinCounts", "join_release"]

AUTHORITY_TAG = "authority_source"
# Authority fields that never enter the release: the survey's own school is the child's school
# in the release, and the authority's copy would only repeat it.
_AUTHORITY_DROPPED = ("school",)
_AREA_FIELDS = ("simd_decile", "urban_rural")


@dataclass(frozen=True)
class ContentFile:
    """One opened content payload: ``(row_ref, fields…)`` from one source."""

    source: str
    kind: SourceKind
    path: Path


@dataclass(frozen=True)
class JoinCounts:
    """Per source: content rows received and rows the key covered; release and linked rows."""

    received: dict[str, int]
    keyed: dict[str, int]
    released: int
    linked: int


def join_release(
    engine: Engine,
    *,
    key: Path,
    contents: Sequence[ContentFile],
    policy: ReleasePolicy,
    dest: Path,
) -> JoinCounts:
    """Write the release to ``dest`` and return what was joined."""
    engine.execute(
        "CREATE OR REPLACE TEMP TABLE linkage_key AS SELECT * FROM read_parquet(?)",
        [str(key)],
        purpose="load the linkage key",
    )
    _check_key(engine, policy)
    surveys = [c for c in contents if c.kind is SourceKind.SURVEY]
    authorities = [c for c in contents if c.kind is SourceKind.AUTHORITY]
    if not surveys:
        raise ValidationError(
            "no survey content to release",
            hint="receive each survey provider's content package first",
        )
    received = {
        c.source: int(
            engine.scalar(
                "SELECT count(*) FROM read_parquet(?)", [str(c.path)], purpose="count content rows"
            )
        )
        for c in contents
    }
    keyed = _key_content(
        engine, "survey_rows", SURVEY, surveys, longitudinal=policy.longitudinal_id
    )
    keyed |= _key_content(engine, "authority_rows", AUTHORITY_TAG, authorities, longitudinal=False)
    _check_one_row_per_child(engine)
    released = _write(engine, policy, dest=dest)
    linked = int(
        engine.scalar(
            f"SELECT count(*) FILTER (WHERE {AUTHORITY_LINKED}) FROM read_parquet(?)",
            [str(dest)],
            purpose="count linked children",
        )
    )
    return JoinCounts(received, keyed, released, linked)


def _key_content(
    engine: Engine, table: str, tag: str, group: Sequence[ContentFile], *, longitudinal: bool
) -> dict[str, int]:
    """Materialise ``table``: the content rows of ``group`` the key covers, with link IDs.

    Returns the keyed row count per source (zero for a source none of whose rows were keyed).
    """
    selects, params = [], {}
    extra = f", k.{LONGITUDINAL_ID}" if longitudinal else ""
    for index, item in enumerate(group):
        params[f"path{index}"] = str(item.path)
        params[f"source{index}"] = item.source
        selects.append(
            f"SELECT k.link_id{extra}, $source{index} AS {tag}, c.* EXCLUDE (row_ref) "
            f"FROM read_parquet($path{index}) c JOIN linkage_key k "
            f"ON k.source = $source{index} AND k.row_ref = c.row_ref"
        )
    empty = f"SELECT NULL::VARCHAR AS link_id, NULL::VARCHAR AS {tag} WHERE false"
    body = " UNION ALL BY NAME ".join(selects) or empty
    engine.execute(
        f"CREATE OR REPLACE TEMP TABLE {table} AS {body}", params, purpose=f"key {table}"
    )
    counts = dict.fromkeys((item.source for item in group), 0)
    for source, count in engine.fetchall(
        f"SELECT {tag}, count(*) FROM {table} GROUP BY ALL", purpose=f"count {table}"
    ):
        counts[source] = int(count)
    return counts


def _check_key(engine: Engine, policy: ReleasePolicy) -> None:
    columns = {
        row[0]
        for row in engine.fetchall(
            "SELECT column_name FROM (DESCRIBE linkage_key)", purpose="key columns"
        )
    }
    wanted = {"source", "row_ref", "link_id"}
    if policy.longitudinal_id:
        wanted.add(LONGITUDINAL_ID)
    if not wanted <= columns:
        raise ValidationError(
            "the linkage key lacks columns this release needs",
            field=", ".join(sorted(wanted - columns)),
            hint="ask the indexer to issue the key again under the current project file",
        )
    doubled = engine.scalar(
        "SELECT count(*) - count(DISTINCT (source, row_ref)) FROM linkage_key", purpose="key rows"
    )
    if doubled:
        raise ValidationError(
            "the linkage key maps a row reference twice; it was not made by linkwell",
            field="row_ref",
            hint="ask the indexer to issue the key again",
        )


def _check_one_row_per_child(engine: Engine) -> None:
    for table in ("survey_rows", "authority_rows"):
        doubled = engine.scalar(
            f"SELECT count(*) - count(DISTINCT link_id) FROM {table}", purpose=f"check {table}"
        )
        if doubled:
            raise ValidationError(
                f"the key gives one child two {table.split('_')[0]} rows; refusing to guess",
                field="link_id",
                hint="ask the indexer to check its match report and issue the key again",
            )


def _write(engine: Engine, policy: ReleasePolicy, *, dest: Path) -> int:
    """Survey rows left-joined to authority rows, recoded, with fresh release IDs, in ID order."""
    authority_columns = [
        row[0]
        for row in engine.fetchall(
            "SELECT column_name FROM (DESCRIBE authority_rows)", purpose="authority columns"
        )
        if row[0] not in ("link_id", AUTHORITY_TAG, *_AUTHORITY_DROPPED)
    ]
    selected = [f"a.{quote_ident(c)}" for c in authority_columns if c not in _AREA_FIELDS]
    if "simd_decile" in authority_columns:
        simd = "a.simd_decile" if policy.simd == "decile" else simd_quintile_sql("a.simd_decile")
        selected.append(f"{simd} AS {simd_column(policy.simd)}")
    if "urban_rural" in authority_columns:
        fold = policy.urban_rural
        selected.append(f"{urban_rural_sql('a.urban_rural', fold)} AS {urban_rural_column(fold)}")
    count = int(engine.scalar("SELECT count(*) FROM survey_rows", purpose="count release rows"))
    numbers = pa.array(np.arange(1, count + 1, dtype=np.int64))
    engine.register("release_ids", pa.table({"n": numbers, RELEASE_ID: random_tokens(count)}))
    try:
        return engine.copy_to_parquet(
            f"SELECT r.{RELEASE_ID}, s.* EXCLUDE (link_id, n), "
            f"a.link_id IS NOT NULL AS {AUTHORITY_LINKED}"
            + "".join(f", {c}" for c in selected)
            + " FROM (SELECT *, row_number() OVER () AS n FROM survey_rows) s "
            "JOIN release_ids r USING (n) LEFT JOIN authority_rows a USING (link_id) "
            f"ORDER BY r.{RELEASE_ID}",
            dest,
            purpose="write the release",
        )
    finally:
        engine.unregister("release_ids")
