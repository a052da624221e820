"""The authority's service flags per pupil, at the published rates and with their correlations.

Each flag is drawn with a relative-risk model over the pupil's SIMD decile, sex and stage, its
base rate set so that the expected rate over the area equals the parameter. Flags nest the way
services do: one placement per looked-after child, a quarter of registered children also looked
after, CSP within ASN (mostly within IEP), IEP within ASN, every ASN pupil with at least one
reason, prospective adopters among looked-after children, through care in S4.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Final

import numpy as np
import numpy.typing as npt

from linkwell.synth.parameters import STAGES, AuthorityParameters
from linkwell.synth.population import Pupils

__all__ = ["PLACEMENT_FIELDS", "SERVICE_FIELDS", "FsmBasis", "Services", "draw_services"]

BoolArray = npt.NDArray[np.bool_]

PLACEMENT_FIELDS: Final = (
    "looked_after_home",
    "looked_after_kinship",
    "looked_after_foster",
    "looked_after_residential",
)
"""The four placements, in the order of :class:`~linkwell.synth.parameters.Placements`."""

SERVICE_FIELDS: Final = (
    *PLACEMENT_FIELDS,
    "child_protection",
    "coordinated_support_plan",
    "individualised_education_plan",
    "through_care_after_care",
    "prospective_adopters",
    "any_asn",
)
"""The flags whose absence makes a pupil 'not in receipt of children's services'."""

_CAP: Final = 0.95
_LEARNING_REASONS: Final = ("asn_autism", "asn_learning_disability", "asn_moderate_learning")


class FsmBasis(IntEnum):
    """Why a pupil has free school meals (0 = none)."""

    NONE = 0
    UNIVERSAL = 1
    MEANS_TESTED = 2


@dataclass(frozen=True)
class Services:
    """Every boolean authority field by name, and the free-school-meal basis."""

    flags: dict[str, BoolArray]
    fsm_basis: npt.NDArray[np.int8]

    @property
    def looked_after(self) -> BoolArray:
        """Looked after in any placement."""
        return _any_of([self.flags[f] for f in PLACEMENT_FIELDS])

    @property
    def any_service(self) -> BoolArray:
        """Receiving any children's service: the complement of ``not_in_receipt``."""
        return ~self.flags["not_in_receipt"]


def _any_of(flags: list[BoolArray]) -> BoolArray:
    """Element-wise OR of equal-length flags."""
    out = np.zeros(len(flags[0]), dtype=np.bool_)
    for flag in flags:
        out |= flag
    return out


def _decile_gradient(ratio: float, decile: npt.NDArray[np.int8]) -> npt.NDArray[np.float64]:
    """Multiplier ``ratio`` in decile 1 falling geometrically to 1 in decile 10."""
    return np.power(ratio, (10 - decile.astype(np.float64)) / 9)


def _draw(rng: np.random.Generator, weights: npt.NDArray[np.float64], expected: float) -> BoolArray:
    """Bernoulli draws with probabilities proportional to ``weights``, ``expected`` in total."""
    total = float(weights.sum())
    if total <= 0 or expected <= 0:
        return np.zeros(len(weights), dtype=np.bool_)
    chance = np.minimum(weights * (expected / total), _CAP)
    return rng.random(len(weights)) < chance


def _within(
    rng: np.random.Generator, eligible: BoolArray, expected: float, weights: npt.NDArray[np.float64]
) -> BoolArray:
    """Draw about ``expected`` pupils among ``eligible`` ones, in proportion to ``weights``."""
    return _draw(rng, np.where(eligible, weights, 0.0), expected)


def _placements(
    rng: np.random.Generator, looked_after: BoolArray, secondary: BoolArray, p: AuthorityParameters
) -> dict[str, BoolArray]:
    """One placement per looked-after pupil; residential placements mostly in S1-S4."""
    shares = np.array(
        [p.placements.home, p.placements.kinship, p.placements.foster, p.placements.residential]
    )
    total = max(int(looked_after.sum()), 1)
    by_sector = np.empty((2, 4))
    for row, in_sector, part in (
        (0, ~secondary, 1 - p.residential_secondary_share),
        (1, secondary, p.residential_secondary_share),
    ):
        count = int((looked_after & in_sector).sum())
        residential = min(1.0, shares[3] * part * total / count) if count else shares[3]
        others = shares[:3] * (1 - residential) / max(1 - shares[3], 1e-12)
        by_sector[row] = [*others, residential]
    cumulative = np.cumsum(by_sector, axis=1)[secondary.astype(np.int64)]
    chosen = (rng.random(len(secondary))[:, None] > cumulative[:, :3]).sum(axis=1)
    return {name: looked_after & (chosen == index) for index, name in enumerate(PLACEMENT_FIELDS)}


def _asn_reasons(
    rng: np.random.Generator,
    asn: BoolArray,
    female: BoolArray,
    looked_after: BoolArray,
    p: AuthorityParameters,
) -> dict[str, BoolArray]:
    """Reasons for ASN pupils: a main reason each, extra reasons to reach every reason's rate.

    Per sex, a pupil's main reason is drawn in proportion to the reasons' rates for that sex,
    then each other reason is added with the chance that brings its marginal rate to target.
    'looked_after' is drawn only among looked-after ASN pupils.
    """
    n = len(asn)
    names = [name for name, _ in p.asn_reasons.items() if name != "looked_after"]
    reasons = {f"asn_{name}": np.zeros(n, dtype=np.bool_) for name, _ in p.asn_reasons.items()}
    female_share = float(female.mean()) if n else 0.5
    for is_female in (False, True):
        of_sex = female == is_female
        members = np.flatnonzero(asn & of_sex)
        if len(members) == 0:
            continue
        asn_rate = len(members) / float(of_sex.sum())
        rates = []
        for name in names:
            reason = getattr(p.asn_reasons, name)
            share = (1 if is_female else reason.boys_per_girl) / (1 + reason.boys_per_girl)
            rates.append(reason.rate * share / (female_share if is_female else 1 - female_share))
        rate = np.asarray(rates)
        main_chance = rate / rate.sum()
        main = np.searchsorted(np.cumsum(main_chance), rng.random(len(members)))
        main = np.minimum(main, len(names) - 1)
        shortfall = np.maximum(rate * (1 - asn_rate / rate.sum()), 0.0)
        extra = np.minimum(shortfall / (asn_rate * np.maximum(1 - main_chance, 1e-12)), 1.0)
        draws = rng.random((len(members), len(names))) < extra
        draws[np.arange(len(members)), main] = True
        for index, name in enumerate(names):
            reasons[f"asn_{name}"][members] = draws[:, index]
    looked_after_asn = looked_after & asn
    wanted = p.asn_reasons.looked_after.rate * n
    reasons["asn_looked_after"] = _within(
        rng, looked_after_asn, wanted, np.ones(n, dtype=np.float64)
    )
    return reasons


def draw_services(
    pupils: Pupils, params: AuthorityParameters, rng: np.random.Generator
) -> Services:
    """Draw every authority flag for ``pupils``."""
    p = params
    n = len(pupils)
    decile = pupils.simd_decile
    secondary = pupils.secondary
    female = pupils.female
    ones = np.ones(n, dtype=np.float64)

    looked_after = _draw(
        rng, _decile_gradient(p.looked_after_simd_ratio, decile), p.looked_after_rate * n
    )
    flags = _placements(rng, looked_after, secondary, p)

    registered = p.child_protection_rate * n
    also_looked_after = _within(
        rng, looked_after, registered * p.child_protection_looked_after_share, ones
    )
    not_looked_after = _within(
        rng,
        ~looked_after,
        registered * (1 - p.child_protection_looked_after_share),
        _decile_gradient(p.child_protection_simd_ratio, decile),
    )
    flags["child_protection"] = also_looked_after | not_looked_after

    adoptable = flags["looked_after_foster"] | flags["looked_after_kinship"]
    flags["prospective_adopters"] = _within(rng, adoptable, p.prospective_adopters_rate * n, ones)

    s4 = pupils.stage == STAGES.index("S4")
    care_weight = _decile_gradient(p.looked_after_simd_ratio, decile) * np.where(
        looked_after, p.through_care_looked_after_ratio, 1.0
    )
    flags["through_care_after_care"] = _within(
        rng, s4, p.through_care_rate_s4 * float(s4.sum()), care_weight
    ) | _within(rng, ~s4, p.through_care_rate_before_s4 * float((~s4).sum()), care_weight)

    male_count = max(int((~female).sum()), 1)
    female_count = max(int(female.sum()), 1)
    sex_weight = np.where(
        female, (1 - p.asn_male_share) / female_count, p.asn_male_share / male_count
    )
    asn_weight = (
        sex_weight
        * np.where(secondary, p.asn_secondary_ratio, 1.0)
        * np.power(p.asn_q1_vs_q5_ratio ** (1 / 8), 10 - decile.astype(np.float64))
    )
    others_expected = p.asn_rate * n - p.asn_given_looked_after * float(looked_after.sum())
    asn = _within(rng, ~looked_after, max(others_expected, 0.0), asn_weight) | (
        looked_after & (rng.random(n) < p.asn_given_looked_after)
    )
    flags.update(_asn_reasons(rng, asn, female, looked_after, p))
    flags["any_asn"] = asn

    learning = _any_of([flags[f] for f in _LEARNING_REASONS])
    iep_weight = np.where(learning, p.iep_learning_reason_ratio, 1.0)
    iep = _within(rng, asn, p.iep_rate * n, iep_weight)
    csp_total = p.csp_rate * n
    csp = _within(rng, iep, csp_total * p.csp_with_iep_share, iep_weight) | _within(
        rng, asn & ~iep, csp_total * (1 - p.csp_with_iep_share), iep_weight
    )
    flags["individualised_education_plan"] = iep
    flags["coordinated_support_plan"] = csp

    universal_stages = [STAGES.index(s) for s in p.universal_fsm_stages()]
    universal = np.isin(pupils.stage, universal_stages)
    means_tested = ~universal & (
        rng.random(n) < np.asarray(p.fsm_means_tested_by_decile)[decile - 1]
    )
    flags["free_school_meals"] = universal | means_tested
    basis = np.where(
        universal, FsmBasis.UNIVERSAL, np.where(means_tested, FsmBasis.MEANS_TESTED, FsmBasis.NONE)
    ).astype(np.int8)

    flags["not_in_receipt"] = ~_any_of([flags[f] for f in SERVICE_FIELDS])
    return Services(flags=flags, fsm_basis=basis)
