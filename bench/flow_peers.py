"""Peers a user might pick instead for the linking step: Splink and a straightforward pandas join.

Splink (DuckDB backend) links the same identifiers files deterministically on the survey ID and
writes the matched pairs; it does no more than that (no content, no release). The pandas version
does the linker's join the way a careful analyst would write it with pandas' defaults: read the
key and content files, merge, tag, left-join authority rows, draw random release IDs, sort, write.
Both check their own answer against the flow's counts, so a peer that is fast because it is wrong
fails the run instead.
"""

from __future__ import annotations

import binascii
import logging
import os

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

from flow_plain import Source
from linkwell.config import ReleasePolicy
from linkwell.engine import quote_string
from linkwell.schema.release import AUTHORITY_LINKED, RELEASE_ID, SURVEY


def splink_link(files: list[Source], expected_pairs: int, dest: str) -> int:
    """Splink's deterministic link of every identifiers file on the survey ID; pairs to Parquet."""
    connection = duckdb.connect()
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
    pairs = linker.inference.deterministic_link()
    found = connection.execute(
        f"COPY {pairs.physical_name} TO {quote_string(dest)} (FORMAT parquet)"
    ).fetchone()
    if found is None or int(found[0]) != expected_pairs:
        raise RuntimeError(f"splink found {found} pairs, the flow linked {expected_pairs}")
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
    if len(release) != expected_rows:
        raise RuntimeError(f"pandas made {len(release)} release rows, the flow {expected_rows}")
    release.to_parquet(dest, index=False)
    return received
