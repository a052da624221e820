"""``linkwell synth`` through click: options parsed, one library call, a readable summary."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow.parquet as pq
from click.testing import CliRunner

from linkwell.cli import main


def _run(*args: str):
    return CliRunner().invoke(main, ["synth", *args], catch_exceptions=False)


def test_writes_an_area_and_summarises_it(tmp_path: Path) -> None:
    out = tmp_path / "area"
    result = _run("--children", "600", "--seed", "3", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "Synthetic area of 600 pupils" in result.output
    assert "secondary.csv" in result.output
    assert "primary.sav" in result.output
    assert re.search(r"authority-s\d{8}\.xlsx", result.output)
    assert "planted problems:" in result.output
    assert (out / "mapping.toml").exists()
    assert (out / "truth" / "pupils.parquet").exists()


def test_clean_formats_and_authorities(tmp_path: Path) -> None:
    out = tmp_path / "area"
    result = _run(
        "--children", "900", "--seed", "4", "--out", str(out), "--clean", "--authorities", "2",
        "--format", "parquet", "--format", "secondary=csv",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "planted problems: none" in result.output
    assert (out / "secondary.csv").exists()
    assert (out / "primary.parquet").exists()
    assert len(list(out.glob("authority-*.parquet"))) == 2


def test_a_random_seed_is_shown_and_recorded(tmp_path: Path) -> None:
    out = tmp_path / "area"
    result = _run("--children", "300", "--out", str(out), "--format", "parquet")
    assert result.exit_code == 0, result.output
    seed = int(re.search(r"seed (\d+)", result.output).group(1))
    manifest = json.loads((out / "truth" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["seed"] == seed


def test_bad_format_is_a_usage_error(tmp_path: Path) -> None:
    for value in ("docx", "teacher=csv", "secondary="):
        result = _run("--children", "300", "--out", str(tmp_path / "x"), "--format", value)
        assert result.exit_code == 2
        assert "--format" in result.output
    assert not (tmp_path / "x").exists()


def test_a_full_folder_is_refused_unless_forced(tmp_path: Path) -> None:
    out = tmp_path / "area"
    args = ("--children", "300", "--seed", "1", "--out", str(out), "--format", "parquet")
    assert _run(*args).exit_code == 0
    refused = _run(*args)
    assert refused.exit_code == 2  # ConfigError
    assert "not empty" in refused.output
    assert "--force" in refused.output
    assert _run(*args, "--force").exit_code == 0


def test_too_few_children_is_a_config_error(tmp_path: Path) -> None:
    result = _run("--children", "20", "--seed", "1", "--out", str(tmp_path / "x"))
    assert result.exit_code == 2
    assert "children" in result.output


def test_help_has_examples() -> None:
    result = CliRunner().invoke(main, ["synth", "--help"])
    assert result.exit_code == 0
    assert "\n    linkwell synth --children 5000 --seed 1 --out area/\n" in result.output
    assert "synth" in main.commands


def test_parameters_file_overrides_the_sheet(tmp_path: Path) -> None:
    rates = tmp_path / "rates.toml"
    rates.write_text("[authority]\nlooked_after_rate = 0.2\nasn_rate = 0.3\n", encoding="utf-8")
    out = tmp_path / "area"
    args = ("--children", "2000", "--seed", "1", "--out", str(out), "--format", "parquet")
    result = _run(*args, "--parameters", str(rates))
    assert result.exit_code == 0, result.output
    truth = pq.read_table(out / "truth" / "pupils.parquet").to_pylist()
    placements = ("looked_after_home", "looked_after_foster", "looked_after_kinship",
                  "looked_after_residential")  # fmt: skip
    looked_after = sum(any(p[f] for f in placements) for p in truth) / len(truth)
    assert 0.16 < looked_after < 0.24
    manifest = json.loads((out / "truth" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["parameters"]["authority"]["looked_after_rate"] == 0.2


def test_a_wrong_parameters_file_is_a_config_error(tmp_path: Path) -> None:
    rates = tmp_path / "rates.toml"
    rates.write_text("[authority]\nlooked_after = 0.2\n", encoding="utf-8")
    result = _run("--children", "300", "--out", str(tmp_path / "x"), "--parameters", str(rates))
    assert result.exit_code == 2
    assert "parameters file is invalid" in result.output
    assert "authority.looked_after" in result.output
