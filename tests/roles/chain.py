"""Run the three role cores on small hand-made extracts (no sealing): provider, indexer, linker."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from linkwell.config import ReleasePolicy, Role, SourceKind
from linkwell.engine import Engine
from linkwell.roles.indexer import (
    IdentifierFile,
    Vault,
    VaultSecrets,
    build_linkage_key,
    read_secrets,
    write_secrets,
)
from linkwell.roles.linker import ContentFile, join_release
from linkwell.roles.provider import participants_for, split_extract
from linkwell.schema import FieldType, load_dataset
from linkwell.seal import new_identity

SECONDARY = load_dataset("survey-secondary", 1)
AUTHORITY = load_dataset("authority", 1)
_ARROW = {
    FieldType.ID: pa.string(),
    FieldType.CODE: pa.string(),
    FieldType.CATEGORY: pa.string(),
    FieldType.BOOLEAN: pa.bool_(),
    FieldType.INTEGER: pa.int16(),
    FieldType.NUMBER: pa.float64(),
}


def accepted_table(dataset, rows: list[dict[str, object]]) -> pa.Table:
    columns = {
        f.name: pa.array([r.get(f.name) for r in rows], _ARROW[f.type]) for f in dataset.fields
    }
    columns["_row"] = pa.array(range(1, len(rows) + 1), pa.int32())
    return pa.table(columns)


@dataclass
class ChainResult:
    release: list[dict[str, object]]
    key_counts: dict[str, dict[str, int]]
    withheld: int


def run_chain(
    tmp: Path,
    survey_rows: list[dict[str, object]],
    authority_rows: list[dict[str, object]],
    policy: ReleasePolicy | None = None,
) -> ChainResult:
    policy = policy or ReleasePolicy()
    pq.write_table(accepted_table(SECONDARY, survey_rows), tmp / "survey.parquet")
    pq.write_table(accepted_table(AUTHORITY, authority_rows), tmp / "authority.parquet")
    identity = new_identity("nrs", Role.INDEXER)
    write_secrets(VaultSecrets.generate(), tmp / "secrets.age", identity.card().encryption_key)
    with Engine() as engine:
        participants_for(
            engine, tmp / "survey.parquet", authority_code="LA1", dest=tmp / "part.parquet"
        )
        split_extract(
            engine,
            tmp / "survey.parquet",
            SECONDARY,
            participants=None,
            identifiers_dest=tmp / "s_ids.parquet",
            content_dest=tmp / "s_content.parquet",
        )
        counts = split_extract(
            engine,
            tmp / "authority.parquet",
            AUTHORITY,
            participants=[tmp / "part.parquet"],
            identifiers_dest=tmp / "a_ids.parquet",
            content_dest=tmp / "a_content.parquet",
        )
        vault = Vault(engine, tmp, read_secrets(tmp / "secrets.age", identity), create=True)
        key = build_linkage_key(
            engine,
            vault,
            [
                IdentifierFile("secondary", SourceKind.SURVEY, tmp / "s_ids.parquet"),
                IdentifierFile("la1", SourceKind.AUTHORITY, tmp / "a_ids.parquet"),
            ],
            project="p",
            wave=1,
            longitudinal=policy.longitudinal_id,
            key_dest=tmp / "key.parquet",
            report_dest=tmp / "match.parquet",
        )
        join_release(
            engine,
            key=tmp / "key.parquet",
            policy=policy,
            dest=tmp / "release.parquet",
            contents=[
                ContentFile("secondary", SourceKind.SURVEY, tmp / "s_content.parquet"),
                ContentFile("la1", SourceKind.AUTHORITY, tmp / "a_content.parquet"),
            ],
        )
    return ChainResult(
        pq.read_table(tmp / "release.parquet").to_pylist(),
        key.counts,
        counts.withheld_not_participant,
    )
