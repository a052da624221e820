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

__all__ = ["ContentFile", "JoinCounts", "check_rows_counted", "join_release"]

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
    """Write the release to ``dest`` and return what was joined.

    Every check runs on the key and the content's row references alone (narrow tables); the
    content itself is read once, streamed from its Parquet files into the release.
    """
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
    keyed = _key_rows(engine, "survey_keys", surveys, longitudinal=policy.longitudinal_id)
    keyed |= _key_rows(engine, "authority_keys", authorities, longitudinal=False)
    _check_key_covered(engine, contents, keyed)
    _check_one_row_per_child(engine)
    released = _write(engine, policy, surveys, authorities, dest=dest)
    linked = int(
        engine.scalar(
            f"SELECT count(*) FILTER (WHERE {AUTHORITY_LINKED}) FROM read_parquet(?)",
            [str(dest)],
            purpose="count linked children",
        )
    )
    return JoinCounts(received, keyed, released, linked)


def _check_key_covered(
    engine: Engine, contents: Sequence[ContentFile], keyed: dict[str, int]
) -> None:
    """Refuse content lacking rows the key covers: their children would leave the release unseen.

    Content and identifiers come from one split, so every row the indexer keyed has its content
    row; one missing means the content is not that split's, or was altered.
    """
    covered = dict(
        engine.fetchall(
            "SELECT source, count(*) FROM linkage_key GROUP BY source",
            purpose="count the key's rows per source",
        )
    )
    for item in contents:
        lost = int(covered.get(item.source, 0)) - keyed[item.source]
        if lost > 0:
            raise ValidationError(
                f"the content of source {item.source!r} lacks {lost:,} row(s) the linkage key "
                "covers: those children would be left out of the release",
                file=item.path,
                field="row_ref",
                hint="it is not the content of the split the key was built from, or was altered: "
                "ask the provider to split and send both packages again",
            )


def check_rows_counted(engine: Engine, received: dict[str, int], match_report: Path) -> None:
    """Refuse content whose rows are not the identifiers' the indexer counted, source by source.

    The indexer's match report says how many identifiers rows each source sent; the content of
    the same split has exactly as many rows, those the indexer excluded included.
    """
    counted = engine.fetchall(
        "SELECT source, count FROM read_parquet(?) WHERE measure = 'rows'",
        [str(match_report)],
        purpose="read the match report's rows",
    )
    for source, rows in counted:
        if source in received and received[source] != int(rows):
            raise ValidationError(
                f"the content of source {source!r} has {received[source]:,} rows where its "
                f"identifiers had {int(rows):,}: they are not one split's",
                field="row_ref",
                hint="ask the provider to split and send both packages again",
            )


def _key_rows(
    engine: Engine, table: str, group: Sequence[ContentFile], *, longitudinal: bool
) -> dict[str, int]:
    """Materialise ``table``: the key's rows for the content rows of ``group``, narrow.

    ``(source, row_ref, link_id[, longitudinal_id])``, one row per content row the key covers
    (a row reference sent twice would give two, which the one-row-per-child check refuses).
    Only the row references are read from the content. Returns the keyed row count per source
    (zero for a source none of whose rows were keyed).
    """
    extra = (LONGITUDINAL_ID,) if longitudinal else ()
    columns = ", ".join(f"k.{name}" for name in ("source", "row_ref", "link_id", *extra))
    selects, params = _joined_files(group, "linkage_key", "", columns)
    body = " UNION ALL ".join(selects) or f"SELECT {columns} FROM linkage_key k WHERE false"
    engine.execute(
        f"CREATE OR REPLACE TEMP TABLE {table} AS {body}", params, purpose=f"key {table}"
    )
    counts = dict.fromkeys((item.source for item in group), 0)
    for source, count in engine.fetchall(
        f"SELECT source, count(*) FROM {table} GROUP BY ALL", purpose=f"count {table}"
    ):
        counts[source] = int(count)
    return counts


def _content_sql(
    keys: str, tag: str, group: Sequence[ContentFile], prefix: str, carried: Sequence[str]
) -> tuple[str, dict[str, object]]:
    """The content rows of ``group`` joined to their rows of ``keys``, streamed from Parquet.

    Columns: the link ID, the ``carried`` columns of ``keys``, ``tag`` (the source), then the
    content's fields; parameters are named with ``prefix`` (see :func:`_joined_files`).
    """
    carry = "".join(f", k.{name}" for name in carried)
    columns = f"k.link_id{carry}, {{source}} AS {tag}, c.* EXCLUDE (row_ref)"
    selects, params = _joined_files(group, keys, prefix, columns)
    empty = f"SELECT NULL::VARCHAR AS link_id, NULL::VARCHAR AS {tag} WHERE false"
    return " UNION ALL BY NAME ".join(selects) or empty, params


def _joined_files(
    group: Sequence[ContentFile], keys: str, prefix: str, columns: str
) -> tuple[list[str], dict[str, object]]:
    """One SELECT of ``columns`` per content file of ``group``, joined to its rows of ``keys``.

    ``columns`` may name the file's source as ``{source}``. Parameters are named with ``prefix``
    so that two groups can be bound in one statement.
    """
    selects, params = [], dict[str, object]()
    for index, item in enumerate(group):
        path, source = f"${prefix}path{index}", f"${prefix}source{index}"
        params[path[1:]] = str(item.path)
        params[source[1:]] = item.source
        selects.append(
            f"SELECT {columns.format(source=source)} FROM read_parquet({path}) c JOIN {keys} k "
            f"ON k.source = {source} AND k.row_ref = c.row_ref"
        )
    return selects, params


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
    for table in ("survey_keys", "authority_keys"):
        doubled = engine.scalar(
            f"SELECT count(*) - count(DISTINCT link_id) FROM {table}", purpose=f"check {table}"
        )
        if doubled:
            raise ValidationError(
                f"the key gives one child two {table.split('_')[0]} rows; refusing to guess",
                field="link_id",
                hint="ask the indexer to check its match report and issue the key again",
            )


def _write(
    engine: Engine,
    policy: ReleasePolicy,
    surveys: Sequence[ContentFile],
    authorities: Sequence[ContentFile],
    *,
    dest: Path,
) -> int:
    """Survey rows left-joined to authority rows, recoded, with fresh release IDs, in ID order.

    Release IDs are paired with the survey key rows by position (any pairing will do: the IDs
    are random), so that the content is read and joined once, in the query that writes.
    """
    count = int(engine.scalar("SELECT count(*) FROM survey_keys", purpose="count release rows"))
    engine.register("release_ids", pa.table({RELEASE_ID: random_tokens(count)}))
    try:
        survey, params = _content_sql(
            "(SELECT * FROM survey_keys POSITIONAL JOIN release_ids)",
            SURVEY,
            surveys,
            "s",
            (LONGITUDINAL_ID, RELEASE_ID) if policy.longitudinal_id else (RELEASE_ID,),
        )
        authority, authority_params = _content_sql(
            "authority_keys", AUTHORITY_TAG, authorities, "a", ()
        )
        params |= authority_params
        authority_columns = [
            row[0]
            for row in engine.fetchall(
                f"SELECT column_name FROM (DESCRIBE ({authority}))",
                authority_params,
                purpose="authority columns",
            )
            if row[0] not in ("link_id", AUTHORITY_TAG, *_AUTHORITY_DROPPED)
        ]
        selected = [f"a.{quote_ident(c)}" for c in authority_columns if c not in _AREA_FIELDS]
        if "simd_decile" in authority_columns:
            simd = (
                "a.simd_decile" if policy.simd == "decile" else simd_quintile_sql("a.simd_decile")
            )
            selected.append(f"{simd} AS {simd_column(policy.simd)}")
        if "urban_rural" in authority_columns:
            fold = policy.urban_rural
            selected.append(
                f"{urban_rural_sql('a.urban_rural', fold)} AS {urban_rural_column(fold)}"
            )
        return engine.copy_to_parquet(
            f"WITH s AS ({survey}), a AS ({authority}) "
            f"SELECT s.{RELEASE_ID}, s.* EXCLUDE (link_id, {RELEASE_ID}), "
            f"a.link_id IS NOT NULL AS {AUTHORITY_LINKED}"
            + "".join(f", {c}" for c in selected)
            + f" FROM s LEFT JOIN a USING (link_id) ORDER BY s.{RELEASE_ID}",
            dest,
            params,
            purpose="write the release",
        )
    finally:
        engine.unregister("release_ids")
