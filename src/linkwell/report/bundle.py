"""``write_report``: from a release file to a checked output bundle a partnership can open offline.

The bundle follows ACRO's idea of an output bundle: every output with its status, the files it
was written to and their SHA-256 checksums, the disclosure checks it passed, and the effective
configuration (the policy, the project digest and the release's checksum) in ``manifest.json``.
Besides the manifest it holds ``report.html`` (self-contained), ``tables.xlsx`` and one CSV per
table under ``tables/``: everything in the folder may be published. Every file is written
atomically.

The disclosure log, which names the rule that withheld each count, is the analyst's record and
is written outside the folder: a published "below the threshold" or "sensitive zero" beside a
``[c]`` would give away the very count it withholds. Nothing published gives a per-rule count
either, nor the log's checksum (a short log could be found again from it by trying every rule).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from importlib.metadata import version
from pathlib import Path
from typing import Final

from pydantic import BaseModel, ConfigDict

from linkwell.analysis.pipeline import Analysis, analyse
from linkwell.analysis.workers import available_cores
from linkwell.config import DisclosurePolicy
from linkwell.engine import Engine
from linkwell.errors import ConfigError
from linkwell.fileio import write_text_atomic
from linkwell.progress import SILENT, Progress
from linkwell.report.charts import heat_map, reach_chart, school_charts, simd_charts
from linkwell.report.findings import headline_findings
from linkwell.report.html import HtmlContent, render_html
from linkwell.report.narrative import caveats, lede, method
from linkwell.report.published import TableIndex
from linkwell.report.quality import LinkageQuality, read_quality
from linkwell.report.workbook import (
    MODEL_HEADERS,
    SYMBOL_NOTES,
    WorkbookWriter,
    model_rows,
    write_csvs,
    write_disclosure_log,
)

__all__ = ["OutputRecord", "OutputStatus", "ReportBundle", "write_analysis", "write_report"]

REPORT_TITLE: Final = "Children's needs and the services that reach them"
_HTML, _WORKBOOK, _MANIFEST = ("report.html", "tables.xlsx", "manifest.json")
_VERSION: Final = version("linkwell")
_MANIFEST_FORMAT: Final = 2
"""2: no disclosure log among the files, and the audit as counts withheld, not by rule."""


class OutputStatus(StrEnum):
    """Whether an output was published whole or with cells or models withheld."""

    WHOLE = "pass"
    WITH_SUPPRESSION = "pass (with suppression)"


class OutputRecord(BaseModel):
    """One output of the bundle: its status, its disclosure checks and where it was written."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    title: str
    status: OutputStatus
    suppressed_cells: int
    checks: tuple[str, ...]
    files: tuple[str, ...]


class ReportBundle(BaseModel):
    """What :func:`write_report` wrote: paths, checksums and the status of every output."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    out_dir: Path
    html: Path
    workbook: Path
    csv_files: tuple[Path, ...]
    disclosure_log: Path
    """The analyst's record of each withheld count's rule, outside ``out_dir``: not published."""
    disclosure_audit: dict[str, int]
    """What the audit did, by rule (the analyst's record; the manifest publishes totals)."""
    manifest: Path
    outputs: tuple[OutputRecord, ...]
    checksums: dict[str, str]
    release_sha256: str


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _configuration(
    analysis: Analysis, policy: DisclosurePolicy, project_digest: str | None, release_sha: str
) -> list[tuple[str, str]]:
    release = analysis.release
    return [
        ("linkwell version", _VERSION),
        ("project digest", project_digest or "none (standalone run, no project file)"),
        ("release file", release.path.name),
        ("release SHA-256", release_sha),
        ("children in the release", f"{release.children:,}"),
        ("weighting", release.weighting),
        ("SIMD resolution", release.simd or "not in the release"),
        (
            "urban/rural resolution",
            f"{release.urban_rural}-fold" if release.urban_rural else "not in the release",
        ),
        ("disclosure policy", json.dumps(policy.model_dump(mode="json"), sort_keys=True)),
        ("generated", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
    ]


def _audit_record(analysis: Analysis) -> dict[str, int]:
    summary = analysis.audit
    return {
        "primary": summary.primary,
        "secondary": summary.secondary,
        "linear_programmes": summary.linear_programmes,
        "certified": summary.certified,
    }


def _outputs(analysis: Analysis) -> list[OutputRecord]:
    records = [
        OutputRecord(
            id=table.id,
            title=table.title,
            status=OutputStatus.WHOLE if not table.suppressed else OutputStatus.WITH_SUPPRESSION,
            suppressed_cells=table.suppressed,
            checks=table.checks,
            files=(
                f"tables/{table.id}.csv",
                f"{_WORKBOOK}#{table.id[:31]}",
                f"{_HTML}#table-{table.id}",
            ),
        )
        for table in analysis.tables
    ]
    withheld = sum(1 for m in analysis.models if m.odds_ratio is None)
    records.append(
        OutputRecord(
            id="models",
            title="Odds of receiving any service, by need",
            status=OutputStatus.WHOLE if not withheld else OutputStatus.WITH_SUPPRESSION,
            suppressed_cells=withheld,
            checks=(
                (
                    f"a model is published only if each need x service cell holds at least "
                    f"{analysis.policy.threshold} children and its residual degrees of freedom "
                    f"reach {analysis.policy.threshold}"
                ),
            ),
            files=("tables/models.csv", f"{_WORKBOOK}#models", f"{_HTML}#models"),
        )
    )
    return records


def _check_destinations(out_dir: Path, disclosure_log: Path) -> None:
    """Refuse a report folder not empty, or a disclosure log inside it or over an existing file.

    An earlier log is the analyst's record, and any other file is not the report's to replace;
    whatever lies in the report folder is published with it.
    """
    folder = out_dir.resolve()
    if folder == disclosure_log.resolve() or folder in disclosure_log.resolve().parents:
        raise ConfigError(
            "the disclosure log would be written inside the report folder, which is published, "
            "and it says which withheld counts are small or zero",
            file=disclosure_log,
            hint="give the disclosure log a path outside the report folder",
        )
    if out_dir.is_dir() and any(out_dir.iterdir()):
        raise ConfigError(
            "the report folder is not empty; everything in it is published with the report, so "
            "it may hold the report's files only",
            file=out_dir,
            hint="give a new or empty folder",
        )
    if disclosure_log.exists() or disclosure_log.is_symlink():
        raise ConfigError(
            "the disclosure log's path exists already, and a file is never overwritten",
            file=disclosure_log,
            hint="give a new path for the disclosure log, or move the old file away",
        )


def _apart(workers: int | None) -> bool:
    """Whether the workbook is written on a process of its own: where another core is free."""
    return (workers or available_cores()) > 1


def write_report(
    release: Path,
    out_dir: Path,
    *,
    policy: DisclosurePolicy,
    project_digest: str | None,
    disclosure_log: Path,
    quality: Path | None = None,
    progress: Progress = SILENT,
    open_engine: Callable[[], Engine] = Engine,
    workers: int | None = None,
) -> ReportBundle:
    """Analyse ``release`` under ``policy`` and write the report bundle into ``out_dir``.

    The disclosure log goes to ``disclosure_log``, which must lie outside ``out_dir``.
    ``open_engine`` makes the engine that reads the release (see :func:`analyse`).
    ``workers``: processes for the disclosure audit of a large release (default: one per core);
    with more than one, the workbook is written on a process of its own as the tables are made.
    """
    _check_destinations(out_dir, disclosure_log)
    if quality is not None:  # refuse a bad quality table before the long analysis
        read_quality(quality)
    with WorkbookWriter(out_dir / _WORKBOOK, title=REPORT_TITLE, process=_apart(workers)) as book:
        analysis = analyse(
            release,
            policy,
            progress=progress,
            open_engine=open_engine,
            workers=workers,
            on_table=book.add,
        )
        return _write_bundle(
            analysis,
            out_dir,
            book,
            disclosure_log=disclosure_log,
            project_digest=project_digest,
            quality=quality,
            progress=progress,
        )


def write_analysis(
    analysis: Analysis,
    out_dir: Path,
    *,
    project_digest: str | None,
    disclosure_log: Path,
    quality: Path | None = None,
    progress: Progress = SILENT,
    workers: int | None = None,
) -> ReportBundle:
    """Write the report bundle of an analysis already made (see :func:`write_report`).

    ``workers``: with more than one (default: one per core), the workbook is written on a
    process of its own while the rest of the bundle is made.
    """
    _check_destinations(out_dir, disclosure_log)
    with WorkbookWriter(out_dir / _WORKBOOK, title=REPORT_TITLE, process=_apart(workers)) as book:
        for table in analysis.tables:
            book.add(table)
        return _write_bundle(
            analysis,
            out_dir,
            book,
            disclosure_log=disclosure_log,
            project_digest=project_digest,
            quality=quality,
            progress=progress,
        )


def _write_bundle(
    analysis: Analysis,
    out_dir: Path,
    book: WorkbookWriter,
    *,
    disclosure_log: Path,
    project_digest: str | None,
    quality: Path | None,
    progress: Progress,
) -> ReportBundle:
    """Everything but the tables' sheets, which ``book`` has been given."""
    policy = analysis.policy
    release = analysis.release.path
    linkage: LinkageQuality | None = read_quality(quality) if quality is not None else None
    release_sha = _sha256(release)
    with progress.task("writing the report", total=4) as task:
        index = TableIndex(analysis)
        csv_files = write_csvs(out_dir / "tables", analysis)
        write_disclosure_log(disclosure_log, analysis)
        task.advance(1)
        configuration = _configuration(analysis, policy, project_digest, release_sha)
        notes = caveats(analysis, index, linkage)
        findings = headline_findings(analysis, index)  # made while the workbook is written
        main_charts = [
            reach_chart(analysis, index),
            heat_map(analysis, index),
            *simd_charts(analysis, index),
        ]
        charts_by_school = school_charts(analysis, index)
        summary = lede(analysis)
        book.finish(analysis, cover=[summary, *notes], configuration=configuration)
        task.advance(1)
        published = [out_dir / _WORKBOOK, *csv_files]
        checksums = {p.relative_to(out_dir).as_posix(): _sha256(p) for p in published}
        content = HtmlContent(
            title=REPORT_TITLE,
            lede=summary,
            findings=findings,
            main_charts=main_charts,
            school_charts=charts_by_school,
            model_headers=MODEL_HEADERS,
            model_rows=model_rows(analysis, policy.rounding_base),
            method=method(analysis),
            caveats=notes,
            configuration=configuration,
            checksums=sorted(checksums.items()),
            workbook_name=_WORKBOOK,
            symbols=[(s.value, meaning) for s, meaning in SYMBOL_NOTES.items()],
            version=_VERSION,
        )
        write_text_atomic(out_dir / _HTML, render_html(analysis, content), mode=0o644)
        checksums[_HTML] = _sha256(out_dir / _HTML)
        task.advance(1)
        outputs = _outputs(analysis)
        audit = _audit_record(analysis)
        manifest = {
            "format": _MANIFEST_FORMAT,
            "generator": f"linkwell {_VERSION}",
            "configuration": dict(configuration),
            "policy": policy.model_dump(mode="json"),
            "project_digest": project_digest,
            "release_sha256": release_sha,
            "disclosure_audit": {
                "cells_withheld": analysis.audit.withheld,
                "linear_programmes": audit["linear_programmes"],
            },
            "outputs": [o.model_dump(mode="json") for o in outputs],
            "checksums": checksums,
        }
        write_text_atomic(
            out_dir / _MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n", mode=0o644
        )
        task.advance(1)
    return ReportBundle(
        out_dir=out_dir,
        html=out_dir / _HTML,
        workbook=out_dir / _WORKBOOK,
        csv_files=tuple(csv_files),
        disclosure_log=disclosure_log,
        disclosure_audit=audit,
        manifest=out_dir / _MANIFEST,
        outputs=tuple(outputs),
        checksums=checksums,
        release_sha256=release_sha,
    )
