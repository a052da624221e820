"""The demo command passes its options through to the library and reports a leak as an error."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from linkwell.cli import main
from linkwell.config import Role
from linkwell.separation import Forbidden, PartyFinding, SeparationReport

# The package attribute ``linkwell.cli.demo`` is the command; the module is in sys.modules.
demo_module = importlib.import_module("linkwell.cli.demo")


class _Result:
    def __init__(self, out: Path, report: SeparationReport) -> None:
        self.separation = report
        self.release = out / "release.parquet"
        self.separation_table = out / "separation.md"
        self.project_file = out / "project.toml"
        self.report = out / "report" / "report.html"


def _report(found: int) -> SeparationReport:
    finding = PartyFinding("edris", Role.LINKER, files=3, found={Forbidden.SURVEY_ID: found})
    return SeparationReport((finding,), {Forbidden.SURVEY_ID: 10})


@pytest.mark.parametrize("transport", ["folder", "sftp"])
def test_options_reach_run_demo(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, transport: str
) -> None:
    seen = {}

    def fake_run_demo(out: Path, **options: object) -> _Result:
        seen.update(options, out=out)
        return _Result(out, _report(0))

    monkeypatch.setattr(demo_module, "run_demo", fake_run_demo)
    result = CliRunner().invoke(
        main,
        [
            "demo",
            "--out",
            str(tmp_path / "d"),
            "--children",
            "1500",
            "--seed",
            "3",
            "--transport",
            transport,
        ],
    )
    assert result.exit_code == 0, result.output
    assert (seen["children"], seen["seed"], seen["transport"]) == (1500, 3, transport)
    assert "separation table" in result.output
    assert "report.html" in result.output


def test_a_leak_fails_the_demo(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(demo_module, "run_demo", lambda out, **_: _Result(out, _report(4)))
    result = CliRunner().invoke(main, ["demo", "--out", str(tmp_path / "d")])
    assert result.exit_code == 10  # SeparationError
    assert "edris (linker) holds survey IDs" in result.output
