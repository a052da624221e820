"""Peers a user might pick instead for the linking step: Splink and a straightforward pandas join.

Splink (DuckDB backend) links the same identifiers files deterministically on the survey ID: once
writing only the matched pairs (what its deterministic link gives), once going on to the same
release through the plain DuckDB join (what a user who picked Splink would have to do). The
pandas version does the linker's join the way a careful analyst would write it with pandas'
defaults: read key and content, merge, tag, left-join authority rows, draw random release IDs,
sort, write. Each peer checks its answer against the flow's counts, so a peer that is fast
because it is wrong fails the run instead.
"""

from __future__ import annotations

import binascii
import logging
import os
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

from flow_plain import Source, bench_engine, join_sql
from linkwell.config import ReleasePolicy
from linkwell.engine import default_memory_limit, quote_string
from linkwell.schema.release import AUTHORITY_LINKED, RELEASE_ID, SURVEY


def _connection(spill: Path) -> duckdb.DuckDBPyConnection:
    """Splink's own DuckDB connection, with the memory bound and spill folder of linkwell's."""
    connection = duckdb.connect()
    spill.mkdir(parents=True, exist_ok=True)
    connection.execute(f"SET memory_limit = {quote_string(default_memory_limit())}")
    connection.execute(f"SET temp_directory = {quote_string(spill)}")
    return connection


def _splink_pairs(connection: duckdb.DuckDBPyConnection, files: list[Source]) -> str:
    """Splink's deterministic link on the survey ID; the name of its table of pairs."""
    api = DuckDBAPI(connection=connection)
    tables = [
        api.register(
            connection.sql(
                "SELECT row_ref AS unique_id, unique_id AS pupil_id "
                f"FROM read_parquet({quote_string(path)})"
            ),
            dataset_display_name=f"source_{number}",
        )
        for number, (_source, _kind, path) in enumerate(files)
    ]
    settings = SettingsCreator(
        link_type="link_only",
        blocking_rules_to_generate_predictions=[block_on("pupil_id")],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker(tables, settings, log_level=logging.WARNING)
    return linker.inference.deterministic_link().physical_name


def _check(what: str, found: int, expected: int) -> None:
    if found != expected:
        raise RuntimeError(f"{what}: the peer found {found}, the flow {expected}")


def splink_link(files: list[Source], expected_pairs: int, dest: str) -> int:
    """Splink's deterministic link of every identifiers file on the survey ID; pairs to Parquet."""
    connection = _connection(Path(dest).parent / "tmp")
    pairs = _splink_pairs(connection, files)
    found = connection.execute(f"COPY {pairs} TO {quote_string(dest)} (FORMAT parquet)").fetchone()
    _check("pairs", int(found[0]) if found else 0, expected_pairs)
    return sum(pq.ParquetFile(path).metadata.num_rows for _s, _k, path in files)


def splink_release(
    files: list[Source],
    contents: list[Source],
    policy_json: str,
    expected_rows: int,
    out: str,
) -> int:
    """What a Splink user does for the same release: link the IDs, then join the content.

    Splink's pairs become a key (each surveyed row is its own child; a paired authority row
    belongs to its survey row), and the content is joined through it by the plain join.
    """
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    connection = _connection(folder / "tmp")
    pairs = _splink_pairs(connection, files)
    kinds = {f"source_{n}": (source, kind) for n, (source, kind, _path) in enumerate(files)}
    names = pa.table(
        {
            "dataset": list(kinds),
            "source": [v[0] for v in kinds.values()],
            "kind": [v[1] for v in kinds.values()],
        }
    )
    connection.register("datasets", names)
    surveys = " UNION ALL ".join(
        f"SELECT {quote_string(source)} AS source, row_ref, row_ref AS link_id "
        f"FROM read_parquet({quote_string(path)})"
        for source, kind, path in files
        if kind == "survey"
    )
    key = folder / "key.parquet"
    connection.execute(
        f"COPY ({surveys} UNION ALL "
        "SELECT CASE WHEN l.kind = 'authority' THEN l.source ELSE r.source END, "
        "CASE WHEN l.kind = 'authority' THEN p.unique_id_l ELSE p.unique_id_r END, "
        "CASE WHEN l.kind = 'authority' THEN p.unique_id_r ELSE p.unique_id_l END "
        f"FROM {pairs} p JOIN datasets l ON l.dataset = p.source_dataset_l "
        "JOIN datasets r ON r.dataset = p.source_dataset_r "
        "WHERE (l.kind = 'authority') <> (r.kind = 'authority')) "
        f"TO {quote_string(key)} (FORMAT parquet)"
    )
    with bench_engine(folder / "tmp") as engine:
        rows = join_sql(
            engine,
            str(key),
            contents,
            ReleasePolicy.model_validate_json(policy_json),
            folder / "release.parquet",
        )
    _check("release rows", rows, expected_rows)
    return sum(pq.ParquetFile(path).metadata.num_rows for _s, _k, path in files)


def _random_ids(count: int) -> np.ndarray:
    """128-bit random hex strings, vectorised (what a careful pandas user would write)."""
    return np.frombuffer(binascii.hexlify(os.urandom(16 * count)), dtype="S32").astype(str)


def pandas_join(
    key: str, contents: list[Source], policy_json: str, expected_rows: int, dest: str
) -> int:
    """The linker's join in pandas, default dtypes; the release written with pyarrow."""
    policy = ReleasePolicy.model_validate_json(policy_json)
    if policy.simd != "decile" or policy.urban_rural != 8:
        raise RuntimeError("the pandas peer implements the default release policy only")
    links = pd.read_parquet(key)
    surveys, authorities, received = [], [], 0
    for source, kind, path in contents:
        content = pd.read_parquet(path)
        received += len(content)
        keyed = content.merge(
            links.loc[links["source"] == source, ["row_ref", "link_id"]], on="row_ref"
        ).drop(columns="row_ref")
        if kind == "survey":
            keyed.insert(0, SURVEY, source)
            surveys.append(keyed)
        else:
            authorities.append(keyed.drop(columns="school"))
    survey = pd.concat(surveys, ignore_index=True)
    authority = pd.concat(authorities, ignore_index=True)
    release = survey.merge(authority, on="link_id", how="left", indicator=True)
    release[AUTHORITY_LINKED] = release.pop("_merge") == "both"
    release = release.rename(columns={"urban_rural": "urban_rural_8"}).drop(columns="link_id")
    release.insert(0, RELEASE_ID, _random_ids(len(release)))
    release = release.sort_values(RELEASE_ID, ignore_index=True)
    _check("release rows", len(release), expected_rows)
    release.to_parquet(dest, index=False)
    return received
