"""The report bundle: files, checksums, manifest, self-containment, accessibility, workbook."""

from __future__ import annotations

import csv
import errno
import hashlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from openpyxl import load_workbook
from xlsxwriter import Workbook
from xlsxwriter.exceptions import DuplicateWorksheetName, FileCreateError

from linkwell.analysis import Analysis
from linkwell.config import DisclosurePolicy
from linkwell.errors import StorageError, ValidationError
from linkwell.report import ReportBundle, workbook, write_report
from linkwell.report.sheets import BookFile, Sheet
from tests.analysis.conftest import make_reduced_release
from tests.imports import modules_loaded_by


class _Page(HTMLParser):
    """Collects what the accessibility and self-containment checks need."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.stack: list[str] = []
        self.svg_children: list[list[str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "svg":
            self.svg_children.append([])
        elif self.svg_children and "svg" in self.stack:
            self.svg_children[-1].append(tag)
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        while self.stack and self.stack.pop() != tag:
            pass


@pytest.fixture(scope="module")
def page(bundle: ReportBundle) -> tuple[str, _Page]:
    text = bundle.html.read_text(encoding="utf-8")
    parser = _Page()
    parser.feed(text)
    return text, parser


def test_every_file_is_written_and_checksummed(bundle: ReportBundle) -> None:
    manifest = json.loads(bundle.manifest.read_text())
    for name, digest in manifest["checksums"].items():
        path = bundle.out_dir / name
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, name
    assert "report.html" in manifest["checksums"]
    assert len(bundle.csv_files) == len(manifest["outputs"])  # every table and the models
    assert manifest["project_digest"] == "f" * 64
    assert manifest["policy"]["threshold"] == 10
    assert {o["status"] for o in manifest["outputs"]} <= {"pass", "pass (with suppression)"}
    assert not list(bundle.out_dir.rglob("*.partial"))
    assert manifest["format"] == 2  # 1 listed the disclosure log and counted by rule
    audit = bundle.disclosure_audit
    assert manifest["disclosure_audit"] == {
        "cells_withheld": audit["primary"] + audit["secondary"],
        "linear_programmes": audit["linear_programmes"],
    }


def test_the_page_fetches_nothing_and_runs_nothing(page: tuple[str, _Page]) -> None:
    text, parser = page
    for tag, attrs in parser.tags:
        assert tag not in ("script", "link", "iframe", "img", "object", "embed"), tag
        for name in ("src", "href", "srcset", "action"):
            value = attrs.get(name) or ""
            assert not re.match(r"^(https?:)?//", value), (tag, name, value)
    assert "@import" not in text
    assert "url(http" not in text
    assert "@font-face" not in text


def test_accessible_structure(page: tuple[str, _Page]) -> None:
    _, parser = page
    tags = [t for t, _ in parser.tags]
    assert ("html", {"lang": "en-GB"}) in parser.tags
    assert tags.count("h1") == 1
    svgs = [a for t, a in parser.tags if t == "svg"]
    assert len(svgs) >= 4
    for attrs, children in zip(svgs, parser.svg_children, strict=True):
        assert attrs["role"] == "img"
        assert children[:2] == ["title", "desc"]
        assert len((attrs["aria-labelledby"] or "").split()) == 2
    assert tags.count("table") == tags.count("caption")
    for tag, attrs in parser.tags:
        if tag == "th":
            assert attrs.get("scope") in ("col", "row")


def test_headline_numbers_are_published_numbers(
    bundle: ReportBundle, page: tuple[str, _Page]
) -> None:
    text, _ = page
    summary = text.split('id="summary"')[1].split("</section>")[0]
    reach_csv = (bundle.out_dir / "tables" / "reach-authority.csv").read_text()
    counts = re.findall(r"Of about ([\d,]+) children", summary)
    assert counts, "the summary states reach for at least one need"
    for count in counts:
        assert f",{count.replace(',', '')}," in reach_csv


def test_workbook_follows_the_csv_and_marks_withheld_cells(bundle: ReportBundle) -> None:
    book = load_workbook(bundle.workbook, read_only=True)
    assert book.sheetnames[:3] == ["Cover", "Contents", "Notes"]
    assert {"models", "configuration"} <= set(book.sheetnames)
    sheet = book["prevalence-school"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "Prevalence of each need by school"
    header, body = rows[2], rows[3:]
    with (bundle.out_dir / "tables" / "prevalence-school.csv").open() as handle:
        csv_rows = list(csv.reader(handle))
    assert list(header) == csv_rows[0]
    assert len(body) == len(csv_rows) - 1
    flat = [v for row in body for v in row]
    assert "[c]" in flat
    assert any(isinstance(v, int) and v % 5 == 0 for v in flat)
    notes = [r[0] for r in book["Notes"].iter_rows(values_only=True)]
    assert "[c]" in notes
    assert "[z]" in notes


def test_disclosure_log_lists_every_withheld_count(bundle: ReportBundle) -> None:
    assert not bundle.disclosure_log.is_relative_to(bundle.out_dir)
    assert bundle.disclosure_log.stat().st_mode & 0o077 == 0  # the analyst's alone
    with bundle.disclosure_log.open() as handle:
        log = list(csv.DictReader(handle))
    counts = [row for row in log if row["table"] != "models"]
    assert sum(o.suppressed_cells for o in bundle.outputs if o.id != "models") == len(counts)
    assert {row["rule"] for row in log} >= {"primary (below threshold)", "secondary"}
    withheld = 0
    for path in bundle.csv_files:
        if path.name != "models.csv":
            withheld += path.read_text().count("[c]")
    assert withheld >= len(counts)  # each withheld count shows [c] (its percentages too)


def _strict_report(tmp_path: Path, threshold: int) -> ReportBundle:
    """A small release's report under a stricter policy than the default."""
    release = make_reduced_release(tmp_path / "r.parquet", 800, seed=3, schools=5)
    return write_report(
        release,
        tmp_path / "strict",
        policy=DisclosurePolicy(threshold=threshold, rounding_base=10),
        project_digest=None,
        disclosure_log=tmp_path / "strict-log.csv",
    )


def test_the_disclosure_log_says_why_a_model_was_withheld(tmp_path: Path) -> None:
    # The published models table says only that a model is withheld (its reason would say
    # which counts are small); the analyst's log says why.
    bundle = _strict_report(tmp_path, 30)
    with bundle.disclosure_log.open() as handle:
        logged = [row for row in csv.DictReader(handle) if row["table"] == "models"]
    published = (bundle.out_dir / "tables" / "models.csv").read_text()
    withheld = published.count("withheld (disclosure control)")
    assert withheld > 0
    assert len(logged) == withheld
    assert all(row["rule"].startswith("model: ") for row in logged)
    assert all(row["row"] in published for row in logged)
    for reason in {row["rule"].removeprefix("model: ") for row in logged}:
        assert reason not in published
        assert reason not in (bundle.out_dir / "report.html").read_text()


def test_the_policy_changes_the_output(tmp_path: Path) -> None:
    strict = _strict_report(tmp_path, 20)
    table = (strict.out_dir / "tables" / "prevalence-sex-stage.csv").read_text().splitlines()
    counts = [int(v) for line in table[1:] for v in line.split(",")[3:5] if v.isdigit()]
    assert counts
    assert all(v % 10 == 0 for v in counts)
    assert all(v == 0 or v >= 20 - 5 for v in counts)  # >= 20 before rounding to 10
    manifest = json.loads(strict.manifest.read_text())
    assert manifest["project_digest"] is None
    assert "standalone" in manifest["configuration"]["project digest"]


def test_quality_table_feeds_the_caveats(tmp_path: Path) -> None:
    release = make_reduced_release(tmp_path / "r.parquet", 600, seed=4, schools=4)
    quality = tmp_path / "quality.csv"
    quality.write_text(
        "dimension,category,surveyed,linked,small\n"
        "all,all,231,220,false\nstage,S1,105,100,false\nstage,S2,94,90,false\n"
        "stage,P5,32,30,false\n"
    )

    def report(name: str, quality: Path) -> ReportBundle:
        return write_report(
            release,
            tmp_path / name,
            policy=DisclosurePolicy(),
            project_digest=None,
            disclosure_log=tmp_path / f"{name}-log.csv",
            quality=quality,
        )

    text = report("out", quality).html.read_text()
    assert "linkage-quality counts differ from the release" in text
    # The linker's exact counts are never published, not even as rates: beside a school's
    # linked children a rate gives how many were not linked. Linkage by group has tables.
    assert 'id="table-quality"' not in text
    assert 'id="table-linkage-authority"' in text
    bad = tmp_path / "bad.csv"
    bad.write_text("dimension,category,surveyed\nall,all,4\n")
    with pytest.raises(ValidationError) as info:
        report("out2", bad)
    assert info.value.field == "linked"


@pytest.mark.parametrize("process", [False, True], ids=["here", "own process"])
def test_a_table_longer_than_a_sheet_continues_on_the_next(
    report_analysis: Analysis, tmp_path: Path, process: bool
) -> None:
    path = tmp_path / "tables.xlsx"
    workbook.write_workbook(
        path,
        report_analysis,
        title="t",
        cover=[],
        configuration=[],
        process=process,
        sheet_rows=40,  # 37 rows per sheet after the head
    )
    book = load_workbook(path, read_only=True)
    table = max(report_analysis.tables, key=lambda t: len(t.rows))
    expected = [
        [_plain(cell.symbol.value if cell.symbol is not None else cell.value) for cell in row]
        for row in table.rows
    ]
    assert len(expected) > 2 * 37, "the table must need three sheets or more for this test"
    names = [n for n in book.sheetnames if n.startswith(table.id)]
    assert names == [table.id] + [f"{table.id} ({i})" for i in range(2, len(names) + 1)]
    found = []
    for name in names:
        rows = list(book[name].iter_rows(values_only=True))
        assert rows[0][0] == table.title
        assert f"of {len(expected):,}" in rows[1][0]
        assert list(rows[2]) == [c.header for c in table.columns]
        assert 0 < len(rows) <= 40
        found += [[_plain(v) for v in r] for r in rows[3:]]
    assert found == expected


def _plain(value: object) -> object:
    """A cell's value as compared: a float to nine decimals (the file keeps 15 digits)."""
    return round(value, 9) if isinstance(value, float) else value


def test_text_in_the_workbook_stays_text(tmp_path: Path) -> None:
    # A school code reaches the tables as a label; a provider's "=HYPERLINK(...)" must be shown
    # to the reader, not run by the spreadsheet, and an address must not become a link.
    path = tmp_path / "book.xlsx"
    row = ['=HYPERLINK("https://example.org","S1")', "https://example.org", "+1", 5, 2.5, None]
    book = BookFile(path, tmp_path)
    book.open(())
    book.close(((), [Sheet("t", "Title", "A note.", ["a", "b", "c", "n", "x", "z"], [row])]))
    sheet = load_workbook(path)["t"]
    cells = sheet[4]
    assert [cell.value for cell in cells] == row
    assert [cell.data_type for cell in cells[:5]] == ["s", "s", "s", "n", "n"]
    assert all(cell.hyperlink is None for cell in cells)
    assert sheet["A1"].font.b
    assert sheet["A3"].font.b


def _sheets(path: Path) -> dict[str, list[tuple[object, ...]]]:
    book = load_workbook(path, read_only=True)
    return {name: list(book[name].iter_rows(values_only=True)) for name in book.sheetnames}


def test_the_workbook_is_the_same_written_here_or_on_its_own_process(
    report_analysis: Analysis, tmp_path: Path
) -> None:
    found = []
    for process in (False, True):
        path = tmp_path / f"{process}.xlsx"
        workbook.write_workbook(
            path,
            report_analysis,
            title="Title",
            cover=["A line."],
            configuration=[("setting", "value")],
            process=process,
        )
        found.append(_sheets(path))
    here, there = found
    assert list(here) == list(there)
    assert here == there
    assert here["Cover"] == [("Title",), ("A line.",)]
    assert len(here) == 3 + len(report_analysis.tables) + 2  # head, tables, models, settings


def _fail_after_a_table(writer: workbook.WorkbookWriter, analysis: Analysis) -> None:
    writer.add(analysis.tables[0])
    raise KeyError("the analysis failed")


@pytest.mark.parametrize("process", [False, True], ids=["here", "own process"])
def test_a_report_that_fails_leaves_no_workbook(
    report_analysis: Analysis, tmp_path: Path, process: bool
) -> None:
    path = tmp_path / "out" / "tables.xlsx"
    with (
        pytest.raises(KeyError),
        workbook.WorkbookWriter(path, title="t", process=process) as writer,
    ):
        _fail_after_a_table(writer, report_analysis)
    assert list(path.parent.iterdir()) == []


def _write_twice(writer: workbook.WorkbookWriter, analysis: Analysis) -> None:
    writer.add(analysis.tables[0])
    writer.add(analysis.tables[0])
    writer.finish(analysis, cover=[], configuration=[])


def test_a_sheet_the_writer_refuses_is_raised_and_leaves_no_workbook(
    report_analysis: Analysis, tmp_path: Path
) -> None:
    path = tmp_path / "out" / "tables.xlsx"
    with (
        pytest.raises(DuplicateWorksheetName),
        workbook.WorkbookWriter(path, title="t", process=True) as writer,
    ):
        _write_twice(writer, report_analysis)
    assert list(path.parent.iterdir()) == []


def test_a_workbook_that_cannot_be_saved_raises_the_os_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # xlsxwriter wraps the error of the file it cannot write; the report names the file from it.
    def refuse(book: Workbook) -> None:
        raise FileCreateError(PermissionError(13, "Permission denied"))

    book = BookFile(tmp_path / "book.xlsx", tmp_path)
    book.open(())
    monkeypatch.setattr(Workbook, "close", refuse)
    with pytest.raises(PermissionError):
        book.close(((), []))


def test_a_report_whose_workbook_cannot_be_saved_names_the_file(
    report_analysis: Analysis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    close = Workbook.close

    def refuse(book: Workbook) -> None:  # the disk fills as the file is finished
        close(book)
        raise FileCreateError(OSError(errno.ENOSPC, "No space left on device"))

    monkeypatch.setattr(Workbook, "close", refuse)
    path = tmp_path / "out" / "tables.xlsx"
    with pytest.raises(StorageError) as caught:
        workbook.write_workbook(path, report_analysis, title="t", cover=[], configuration=[])
    assert caught.value.file == str(path)
    assert list(path.parent.iterdir()) == []


def test_the_workbook_process_loads_the_sheets_without_the_analysis() -> None:
    """The workbook's own process imports xlsxwriter and the sheets' module, nothing heavier."""
    loaded = modules_loaded_by("linkwell.report.sheets")
    assert "xlsxwriter" in loaded
    heavy = ("duckdb", "numpy", "scipy", "statsmodels", "pydantic", "linkwell.analysis")
    assert not [m for m in loaded if m.startswith(heavy)]
