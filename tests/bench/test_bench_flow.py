"""The whole flow benchmark on a tiny area: every step runs, every peer agrees, JSON is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import run as bench_run


@pytest.mark.slow
def test_a_tiny_run_measures_every_stage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("splink")
    assert bench_run.main(["--size", "400", "--repeat", "1", "--workdir", str(tmp_path / "w"),
                           "--results", str(tmp_path / "results")]) == 0  # fmt: skip
    (written,) = (tmp_path / "results").glob("*-400.json")
    data = json.loads(written.read_text())
    steps = data["runs"][0]["steps"]
    stages = {"split + seal", "index", "link + release", "open", "report"}
    assert {s["stage"] for s in steps} >= stages
    assert len(data["runs"][0]["plain"]) == len(steps)  # every step has its plain counterpart
    names = {p["name"] for p in data["pieces"]}
    assert {"join_release", "build_linkage_key", "pandas join (peer)"} <= names
    assert any(name.startswith("splink") for name in names)
    assert all(s["rows"] > 0 for s in steps)
    assert "| target | measured | bound | met |" in capsys.readouterr().out
