from __future__ import annotations

import json
import secrets
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from linkwell.cli import main
from linkwell.schema.ids import is_valid_id, issue_ids
from tests.schema._authority import clean_row, write_csv


def invoke(*args: str) -> click.testing.Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _extract(folder: Path, *, bad: int = 0, good: int = 3) -> tuple[Path, list[str]]:
    ids = issue_ids(good).tolist()
    rows = [clean_row(i) for i in ids] + [clean_row("12345") for _ in range(bad)]
    return write_csv(folder / "extract.csv", rows), ids


def test_validate_prints_a_summary_and_exits_zero_with_quarantined_rows(tmp_path: Path) -> None:
    path, ids = _extract(tmp_path, bad=2)
    result = invoke("validate", str(path), "--dataset", "authority@1", "--out", "checked")
    assert result.exit_code == 0, result.output
    assert "quarantined" in result.output
    assert "id-format" in result.output
    assert "quarantine.csv" in result.output
    assert not any(i in result.output for i in ids)
    summary = json.loads((tmp_path / "checked" / "summary.json").read_text())
    assert (summary["rows_accepted"], summary["rows_quarantined"]) == (3, 2)


def test_strict_fails_on_quarantined_rows(tmp_path: Path) -> None:
    path, _ = _extract(tmp_path, bad=1)
    result = invoke("validate", str(path), "--dataset", "authority", "--out", "o", "--strict")
    assert result.exit_code == 3
    assert "1 row(s) quarantined" in result.output
    (tmp_path / "ok").mkdir()
    clean, _ = _extract(tmp_path / "ok")
    assert (
        invoke(
            "validate", str(clean), "--dataset", "authority", "--out", "o2", "--strict"
        ).exit_code
        == 0
    )


def test_nothing_accepted_is_an_error(tmp_path: Path) -> None:
    path, _ = _extract(tmp_path, bad=2, good=0)
    result = invoke("validate", str(path), "--dataset", "authority", "--out", "o")
    assert result.exit_code == 3
    assert "no row was accepted" in result.output


def test_mapping_file_and_bad_inputs(tmp_path: Path) -> None:
    ids = issue_ids(2).tolist()
    rows = [clean_row(i) | {"Pupil Ref": i} for i in ids]
    header = ["Pupil Ref", *(c for c in rows[0] if c not in ("unique_id", "Pupil Ref"))]
    path = write_csv(tmp_path / "e.csv", rows, header)
    mapping = tmp_path / "m.toml"
    mapping.write_text('columns = { "Pupil Ref" = "unique_id" }\n')
    ok = invoke(
        "validate", str(path), "--dataset", "authority", "--mapping", str(mapping), "--out", "o"
    )
    assert ok.exit_code == 0, ok.output
    missing = invoke("validate", str(path), "--dataset", "authority", "--out", "o")
    assert missing.exit_code == 3
    assert "unique_id" in missing.output
    mapping.write_text('columns = { "Pupil Ref" = "pupil_name" }\n')
    refused = invoke(
        "validate", str(path), "--dataset", "authority", "--mapping", str(mapping), "--out", "o"
    )
    assert refused.exit_code == 2
    assert (
        f"[{mapping}, field 'pupil_name']" in refused.output
    )  # the mapping's fault, not the file's
    assert invoke("validate", str(path), "--dataset", "nope", "--out", "o").exit_code == 2
    assert invoke("validate", str(path), "--dataset", "authority@9", "--out", "o").exit_code == 3
    assert invoke("validate", str(path), "--out", "o").exit_code == 2
    both = invoke(
        "validate",
        str(path),
        "--dataset",
        "authority",
        "--project",
        "p.toml",
        "--source",
        "s",
        "--out",
        "o",
    )
    assert both.exit_code == 2
    assert (
        invoke(
            "validate", str(tmp_path / "nofile.csv"), "--dataset", "authority", "--out", "o"
        ).exit_code
        == 3
    )


def test_a_mapping_file_of_one_table_per_source_is_read_by_source(tmp_path: Path) -> None:
    """The shape ``linkwell synth`` writes: without --source it is named, not misread."""
    ids = issue_ids(2).tolist()
    rows = [clean_row(i) | {"Pupil Ref": i} for i in ids]
    header = ["Pupil Ref", *(c for c in rows[0] if c not in ("unique_id", "Pupil Ref"))]
    path = write_csv(tmp_path / "e.csv", rows, header)
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        '[fife.columns]\n"Pupil Ref" = "unique_id"\n[other.columns]\nRef = "unique_id"\n'
    )
    run = ["validate", str(path), "--dataset", "authority", "--mapping", str(mapping)]
    ok = invoke(*run, "--source", "fife", "--out", "o")
    assert ok.exit_code == 0, ok.output
    whole = invoke(*run, "--out", "o2")
    assert whole.exit_code == 2
    assert "one mapping per source" in whole.output
    assert "--source: fife, other" in whole.output
    absent = invoke(*run, "--source", "fyfe", "--out", "o3")
    assert absent.exit_code == 2
    assert "no table for source 'fyfe'" in absent.output
    alone = invoke(
        "validate", str(path), "--dataset", "authority", "--source", "fife", "--out", "o"
    )
    assert alone.exit_code == 2
    assert "give --project with it, or --mapping" in alone.output


def _card() -> str:
    alphabet = "023456789acdefghjklmnpqrstuvwxyz"
    age = "age1" + "".join(secrets.choice(alphabet) for _ in range(58))
    sign = "ed25519:" + "".join(secrets.choice("ABCDEFabcdef0123456789+/") for _ in range(43)) + "="
    return f'{{ encryption_key = "{age}", signing_key = "{sign}", created = 2024-01-01T00:00:00Z }}'


def test_project_source_supplies_dataset_and_mapping(tmp_path: Path) -> None:
    ids = issue_ids(2).tolist()
    rows = [clean_row(i) | {"PupilRef": i} for i in ids]
    header = ["PupilRef", *(c for c in rows[0] if c not in ("unique_id", "PupilRef"))]
    path = write_csv(tmp_path / "e.csv", rows, header)
    parties = "".join(
        f'[[parties]]\nname = "{name}"\nrole = "{role}"\norganisation = "{name}"\n'
        f"identities = [{_card()}]\n"
        for name, role in (("fife", "authority-provider"), ("nrs", "indexer"), ("edris", "linker"),
                           ("scotcen", "analyst"))
    )  # fmt: skip
    project = tmp_path / "project.toml"
    project.write_text(
        '[project]\nid = "rcs"\nwave = 1\n\n'
        + parties
        + '[[sources]]\nname = "fife-la"\nkind = "authority"\ndataset = "authority"\n'
        'dataset_version = 1\nprovider = "fife"\nauthority_code = "S12000015"\n'
        '[sources.mapping]\ncolumns = { "PupilRef" = "unique_id" }\n\n'
        '[transport]\nkind = "folder"\nroot = "exchange"\n'
    )
    result = invoke(
        "validate", str(path), "--project", str(project), "--source", "fife-la", "--out", "o"
    )
    assert result.exit_code == 0, result.output
    assert "authority@1" in result.output
    assert (
        invoke(
            "validate", str(path), "--project", str(project), "--source", "x", "--out", "o"
        ).exit_code
        == 2
    )


def test_ids_issue_prints_distinct_valid_ids(tmp_path: Path) -> None:
    result = invoke("ids", "issue", "--count", "500")
    issued = result.output.split()
    assert result.exit_code == 0
    assert len(issued) == len(set(issued)) == 500
    assert all(is_valid_id(i) for i in issued)


def test_ids_issue_to_a_file_never_overwrites_and_excludes(tmp_path: Path) -> None:
    first = tmp_path / "wave1.txt"
    assert invoke("ids", "issue", "--count", "2000", "--out", str(first)).exit_code == 0
    old = set(first.read_text().split())
    assert len(old) == 2000
    again = invoke("ids", "issue", "--count", "5", "--out", str(first))
    assert again.exit_code == 2
    assert set(first.read_text().split()) == old
    more = tmp_path / "extra.txt"
    assert (
        invoke(
            "ids", "issue", "--count", "2000", "--exclude", str(first), "--out", str(more)
        ).exit_code
        == 0
    )
    assert not old & set(more.read_text().split())
    first.write_text(first.read_text() + "not-an-id\n")
    bad = invoke("ids", "issue", "--count", "1", "--exclude", str(first))
    assert bad.exit_code == 3
    assert "row 2001" in bad.output
    assert invoke("ids", "issue", "--count", "0").exit_code == 2


def test_ids_check_reports_line_numbers_never_ids(tmp_path: Path) -> None:
    good = issue_ids(4).tolist()
    wrong = good[1][:-1] + str((int(good[1][-1]) + 3) % 10)
    listing = tmp_path / "ids.txt"
    listing.write_text(f"unique_id\n{good[0]}\n{wrong}\n\n  {good[2]}  \n0123456789\n")
    result = invoke("ids", "check", str(listing), good[3], "12")
    assert result.exit_code == 3
    assert f"{listing}: 2 of 4 valid; invalid at line(s) 3, 6" in result.output
    assert "argument 2: valid" in result.output
    assert "argument 3: NOT a valid survey ID" in result.output
    assert not any(i in result.output for i in [*good, wrong])
    assert invoke("ids", "check", good[0]).exit_code == 0


@pytest.mark.parametrize("command", [["validate"], ["ids"], ["ids", "issue"], ["ids", "check"]])
def test_every_command_has_help_with_examples(command: list[str]) -> None:
    result = invoke(*command, "--help")
    assert result.exit_code == 0
    assert "Examples:\n    linkwell " in result.output


def test_the_output_folder_is_new_or_a_validations_own(tmp_path: Path) -> None:
    """Results are never mixed with other files; a validation's own are replaced."""
    path, _ = _extract(tmp_path)
    run = ["validate", str(path), "--dataset", "authority", "--out"]
    assert invoke(*run, "checked").exit_code == 0
    assert invoke(*run, "checked").exit_code == 0  # again: the earlier results are replaced
    (tmp_path / "checked" / "notes.txt").write_text("mine")
    mixed = invoke(*run, "checked")
    assert mixed.exit_code == 2
    assert "such as 'notes.txt'" in mixed.output
    assert (tmp_path / "checked" / "summary.json").exists()  # nothing removed when refused
    (tmp_path / "a-file").write_text("x")
    onto_file = invoke(*run, "a-file")
    assert onto_file.exit_code == 2
    assert "a file, not a folder" in onto_file.output
