"""Which kinds of package may travel between which roles: the flow of DESIGN.md as a table.

Every package has a :class:`PackageKind`; :data:`ROUTES` lists, for each kind, the only
(sender role, receiver role) pairs allowed, and :func:`check_route` refuses everything else with a
:class:`~linkwell.errors.RoleError`. Sealing and opening both check the route, so a party can
neither send nor accept a package the separation principle does not foresee. The table in
``docs/package-format.md`` is :func:`routes_markdown`'s output and a test keeps the two equal.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Final

from linkwell.config import Party, ProjectConfig, Role
from linkwell.errors import RoleError

__all__ = [
    "PROVIDER_KINDS",
    "ROUTES",
    "PackageKind",
    "check_expected_kind",
    "check_route",
    "check_source",
    "routes_markdown",
]


class PackageKind(StrEnum):
    """What a package holds; each kind has its own routes (see :data:`ROUTES`)."""

    PARTICIPANTS = "participants"
    """IDs of the pupils who took part in the survey, for the authority to filter its extract."""
    IDENTIFIERS = "identifiers"
    """``(row_ref, unique_id)`` of one source, for the indexer."""
    CONTENT = "content"
    """``(row_ref, fields…)`` of one source, for the linker."""
    LINKAGE_KEY = "linkage-key"
    """``(source, row_ref, link_id)`` from the indexer to the linker."""
    RELEASE = "release"
    """The anonymous linked dataset from the linker to the analyst."""
    REPORT = "report"
    """A quality report of counts only (match quality, linkage quality)."""


_S = Role.SURVEY_PROVIDER
_A = Role.AUTHORITY_PROVIDER

ROUTES: Final[Mapping[PackageKind, frozenset[tuple[Role, Role]]]] = MappingProxyType(
    {
        PackageKind.PARTICIPANTS: frozenset({(_S, _A)}),
        PackageKind.IDENTIFIERS: frozenset({(_S, Role.INDEXER), (_A, Role.INDEXER)}),
        PackageKind.CONTENT: frozenset({(_S, Role.LINKER), (_A, Role.LINKER)}),
        PackageKind.LINKAGE_KEY: frozenset({(Role.INDEXER, Role.LINKER)}),
        PackageKind.RELEASE: frozenset({(Role.LINKER, Role.ANALYST)}),
        PackageKind.REPORT: frozenset({(Role.INDEXER, Role.LINKER), (Role.LINKER, Role.ANALYST)}),
    }
)
"""The allowed (sender role, receiver role) pairs per kind. Nothing else may travel."""

PROVIDER_KINDS: Final = frozenset(
    {PackageKind.PARTICIPANTS, PackageKind.IDENTIFIERS, PackageKind.CONTENT}
)
"""Kinds that carry one project source: their manifest names it, and its provider must send it."""


def check_route(
    kind: PackageKind, sender: Role, receiver: Role, *, file: str | Path | None = None
) -> None:
    """Refuse with :class:`RoleError` unless ``sender`` may send ``kind`` to ``receiver``."""
    allowed = ROUTES[kind]
    if (sender, receiver) in allowed:
        return
    if not any(s is sender for s, _ in allowed):
        message = f"the role {sender.value} may not send {kind.value} packages"
    else:
        message = f"{kind.value} packages may not go from {sender.value} to {receiver.value}"
    raise RoleError(
        message,
        file=file,
        field="kind",
        hint="see the routes table in docs/package-format.md; each kind has fixed routes",
    )


def check_expected_kind(
    kind: PackageKind,
    expected: Collection[PackageKind] | None,
    *,
    file: str | Path | None = None,
) -> None:
    """Refuse with :class:`RoleError` when the caller expects other kinds than ``kind``."""
    if expected is None or kind in expected:
        return
    wanted = ", ".join(sorted(k.value for k in expected)) or "no kind at all"
    raise RoleError(
        f"this step expects a package of kind {wanted}, not {kind.value}",
        file=file,
        field="kind",
        hint="check that the right package was given to this step",
    )


def check_source(
    project: ProjectConfig,
    kind: PackageKind,
    source: str | None,
    sender: Party,
    *,
    file: str | Path | None = None,
) -> None:
    """Refuse a provider kind without a source of the sender's own, or another kind with one.

    A provider may only send data of a source the project file says it provides; packages made
    by the indexer or the linker combine sources and so name none.
    """
    if kind not in PROVIDER_KINDS:
        if source is not None:
            raise RoleError(
                f"{kind.value} packages name no source",
                file=file,
                field="source",
                hint="leave the source out for this kind",
            )
        return
    provided = [s.name for s in project.sources if s.provider == sender.name]
    if source is None or source not in provided:
        raise RoleError(
            f"{kind.value} packages must name a source that party {sender.name!r} provides",
            file=file,
            field="source",
            hint="use one of: " + (", ".join(provided) or "(none: the party provides no source)"),
        )


def routes_markdown() -> str:
    """The routes as a markdown table, one row per allowed route, in a stable order."""
    lines = ["| kind | sender role | receiver role |", "|---|---|---|"]
    role_order = list(Role)
    for kind in PackageKind:
        pairs = sorted(ROUTES[kind], key=lambda p: (role_order.index(p[0]), role_order.index(p[1])))
        lines.extend(f"| {kind.value} | {s.value} | {r.value} |" for s, r in pairs)
    return "\n".join(lines) + "\n"
