"""The analyst role: opens the release and its reports, then analyses and reports.

The analyst may receive only releases and reports from the linker. On opening, the release is
checked again — every column must be one a release of this project may carry, and no value may
look like a survey ID — so a fault upstream cannot put identifying data in the analyst's hands
unnoticed; a release refused there is deleted at once. The release is also checked against the
digest its sender signed each time it is read, so the analysis never runs on bytes changed on
this disk. The analysis itself (need against services, with disclosure control) runs on the
opened release.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from linkwell.audit import AuditAction, CountName
from linkwell.config import Role
from linkwell.errors import ConfigError, SeparationError, StorageError, ValidationError
from linkwell.progress import SILENT, Progress
from linkwell.report import ReportBundle, write_report
from linkwell.schema.release_check import check_release, release_columns
from linkwell.seal import PackageKind, payloads
from linkwell.transport.local import sha256_file
from linkwell.workspace import Opened, Workspace

__all__ = ["IntakeResult", "open_release", "report"]


class IntakeResult(BaseModel):
    """What ``analyst open`` did: where the release and its reports are now."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    release: Path
    rows: int
    reports: dict[str, Path]


def open_release(ws: Workspace, *, progress: Progress = SILENT) -> IntakeResult:
    """Open the newest release and its reports, and check the release once more."""
    ws.require(Role.ANALYST, step="analyst open")
    opened = ws.open_inbox({PackageKind.RELEASE, PackageKind.REPORT}, progress)
    releases = sorted(
        (o for o in opened if o.manifest.kind is PackageKind.RELEASE),
        key=lambda o: o.manifest.created,
    )
    if not releases:
        raise ValidationError(
            "no release has been received",
            hint="run `linkwell receive` once the linker has sent the release",
        )
    newest = releases[-1]
    reports: dict[str, Opened] = {}
    for item in opened:
        if item.manifest.kind is PackageKind.REPORT and set(item.manifest.parents) >= set(
            newest.manifest.parents
        ):
            reports[item.manifest.dataset.id] = item
    _check_intact(newest)
    try:
        with ws.engine() as engine:
            check_release(engine, newest.path, allowed=release_columns(ws.project))
    except SeparationError as exc:
        refused = SeparationError(
            f"the release was refused and deleted: {exc.message}",
            file=newest.path,
            field=exc.field,
            hint="tell the linker; it must find the fault, and send a corrected release",
        )
        ws.discard(newest, refused)  # an analyst must never keep identifiers, even refused ones
        raise refused from exc
    ws.audit.append(
        AuditAction.OPENED,
        counts={CountName.ROWS: newest.manifest.rows, CountName.TABLES: 1 + len(reports)},
        config_digest=ws.project.digest(),
    )
    return IntakeResult(
        release=newest.path,
        rows=newest.manifest.rows,
        reports={name: item.path for name, item in reports.items()},
    )


def _check_intact(opened: Opened) -> None:
    """Refuse a release changed since it was opened: the analysis reads the signed bytes only."""
    if sha256_file(opened.path)[0] != opened.manifest.plaintext_sha256:
        raise StorageError(
            "the opened release differs from the one its sender signed: it changed on this disk",
            file=opened.path,
            hint="ask the linker to send the release again, and find out what changed the file",
        )


def report(ws: Workspace, *, out: Path | None = None, progress: Progress = SILENT) -> ReportBundle:
    """Analyse the newest opened release under the project's disclosure control; write the report.

    The report, which may be published, goes to ``out`` (a new or empty folder) or into the
    workspace's own step folder; the disclosure log, which may not, always stays in the
    workspace. Every output carries the effective configuration and checksums.
    """
    ws.require(Role.ANALYST, step="analyst report")
    intake = open_release(ws, progress=progress)
    name = "report"
    done = ws.completed(name, ReportBundle)
    if done is not None:
        if not done.html.is_file():
            raise StorageError(
                f"the report of wave {ws.project.project.wave} was written to {done.out_dir}, "
                "which no longer holds it",
                file=done.out_dir,
                hint="find where it was moved, or write it again from the opened release: "
                f"'linkwell report {intake.release} --out FOLDER'",
            )
        if out is None:
            return done
        raise ConfigError(
            f"the report of wave {ws.project.project.wave} is written already (its page: "
            f"{done.html})",
            file=out,
            hint="publish that report; to analyse the release again elsewhere, run "
            f"'linkwell report {intake.release} --out FOLDER'",
        )
    quality = intake.reports.get(payloads.LINKAGE_QUALITY.id)
    final = ws.step_dir(name)
    with ws.step(name) as staging:
        written = write_report(
            intake.release,
            out or staging / "report",
            policy=ws.project.disclosure,
            project_digest=ws.project.digest(),
            disclosure_log=staging / "disclosure-log.csv",
            quality=quality,
            progress=progress,
            open_engine=ws.engine,
            workers=ws.settings.workers,
        )
        bundle = _committed(written, staging, final)
        suppressed = sum(record.suppressed_cells for record in bundle.outputs)
        ws.audit.append(
            AuditAction.REPORT_WRITTEN,
            counts={CountName.TABLES: len(bundle.outputs), CountName.CELLS_SUPPRESSED: suppressed},
            config_digest=ws.project.digest(),
        )
        ws.record(staging, bundle)
    return bundle


def _committed(bundle: ReportBundle, staging: Path, final: Path) -> ReportBundle:
    """``bundle`` with the paths written into the step's staging folder where the step commits."""

    def moved(path: Path) -> Path:
        return final / path.relative_to(staging) if path.is_relative_to(staging) else path

    return bundle.model_copy(
        update={
            "out_dir": moved(bundle.out_dir),
            "html": moved(bundle.html),
            "workbook": moved(bundle.workbook),
            "csv_files": tuple(moved(path) for path in bundle.csv_files),
            "disclosure_log": moved(bundle.disclosure_log),
            "manifest": moved(bundle.manifest),
        }
    )
