"""The flow benchmark's targets and tables, from fabricated measurements (no processes)."""

from __future__ import annotations

import json

import pytest

from bench_flow import SPLINK_PAIRS, SPLINK_RELEASE, UNLOCK, BenchRun, FlowRun
from flow_report import machine, record, table, targets
from harness import Measurement

_TIME = "1,000,000 pupils end to end under 60 s (2 cores)"
_PEAK = "peak RSS under 2 GB at 1,000,000"
_TEN = "10,000,000 completes with peak RSS under 6 GB"


def _m(
    stage: str, name: str, wall: float, *, baseline: str | None = None, rss: float = 500
) -> Measurement:
    return Measurement(stage, name, wall, wall * 0.8, rss, 1000, baseline)


def _run(size: int, *, join: float = 1.4, seal: float = 1.0, key: float = 3.0,
         splink: float = 10.0, flow: float = 10.0, rss: float = 900,
         unavailable: dict[str, str] | None = None) -> BenchRun:  # fmt: skip
    steps = [
        _m("split + seal", "p: split", flow / 2, baseline="plain p: split", rss=rss),
        _m("link + release", "l: release", flow / 2, baseline="plain l: release"),
    ]
    plain = [
        _m("split + seal", "plain p: split", 1.0),
        _m("link + release", "plain l: release", 1.0),
    ]
    pieces = [
        _m("link (compute)", "duckdb plain join", 1.0),
        _m("link (compute)", "join_release", join, baseline="duckdb plain join"),
        _m("index (compute)", "duckdb random IDs + join", 1.0),
        _m("index (compute)", "build_linkage_key", key, baseline="duckdb random IDs + join"),
        _m("link (compute)", SPLINK_PAIRS, splink / 2),
        _m("link (compute)", SPLINK_RELEASE, splink),
        _m("seal (cipher)", "raw age encrypt (in memory)", 1.0),
        _m(
            "seal (cipher)",
            "seal_package (x content)",
            seal,
            baseline="raw age encrypt (in memory)",
        ),
    ]
    setup = [_m("setup", UNLOCK, 0.5)]
    return BenchRun(size, 1, setup, [_m("synthesise", "synth", 2.0)], [FlowRun(steps, plain)], 0,
                    pieces, unavailable or {})  # fmt: skip


def _met(run: BenchRun) -> dict[str, bool | None]:
    return {t.name: t.met for t in targets(run)}


def test_targets_are_judged_against_their_bounds() -> None:
    good = _met(_run(1_000_000, join=1.4, seal=1.5, key=1.9, splink=10, flow=50, rss=1900))
    assert good["linker's join vs plain DuckDB join"] is True
    assert good["seal_package (x content) vs raw cipher throughput"] is True  # 67%
    assert good["indexer vs DuckDB random IDs + join"] is True
    assert good["1,000,000 pupils end to end under 60 s (2 cores)"] is True
    assert good["peak RSS under 2 GB at 1,000,000"] is True
    bad = _met(_run(1_000_000, join=1.6, seal=1.8, key=2.1, splink=1, flow=61, rss=2100))
    assert not any(bad[name] for name in bad if "10,000,000" not in name)


def test_a_run_without_the_report_is_judged_end_to_end_only_when_it_misses() -> None:
    no_report = {"report": "not run (--no-report)"}
    met = _met(_run(1_000_000, flow=50, rss=1000, unavailable=no_report))
    assert (met[_TIME], met[_PEAK]) == (None, None)
    assert _met(_run(10_000_000, rss=5000, unavailable=no_report))[_TEN] is None
    over = _met(_run(1_000_000, flow=70, rss=2100, unavailable=no_report))
    assert (over[_TIME], over[_PEAK]) == (False, False)


def test_a_smaller_run_judges_a_target_only_when_it_already_misses_it() -> None:
    within = _met(_run(100_000, flow=50, rss=1900))
    assert (within[_TIME], within[_PEAK], within[_TEN]) == (None, None, None)
    over = _met(_run(100_000, flow=61, rss=2100))
    assert (over[_TIME], over[_PEAK], over[_TEN]) == (False, False, None)
    assert _met(_run(1_000_000, rss=6200))[_TEN] is False
    assert _met(_run(10_000_000, rss=5000))[_TEN] is True


def test_a_larger_run_is_not_judged_against_a_smaller_target() -> None:
    met = _met(_run(10_000_000, flow=500, rss=5000))
    assert (met[_TIME], met[_PEAK]) == (None, None)


@pytest.mark.parametrize(("splink", "expected"), [(10.0, True), (3.0, False)])
def test_linking_is_compared_with_splink_through_to_the_release(
    splink: float, expected: bool
) -> None:
    met = _met(_run(100_000, join=1.4, key=3.0, splink=splink))
    key_and_join = "linking faster than Splink: key + join vs Splink link + join (same release)"
    assert met[key_and_join] is expected


def test_the_table_shows_every_step_ratio_and_gap(capsys: pytest.CaptureFixture[str]) -> None:
    run = _run(100_000, unavailable={"report": "not run (--no-report)"})
    text = table(run)
    for m in run.measurements():
        assert m.name in text
    assert "| 1.40x | 1.40x |" in text  # join_release's wall and CPU ratios
    assert "not available: not run (--no-report)" in text
    assert "5.00x the sum of the baselines" in text.replace("**", "")
    judged = f"| {_TIME} | 10.0 s at 100,000 without the report | < 60 s at 1,000,000 |"
    assert f"{judged} not judged |" in text


def test_the_record_holds_every_run_and_the_machine() -> None:
    run = _run(100_000)
    data = json.loads(json.dumps(record(run, machine(0.5))))
    assert data["size"] == 100_000
    assert len(data["runs"]) == 1
    assert data["machine"]["cores"] >= 1
    assert data["flow"]["ratio_to_plain"] == pytest.approx(5.0)
    assert {t["target"] for t in data["targets"]} >= {"linker's join vs plain DuckDB join"}
