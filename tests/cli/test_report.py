"""``linkwell report`` through click: options, output, errors at the boundary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from linkwell.analysis import pipeline
from linkwell.analysis.disclosure import Protection, protect
from linkwell.cli import main
from tests.analysis.conftest import make_reduced_release


def test_report_command_writes_the_bundle(tmp_path: Path) -> None:
    release = make_reduced_release(tmp_path / "release.parquet", 600, seed=2, schools=4)
    policy = tmp_path / "policy.toml"
    policy.write_text("threshold = 10\nrounding_base = 5\n")
    result = CliRunner().invoke(
        main, ["report", str(release), "--out", str(tmp_path / "out"), "--policy", str(policy)]
    )
    assert result.exit_code == 0, result.output
    assert "outputs passed disclosure checks" in result.output
    assert (tmp_path / "out" / "report.html").exists()
    assert (tmp_path / "out" / "manifest.json").exists()


def test_the_audit_runs_on_the_workers_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = make_reduced_release(tmp_path / "release.parquet", 200, seed=2, schools=3)
    asked: list[int | None] = []

    def recorded(*args: Any, workers: int | None = None, **options: Any) -> Protection:
        asked.append(workers)
        return protect(*args, workers=workers, **options)

    monkeypatch.setattr(pipeline, "protect", recorded)
    command = ["report", str(release), "--out", str(tmp_path / "out"), "--workers"]
    result = CliRunner().invoke(main, [*command, "3"])
    assert result.exit_code == 0, result.output
    assert asked == [3]
    refused = CliRunner().invoke(main, [*command, "0"])
    assert refused.exit_code == 2
    assert "--workers" in refused.output


def test_bad_policy_and_bad_release_fail_cleanly(tmp_path: Path) -> None:
    release = make_reduced_release(tmp_path / "release.parquet", 200, seed=2, schools=3)
    policy = tmp_path / "policy.toml"
    policy.write_text("threshold = 0\n")
    result = CliRunner().invoke(
        main, ["report", str(release), "--out", str(tmp_path / "o"), "--policy", str(policy)]
    )
    assert result.exit_code == 2  # ConfigError
    assert "threshold" in result.output
    junk = tmp_path / "junk.parquet"
    junk.write_text("not a release")
    result = CliRunner().invoke(main, ["report", str(junk), "--out", str(tmp_path / "o")])
    assert result.exit_code == 3  # InputError (ReadError)
    assert "junk.parquet" in result.output
    assert "Traceback" not in result.output


def test_help_has_an_example() -> None:
    result = CliRunner().invoke(main, ["report", "--help"])
    assert result.exit_code == 0
    assert "linkwell report release.parquet --out report/" in result.output
