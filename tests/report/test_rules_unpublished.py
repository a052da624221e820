"""Which rule withheld a count is the analyst's record, never part of what is published.

"Below the threshold" beside a ``[c]`` tells a reader the count is small, "sensitive zero" that it
is nought: the very thing withholding it hides. The audit protects a withheld count only against
what the published tables show, so nothing in the report folder may depend on the rules.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from linkwell.analysis import Analysis
from linkwell.analysis.disclosure import PUBLISHED, Rule
from linkwell.cli import main
from linkwell.config import DisclosurePolicy
from linkwell.errors import ConfigError, LinkwellError
from linkwell.report import write_analysis, write_report
from tests.analysis.conftest import make_reduced_release

_VARYING = (
    (re.compile(r"[0-9a-f]{64}"), "<sha256>"),  # the workbook's checksum: the file's own dates
    (re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC"), "<generated>"),
)


def _relabelled(analysis: Analysis, new: dict[Rule, Rule]) -> Analysis:
    """``analysis`` with each withheld count put down to rule ``new[rule]`` instead of its own."""
    protection = analysis.protection
    codes = protection.codes.copy()
    for old, rule in new.items():
        codes[protection.codes == old.code] = rule.code
    secondary = int(np.count_nonzero(codes == Rule.SECONDARY.code))
    audit = replace(
        protection.audit,
        primary=int(np.count_nonzero(codes != PUBLISHED)) - secondary,
        secondary_by_singleton=0,
        secondary_by_repair=secondary,
    )
    return replace(
        analysis,
        protection=replace(protection, codes=codes, audit=audit),
        tables=tuple(
            replace(table, log=tuple(replace(e, rule=new[e.rule]) for e in table.log))
            for table in analysis.tables
        ),
    )


_RULES = tuple(Rule)
_RELABELLINGS = {
    "all secondary": dict.fromkeys(_RULES, Rule.SECONDARY),
    "rules rotated": dict(zip(_RULES, _RULES[1:] + _RULES[:1], strict=True)),
}


def _published(folder: Path) -> dict[str, object]:
    """Every published file's content, with what differs between two runs of it masked."""
    found: dict[str, object] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = path.relative_to(folder).as_posix()
        if path.suffix == ".xlsx":
            book = load_workbook(path, read_only=True)
            found[name] = {
                sheet: [
                    row for row in book[sheet].iter_rows(values_only=True) if row[0] != "generated"
                ]
                for sheet in book.sheetnames
            }
            book.close()
        else:
            text = path.read_text(encoding="utf-8")
            for pattern, mask in _VARYING:
                text = pattern.sub(mask, text)
            found[name] = text
    return found


@pytest.mark.parametrize("relabelling", list(_RELABELLINGS))
def test_nothing_published_depends_on_the_rule_that_withheld_a_count(
    report_analysis: Analysis, tmp_path: Path, relabelling: str
) -> None:
    rules = {e.rule for table in report_analysis.tables for e in table.log}
    assert {Rule.PRIMARY, Rule.SENSITIVE_ZERO, Rule.SECONDARY} <= rules, "needs every rule"
    given = write_analysis(
        report_analysis,
        tmp_path / "given" / "out",
        project_digest=None,
        disclosure_log=tmp_path / "given" / "log.csv",
    )
    relabelled = write_analysis(
        _relabelled(report_analysis, _RELABELLINGS[relabelling]),
        tmp_path / "relabelled" / "out",
        project_digest=None,
        disclosure_log=tmp_path / "relabelled" / "log.csv",
    )
    published = _published(given.out_dir)
    assert set(published) >= {"report.html", "tables.xlsx", "manifest.json"}
    assert published == _published(relabelled.out_dir)
    # the records differ, as they must, and are kept outside the folders compared
    assert given.disclosure_log.read_text() != relabelled.disclosure_log.read_text()
    assert "sensitive zero" in given.disclosure_log.read_text()
    assert given.disclosure_audit != relabelled.disclosure_audit
    # the checksums above are masked: none of them may be the log's, which a short log's rules
    # could be found again from, and the manifest lists exactly the files in the folder
    for bundle in (given, relabelled):
        digest = hashlib.sha256(bundle.disclosure_log.read_bytes()).hexdigest()
        unmasked = {
            path.name: path.read_text(encoding="utf-8")
            for path in (bundle.html, bundle.manifest, *bundle.csv_files)
        }
        assert not [name for name, text in unmasked.items() if digest in text]
        listed = set(json.loads(bundle.manifest.read_text())["checksums"])
        files = {p.relative_to(bundle.out_dir).as_posix() for p in bundle.out_dir.rglob("*.*")}
        assert listed == files - {"manifest.json"}


@pytest.mark.parametrize("where", ["log.csv", "tables/log.csv", "."])
def test_a_disclosure_log_inside_the_report_folder_is_refused(tmp_path: Path, where: str) -> None:
    release = make_reduced_release(tmp_path / "release.parquet", 200, seed=2, schools=3)
    out = tmp_path / "out"
    inside = out / where
    with pytest.raises(ConfigError) as refused:
        write_report(
            release, out, policy=DisclosurePolicy(), project_digest=None, disclosure_log=inside
        )
    assert refused.value.file == str(inside)
    assert "outside the report folder" in (refused.value.hint or "")
    assert not out.exists()  # refused before anything was written


def test_a_report_folder_holding_anything_is_refused(tmp_path: Path) -> None:
    release = make_reduced_release(tmp_path / "release.parquet", 200, seed=2, schools=3)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("a colleague's notes\n")  # would be published with the report
    with pytest.raises(ConfigError, match="not empty") as refused:
        write_report(
            release, out, policy=DisclosurePolicy(), project_digest=None,
            disclosure_log=tmp_path / "log.csv",
        )  # fmt: skip
    assert refused.value.file == str(out)
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


def test_an_existing_file_is_never_overwritten_by_a_disclosure_log(tmp_path: Path) -> None:
    release = make_reduced_release(tmp_path / "release.parquet", 200, seed=2, schools=3)
    other = tmp_path / "audit.log"  # say, another party's audit log
    other.write_text("not the report's\n")
    out = tmp_path / "out"
    with pytest.raises(ConfigError, match="never overwritten") as refused:
        write_report(
            release, out, policy=DisclosurePolicy(), project_digest=None, disclosure_log=other
        )
    assert refused.value.file == str(other)
    assert other.read_text() == "not the report's\n"
    assert not out.exists()  # refused before anything was written


def test_a_disclosure_log_reached_through_a_link_into_the_folder_is_refused(
    report_analysis: Analysis, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "records").symlink_to(out)
    with pytest.raises(ConfigError):
        write_analysis(
            report_analysis,
            out,
            project_digest=None,
            disclosure_log=tmp_path / "records" / "log.csv",
        )
    assert list(out.iterdir()) == []


def test_the_report_command_keeps_the_log_beside_the_folder(tmp_path: Path) -> None:
    release = make_reduced_release(tmp_path / "release.parquet", 300, seed=2, schools=3)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["report", str(release), "--out", str(out)])
    assert result.exit_code == 0, result.output
    log = tmp_path / "out-disclosure-log.csv"
    assert log.read_text().startswith("table,row,column,rule\n")
    assert f"disclosure log (keep it, do not publish it): {log}" in result.output
    assert not [p for p in out.rglob("*") if "disclosure" in p.name]
    chosen = tmp_path / "records" / "log.csv"
    command = ["report", str(release), "--out", str(tmp_path / "o2")]
    result = CliRunner().invoke(main, [*command, "--disclosure-log", str(chosen)])
    assert result.exit_code == 0, result.output
    assert chosen.is_file()
    refused = CliRunner().invoke(
        main, [*command[:-1], str(tmp_path / "o3"), "--disclosure-log", str(tmp_path / "o3/x")]
    )
    assert refused.exit_code == 2  # ConfigError
    assert "outside the report folder" in refused.output


def test_the_report_command_keeps_the_log_beside_a_folder_named_dot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = make_reduced_release(tmp_path / "release.parquet", 200, seed=2, schools=3)
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    result = CliRunner().invoke(main, ["report", str(release), "--out", "."])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "here-disclosure-log.csv").is_file()
    assert (tmp_path / "here" / "report.html").is_file()


_SEGMENTS = st.lists(st.sampled_from(["out", "log.csv", "tables", "..", ".", "a"]), max_size=4)


@settings(max_examples=60, deadline=None)
@given(folder=_SEGMENTS, log=_SEGMENTS)
def test_a_log_is_refused_exactly_when_it_would_land_in_the_folder(
    tmp_path_factory: pytest.TempPathFactory, folder: list[str], log: list[str]
) -> None:
    base = tmp_path_factory.mktemp("paths") / "x" / "y"  # room for ".." to climb
    out, record = base.joinpath(*folder), base.joinpath(*log)
    # the rule, by normalised strings rather than by resolving the paths: at or under the folder
    normal_out, normal_log = Path(os.path.normpath(out)), Path(os.path.normpath(record))
    inside = normal_log == normal_out or normal_out in normal_log.parents
    missing = base / "no-release.parquet"
    occupied = out.is_dir() and any(out.iterdir())  # a folder ".." climbed to holds others
    with pytest.raises(LinkwellError) as raised:
        write_report(
            missing, out, policy=DisclosurePolicy(), project_digest=None, disclosure_log=record
        )
    # else: the missing release, later
    assert isinstance(raised.value, ConfigError) is (inside or occupied)
    if inside and not occupied:
        assert "inside the report folder" in raised.value.message
    assert not record.exists()
