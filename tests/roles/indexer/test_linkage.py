from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkwell.config import Role, SourceKind
from linkwell.engine import Engine
from linkwell.errors import ValidationError
from linkwell.roles.indexer import (
    IdentifierFile,
    KeyResult,
    Vault,
    VaultSecrets,
    build_linkage_key,
    read_secrets,
    write_secrets,
)
from linkwell.schema import issue_ids
from linkwell.seal import new_identity

from .conftest import write_identifiers


def _typo(unique_id: str) -> str:
    digit = str((int(unique_id[3]) + 1) % 10)
    return unique_id[:3] + digit + unique_id[4:]


def _run(engine: Engine, vault: Vault, out: Path, files: list[IdentifierFile]) -> KeyResult:
    return build_linkage_key(
        engine,
        vault,
        files,
        project="p",
        wave=1,
        longitudinal=False,
        key_dest=out / "key.parquet",
        report_dest=out / "report.parquet",
    )


def _files(
    out: Path, survey: list[str | None], authority: list[str | None]
) -> list[IdentifierFile]:
    return [
        IdentifierFile("sec", SourceKind.SURVEY, write_identifiers(out / "s.pq", survey)),
        IdentifierFile("la", SourceKind.AUTHORITY, write_identifiers(out / "a.pq", authority)),
    ]


def test_key_covers_survey_and_only_participating_authority_rows(
    tmp_path: Path, open_vault: tuple[Engine, Vault]
) -> None:
    engine, vault = open_vault
    ids = issue_ids(100).tolist()
    survey = [*ids[:60], _typo(ids[60]), ids[61], ids[61]]  # 60 ok, 1 typo, 1 duplicated
    authority = [*ids[:50], *ids[70:90], ids[61], None]  # 50 participants, 20 not, 1 excluded
    result = _run(engine, vault, tmp_path, _files(tmp_path, survey, authority))
    s, a = result.counts["sec"], result.counts["la"]
    assert (s["rows"], s["keyed"], s["invalid-id"], s["duplicate"]) == (63, 60, 1, 2)
    assert (s["matched"], s["survey-only"]) == (50, 10)
    assert (a["rows"], a["keyed"], a["withheld-not-participant"]) == (72, 50, 20)
    assert (a["withheld-survey-excluded"], a["invalid-id"], a["matched"]) == (1, 1, 50)
    key = pq.read_table(tmp_path / "key.parquet").to_pylist()
    assert len(key) == result.key_rows == 110
    by_source: dict[str, set[str]] = {}
    for row in key:
        by_source.setdefault(row["source"], set()).add(row["link_id"])
    assert by_source["la"] <= by_source["sec"]
    assert len(by_source["sec"]) == 60
    report = pq.read_table(tmp_path / "report.parquet")
    assert set(report.column_names) == {"source", "kind", "measure", "count"}
    hashed = engine.fetchall(
        "SELECT status, count(id_hmac) FROM classified GROUP BY status", purpose="test"
    )
    assert {status: count for status, count in hashed if count} == {"keyed": 110}


def test_a_source_with_no_rows_still_appears_with_zeros(
    tmp_path: Path, open_vault: tuple[Engine, Vault]
) -> None:
    engine, vault = open_vault
    result = _run(engine, vault, tmp_path, _files(tmp_path, issue_ids(5).tolist(), []))
    assert result.counts["la"]["rows"] == 0
    assert result.counts["la"]["keyed"] == 0


@pytest.mark.parametrize("fault", ["repeated", "missing"])
def test_a_package_with_bad_row_references_is_refused_before_any_id_is_issued(
    tmp_path: Path, open_vault: tuple[Engine, Vault], fault: str
) -> None:
    engine, vault = open_vault
    ids = issue_ids(6).tolist()
    files = _files(tmp_path, ids[:4], ids)
    authority = pq.read_table(files[1].path)
    refs = authority.column("row_ref").to_pylist()
    refs[3] = refs[1] if fault == "repeated" else None
    pq.write_table(authority.set_column(0, "row_ref", pa.array(refs, pa.string())), files[1].path)
    with pytest.raises(ValidationError, match="row references") as info:
        _run(engine, vault, tmp_path, files)
    assert info.value.field == "row_ref"
    assert "'la'" in (info.value.hint or "")
    assert not any(i in str(info.value) for i in ids)
    assert engine.scalar("SELECT count(*) FROM vault.persons", purpose="test") == 0
    assert not (tmp_path / "key.parquet").exists()


def test_no_survey_identifiers_is_refused(tmp_path: Path, open_vault: tuple[Engine, Vault]) -> None:
    engine, vault = open_vault
    only = write_identifiers(tmp_path / "a.parquet", ["1"])
    with pytest.raises(ValidationError, match="no survey identifiers"):
        _run(engine, vault, tmp_path, [IdentifierFile("la", SourceKind.AUTHORITY, only)])


_WITHHELD = ("withheld-not-participant", "withheld-survey-excluded")


@settings(max_examples=25)
@given(
    n=st.integers(1, 60),
    mess=st.tuples(
        st.integers(0, 5),
        st.integers(0, 5),
        st.integers(0, 10),
        st.integers(0, 10),
        st.integers(0, 5),
    ),
)
def test_every_row_is_accounted_for(
    tmp_path_factory: pytest.TempPathFactory, n: int, mess: tuple[int, int, int, int, int]
) -> None:
    typos, dups, absent, outsiders, authority_dups = mess
    typos, dups = min(typos, n), min(dups, n)
    tmp = tmp_path_factory.mktemp("prop")
    identity = new_identity("nrs", Role.INDEXER)
    write_secrets(VaultSecrets.generate(), tmp / "secrets.age", identity.card().encryption_key)
    ids = issue_ids(n + outsiders).tolist()
    surveyed, others = ids[:n], ids[n:]
    survey = surveyed + [_typo(i) for i in surveyed[:typos]] + surveyed[:dups]
    authority = surveyed[absent:] + others
    authority += authority[:authority_dups]  # a child on two rows of the authority's file
    with Engine() as engine:
        vault = Vault(engine, tmp, read_secrets(tmp / "secrets.age", identity), create=True)
        result = _run(engine, vault, tmp, _files(tmp, list(survey), list(authority)))
    duplicated = set(surveyed[:dups])
    keyed_survey = [i for i in surveyed if i not in duplicated]
    s, a = result.counts["sec"], result.counts["la"]
    assert s["rows"] == len(survey) == s["keyed"] + s["invalid-id"] + s["duplicate"]
    assert s["keyed"] == len(keyed_survey) == s["matched"] + s["survey-only"]
    assert s["invalid-id"] == typos
    on_authority = {i: authority.count(i) for i in set(authority)}
    keyed_authority = [i for i in keyed_survey if on_authority.get(i) == 1]
    assert s["matched"] == a["matched"] == a["keyed"] == len(keyed_authority)
    assert a["duplicate"] == sum(c for c in on_authority.values() if c > 1)
    assert a["rows"] == sum(a[status] for status in ("keyed", "duplicate", *_WITHHELD))
    assert a["withheld-not-participant"] == len([i for i in others if on_authority[i] == 1])
    assert result.key_rows == s["keyed"] + a["keyed"]
