"""The provider role: a survey contractor or a local authority preparing what it may share.

A provider validates its extract, then splits it: the identifiers file ``(row_ref, unique_id)``
goes to the indexer and the content file ``(row_ref, fields…)`` to the linker. Row references
are fresh random tokens per row and per split, and each file is written in its own random order,
so neither position nor reference links the two without the indexer. A survey provider also
lists, per authority, the IDs of pupils who took part; an authority shares rows only for those
pupils and reports how many it withheld, without ever sending them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from linkwell.engine import Engine, quote_ident
from linkwell.engine.tokens import random_tokens
from linkwell.errors import ValidationError
from linkwell.schema.definitions import DatasetDef

__all__ = ["SplitCounts", "participants_for", "split_extract"]


@dataclass(frozen=True)
class SplitCounts:
    """Rows validated and accepted, rows shared, rows withheld as non-participants."""

    accepted: int
    shared: int
    withheld_not_participant: int


def participants_for(engine: Engine, accepted: Path, *, authority_code: str, dest: Path) -> int:
    """Write the distinct IDs of validated survey rows from one authority's schools to ``dest``."""
    return engine.copy_to_parquet(
        "SELECT DISTINCT unique_id FROM read_parquet($accepted) WHERE authority = $code "
        "ORDER BY unique_id",
        dest,
        {"accepted": str(accepted), "code": authority_code},
        purpose="list participants",
    )


def split_extract(
    engine: Engine,
    accepted: Path,
    dataset: DatasetDef,
    *,
    participants: Sequence[Path] | None,
    identifiers_dest: Path,
    content_dest: Path,
) -> SplitCounts:
    """Split validated rows into the identifiers and content files.

    ``participants`` (for an authority) are the opened participants payloads from every survey
    provider; rows of pupils in none of them are withheld. ``None`` means no filter (a survey).
    """
    params: dict[str, object] = {"accepted": str(accepted)}
    source = "read_parquet($accepted)"
    if participants is not None:
        if not participants:
            raise ValidationError(
                "no participants lists: an authority may share rows only for pupils who took part",
                hint="receive and open the participants package of every survey provider first",
            )
        params["participants"] = [str(p) for p in participants]
        source = (
            f"(SELECT * FROM {source} WHERE unique_id IN "
            "(SELECT unique_id FROM read_parquet($participants)))"
        )
    engine.execute(
        "CREATE OR REPLACE TEMP TABLE to_share AS "
        f"SELECT *, row_number() OVER () AS n FROM {source}",
        params,
        purpose="select rows to share",
    )
    accepted_rows = int(
        engine.scalar(
            "SELECT count(*) FROM read_parquet(?)", [str(accepted)], purpose="count accepted"
        )
    )
    shared = int(engine.scalar("SELECT count(*) FROM to_share", purpose="count rows to share"))
    numbers = pa.array(np.arange(1, shared + 1, dtype=np.int64))
    engine.register(
        "row_refs",
        pa.table(
            {"n": numbers, "row_ref": random_tokens(shared), "shuffle": random_tokens(shared)}
        ),
    )
    content = ", ".join(quote_ident(f.name) for f in dataset.content_fields)
    try:
        engine.copy_to_parquet(
            "SELECT r.row_ref, s.unique_id FROM to_share s JOIN row_refs r USING (n) "
            "ORDER BY r.row_ref",
            identifiers_dest,
            purpose="write the identifiers file",
        )
        engine.copy_to_parquet(
            f"SELECT r.row_ref, {content} FROM to_share s JOIN row_refs r USING (n) "
            "ORDER BY r.shuffle",
            content_dest,
            purpose="write the content file",
        )
    finally:
        engine.unregister("row_refs")
    return SplitCounts(accepted_rows, shared, accepted_rows - shared)
