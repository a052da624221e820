"""Schools and pupils: realistic school sizes, catchments that cluster, codes stable for a seed."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from linkwell.synth import SynthParameters
from linkwell.synth.population import (
    COUNCIL_CODES,
    MIN_PUPILS_PER_AUTHORITY,
    Population,
    apportion,
    generate_population,
)

STRUCTURE = SynthParameters().structure


@pytest.fixture(scope="module")
def area() -> Population:
    return generate_population(60_000, 1, STRUCTURE, np.random.default_rng(21))


def test_school_sizes_follow_the_sheet(area: Population) -> None:
    schools = area.schools
    primary, secondary = ~schools.secondary, schools.secondary
    # ~400 primaries and ~50 secondaries: the rural share is known to ~2.5 and ~6 points.
    assert abs(schools.rural[primary].mean() - STRUCTURE.primary_rural_share) < 0.08
    assert abs(schools.rural[secondary].mean() - STRUCTURE.secondary_rural_share) < 0.15
    rural_primary = schools.roll[primary & schools.rural]
    assert 15 <= np.median(rural_primary) <= 50  # "many rural schools of 10-50"
    assert np.mean((rural_primary >= 10) & (rural_primary <= 50)) > 0.5
    assert 150 <= np.median(schools.roll[primary & ~schools.rural]) <= 300  # typical 150-300
    urban_secondary = schools.roll[secondary & ~schools.rural]
    assert np.mean((urban_secondary >= 400) & (urban_secondary <= 1500)) > 0.85
    # Long tail: the largest primary is many times the median.
    assert schools.roll[primary].max() > 4 * np.median(schools.roll[primary])


def test_pupils_are_placed_in_schools_of_their_sector(area: Population) -> None:
    pupils, schools = area.pupils, area.schools
    assert np.array_equal(np.bincount(pupils.school, minlength=len(schools)), schools.pupils)
    assert np.all(schools.pupils > 0)
    assert np.array_equal(schools.secondary[pupils.school], pupils.secondary)
    # In-scope pupils are a fixed share of the roll (3 of 7 primary stages; S1-S4).
    share = schools.pupils / schools.roll
    assert abs(np.median(share[~schools.secondary]) - 3 / 7) < 0.05
    assert abs(np.median(share[schools.secondary]) - 0.72) < 0.05


def test_stage_sex_and_deciles(area: Population) -> None:
    pupils = area.pupils
    stages = np.bincount(pupils.stage, minlength=7) / len(pupils)
    assert np.all(np.abs(stages - 1 / 7) < 0.01)  # 4.5 SE at 60,000
    assert abs(pupils.female.mean() - 0.49) < 0.01
    deciles = np.bincount(pupils.simd_decile, minlength=11)[1:] / len(pupils)
    assert np.allclose(deciles, STRUCTURE.simd_decile_shares, atol=0.001)  # calibrated


def test_deprivation_clusters_by_school(area: Population) -> None:
    pupils = area.pupils
    decile = pupils.simd_decile.astype(float)
    means = np.bincount(pupils.school, weights=decile) / np.bincount(pupils.school)
    between = np.var(means[pupils.school]) / np.var(decile)
    assert between > 0.35  # 55% of latent variance lies between schools


def test_urban_rural_follows_the_school(area: Population) -> None:
    pupils, schools = area.pupils, area.schools
    same = pupils.urban_rural == schools.urban_rural[pupils.school]
    assert same.mean() > 0.7
    rural_school = schools.rural[pupils.school]
    assert np.mean(pupils.urban_rural[rural_school] >= 6) > 0.7
    assert set(np.unique(pupils.urban_rural)) <= set(range(1, 9))
    # SIMD finds rural areas less deprived: rural pupils' mean decile is higher.
    rural = pupils.urban_rural >= 6
    assert pupils.simd_decile[rural].mean() > pupils.simd_decile[~rural].mean() + 0.3


def test_school_codes_look_real_and_are_stable_for_a_seed(area: Population) -> None:
    codes = area.schools.code.tolist()
    assert len(set(codes)) == len(codes)
    assert all(len(c) == 7 and c.isdigit() and c[0] != "0" for c in codes)
    again = generate_population(60_000, 1, STRUCTURE, np.random.default_rng(21))
    assert again.schools.code.tolist() == codes
    other = generate_population(60_000, 1, STRUCTURE, np.random.default_rng(22))
    assert other.schools.code.tolist() != codes


def test_several_authorities() -> None:
    area = generate_population(20_000, 5, STRUCTURE, np.random.default_rng(3))
    assert len(set(area.authority_codes)) == 5
    assert set(area.authority_codes) <= set(COUNCIL_CODES)
    sizes = np.bincount(area.pupils.authority, minlength=5)
    assert sizes.sum() == 20_000
    assert sizes.min() >= MIN_PUPILS_PER_AUTHORITY
    # A school belongs to one authority, and its pupils to that authority.
    school_authority = area.schools.authority[area.pupils.school]
    assert np.array_equal(school_authority, area.pupils.authority)
    # Authorities differ in deprivation, while the area keeps the national shares.
    mean_decile = np.bincount(area.pupils.authority, weights=area.pupils.simd_decile) / sizes
    assert mean_decile.max() - mean_decile.min() > 0.3


def test_the_smallest_area_has_a_school_of_each_kind() -> None:
    area = generate_population(MIN_PUPILS_PER_AUTHORITY, 1, STRUCTURE, np.random.default_rng(0))
    assert len(area.pupils) == MIN_PUPILS_PER_AUTHORITY
    assert set(area.schools.secondary.tolist()) == {True, False}


@given(st.integers(0, 10_000), st.lists(st.floats(0.01, 100), min_size=1, max_size=30))
def test_apportion_is_exact_and_fair(total: int, weights: list[float]) -> None:
    array = np.asarray(weights)
    counts = apportion(total, array)
    assert counts.sum() == total
    exact = array / array.sum() * total
    assert np.all(np.abs(counts - exact) < 1)
