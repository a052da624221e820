"""Building the linkage key from the providers' identifiers files.

Every identifiers row is classified exactly once: an invalid survey ID; a duplicate (the same ID
on two rows of one kind of source, which cannot be resolved without identifying data, so every
such row is excluded); keyed; or, for authority rows, withheld because the child did not take part
in the survey (the consent rule, enforced here again) or because the child's survey rows were
excluded. Keyed rows get the child's link ID from the vault. The match-quality report holds
counts only, and its counts add up for every source.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import pyarrow as pa

from linkwell.config import SourceKind
from linkwell.engine import Engine, quote_ident
from linkwell.errors import ValidationError
from linkwell.roles.indexer.hmac_sql import hmac_sha256_sql
from linkwell.roles.indexer.vault import ASSIGNED, AssignCounts, Vault
from linkwell.schema.ids import damm_sql

__all__ = ["IdentifierFile", "KeyResult", "RowStatus", "build_linkage_key"]


class RowStatus(StrEnum):
    """What became of one identifiers row."""

    INVALID_ID = "invalid-id"
    DUPLICATE = "duplicate"
    KEYED = "keyed"
    NOT_PARTICIPANT = "withheld-not-participant"
    SURVEY_EXCLUDED = "withheld-survey-excluded"


@dataclass(frozen=True)
class IdentifierFile:
    """One opened identifiers payload: ``(row_ref, unique_id)`` from one source."""

    source: str
    kind: SourceKind
    path: Path


@dataclass(frozen=True)
class KeyResult:
    """Rows written to the key, the counts per source and status, and what the vault added."""

    key_rows: int
    counts: dict[str, dict[str, int]]
    assigned: AssignCounts


def build_linkage_key(
    engine: Engine,
    vault: Vault,
    files: Sequence[IdentifierFile],
    *,
    project: str,
    wave: int,
    longitudinal: bool,
    key_dest: Path,
    report_dest: Path,
) -> KeyResult:
    """Classify every identifiers row, assign IDs in the vault, write the key and the report.

    The key is ``(source, row_ref, link_id[, longitudinal_id])`` ordered by the random row
    reference; the report is ``(source, kind, measure, count)``.
    """
    if not any(f.kind is SourceKind.SURVEY for f in files):
        raise ValidationError(
            "no survey identifiers to link",
            hint="the key covers surveyed children only: receive each survey provider's "
            "identifiers package first",
        )
    _classify(engine, vault, files)
    counts = _report(engine, report_dest, files)
    # A keyed survey row is its child's only survey row: its HMACs are distinct already.
    keyed = "(SELECT id_hmac FROM classified WHERE status = 'keyed' AND kind = 'survey')"
    assigned = vault.assign(keyed, project=project, wave=wave, longitudinal=longitudinal)
    ids = ["link_id", "longitudinal_id"] if longitudinal else ["link_id"]
    key_rows = engine.copy_to_parquet(
        f"SELECT c.source, c.row_ref, {', '.join(f'k.{i}' for i in ids)} FROM classified c "
        f"JOIN {ASSIGNED} k USING (id_hmac) WHERE c.status = 'keyed' AND "
        f"{' AND '.join(f'k.{i} IS NOT NULL' for i in ids)} ORDER BY c.row_ref",
        key_dest,
        purpose="write the linkage key",
    )
    keyed_total = sum(c.get(RowStatus.KEYED.value, 0) for c in counts.values())
    if key_rows != keyed_total:
        raise ValidationError("the key lost rows while looking up link IDs; nothing was issued")
    return KeyResult(key_rows, counts, assigned)


def _classify(engine: Engine, vault: Vault, files: Sequence[IdentifierFile]) -> None:
    """Materialise ``classified``: every identifiers row, its child's HMAC, status and match.

    One pass groups the rows by ID: each distinct ID is checked once, however many rows carry
    it, and the same grouping counts each ID's survey and authority rows, which is all that
    classifying a row needs. Only the children who will be keyed (a valid ID on exactly one
    survey row) are given an HMAC: a child who did not take part, or whose survey rows are
    excluded, is never hashed under the vault's key, and the HMAC's two SHA-256 passes, the
    costliest work per value, run for those children only. Only HMACs leave the query.

    A keyed row is *matched* when its child has keyed rows from both kinds of source. A keyed
    authority row always is (its child has exactly one keyed survey row); a keyed survey row is
    when its child has exactly one authority row, which is then keyed too (more would all be
    duplicates). So the counts decide it, with no second look at the keyed rows.
    """
    selects, params = [], dict(vault.hmac_params)
    for index, item in enumerate(files):
        params[f"path{index}"] = str(item.path)
        params[f"source{index}"] = item.source
        params[f"kind{index}"] = item.kind.value
        selects.append(
            f"SELECT $source{index} AS source, $kind{index} AS kind, row_ref, unique_id "
            f"FROM read_parquet($path{index})"
        )
    children = (
        "SELECT unique_id, n_survey, n_authority, valid, CASE WHEN valid AND n_survey = 1 THEN "
        f"{hmac_sha256_sql('unique_id')} END AS id_hmac FROM "
        f"(SELECT *, {damm_sql('unique_id')} AS valid FROM "
        "(SELECT unique_id, count(*) FILTER (WHERE kind = 'survey') AS n_survey, "
        "count(*) FILTER (WHERE kind = 'authority') AS n_authority "
        "FROM id_rows WHERE unique_id IS NOT NULL GROUP BY unique_id))"
    )
    # A row's status, from its ID's counts: rows of one kind sharing an ID are duplicates;
    # an authority row is keyed only if its child has exactly one (valid) survey row.
    status = (
        "CASE WHEN NOT coalesce(c.valid, false) THEN 'invalid-id' "
        "WHEN (CASE WHEN r.kind = 'survey' THEN c.n_survey ELSE c.n_authority END) > 1 "
        "THEN 'duplicate' "
        "WHEN r.kind = 'survey' THEN 'keyed' "
        "WHEN c.n_survey = 0 THEN 'withheld-not-participant' "
        "WHEN c.n_survey > 1 THEN 'withheld-survey-excluded' "
        "ELSE 'keyed' END"
    )
    engine.execute(
        "CREATE OR REPLACE TEMP TABLE classified AS "
        f"WITH id_rows AS ({' UNION ALL '.join(selects)}), children AS ({children}) "
        f"SELECT r.source, r.kind, r.row_ref, c.id_hmac, {status} AS status, "
        "(r.kind = 'authority' OR c.n_authority = 1) AS matched "
        "FROM id_rows r LEFT JOIN children c USING (unique_id)",
        params,
        purpose="load, key and classify the identifiers",
    )


def _report(
    engine: Engine, dest: Path, files: Sequence[IdentifierFile]
) -> dict[str, dict[str, int]]:
    """Counts per source: rows, each status, and matched / survey-only for keyed rows.

    Every source appears, with zeros where it sent no rows, so that no count goes unexplained.
    The same pass checks each source's row references (one per row, none repeated), before
    the vault issues anything.
    """
    statuses = ", ".join(
        f"count(*) FILTER (WHERE status = '{s.value}') AS {quote_ident(s.value)}" for s in RowStatus
    )
    sources = pa.table({"source": [f.source for f in files], "kind": [f.kind.value for f in files]})
    engine.register("sources", sources)
    engine.execute(
        "CREATE OR REPLACE TEMP TABLE match_counts AS "
        f"SELECT source, kind, count(row_ref) AS rows, {statuses}, "
        "count(*) FILTER (WHERE status = 'keyed' AND matched) AS matched, "
        "count(*) FILTER (WHERE status = 'keyed' AND NOT matched) AS \"survey-only\", "
        "count(status) - count(DISTINCT row_ref) AS refs_missing_or_repeated "
        "FROM sources LEFT JOIN classified USING (source, kind) GROUP BY source, kind",
        purpose="count the match report and check row references",
    )
    doubled = engine.fetchall(
        "SELECT source FROM match_counts WHERE refs_missing_or_repeated > 0 ORDER BY source",
        purpose="find repeated row references",
    )
    if doubled:
        raise ValidationError(
            "an identifiers package repeats or omits row references; it was not made by linkwell",
            field="row_ref",
            hint=f"ask the provider of source {doubled[0][0]!r} to split and send it again",
        )
    measures = ["rows", *(s.value for s in RowStatus), "matched", "survey-only"]
    unpivot = " UNION ALL ".join(
        f"SELECT source, kind, '{m}' AS measure, {quote_ident(m)} AS count FROM match_counts"
        for m in measures
    )
    engine.execute(
        f"CREATE OR REPLACE TEMP TABLE match_report AS {unpivot}",
        purpose="lay out the match report",
    )
    engine.copy_to_parquet(
        "SELECT * FROM match_report ORDER BY source, measure", dest, purpose="write match report"
    )
    counts: dict[str, dict[str, int]] = {}
    for source, measure, count in engine.fetchall(
        "SELECT source, measure, count FROM match_report", purpose="read match report"
    ):
        counts.setdefault(source, {})[measure] = int(count)
    return counts
