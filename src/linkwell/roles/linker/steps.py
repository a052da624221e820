"""The linker's step in a workspace: from content and the linkage key to a sealed release.

``release`` opens content, linkage-key and report packages (the linker may receive no other
kind — never identifiers), requires the newest content of every source and the newest key,
checks that each content package comes from the same split as the identifiers the key was built
from, joins, checks the release, reports disclosure risk and linkage quality, and seals the
release and both reports for the analyst.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from linkwell.audit import AuditAction, CountName
from linkwell.config import Role
from linkwell.errors import ValidationError
from linkwell.progress import SILENT, Progress
from linkwell.roles.linker.release import ContentFile, check_rows_counted, join_release
from linkwell.roles.linker.reports import disclosure_risk, linkage_quality
from linkwell.schema.release_check import check_release, release_columns
from linkwell.seal import PackageKind, payloads
from linkwell.workspace import Opened, Workspace

__all__ = [
    "ReleaseResult",
    "release",
]


class ReleaseResult(BaseModel):
    """What ``linker release`` did."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    received: dict[str, int]
    keyed: dict[str, int]
    released: int
    linked: int
    risk: dict[str, int]
    release_package: str
    report_packages: tuple[str, ...]


def _inputs(ws: Workspace, progress: Progress) -> tuple[list[Opened], Opened, list[Opened]]:
    opened = ws.open_inbox(
        {PackageKind.CONTENT, PackageKind.LINKAGE_KEY, PackageKind.REPORT}, progress
    )
    newest: dict[str, Opened] = {}
    keys, reports = [], []
    for item in sorted(opened, key=lambda o: o.manifest.created):
        if item.manifest.kind is PackageKind.CONTENT:
            newest[str(item.manifest.source)] = item
        elif item.manifest.kind is PackageKind.LINKAGE_KEY:
            keys.append(item)
        else:
            reports.append(item)
    missing = [s.name for s in ws.project.sources if s.name not in newest]
    if not keys or missing:
        raise ValidationError(
            "the linkage key or some content is missing; the release would be incomplete",
            field=", ".join(missing) or "linkage-key",
            hint="run `linkwell receive` once every provider and the indexer have sent",
        )
    key = keys[-1]
    for item in newest.values():
        if not set(item.manifest.parents) & set(key.manifest.parents):
            raise ValidationError(
                "a content package and the linkage key come from different splits",
                field=str(item.manifest.source),
                hint="the provider split again after the indexer issued the key: ask the "
                "indexer to issue a key from the newest identifiers, or the provider to resend",
            )
    match = [r for r in reports if set(r.manifest.parents) == set(key.manifest.parents)]
    return [newest[s.name] for s in ws.project.sources], key, match


def release(ws: Workspace, *, progress: Progress = SILENT) -> ReleaseResult:
    """Join content through the key into the release and seal it with its reports."""
    ws.require(Role.LINKER, step="linker release")
    name = "release"
    done = ws.completed(name, ReleaseResult)
    if done is None:
        contents, key, match_reports = _inputs(ws, progress)
        analyst = ws.project.the(Role.ANALYST).name
        policy = ws.project.release
        parents = (key.manifest.package_id, *(c.manifest.package_id for c in contents))
        with ws.engine() as engine, ws.step(name) as staging:
            joined = join_release(
                engine,
                key=key.path,
                contents=[
                    ContentFile(
                        str(c.manifest.source),
                        ws.project.source(str(c.manifest.source)).kind,
                        c.path,
                    )
                    for c in contents
                ],
                policy=policy,
                dest=staging / "release.parquet",
            )
            for report in match_reports:
                if report.manifest.dataset == payloads.MATCH_REPORT:
                    check_rows_counted(engine, joined.received, report.path)
            check_release(engine, staging / "release.parquet", allowed=release_columns(ws.project))
            risk = disclosure_risk(
                engine, staging / "release.parquet", policy, staging / "risk.parquet"
            )
            linkage_quality(
                engine,
                staging / "release.parquet",
                ws.project.disclosure.threshold,
                staging / "quality.parquet",
            )
            ws.audit.append(
                AuditAction.LINKED,
                counts={
                    CountName.ROWS_IN: sum(joined.received.values()),
                    CountName.MATCHED: joined.linked,
                    CountName.RELEASE_IDS: joined.released,
                },
            )
            outputs = [
                ("release.parquet", PackageKind.RELEASE, payloads.RELEASE),
                ("quality.parquet", PackageKind.REPORT, payloads.LINKAGE_QUALITY),
                ("risk.parquet", PackageKind.REPORT, payloads.DISCLOSURE_RISK),
            ]
            packages = []
            for payload, kind, dataset in outputs:
                report_parents = parents + tuple(m.manifest.package_id for m in match_reports)
                packages.append(
                    ws.seal(
                        staging / payload,
                        to=analyst,
                        kind=kind,
                        source=None,
                        dataset=dataset,
                        parents=report_parents if kind is PackageKind.REPORT else parents,
                        dest_dir=staging / "packages",
                        progress=progress,
                    ).stem
                )
            ws.audit.append(
                AuditAction.RELEASED,
                counts={CountName.ROWS: joined.released},
                config_digest=ws.project.digest(),
            )
            done = ReleaseResult(
                received=joined.received,
                keyed=joined.keyed,
                released=joined.released,
                linked=joined.linked,
                risk=risk,
                release_package=packages[0],
                report_packages=tuple(packages[1:]),
            )
            ws.record(staging, done)
    ws.publish(ws.step_dir(name))
    return done
