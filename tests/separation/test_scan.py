from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from linkwell.engine import Engine
from linkwell.engine.tokens import random_tokens
from linkwell.schema import issue_ids
from linkwell.separation import Forbidden, ValueSets, scan_file

IDS = issue_ids(20).tolist()
LINKS = random_tokens(5).to_pylist()
ALL = frozenset(Forbidden)


VALUES = pa.table(
    {
        "value": IDS + LINKS,
        "kind": [Forbidden.SURVEY_ID.value] * 20 + [Forbidden.LINK_ID.value] * 5,
    }
)


def _scan(path: Path) -> dict[Forbidden, int]:
    sets = ValueSets(columns={"sdq_01": Forbidden.SURVEY_ANSWER})
    with Engine() as engine:
        engine.register("forbidden_values", VALUES)
        return scan_file(engine, path, ALL, sets).hits


def test_parquet_cells_of_any_type_are_matched(tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    pq.write_table(
        pa.table({"a": [IDS[0], "nothing"], "b": [int(IDS[1]), 7], "c": [LINKS[0], None]}), path
    )
    hits = _scan(path)
    assert hits[Forbidden.SURVEY_ID] == 2  # one as text, one as an integer
    assert hits[Forbidden.LINK_ID] == 1


def test_a_forbidden_column_counts_its_cells(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("SDQ_01,other\n1,a\n,b\n2,c\n")
    assert _scan(path)[Forbidden.SURVEY_ANSWER] == 2


def test_ids_inside_a_log_line_are_found(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_text(json.dumps({"action": "oops", "note": f"id={IDS[3]};link={LINKS[2]}"}) + "\n")
    hits = _scan(path)
    assert (hits[Forbidden.SURVEY_ID], hits[Forbidden.LINK_ID]) == (1, 1)


def test_clean_files_have_no_hits(tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    pq.write_table(pa.table({"a": issue_ids(50).tolist()}), path)  # other children's IDs
    assert set(_scan(path).values()) == {0}


def test_a_damaged_parquet_is_still_scanned_as_bytes(tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    path.write_bytes(b"PAR1 garbage " + IDS[5].encode() + b" more")
    assert _scan(path)[Forbidden.SURVEY_ID] == 1
