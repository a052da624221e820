"""The linker's disclosure-risk report, against a plain reference computed in Python."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkwell.config import ReleasePolicy
from linkwell.engine import Engine
from linkwell.roles.linker import disclosure_risk

FLAGS = ("child_protection", "free_school_meals")
QUASI = ("school", "stage", "sex", "simd_decile", "urban_rural_8")


def _reference(rows: list[dict[str, object]], k: int) -> Counter[tuple[str, str, int]]:
    """Every measure, computed row by row in Python: what the SQL must agree with."""
    classes = Counter(tuple(r[q] for q in QUASI) for r in rows)
    found = Counter(
        {
            ("records", "all", len(rows)): 1,
            ("classes", "all", len(classes)): 1,
            ("classes below k", "all", sum(1 for n in classes.values() if n < k)): 1,
            ("records in classes below k", "all", sum(n for n in classes.values() if n < k)): 1,
        }
    )
    for q in QUASI:
        sizes = Counter(r[q] for r in rows)
        found[("smallest group", q, min(sizes.values(), default=0))] += 1
    for flag in FLAGS:
        flagged = [r for r in rows if r[flag]]
        found[("flag count", flag, len(flagged))] += 1
        per_school = Counter(r["school"] for r in flagged)
        few = sum(1 for n in per_school.values() if 1 <= n <= k - 1)
        found[("schools with 1 to k-1 flagged", flag, few)] += 1
    return found


def _write(path: Path, rows: list[dict[str, object]]) -> Path:
    schema = pa.schema(
        [
            ("release_id", pa.string()),
            ("school", pa.string()),
            ("stage", pa.string()),
            ("sex", pa.string()),
            ("simd_decile", pa.int8()),
            ("urban_rural_8", pa.int8()),
            ("authority_linked", pa.bool_()),
            *((flag, pa.bool_()) for flag in FLAGS),
        ]
    )
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    return path


def _risk(path: Path, k: int) -> Counter[tuple[str, str, int]]:
    with Engine() as engine:
        disclosure_risk(engine, path, ReleasePolicy(k_anonymity=k), path.with_name("risk.parquet"))
    table = pq.read_table(path.with_name("risk.parquet")).to_pylist()
    return Counter((r["measure"], r["subject"], r["value"]) for r in table)


row = st.fixed_dictionaries(
    {
        "release_id": st.uuids().map(str),
        "school": st.sampled_from(["S1", "S2", "S3"]),
        "stage": st.sampled_from(["S1", "S2"]),
        "sex": st.sampled_from(["female", "male"]),
        "simd_decile": st.integers(1, 3),
        "urban_rural_8": st.integers(1, 2),
        "authority_linked": st.booleans(),
        "child_protection": st.booleans(),
        "free_school_meals": st.one_of(st.booleans(), st.none()),
    }
)


@settings(max_examples=25)
@given(st.lists(row, max_size=60), st.integers(2, 6))
def test_every_measure_agrees_with_the_reference(
    tmp_path_factory: pytest.TempPathFactory, rows: list[dict[str, object]], k: int
) -> None:
    path = _write(tmp_path_factory.mktemp("risk") / "release.parquet", rows)
    assert _risk(path, k) == _reference(rows, k)


def test_known_answer(tmp_path: Path) -> None:
    base = {"stage": "S2", "sex": "male", "simd_decile": 1, "urban_rural_8": 1}
    rows = [
        {**base, "release_id": "a", "school": "S1", "authority_linked": True,
         "child_protection": True, "free_school_meals": True},
        {**base, "release_id": "b", "school": "S1", "authority_linked": True,
         "child_protection": False, "free_school_meals": True},
        {**base, "release_id": "c", "school": "S2", "authority_linked": False,
         "child_protection": None, "free_school_meals": None},
    ]  # fmt: skip
    risk = _risk(_write(tmp_path / "release.parquet", rows), k=2)
    assert risk[("records", "all", 3)] == 1
    assert risk[("classes", "all", 2)] == 1
    assert risk[("classes below k", "all", 1)] == 1  # S2's class of one
    assert risk[("records in classes below k", "all", 1)] == 1
    assert risk[("flag count", "child_protection", 1)] == 1
    assert risk[("flag count", "free_school_meals", 2)] == 1
    assert risk[("schools with 1 to k-1 flagged", "child_protection", 1)] == 1
    assert risk[("schools with 1 to k-1 flagged", "free_school_meals", 0)] == 1
    assert risk[("smallest group", "school", 1)] == 1
