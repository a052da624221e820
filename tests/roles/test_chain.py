from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkwell.config import ReleasePolicy, SourceKind
from linkwell.engine import Engine
from linkwell.errors import SeparationError, ValidationError
from linkwell.roles.linker import ContentFile, check_rows_counted, join_release
from linkwell.schema import issue_ids
from linkwell.schema.release_check import check_release

from .chain import run_chain


def _survey(unique_id: str, n: int) -> dict[str, object]:
    return {
        "unique_id": unique_id,
        "school": f"S{n % 3}",
        "authority": "LA1",
        "stage": "S2",
        "sex": "female" if n % 2 else "male",
        "sdq_01": n % 3,
        "wemwbs_01": 1 + n % 5,
    }


def _authority(unique_id: str, n: int) -> dict[str, object]:
    return {
        "unique_id": unique_id,
        "school": "X",
        "simd_decile": 1 + n % 10,
        "urban_rural": 1 + n % 8,
        "child_protection": n % 7 == 0,
        "looked_after_foster": n % 5 == 0,
    }


def test_release_holds_exactly_the_true_pairs(tmp_path: Path) -> None:
    ids = issue_ids(40).tolist()
    survey = [_survey(u, i) for i, u in enumerate(ids[:30])]
    authority = [_authority(u, i) for i, u in enumerate(ids[:25])] + [
        _authority(u, i)
        for i, u in enumerate(ids[30:], start=30)  # never surveyed
    ]
    result = run_chain(tmp_path, survey, authority)
    assert result.withheld == 10
    assert len(result.release) == 30
    for row in result.release:
        assert not {"unique_id", "link_id", "row_ref", "person_id"} & set(row)
    assert sum(bool(r["authority_linked"]) for r in result.release) == 25


def test_each_child_gets_its_own_authority_row(tmp_path: Path) -> None:
    ids = issue_ids(60).tolist()
    # give each child a distinctive survey answer pattern and authority pattern to match on
    survey = [{**_survey(u, i), "weight": float(i + 1)} for i, u in enumerate(ids)]
    authority = [
        {**_authority(u, i), "simd_decile": 1 + i % 10, "urban_rural": 1 + (i // 10) % 8}
        for i, u in enumerate(ids)
    ]
    result = run_chain(tmp_path, survey, authority)
    for row in result.release:
        i = int(row["weight"]) - 1
        assert row["simd_decile"] == 1 + i % 10
        assert row["urban_rural_8"] == 1 + (i // 10) % 8
        assert row["child_protection"] == (i % 7 == 0)
    assert len({r["release_id"] for r in result.release}) == 60


def test_release_policy_recodes_areas(tmp_path: Path) -> None:
    ids = issue_ids(10).tolist()
    survey = [{**_survey(u, i), "weight": float(i + 1)} for i, u in enumerate(ids)]
    authority = [
        {**_authority(u, i), "simd_decile": 1 + i, "urban_rural": 1 + i % 8}
        for i, u in enumerate(ids)
    ]
    policy = ReleasePolicy(simd="quintile", urban_rural=2)
    release = run_chain(tmp_path, survey, authority, policy).release
    for row in release:
        i = int(row["weight"]) - 1
        assert row["simd_quintile"] == (i + 2) // 2
        assert row["urban_rural_2"] == (1 if 1 + i % 8 <= 5 else 2)
        assert "simd_decile" not in row
        assert "urban_rural_8" not in row


def test_an_id_hidden_in_content_is_caught(tmp_path: Path) -> None:
    ids = issue_ids(5).tolist()
    survey = [_survey(u, i) for i, u in enumerate(ids)]
    survey[2]["school"] = ids[3]  # a provider pasted an ID into a content field
    run_chain(tmp_path, survey, [])
    with Engine() as engine, pytest.raises(SeparationError) as info:
        check_release(
            engine,
            tmp_path / "release.parquet",
            allowed=pq.read_schema(tmp_path / "release.parquet").names,
        )
    assert info.value.field == "school"
    assert ids[3] not in str(info.value)


@settings(max_examples=15)
@given(
    n=st.integers(1, 40),
    mess=st.tuples(st.integers(0, 4), st.integers(0, 4), st.integers(0, 8), st.integers(0, 8)),
)
def test_linking_returns_exactly_the_true_pairs(
    tmp_path_factory: pytest.TempPathFactory, n: int, mess: tuple[int, int, int, int]
) -> None:
    typos, dups, missing, outsiders = mess
    typos, dups, missing = min(typos, n), min(dups, n), min(missing, n)
    tmp = tmp_path_factory.mktemp("chain")
    ids = issue_ids(n + outsiders).tolist()
    children = ids[:n]
    survey = [{**_survey(u, i), "weight": float(i + 1)} for i, u in enumerate(children)]
    for i in range(typos):  # the typo'd copy is an extra row; the true row stays
        bad = children[i][:2] + str((int(children[i][2]) + 1) % 10) + children[i][3:]
        survey.append({**_survey(bad, 1000 + i), "weight": 5000.0 + i})
    survey += [{**_survey(children[i], i), "weight": 9000.0 + i} for i in range(dups)]
    authority = [
        {**_authority(u, i), "simd_decile": 1 + i % 10, "urban_rural": 1 + i % 8}
        for i, u in enumerate(children)
        if i >= missing
    ]
    authority += [_authority(u, 0) for u in ids[n:]]
    result = run_chain(tmp, survey, authority)
    duplicated = set(range(dups))
    expected = {i for i in range(n) if i not in duplicated}
    got = {int(r["weight"]) - 1 for r in result.release}
    assert got == expected  # exactly the valid, unduplicated surveyed children
    for row in result.release:
        i = int(row["weight"]) - 1
        assert row["authority_linked"] == (i >= missing)
        if i >= missing:
            assert (row["simd_decile"], row["urban_rural_8"]) == (1 + i % 10, 1 + i % 8)
    s = result.key_counts["secondary"]
    assert s["rows"] == s["keyed"] + s["invalid-id"] + s["duplicate"] == len(survey)
    assert result.withheld == outsiders


def test_content_lacking_a_row_the_key_covers_is_refused(tmp_path: Path) -> None:
    """A child left out of the content must not leave the release without a word."""
    ids = issue_ids(20).tolist()
    run_chain(tmp_path, [_survey(u, i) for i, u in enumerate(ids)], [])
    content = pq.read_table(tmp_path / "s_content.parquet")
    pq.write_table(content.slice(1), tmp_path / "short.parquet")  # one row fewer, by hand
    with Engine() as engine, pytest.raises(ValidationError, match="lacks 1 row") as refused:
        join_release(
            engine,
            key=tmp_path / "key.parquet",
            policy=ReleasePolicy(),
            dest=tmp_path / "again.parquet",
            contents=[
                ContentFile("secondary", SourceKind.SURVEY, tmp_path / "short.parquet"),
                ContentFile("la1", SourceKind.AUTHORITY, tmp_path / "a_content.parquet"),
            ],
        )
    assert refused.value.field == "row_ref"
    assert not (tmp_path / "again.parquet").exists()


def test_content_of_more_rows_than_its_identifiers_is_refused(tmp_path: Path) -> None:
    """Rows the key does not cover must be the ones the indexer excluded, no more."""
    ids = issue_ids(20).tolist()
    run_chain(tmp_path, [_survey(u, i) for i, u in enumerate(ids)], [])
    with Engine() as engine:
        check_rows_counted(engine, {"secondary": 20, "la1": 0}, tmp_path / "match.parquet")
        with pytest.raises(ValidationError, match="has 21 rows where its identifiers had 20"):
            check_rows_counted(engine, {"secondary": 21, "la1": 0}, tmp_path / "match.parquet")
