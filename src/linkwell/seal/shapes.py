"""What each kind of package may carry, judged from its signed manifest before decryption.

A route says who may send a kind to whom; this says what the kind may hold. An indexer must never
decrypt survey answers, nor a linker a survey ID, even for a moment on the way to a refusal, so
the columns the manifest lists (which the opened payload must then match exactly) are checked
before the payload is decrypted, and before it is sealed: identifiers are ``(row_ref,
unique_id)``, content is the row reference and the source's content fields, never its ID; the
indexer's, linker's and report formats are the columns :mod:`linkwell.seal.payloads` names; a
release holds only columns the project's release policy allows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from linkwell.config import ProjectConfig
from linkwell.errors import SchemaError
from linkwell.schema.definitions import load_dataset
from linkwell.schema.release import RELEASE_ID, release_columns
from linkwell.seal import payloads
from linkwell.seal.manifest import DatasetRef
from linkwell.seal.routes import PackageKind

__all__ = ["payload_shape_problem"]

_FORMATS: Final[dict[str, tuple[tuple[str, ...], ...]]] = {
    payloads.PARTICIPANTS.id: (("unique_id",),),
    payloads.LINKAGE_KEY.id: (
        ("source", "row_ref", "link_id"),
        ("source", "row_ref", "link_id", "longitudinal_id"),
    ),
    payloads.MATCH_REPORT.id: (("source", "kind", "measure", "count"),),
    payloads.LINKAGE_QUALITY.id: (("dimension", "category", "surveyed", "linked", "small"),),
    payloads.DISCLOSURE_RISK.id: (("measure", "subject", "value"),),
}
"""The fixed columns of each format that is not a source's own dataset or the release."""

_FORMAT_OF_KIND: Final = {
    PackageKind.PARTICIPANTS: {payloads.PARTICIPANTS.id},
    PackageKind.LINKAGE_KEY: {payloads.LINKAGE_KEY.id},
    PackageKind.REPORT: {
        payloads.MATCH_REPORT.id,
        payloads.LINKAGE_QUALITY.id,
        payloads.DISCLOSURE_RISK.id,
    },
}


def payload_shape_problem(
    kind: PackageKind, dataset: DatasetRef, columns: Sequence[str], project: ProjectConfig
) -> str | None:
    """Why a payload of ``columns`` may not travel as a ``kind`` package, or ``None``.

    The answer names columns (the manifest's, never a value) so that the refusal can say which.
    """
    if kind in (PackageKind.IDENTIFIERS, PackageKind.CONTENT):
        return _source_problem(kind, dataset, columns)
    if kind is PackageKind.RELEASE:
        return _release_problem(dataset, columns, project)
    if dataset.id not in _FORMAT_OF_KIND[kind]:
        return f"a {kind.value} package does not carry the {dataset.id} format"
    return _fixed_problem(dataset.id, columns, _FORMATS[dataset.id])


def _fixed_problem(
    what: str, columns: Sequence[str], shapes: tuple[tuple[str, ...], ...]
) -> str | None:
    """``columns`` must be one of ``shapes`` exactly; else the columns too many or missing."""
    if tuple(columns) in shapes:
        return None
    allowed = {name for shape in shapes for name in shape}
    extra = sorted(set(columns) - allowed)
    if extra:
        return f"columns {what} may not carry: {', '.join(extra)}"
    return f"{what} is {' or '.join('(' + ', '.join(shape) + ')' for shape in shapes)}"


def _release_problem(
    dataset: DatasetRef, columns: Sequence[str], project: ProjectConfig
) -> str | None:
    """A release holds its release IDs and only columns the project's release policy allows."""
    if dataset != payloads.RELEASE:
        return f"a release carries the {payloads.RELEASE.id} format, not {dataset.id}"
    extra = sorted(set(columns) - release_columns(project))
    if extra:
        return f"columns a release may not carry: {', '.join(extra)}"
    return None if RELEASE_ID in columns else f"a release needs its {RELEASE_ID} column"


def _source_problem(kind: PackageKind, dataset: DatasetRef, columns: Sequence[str]) -> str | None:
    """Identifiers are (row_ref, unique_id); content is row_ref and the dataset's content only."""
    if kind is PackageKind.IDENTIFIERS:
        return _fixed_problem("identifiers", columns, (("row_ref", "unique_id"),))
    try:
        definition = load_dataset(dataset.id, dataset.version)
    except SchemaError:
        return f"content of an unknown dataset ({dataset.id} version {dataset.version})"
    allowed = {"row_ref"} | {f.name for f in definition.content_fields}
    extra = sorted(set(columns) - allowed)
    if extra:
        return f"columns content of {definition.key} may not carry: {', '.join(extra)}"
    return None if "row_ref" in columns else "content needs its row_ref column"
