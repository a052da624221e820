"""The provider role: a survey contractor or a local authority preparing what it may share.

A provider validates its extract, then splits it: the identifiers file ``(row_ref, unique_id)``
goes to the indexer and the content file ``(row_ref, fields…)`` to the linker. Row references
are fresh random tokens per row and per split, and each file is written in its own random order,
so neither position nor reference links the two without the indexer. A survey provider also
lists, per authority, the IDs of pupils who took part; an authority shares rows only for those
pupils and reports how many it withheld, without ever sending them. A survey provider's split
reuses the validation its participants step made of the very same file (same SHA-256, same
project file) instead of validating it twice.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict

from linkwell.audit import AuditAction, CountName
from linkwell.config import Role, Source, SourceKind
from linkwell.engine import Engine, quote_ident
from linkwell.engine.tokens import random_tokens
from linkwell.errors import ConfigError, InputError, ValidationError
from linkwell.progress import SILENT, Progress
from linkwell.schema import load_dataset, validate_file
from linkwell.schema.definitions import DatasetDef
from linkwell.schema.readers import detect_format
from linkwell.schema.validate import ACCEPTED, QUARANTINED_IDS
from linkwell.seal import DatasetRef, PackageKind, payloads
from linkwell.transport.local import sha256_file
from linkwell.workspace import Opened, Workspace, one_per_source

__all__ = [
    "ParticipantsResult",
    "SplitCounts",
    "SplitResult",
    "ValidationCounts",
    "participants_for",
    "participants_on_no_list",
    "share_participants",
    "split",
    "split_extract",
]


@dataclass(frozen=True)
class SplitCounts:
    """What a split shared and withheld.

    Rows validated and accepted, rows shared, rows withheld as non-participants, and (for an
    authority) pupils who took part whose rows were quarantined: they will not be linked.
    """

    accepted: int
    shared: int
    withheld_not_participant: int
    quarantined_participants: int = 0


def participants_for(engine: Engine, accepted: Path, *, authority_code: str, dest: Path) -> int:
    """Write the distinct IDs of validated survey rows from one authority's schools to ``dest``.

    Authority codes are compared without regard to case (``s12000005`` is ``S12000005``).
    """
    return engine.copy_to_parquet(
        "SELECT DISTINCT unique_id FROM read_parquet($accepted) "
        "WHERE upper(authority) = upper($code) ORDER BY unique_id",
        dest,
        {"accepted": str(accepted), "code": authority_code},
        purpose="list participants",
    )


def participants_on_no_list(engine: Engine, accepted: Path, *, authority_codes: list[str]) -> int:
    """How many pupils of the validated survey rows no authority of the project is sent.

    Their school's authority code is none of the project's authority sources': an authority
    outside the linkage, or a code mistyped, which would otherwise leave them out unseen.
    """
    return int(
        engine.scalar(
            "SELECT count(DISTINCT unique_id) FROM read_parquet($accepted) "
            "WHERE NOT coalesce(list_contains($codes, upper(authority)), false)",
            {"accepted": str(accepted), "codes": [code.upper() for code in authority_codes]},
            purpose="count participants on no list",
        )
    )


def split_extract(
    engine: Engine,
    accepted: Path,
    dataset: DatasetDef,
    *,
    participants: Sequence[Path] | None,
    identifiers_dest: Path,
    content_dest: Path,
    authority_codes: Sequence[str] = (),
) -> SplitCounts:
    """Split validated rows into the identifiers and content files.

    ``participants`` (for an authority) are the opened participants payloads from every survey
    provider; rows of pupils in none of them are withheld. ``None`` means no filter (a survey).
    ``authority_codes`` are the project's: a survey row's ``authority`` matching one in another
    case is written as the project writes it, since the participants lists match codes in any
    case and the analysis must not count ``s12000005`` apart from ``S12000005``.
    """
    params: dict[str, object] = {"accepted": str(accepted)}
    source = "read_parquet($accepted)"
    if participants is not None:
        if not participants:
            raise ValidationError(
                "no participants lists: an authority may share rows only for pupils who took part",
                hint="receive and open the participants package of every survey provider first",
            )
        params["participants"] = [str(p) for p in participants]
        source = (
            f"(SELECT * FROM {source} WHERE unique_id IN "
            "(SELECT unique_id FROM read_parquet($participants)))"
        )
    engine.execute(
        "CREATE OR REPLACE TEMP TABLE to_share AS "
        f"SELECT *, row_number() OVER () AS n FROM {source}",
        params,
        purpose="select rows to share",
    )
    accepted_rows = int(
        engine.scalar(
            "SELECT count(*) FROM read_parquet(?)", [str(accepted)], purpose="count accepted"
        )
    )
    shared = int(engine.scalar("SELECT count(*) FROM to_share", purpose="count rows to share"))
    numbers = pa.array(np.arange(1, shared + 1, dtype=np.int64))
    engine.register(
        "row_refs",
        pa.table(
            {"n": numbers, "row_ref": random_tokens(shared), "shuffle": random_tokens(shared)}
        ),
    )
    content = ", ".join(
        _as_listed(f.name) if f.name == "authority" and authority_codes else quote_ident(f.name)
        for f in dataset.content_fields
    )
    listed = {"codes": [code.upper() for code in authority_codes], "listed": list(authority_codes)}
    try:
        engine.copy_to_parquet(
            "SELECT r.row_ref, s.unique_id FROM to_share s JOIN row_refs r USING (n) "
            "ORDER BY r.row_ref",
            identifiers_dest,
            purpose="write the identifiers file",
        )
        engine.copy_to_parquet(
            f"SELECT r.row_ref, {content} FROM to_share s JOIN row_refs r USING (n) "
            "ORDER BY r.shuffle",
            content_dest,
            listed if authority_codes else None,
            purpose="write the content file",
        )
    finally:
        engine.unregister("row_refs")
    lost = 0
    quarantined = accepted.with_name(QUARANTINED_IDS)
    if participants is not None and quarantined.is_file():
        lost = int(
            engine.scalar(
                "SELECT count(*) FROM read_parquet($quarantined) WHERE unique_id IN "
                "(SELECT unique_id FROM read_parquet($participants))",
                {"quarantined": str(quarantined), "participants": params["participants"]},
                purpose="count quarantined participants",
            )
        )
    return SplitCounts(accepted_rows, shared, accepted_rows - shared, lost)


def _as_listed(field: str) -> str:
    """SQL for ``field`` written as the project lists its code, when it matches one in any case."""
    column = quote_ident(field)
    return (
        f"coalesce(list_extract($listed, list_position($codes, upper({column}))), {column}) "
        f"AS {column}"
    )


class ValidationCounts(BaseModel):
    """The validation summary a provider step records (counts only)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rows_read: int
    rows_accepted: int
    rows_quarantined: int
    problems: int
    quarantine_file: Path
    """Relative to the step's folder."""
    personal_columns: tuple[str, ...] = ()
    """Columns of the file that look personal (names, birth dates...), dropped unread."""


class ParticipantsResult(BaseModel):
    """What ``provider participants`` did: per authority source, participants and package."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str
    validation: ValidationCounts
    participants: dict[str, int]
    packages: dict[str, str]
    not_listed: int = 0
    """Pupils accepted whose school's authority is none of the project's: on no list."""
    input_sha256: str | None = None
    """SHA-256 of the file validated; with ``config_digest``, what lets ``split`` reuse it."""
    config_digest: str | None = None
    """Digest of the project file (mappings and dataset versions) the file was validated under."""


class SplitResult(BaseModel):
    """What ``provider split`` did: rows validated, shared and withheld, and the two packages."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str
    validation: ValidationCounts
    shared: int
    withheld_not_participant: int
    quarantined_participants: int = 0
    """Pupils on a participants list whose rows were quarantined: they will show as not linked."""
    identifiers_package: str
    content_package: str
    input_sha256: str | None = None
    """SHA-256 of the file split: a run with another file is refused, not answered from this."""


def _own_source(ws: Workspace, source: str, kind: SourceKind | None = None) -> Source:
    """The project source ``source``, which this party must provide (and of ``kind``)."""
    found = ws.project.source(source)
    if found.provider != ws.party.name or (kind is not None and found.kind is not kind):
        raise ConfigError(
            f"party {ws.party.name!r} does not provide the {kind.value if kind else ''} source "
            f"{source!r}".replace("  ", " "),
            field="sources",
            hint="use one of: "
            + (", ".join(s.name for s in ws.project.sources if s.provider == ws.party.name) or "-"),
        )
    return found


def _validate(
    ws: Workspace,
    engine: Engine,
    source: Source,
    *,
    input_file: Path,
    staging: Path,
    progress: Progress,
) -> tuple[Path, ValidationCounts]:
    """Validate ``input_file`` into ``staging/validation`` and record the counts."""
    dataset = load_dataset(source.dataset, source.dataset_version)
    out_dir = staging / "validation"
    result = validate_file(
        input_file, dataset, source.mapping, out_dir=out_dir, engine=engine, progress=progress
    )
    if result.rows_accepted == 0:
        raise ValidationError(
            "no row of the file passed validation; nothing can be shared",
            file=input_file,
            hint=f"see the problems listed in {result.quarantine_csv} (cleared when the step "
            "runs again; 'linkwell validate FILE --out DIR' keeps the same list where you choose)",
        )
    ws.audit.append(
        AuditAction.VALIDATED,
        counts={
            CountName.ROWS_IN: result.rows_read,
            CountName.ROWS_VALID: result.rows_accepted,
            CountName.ROWS_QUARANTINED: result.rows_quarantined,
        },
        config_digest=ws.project.digest(),
    )
    counts = ValidationCounts(
        rows_read=result.rows_read,
        rows_accepted=result.rows_accepted,
        rows_quarantined=result.rows_quarantined,
        problems=result.problems,
        quarantine_file=Path("validation") / result.quarantine_csv.name,
        personal_columns=result.personal_columns,
    )
    return result.accepted, counts


def share_participants(
    ws: Workspace, *, source: str, input_file: Path, progress: Progress = SILENT
) -> ParticipantsResult:
    """Survey provider: seal, for each authority, the IDs of the pupils who took part.

    The participants list is the distinct IDs of the survey rows that passed validation whose
    ``authority`` code is the authority source's; each list goes only to that authority.
    """
    ws.require(Role.SURVEY_PROVIDER, step="provider participants")
    survey = _own_source(ws, source, SourceKind.SURVEY)
    name = f"participants-{source}"
    input_sha256 = _input_digest(input_file)
    split_done = ws.completed(f"split-{source}", SplitResult)
    if split_done is not None:  # the list must name the pupils whose rows were split
        _check_same_input(ws, f"split-{source}", split_done.input_sha256, input_sha256, input_file)
    done = ws.completed(name, ParticipantsResult)
    if done is not None:
        _check_same_input(ws, name, done.input_sha256, input_sha256, input_file)
    else:
        authorities = [s for s in ws.project.sources if s.kind is SourceKind.AUTHORITY]
        with ws.engine() as engine, ws.step(name) as staging:
            accepted, counts = _validate(
                ws, engine, survey, input_file=input_file, staging=staging, progress=progress
            )
            participants, packages = {}, {}
            for authority in authorities:
                listing = staging / f"participants-{authority.name}.parquet"
                participants[authority.name] = participants_for(
                    engine, accepted, authority_code=str(authority.authority_code), dest=listing
                )
                package = ws.seal(
                    listing,
                    to=authority.provider,
                    kind=PackageKind.PARTICIPANTS,
                    source=source,
                    dataset=payloads.PARTICIPANTS,
                    parents=(),
                    dest_dir=staging / "packages",
                    progress=progress,
                )
                packages[authority.name] = package.stem
            not_listed = participants_on_no_list(
                engine, accepted, authority_codes=[str(a.authority_code) for a in authorities]
            )
            done = ParticipantsResult(
                source=source,
                validation=counts,
                participants=participants,
                packages=packages,
                not_listed=not_listed,
                input_sha256=input_sha256,
                config_digest=ws.project.digest(),
            )
            ws.record(staging, done)
    ws.publish(ws.step_dir(name))
    return done


def split(
    ws: Workspace, *, source: str, input_file: Path, progress: Progress = SILENT
) -> SplitResult:
    """Validate, then seal identifiers for the indexer and content for the linker.

    An authority provider shares only the rows of pupils in a participants list it has received
    from every survey provider in the project, and records how many it withheld.
    """
    ws.require(Role.SURVEY_PROVIDER, Role.AUTHORITY_PROVIDER, step="provider split")
    own = _own_source(ws, source)
    name = f"split-{source}"
    input_sha256 = _input_digest(input_file)
    listing = f"participants-{source}"
    listed = ws.completed(listing, ParticipantsResult)
    if listed is not None:  # the authorities share the rows of the pupils on that list
        _check_same_input(ws, listing, listed.input_sha256, input_sha256, input_file)
    done = ws.completed(name, SplitResult)
    if done is not None:
        _check_same_input(ws, name, done.input_sha256, input_sha256, input_file)
    else:
        participants = None
        parents: tuple[str, ...] = ()
        if own.kind is SourceKind.AUTHORITY:
            lists = _participants_lists(ws, progress)
            participants = [opened.path for opened in lists]
            parents = tuple(opened.manifest.package_id for opened in lists)
        dataset = load_dataset(own.dataset, own.dataset_version)
        earlier = _earlier_validation(ws, listed, input_sha256)
        with ws.engine() as engine, ws.step(name) as staging:
            if earlier is None:
                accepted, counts = _validate(
                    ws, engine, own, input_file=input_file, staging=staging, progress=progress
                )
            else:
                accepted, counts = _reuse_validation(earlier, staging)
            shared = split_extract(
                engine,
                accepted,
                dataset,
                participants=participants,
                identifiers_dest=staging / "identifiers.parquet",
                content_dest=staging / "content.parquet",
                authority_codes=[
                    str(s.authority_code)
                    for s in ws.project.sources
                    if s.kind is SourceKind.AUTHORITY and own.kind is SourceKind.SURVEY
                ],
            )
            ws.audit.append(
                AuditAction.SPLIT,
                counts={
                    CountName.ROWS_IN: shared.accepted,
                    CountName.ROWS_OUT: shared.shared,
                    CountName.ROWS_WITHHELD: shared.withheld_not_participant,
                },
            )
            reference = DatasetRef(id=dataset.id, version=dataset.version)
            # The content package names its sibling identifiers package among its parents, so
            # the linker can tell content and key of different splits apart.
            identifiers = ws.seal(
                staging / "identifiers.parquet",
                to=ws.project.the(Role.INDEXER).name,
                kind=PackageKind.IDENTIFIERS,
                source=source,
                dataset=reference,
                parents=parents,
                dest_dir=staging / "packages",
                progress=progress,
            )
            content = ws.seal(
                staging / "content.parquet",
                to=ws.project.the(Role.LINKER).name,
                kind=PackageKind.CONTENT,
                source=source,
                dataset=reference,
                parents=(*parents, identifiers.stem),
                dest_dir=staging / "packages",
                progress=progress,
            )
            done = SplitResult(
                source=source,
                validation=counts,
                shared=shared.shared,
                withheld_not_participant=shared.withheld_not_participant,
                quarantined_participants=shared.quarantined_participants,
                identifiers_package=identifiers.stem,
                content_package=content.stem,
                input_sha256=input_sha256,
            )
            ws.record(staging, done)
    ws.publish(ws.step_dir(name))
    return done


def _earlier_validation(
    ws: Workspace, listed: ParticipantsResult | None, input_sha256: str
) -> tuple[Path, ValidationCounts] | None:
    """The participants step's validation of this very file, if it may stand for the split's.

    It may when that step validated a file with the same SHA-256 under the same project file
    (hence the same dataset version and mapping): validation is a function of those alone.
    """
    if listed is None or listed.input_sha256 != input_sha256:
        return None
    if listed.config_digest != ws.project.digest():
        return None
    return ws.step_dir(f"participants-{listed.source}"), listed.validation


def _input_digest(input_file: Path) -> str:
    """The provider's file's SHA-256, once it is known to be a file that can be read at all.

    ``detect_format`` refuses a folder, a missing or unreadable file and a pipe, which the
    digest would otherwise wait on for ever.
    """
    detect_format(input_file)
    return sha256_file(input_file)[0]


def _check_same_input(
    ws: Workspace, step: str, recorded: str | None, input_sha256: str, input_file: Path
) -> None:
    """Refuse a file other than the one step ``step`` of this wave was done with.

    A done step is answered from its record, so another file would be silently ignored; and a
    split of another file than the participants list's would leave out, or share, pupils the
    list does not match. A record without a digest (an older linkwell's) cannot be compared.
    """
    if recorded is None or recorded == input_sha256:
        return
    raise InputError(
        f"step {step!r} of wave {ws.project.project.wave} was done with another file, and its "
        "packages were made from that file",
        file=input_file,
        hint="give the file that step was done with (its SHA-256 is in "
        f"{ws.step_dir(step) / 'step.json'}); to share a corrected file, agree a new wave "
        "with the other parties",
    )


def _reuse_validation(
    earlier: tuple[Path, ValidationCounts], staging: Path
) -> tuple[Path, ValidationCounts]:
    """Give the split step its own copy (hard links) of the earlier validation's outputs."""
    step_dir, counts = earlier
    source, target = step_dir / "validation", staging / "validation"
    target.mkdir()
    for path in sorted(source.iterdir()):
        if path.is_file() and not path.name.startswith("."):
            try:
                os.link(path, target / path.name)
            except OSError:
                shutil.copy2(path, target / path.name)
    return target / ACCEPTED, counts


def _participants_lists(ws: Workspace, progress: Progress) -> list[Opened]:
    """The opened participants list of each survey source, all of them required, one each."""
    newest = one_per_source(ws.open_inbox({PackageKind.PARTICIPANTS}, progress))
    missing = [
        s.name for s in ws.project.sources if s.kind is SourceKind.SURVEY and s.name not in newest
    ]
    if missing:
        raise ValidationError(
            "participants lists are missing; an authority may share rows only for pupils who took "
            "part in every survey of the project",
            field=", ".join(missing),
            hint="run `linkwell receive` once the survey providers have sent their lists",
        )
    return list(newest.values())
