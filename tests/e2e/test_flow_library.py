"""The five-party flow on a clean synthetic area, checked against the ground truth."""

from __future__ import annotations

import csv

import pyarrow.parquet as pq

from linkwell.demo import DemoResult
from linkwell.report import ReportBundle
from linkwell.roles.indexer import LinkResult
from linkwell.roles.linker import ReleaseResult

from .truth import assert_release_is_the_truth


def test_release_is_exactly_the_truth(clean_demo: DemoResult) -> None:
    assert_release_is_the_truth(
        clean_demo.release, clean_demo.synthetic.truth.pupils, clean_demo.synthetic.respondents
    )


def test_every_count_adds_up(clean_demo: DemoResult) -> None:
    link = clean_demo.steps["nrs: link"]
    released = clean_demo.steps["edris: release"]
    assert isinstance(link, LinkResult)
    assert isinstance(released, ReleaseResult)
    surveyed = 0
    for source, counts in link.counts.items():
        statuses = (
            "keyed",
            "invalid-id",
            "duplicate",
            "withheld-not-participant",
            "withheld-survey-excluded",
        )
        assert counts["rows"] == sum(counts[s] for s in statuses), source
        if counts["survey-only"] or source in ("secondary", "primary"):
            assert counts["keyed"] == counts["matched"] + counts["survey-only"]
            surveyed += counts["keyed"]
    assert released.released == surveyed == clean_demo.synthetic.respondents
    for source, received in released.received.items():
        assert released.keyed[source] == received  # clean data: every shared row is keyed
    splits = [v for k, v in clean_demo.steps.items() if k.endswith(": split")]
    for split in splits:
        v = split.validation  # type: ignore[attr-defined]
        assert v.rows_read == v.rows_accepted + v.rows_quarantined
        assert v.rows_accepted == split.shared + split.withheld_not_participant  # type: ignore[attr-defined]


def test_no_non_participant_data_leaves_the_authority(clean_demo: DemoResult) -> None:
    authority = next(
        v for k, v in clean_demo.steps.items() if k.startswith("council-") and k.endswith("split")
    )
    truth = pq.read_table(clean_demo.synthetic.truth.pupils, columns=["participated"]).to_pylist()
    non_participants = sum(not r["participated"] for r in truth)
    assert authority.withheld_not_participant == non_participants  # type: ignore[attr-defined]


def test_separation_holds_and_a_planted_leak_is_found(clean_demo: DemoResult, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import shutil

    from linkwell.config import Role
    from linkwell.separation import Forbidden, verify_separation

    truth = clean_demo.synthetic.truth.pupils
    report = clean_demo.separation
    assert clean_demo.separation_table.read_text().endswith(
        "no party holds anything its role forbids\n"
    )
    assert report.ok, [(p.party, p.found, p.where) for p in report.parties]
    assert report.values[Forbidden.SURVEY_ID] > 0
    assert report.values[Forbidden.LINK_ID] > 0
    assert report.values[Forbidden.ROW_REF] > 0
    assert all(p.files > 0 for p in report.parties)
    # Plant a leak: a provider's identifiers file (row refs and survey IDs) in the analyst's
    # workspace, and the linker's key in the same place.
    analyst = clean_demo.workspaces["scotcen-analysis"]
    provider_ids = next(clean_demo.workspaces["ipsos-mori"].rglob("identifiers.parquet"))
    shutil.copy(provider_ids, analyst / "notes-from-a-colleague.parquet")
    leaked = verify_separation({"scotcen-analysis": analyst}, truth_pupils=truth)
    (finding,) = [p for p in leaked.parties if p.role is Role.ANALYST]
    assert finding.found[Forbidden.SURVEY_ID] > 0
    assert finding.found[Forbidden.ROW_REF] > 0
    assert not leaked.ok
    (analyst / "notes-from-a-colleague.parquet").unlink()


def test_the_report_folder_holds_what_may_be_published_and_the_log_stays(
    clean_demo: DemoResult,
) -> None:
    (bundle,) = [s for s in clean_demo.steps.values() if isinstance(s, ReportBundle)]
    published = {p.relative_to(bundle.out_dir).parts[0] for p in bundle.out_dir.rglob("*")}
    assert published == {"report.html", "tables.xlsx", "tables", "manifest.json"}
    analyst = clean_demo.workspaces["scotcen-analysis"]
    assert bundle.disclosure_log.is_relative_to(analyst)
    assert bundle.disclosure_log.is_file()
    with bundle.disclosure_log.open() as handle:
        tables = [row["table"] for row in csv.DictReader(handle)]
    cells = sum(o.suppressed_cells for o in bundle.outputs if o.id != "models")
    assert len([t for t in tables if t != "models"]) == cells > 0
    (models,) = [o for o in bundle.outputs if o.id == "models"]
    assert tables.count("models") <= models.suppressed_cells  # withheld, or not estimable
