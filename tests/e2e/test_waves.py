"""A second wave of the same project: same children in the vault, new link and release IDs."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from linkwell.demo import DemoResult
from linkwell.roles.indexer import open_vault
from linkwell.schema.release import LONGITUDINAL_ID, RELEASE_ID
from linkwell.workspace import Workspace

from .truth import assert_release_is_the_truth


@pytest.fixture
def two_waves(folder_demo: DemoResult) -> DemoResult:
    return folder_demo


def test_both_waves_release_exactly_the_truth(two_waves: DemoResult) -> None:
    assert len(two_waves.releases) == 2
    for release in two_waves.releases:
        assert_release_is_the_truth(
            release, two_waves.synthetic.truth.pupils, two_waves.synthetic.respondents
        )


def test_the_vault_keeps_one_person_per_child_and_new_link_ids_per_wave(
    two_waves: DemoResult,
) -> None:
    nrs = Workspace.open(two_waves.workspaces["nrs"])
    with nrs.engine() as engine:
        open_vault(nrs, engine, create=False)
        persons = engine.scalar("SELECT count(*) FROM vault.persons", purpose="t")
        per_wave = dict(
            engine.fetchall("SELECT wave, count(*) FROM vault.link_ids GROUP BY wave", purpose="t")
        )
        shared = engine.scalar(
            "SELECT count(*) FROM vault.link_ids a JOIN vault.link_ids b "
            "ON a.link_id = b.link_id AND a.wave = 1 AND b.wave = 2",
            purpose="t",
        )
    assert persons == two_waves.synthetic.respondents
    assert per_wave == {1: persons, 2: persons}
    assert shared == 0


def test_release_ids_are_new_and_longitudinal_ids_follow_each_child(two_waves: DemoResult) -> None:
    first, second = (pq.read_table(r) for r in two_waves.releases)
    assert not set(first.column(RELEASE_ID).to_pylist()) & set(
        second.column(RELEASE_ID).to_pylist()
    )
    assert set(first.column(LONGITUDINAL_ID).to_pylist()) == set(
        second.column(LONGITUDINAL_ID).to_pylist()
    )
    # The same answers were sent in both waves, so a child is recognisable by its whole row;
    # where that row is unique, both waves must give it the same longitudinal ID.
    content = [c for c in first.column_names if c not in (RELEASE_ID, LONGITUDINAL_ID)]

    def by_content(table: object) -> dict[tuple[object, ...], list[str]]:
        rows: dict[tuple[object, ...], list[str]] = {}
        for row in table.to_pylist():  # type: ignore[attr-defined]
            rows.setdefault(tuple(row[c] for c in content), []).append(row[LONGITUDINAL_ID])
        return rows

    a, b = by_content(first), by_content(second)
    unique = [key for key, ids in a.items() if len(ids) == 1 and len(b.get(key, [])) == 1]
    assert len(unique) > 0.9 * first.num_rows
    assert all(a[key] == b[key] for key in unique)
