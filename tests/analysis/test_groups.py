"""Breakdowns: levels by release resolution, additivity maps, labels and reading order."""

from __future__ import annotations

import pytest

from linkwell.analysis.groups import (
    ALL,
    OTHER_SEX,
    Breakdown,
    fold_mapping,
    group_label,
    plan_breakdowns,
    sort_groups,
)
from linkwell.schema.areas import URBAN_RURAL_FROM_8


@pytest.mark.parametrize(("fine", "coarse"), [(8, 6), (8, 2), (6, 3), (6, 2), (3, 2)])
def test_fold_mappings_agree_with_the_eightfold_collapses(fine: int, coarse: int) -> None:
    mapping = fold_mapping(fine, coarse)  # type: ignore[arg-type]
    for eight in range(1, 9):
        assert mapping[URBAN_RURAL_FROM_8[fine][eight]] == URBAN_RURAL_FROM_8[coarse][eight]


def test_plans_follow_the_release_resolution() -> None:
    full = {p.breakdown: p for p in plan_breakdowns("decile", 8)}
    assert [lv.name for lv in full[Breakdown.SIMD].levels] == [
        "simd-decile",
        "simd-quintile",
        "all",
    ]
    assert [lv.dims for lv in full[Breakdown.URBAN_RURAL].levels][:4] == [
        ("urban_rural_8",),
        ("urban_rural_6",),
        ("urban_rural_3",),
        ("urban_rural_2",),
    ]
    coarse = {p.breakdown: p for p in plan_breakdowns("quintile", 3)}
    assert [lv.name for lv in coarse[Breakdown.SIMD].levels] == ["simd-quintile", "all"]
    assert [lv.name for lv in coarse[Breakdown.URBAN_RURAL].levels] == [
        "urban-rural-3",
        "urban-rural-2",
        "all",
    ]
    none = {p.breakdown for p in plan_breakdowns(None, None)}
    assert Breakdown.SIMD not in none
    assert Breakdown.URBAN_RURAL not in none


def test_decile_maps_into_its_quintile_and_school_into_its_authority() -> None:
    plans = {p.breakdown: p for p in plan_breakdowns("decile", 8)}
    to_quintile = plans[Breakdown.SIMD].parents[0][2]
    assert to_quintile((("simd_decile", 3),)) == (("simd_quintile", 2),)
    assert to_quintile((("simd_decile", None),)) == (("simd_quintile", None),)
    school_to_authority = plans[Breakdown.SCHOOL].parents[0][2]
    assert school_to_authority((("authority", "A"), ("school", "X"))) == (("authority", "A"),)


def test_sex_stage_keys_are_canonical() -> None:
    plan = next(p for p in plan_breakdowns(None, None) if p.breakdown is Breakdown.SEX_STAGE)
    cell, sex, stage, _ = plan.levels
    assert plan.canonical(cell, (("sex", "male"), ("fm_stage", "S3"))) == (
        ("sex", "male"),
        ("stage", "S3"),
    )
    # The other-or-not-known group is counted once, across stages; its stage-level row is it.
    assert plan.canonical(cell, (("sex", OTHER_SEX), ("fm_stage", None))) is None
    assert plan.canonical(stage, (("fm_stage", None),)) == (("sex", OTHER_SEX),)
    assert plan.canonical(sex, (("sex", "female"),)) == (("sex", "female"),)


def test_labels_and_order() -> None:
    assert group_label(ALL) == "All children"
    assert group_label((("simd_decile", 1),)) == "Decile 1 (most deprived)"
    assert group_label((("simd_quintile", 5),)) == "Quintile 5 (least deprived)"
    assert group_label((("urban_rural_3", 3),)) == "Remote rural"
    assert group_label((("sex", "female"), ("stage", "S2"))) == "Female, S2"
    assert group_label((("authority", "A"), ("school", "X1"))) == "X1"
    assert group_label((("simd_decile", None),)) == "Not known"
    keys = [(("stage", s),) for s in ("S1", "P5", "S4", "P7")]
    assert sort_groups(keys) == [(("stage", s),) for s in ("P5", "P7", "S1", "S4")]
    deciles = [(("simd_decile", v),) for v in (None, 10, 2, 1)]
    assert sort_groups(deciles) == [(("simd_decile", v),) for v in (1, 2, 10, None)]
