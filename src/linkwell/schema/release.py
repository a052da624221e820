"""The vocabulary of the release: the one anonymous table the linker hands the analyst.

A release has one row per surveyed child. It carries the survey's content fields (items,
school, authority code, stage, sex, weight) for whichever survey the child took, the authority's
content fields where the child's authority row was linked, and the columns named here. It never
holds a survey ID, row reference or link ID: :data:`FORBIDDEN_COLUMNS` is checked by the linker
before sealing and by the analyst on opening. Area columns are named by their resolution, so a
table can only be made at a resolution the release policy allowed.
"""

from __future__ import annotations

from typing import Final, Literal

from linkwell.config import ProjectConfig, SourceKind
from linkwell.schema.areas import UrbanRuralFold
from linkwell.schema.definitions import load_dataset

__all__ = [
    "AUTHORITY_LINKED",
    "FORBIDDEN_COLUMNS",
    "LONGITUDINAL_ID",
    "RELEASE_ID",
    "SURVEY",
    "release_columns",
    "simd_column",
    "urban_rural_column",
]

RELEASE_ID: Final = "release_id"
"""Fresh random ID per row, unrelated to any link ID; differs in every release."""

LONGITUDINAL_ID: Final = "longitudinal_id"
"""Project-scoped ID following a child across waves; present only where the policy allows."""

SURVEY: Final = "survey"
"""Name of the survey source the child's answers came from (e.g. ``secondary``)."""

AUTHORITY_LINKED: Final = "authority_linked"
"""True when the child's authority row was found and shared; authority fields are NULL otherwise."""

FORBIDDEN_COLUMNS: Final = frozenset({"unique_id", "row_ref", "link_id", "person_id"})


def simd_column(resolution: Literal["decile", "quintile"]) -> str:
    """Release column holding SIMD at ``resolution``."""
    return f"simd_{resolution}"


def urban_rural_column(fold: UrbanRuralFold) -> str:
    """Release column holding the urban/rural class at ``fold``."""
    return f"urban_rural_{fold}"


# Authority fields that reach the release only recoded (areas) or not at all (school).
_AUTHORITY_RECODED = frozenset({"school", "simd_decile", "urban_rural"})


def release_columns(project: ProjectConfig) -> frozenset[str]:
    """Every column a release of ``project`` may carry, under its release policy."""
    policy = project.release
    allowed = {RELEASE_ID, SURVEY, AUTHORITY_LINKED}
    allowed |= {simd_column(policy.simd), urban_rural_column(policy.urban_rural)}
    if policy.longitudinal_id:
        allowed.add(LONGITUDINAL_ID)
    for source in project.sources:
        dataset = load_dataset(source.dataset, source.dataset_version)
        names = {f.name for f in dataset.content_fields}
        if source.kind is SourceKind.AUTHORITY:
            names -= _AUTHORITY_RECODED
        allowed |= names
    return frozenset(allowed)
