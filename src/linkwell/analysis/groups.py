"""The breakdowns tables are made by, and how their groups add up.

A group is a set of children named by a key: a tuple of ``(dimension, value)`` pairs, ``()`` for
everyone, ``None`` as the value for "not known". A breakdown is an ordered list of levels shown
together in one table (sex x stage with its sex and stage margins; SIMD deciles with quintiles;
urban/rural 8-, 6-, 3- and 2-fold; schools within authorities). Each level but the top maps every
group to the group it sits inside, which gives the additivity relations an intruder can use
("quintile 1 = decile 1 + decile 2") and disclosure control must therefore respect.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from linkwell.schema.areas import URBAN_RURAL_FROM_8, URBAN_RURAL_LABELS, UrbanRuralFold

__all__ = [
    "ALL",
    "ALL_LEVEL",
    "FM_STAGE",
    "OTHER_SEX",
    "STAGE_ORDER",
    "Breakdown",
    "BreakdownPlan",
    "GroupKey",
    "GroupValue",
    "Level",
    "fold_mapping",
    "group_label",
    "plan_breakdowns",
    "sort_groups",
]

GroupValue = str | int | None
GroupKey = tuple[tuple[str, GroupValue], ...]

ALL: Final[GroupKey] = ()
"""The group of every child in the release."""

STAGE_ORDER: Final = ("P5", "P6", "P7", "S1", "S2", "S3", "S4")
_SEX_ORDER: Final = ("female", "male", "other", "other or not known")
_SEX_LABELS: Final = {
    "female": "Female",
    "male": "Male",
    "other": "Other",
    "other or not known": "Other or not known",
}
NOT_KNOWN: Final = "Not known"


class Breakdown(StrEnum):
    """The tables every measure is broken down by."""

    SEX_STAGE = "sex-stage"
    SIMD = "simd"
    URBAN_RURAL = "urban-rural"
    AUTHORITY = "authority"
    SCHOOL = "school"


@dataclass(frozen=True)
class Level:
    """One level of a breakdown: the dimensions its groups are keyed by.

    ``rank`` orders how fine a level is (0 finest); disclosure control prefers to suppress fine
    cells rather than margins, and never the whole-area row if it can avoid it.
    """

    name: str
    title: str
    dims: tuple[str, ...]
    rank: int


ALL_LEVEL: Final = Level("all", "All children", (), 3)


def _as_is(level: Level, key: GroupKey) -> GroupKey | None:  # noqa: ARG001 - hook signature
    return key


@dataclass(frozen=True)
class BreakdownPlan:
    """A breakdown's levels (finest first, ``ALL_LEVEL`` last) and how each maps to its parent.

    Level dimensions are analysis-table columns; ``canonical`` turns a counted group's key into
    the key of the set of children it is (so one set always has one key), or ``None`` for a row
    that only repeats a group counted at another level.
    """

    breakdown: Breakdown
    title: str
    levels: tuple[Level, ...]
    parents: tuple[tuple[Level, Level, Callable[[GroupKey], GroupKey]], ...]
    canonical: Callable[[Level, GroupKey], GroupKey | None] = _as_is

    @property
    def grouping_sets(self) -> tuple[tuple[str, ...], ...]:
        """The dimension sets of every level, for ``GROUP BY GROUPING SETS``."""
        return tuple(level.dims for level in self.levels)

    @property
    def dims(self) -> tuple[str, ...]:
        """Every dimension used by any level, in first-use order."""
        seen: dict[str, None] = {}
        for level in self.levels:
            for dim in level.dims:
                seen.setdefault(dim, None)
        return tuple(seen)

    def level_of(self, dims: Iterable[str]) -> Level:
        """The level keyed by exactly ``dims``."""
        wanted = tuple(sorted(dims))
        for level in self.levels:
            if tuple(sorted(level.dims)) == wanted:
                return level
        msg = f"no level with dimensions {wanted}"
        raise KeyError(msg)


def fold_mapping(finer: UrbanRuralFold, coarser: UrbanRuralFold) -> dict[int, int]:
    """Class of the ``coarser`` urban/rural fold containing each class of the ``finer`` one."""
    mapping: dict[int, int] = {}
    for eight, fine in URBAN_RURAL_FROM_8[finer].items():
        mapping[fine] = URBAN_RURAL_FROM_8[coarser][eight]
    return mapping


def _to_all(_key: GroupKey) -> GroupKey:
    return ALL


def _keep(*dims: str) -> Callable[[GroupKey], GroupKey]:
    def parent(key: GroupKey) -> GroupKey:
        return tuple((d, v) for d, v in key if d in dims)

    return parent


def _remap(source: str, target: str, mapping: dict[int, int]) -> Callable[[GroupKey], GroupKey]:
    def parent(key: GroupKey) -> GroupKey:
        value = dict(key)[source]
        return ((target, None if value is None else mapping[int(value)]),)

    return parent


OTHER_SEX: Final = "other or not known"
"""The sex group of children who reported another sex or none: counted only as a whole."""

FM_STAGE: Final = "fm_stage"
"""Analysis column: the stage of girls and boys, NULL for children of other or unknown sex.

Crossing stage with a small "other or not known" sex group would make seven tiny groups whose
every count needs suppressing; instead that group is published once, across all stages, and the
stage rows count girls and boys.
"""


def _sex_stage_canonical(level: Level, key: GroupKey) -> GroupKey | None:  # noqa: ARG001 - hook
    values = dict(key)
    if FM_STAGE not in values:
        return key
    if values[FM_STAGE] is None:
        return None if "sex" in values else (("sex", OTHER_SEX),)
    return tuple(("stage" if d == FM_STAGE else d, v) for d, v in key)


def _sex_stage() -> BreakdownPlan:
    cell = Level("sex-stage", "Sex and stage", ("sex", FM_STAGE), 0)
    sex = Level("sex", "Sex", ("sex",), 1)
    stage = Level("stage", "Stage (girls and boys)", (FM_STAGE,), 1)
    return BreakdownPlan(
        Breakdown.SEX_STAGE,
        "Sex and stage",
        (cell, sex, stage, ALL_LEVEL),
        (
            (cell, sex, _keep("sex")),
            (cell, stage, _keep("stage")),
            (sex, ALL_LEVEL, _to_all),
            (stage, ALL_LEVEL, _to_all),
        ),
        _sex_stage_canonical,
    )


def _simd(resolution: str) -> BreakdownPlan:
    quintile = Level("simd-quintile", "SIMD quintile", ("simd_quintile",), 1)
    if resolution == "quintile":
        quintile = Level("simd-quintile", "SIMD quintile", ("simd_quintile",), 0)
        levels: tuple[Level, ...] = (quintile, ALL_LEVEL)
        return BreakdownPlan(Breakdown.SIMD, "SIMD", levels, ((quintile, ALL_LEVEL, _to_all),))
    decile = Level("simd-decile", "SIMD decile", ("simd_decile",), 0)
    to_quintile = {d: (d + 1) // 2 for d in range(1, 11)}
    return BreakdownPlan(
        Breakdown.SIMD,
        "SIMD",
        (decile, quintile, ALL_LEVEL),
        (
            (decile, quintile, _remap("simd_decile", "simd_quintile", to_quintile)),
            (quintile, ALL_LEVEL, _to_all),
        ),
    )


def _urban_rural(finest: UrbanRuralFold) -> BreakdownPlan:
    folds: list[UrbanRuralFold] = [f for f in (8, 6, 3, 2) if f <= finest]
    levels = [
        Level(
            f"urban-rural-{fold}", f"Urban/rural {fold}-fold", (f"urban_rural_{fold}",), min(i, 2)
        )
        for i, fold in enumerate(folds)
    ]
    parents: list[tuple[Level, Level, Callable[[GroupKey], GroupKey]]] = []
    for (fine, fine_level), (coarse, coarse_level) in zip(
        zip(folds, levels, strict=True), zip(folds[1:], levels[1:], strict=True), strict=False
    ):
        mapping = fold_mapping(fine, coarse)
        parents.append(
            (fine_level, coarse_level, _remap(fine_level.dims[0], coarse_level.dims[0], mapping))
        )
    parents.append((levels[-1], ALL_LEVEL, _to_all))
    return BreakdownPlan(
        Breakdown.URBAN_RURAL, "Urban/rural class", (*levels, ALL_LEVEL), tuple(parents)
    )


def _authority() -> BreakdownPlan:
    authority = Level("authority", "Local authority", ("authority",), 1)
    return BreakdownPlan(
        Breakdown.AUTHORITY,
        "Local authority",
        (authority, ALL_LEVEL),
        ((authority, ALL_LEVEL, _to_all),),
    )


def _school() -> BreakdownPlan:
    school = Level("school", "School", ("authority", "school"), 0)
    authority = Level("authority", "Local authority", ("authority",), 1)
    return BreakdownPlan(
        Breakdown.SCHOOL,
        "School",
        (school, authority, ALL_LEVEL),
        ((school, authority, _keep("authority")), (authority, ALL_LEVEL, _to_all)),
    )


def plan_breakdowns(
    simd: str | None, urban_rural: UrbanRuralFold | None
) -> tuple[BreakdownPlan, ...]:
    """The breakdowns a release allows: SIMD and urban/rural only at the resolution it carries."""
    plans = [_sex_stage()]
    if simd is not None:
        plans.append(_simd(simd))
    if urban_rural is not None:
        plans.append(_urban_rural(urban_rural))
    plans += [_authority(), _school()]
    return tuple(plans)


def _simd_label(dim: str, value: int) -> str:
    word, top = ("Decile", 10) if dim == "simd_decile" else ("Quintile", 5)
    extreme = {1: " (most deprived)", top: " (least deprived)"}
    return f"{word} {value}{extreme.get(value, '')}"


def _value_label(dim: str, value: GroupValue) -> str:
    if value is None:
        return NOT_KNOWN
    if dim == "sex":
        return _SEX_LABELS.get(str(value), str(value))
    if dim in ("simd_decile", "simd_quintile"):
        return _simd_label(dim, int(value))
    if dim.startswith("urban_rural_"):
        fold = int(dim.rsplit("_", 1)[1])
        return URBAN_RURAL_LABELS[fold].get(int(value), str(value))
    return str(value)


def group_label(key: GroupKey) -> str:
    """A reader's label for a group: ``All children``, ``Female, S2``, ``Quintile 1 (most ...)``."""
    if not key:
        return ALL_LEVEL.title
    if len(key) == 2 and key[0][0] == "authority" and key[1][0] == "school":  # noqa: PLR2004
        return _value_label("school", key[1][1])
    return ", ".join(_value_label(dim, value) for dim, value in key)


def _sort_value(dim: str, value: GroupValue) -> tuple[int, int, str]:
    if value is None:
        return (1, 0, "")
    if dim == "stage" and value in STAGE_ORDER:
        return (0, STAGE_ORDER.index(str(value)), "")
    if dim == "sex" and value in _SEX_ORDER:
        return (0, _SEX_ORDER.index(str(value)), "")
    if isinstance(value, int):
        return (0, value, "")
    return (0, 0, str(value))


def sort_groups(keys: Iterable[GroupKey]) -> list[GroupKey]:
    """Groups in reading order: stages P5..S4, sexes, numeric classes, codes; not known last."""
    return sorted(keys, key=lambda key: tuple(_sort_value(d, v) for d, v in key))
