"""Authority flags: they nest the way services do, for any seed, and follow the policy year."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from linkwell.schema import load_dataset
from linkwell.schema.definitions import FieldType
from linkwell.synth import SynthParameters
from linkwell.synth.parameters import STAGES, AuthorityParameters
from linkwell.synth.population import generate_population
from linkwell.synth.services import PLACEMENT_FIELDS, SERVICE_FIELDS, FsmBasis, draw_services

PARAMS = SynthParameters()
AUTHORITY = load_dataset("authority", 1)


def _draw(children: int, seed: int, params: AuthorityParameters = PARAMS.authority):
    rng = np.random.default_rng(seed)
    population = generate_population(children, 1, PARAMS.structure, rng)
    return population.pupils, draw_services(population.pupils, params, rng)


def test_every_boolean_field_of_the_definition_is_drawn() -> None:
    _, services = _draw(500, 1)
    booleans = {f.name for f in AUTHORITY.fields if f.type is FieldType.BOOLEAN}
    assert set(services.flags) == booleans


@settings(max_examples=25)
@given(st.integers(0, 2**32 - 1), st.integers(60, 3000))
def test_flags_nest_like_services(seed: int, children: int) -> None:
    # Heavier rates than real ones, so that small areas still exercise every rule.
    heavy = AuthorityParameters(
        looked_after_rate=0.05, child_protection_rate=0.01, prospective_adopters_rate=0.005,
        through_care_rate_s4=0.02, csp_rate=0.02,
    )  # fmt: skip
    pupils, services = _draw(children, seed, heavy)
    flags = services.flags
    placements = sum(flags[f].astype(int) for f in PLACEMENT_FIELDS)
    assert placements.max(initial=0) <= 1
    looked_after = placements == 1
    assert np.array_equal(services.looked_after, looked_after)
    assert not np.any(
        flags["prospective_adopters"]
        & ~(flags["looked_after_foster"] | flags["looked_after_kinship"])
    )
    assert not np.any(flags["asn_looked_after"] & ~looked_after)
    assert not np.any(flags["individualised_education_plan"] & ~flags["any_asn"])
    assert not np.any(flags["coordinated_support_plan"] & ~flags["any_asn"])
    reasons = np.zeros(len(pupils), dtype=bool)
    for name in flags:
        if name.startswith("asn_"):
            reasons |= flags[name]
    assert np.array_equal(flags["any_asn"], reasons)
    any_service = np.zeros(len(pupils), dtype=bool)
    for name in SERVICE_FIELDS:
        any_service |= flags[name]
    assert np.array_equal(flags["not_in_receipt"], ~any_service)
    assert np.array_equal(flags["free_school_meals"], services.fsm_basis != FsmBasis.NONE)
    assert not np.any(flags["through_care_after_care"] & (pupils.stage != STAGES.index("S4")))


def test_universal_free_school_meals_in_p5_from_2022() -> None:
    pupils, services = _draw(5000, 4, AuthorityParameters(fsm_policy_year=2022))
    p5 = pupils.stage == STAGES.index("P5")
    assert np.all(services.flags["free_school_meals"][p5])
    assert np.all(services.fsm_basis[p5] == FsmBasis.UNIVERSAL)
    assert not np.any(services.fsm_basis[~p5] == FsmBasis.UNIVERSAL)
    assert services.flags["free_school_meals"][~p5].mean() < 0.3


def test_through_care_before_s4_follows_its_parameter() -> None:
    pupils, services = _draw(20_000, 5, AuthorityParameters(through_care_rate_before_s4=0.01))
    before = pupils.stage != STAGES.index("S4")
    assert services.flags["through_care_after_care"][before].mean() > 0.005


def test_gradients_point_the_right_way() -> None:
    pupils, services = _draw(100_000, 6)
    deprived, affluent = pupils.simd_decile <= 2, pupils.simd_decile >= 9
    for flag in ("any_asn", "free_school_meals", "child_protection"):
        assert services.flags[flag][deprived].mean() > 1.4 * services.flags[flag][affluent].mean()
    assert services.looked_after[deprived].mean() > 4 * services.looked_after[affluent].mean()
    # Looked-after children are far more likely to have an additional support need.
    asn = services.flags["any_asn"]
    assert asn[services.looked_after].mean() > 2 * asn[~services.looked_after].mean()
