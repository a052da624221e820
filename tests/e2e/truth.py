"""The ground-truth check of a release, shared by the end-to-end tests.

A release carries no way back to a child (by design), so it is compared with the truth as a
multiset of whole rows: every field of every released row must equal the truth, with one row
per participating child, nothing missing and nothing extra.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from linkwell.engine import Engine, quote_ident
from linkwell.schema.release import FORBIDDEN_COLUMNS

# Release columns whose truth column has another name.
_TRUTH_NAME = {
    "sex": "reported_sex",
    "urban_rural_8": "urban_rural",
    "authority_linked": "in_authority_extract",
}


def assert_release_is_the_truth(release: Path, truth_pupils: Path, respondents: int) -> None:
    names = pq.read_schema(release).names
    assert not FORBIDDEN_COLUMNS & set(names)
    columns = [c for c in names if c not in ("release_id", "longitudinal_id", "weight")]
    got = ", ".join(f"CAST({quote_ident(c)} AS VARCHAR) AS {quote_ident(c)}" for c in columns)
    want = ", ".join(
        f"CAST({quote_ident(_TRUTH_NAME.get(c, c))} AS VARCHAR) AS {quote_ident(c)}"
        for c in columns
    )
    with Engine() as engine:
        engine.execute(
            f"CREATE TEMP TABLE got AS SELECT {got} FROM read_parquet($p)",
            {"p": str(release)},
            purpose="t",
        )
        engine.execute(
            f"CREATE TEMP TABLE want AS SELECT {want} FROM read_parquet($p) WHERE participated",
            {"p": str(truth_pupils)},
            purpose="t",
        )
        missing = engine.scalar("SELECT count(*) FROM (FROM want EXCEPT ALL FROM got)", purpose="t")
        extra = engine.scalar("SELECT count(*) FROM (FROM got EXCEPT ALL FROM want)", purpose="t")
        rows = engine.scalar("SELECT count(*) FROM got", purpose="t")
    assert (missing, extra) == (0, 0)
    assert rows == respondents
