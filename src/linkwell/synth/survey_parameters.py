"""Survey targets and effects: what the scored scales must reproduce, and what moves them.

Targets are the published prevalences and means by sex, stage and deprivation; the generator
calibrates its latent traits to them (:mod:`linkwell.synth.calibration`). Effects are shifts of
latent traits in standard-deviation units for deprivation and adversity; their defaults were
tuned so the scored data show the published gradients (Q1 ~24% abnormal SDQ total, ~2x odds for
looked-after, registered and SEBD pupils). Evidence tags are those of the parameter sheet.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Annotated, Final, Self

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from linkwell.synth.evidence import Evidence

__all__ = [
    "TRAITS",
    "PrimaryStages",
    "SecondaryDistributions",
    "SecondaryRates",
    "SecondaryStages",
    "SexPair",
    "SurveyParameters",
    "Trait",
    "TraitEffects",
]


class Trait(StrEnum):
    """The latent traits behind the survey answers, in the order of the correlation matrix."""

    EMOTIONAL = "emotional"
    CONDUCT = "conduct"
    HYPERACTIVITY = "hyperactivity"
    PEER = "peer"
    PROSOCIAL = "prosocial"
    WELLBEING = "wellbeing"
    FAMILY = "family"
    SCHOOL = "school"
    SUBSTANCE = "substance"
    BULLIED = "bullied"
    CARER = "carer"


TRAITS: Final = tuple(Trait)

Rate = Annotated[float, Field(ge=0.0, le=1.0)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SexPair(_Model):
    """A value for boys and for girls."""

    male: float
    female: float


class SecondaryStages(_Model):
    """A value per sex for each of S1-S4."""

    s1: SexPair
    s2: SexPair
    s3: SexPair
    s4: SexPair

    def values(self) -> tuple[SexPair, ...]:
        """S1..S4 in order."""
        return (self.s1, self.s2, self.s3, self.s4)


class PrimaryStages(_Model):
    """A value per sex for each of P5-P7."""

    p5: SexPair
    p6: SexPair
    p7: SexPair

    def values(self) -> tuple[SexPair, ...]:
        """P5..P7 in order."""
        return (self.p5, self.p6, self.p7)


class SecondaryDistributions(_Model):
    """A distribution over an item's categories (lowest first) for each of S1-S4."""

    s1: tuple[float, ...]
    s2: tuple[float, ...]
    s3: tuple[float, ...]
    s4: tuple[float, ...]

    def values(self) -> tuple[tuple[float, ...], ...]:
        """S1..S4 in order."""
        return (self.s1, self.s2, self.s3, self.s4)


class SecondaryRates(_Model):
    """A rate for each of S1-S4."""

    s1: Rate
    s2: Rate
    s3: Rate
    s4: Rate

    def values(self) -> tuple[float, ...]:
        """S1..S4 in order."""
        return (self.s1, self.s2, self.s3, self.s4)


class TraitEffects(_Model):
    """A shift of each latent trait, in standard-deviation units (+ = more of the trait)."""

    emotional: float = 0.0
    conduct: float = 0.0
    hyperactivity: float = 0.0
    peer: float = 0.0
    prosocial: float = 0.0
    wellbeing: float = 0.0
    family: float = 0.0
    school: float = 0.0
    substance: float = 0.0
    bullied: float = 0.0
    carer: float = 0.0

    def vector(self) -> tuple[float, ...]:
        """The shifts in :data:`TRAITS` order."""
        return tuple(float(getattr(self, t.value)) for t in TRAITS)


def _pairs(*values: tuple[float, float]) -> tuple[SexPair, ...]:
    return tuple(SexPair(male=m, female=f) for m, f in values)


_S1, _S2, _S3, _S4 = _pairs((0.08, 0.16), (0.09, 0.22), (0.10, 0.28), (0.10, 0.34))
_T1, _T2, _T3, _T4 = _pairs((0.13, 0.15), (0.15, 0.19), (0.16, 0.23), (0.17, 0.29))
_W1, _W2, _W3, _W4 = _pairs((50.5, 48.5), (50.0, 47.0), (49.0, 45.0), (48.0, 43.5))
_M5, _M6, _M7 = _pairs((0.21, 0.21), (0.22, 0.22), (0.23, 0.23))

_CORRELATIONS: Final = (
    # emo   con   hyp  peer   pro  well   fam   sch   sub   bul   car
    (1.00, 0.35, 0.40, 0.45, 0.00, -0.60, -0.25, -0.25, 0.15, 0.35, 0.10),
    (0.35, 1.00, 0.55, 0.30, -0.45, -0.25, -0.35, -0.40, 0.50, 0.20, 0.05),
    (0.40, 0.55, 1.00, 0.30, -0.30, -0.30, -0.20, -0.35, 0.30, 0.15, 0.05),
    (0.45, 0.30, 0.30, 1.00, -0.25, -0.40, -0.20, -0.25, 0.05, 0.50, 0.05),
    (0.00, -0.45, -0.30, -0.25, 1.00, 0.30, 0.30, 0.35, -0.25, -0.05, 0.10),
    (-0.60, -0.25, -0.30, -0.40, 0.30, 1.00, 0.45, 0.40, -0.15, -0.30, -0.05),
    (-0.25, -0.35, -0.20, -0.20, 0.30, 0.45, 1.00, 0.40, -0.30, -0.15, -0.05),
    (-0.25, -0.40, -0.35, -0.25, 0.35, 0.40, 0.40, 1.00, -0.35, -0.20, 0.00),
    (0.15, 0.50, 0.30, 0.05, -0.25, -0.15, -0.30, -0.35, 1.00, 0.10, 0.10),
    (0.35, 0.20, 0.15, 0.50, -0.05, -0.30, -0.15, -0.20, 0.10, 1.00, 0.05),
    (0.10, 0.05, 0.05, 0.05, 0.10, -0.05, -0.05, 0.00, 0.10, 0.05, 1.00),
)


class SurveyParameters(_Model):
    """Participation, published survey targets, and the latent model that reproduces them."""

    participation_primary: Annotated[Rate, Evidence.APPROXIMATE] = Field(
        0.78, description="Share of P5-P7 pupils who take part (70-85%)."
    )
    participation_secondary: Annotated[Rate, Evidence.APPROXIMATE] = Field(
        0.68, description="Share of S1-S4 pupils who take part (60-75%)."
    )
    participation_service_odds: Annotated[float, Evidence.APPROXIMATE] = Field(
        0.7,
        gt=0,
        description="Odds ratio of taking part for pupils receiving any service (absence, "
        "parental permission).",
    )
    participation_deprivation_odds: Annotated[float, Evidence.APPROXIMATE] = Field(
        0.75, gt=0, description="Odds ratio of taking part, SIMD decile 1 against decile 10."
    )
    reported_sex_other: Annotated[Rate, Evidence.APPROXIMATE] = Field(
        0.005, description="Share of respondents answering 'other' to the sex question."
    )
    reported_sex_unanswered: Annotated[Rate, Evidence.APPROXIMATE] = Field(
        0.005, description="Share of respondents leaving the sex question blank."
    )
    sdq_emotional_very_high: Annotated[SecondaryStages, Evidence.PUBLISHED] = Field(
        SecondaryStages(s1=_S1, s2=_S2, s3=_S3, s4=_S4),
        description="Emotional subscale 'very high' (7-10): 17% of S1-S4, ~34% of S4 girls vs "
        "~10% of S4 boys [S: RCS 2015-17]; S1-S3 interpolated [E].",
    )
    sdq_total_abnormal: Annotated[SecondaryStages, Evidence.PUBLISHED] = Field(
        SecondaryStages(s1=_T1, s2=_T2, s3=_T3, s4=_T4),
        description="SDQ total difficulties abnormal (20-40): 20% of S2 and S4 [S: SALSUS "
        "2018], girls at 15 most affected; the split by sex and stage is [A].",
    )
    sdq_total_borderline_s2_s4: Annotated[Rate, Evidence.PUBLISHED] = Field(
        0.18,
        description="SDQ total borderline (16-19) in S2 and S4 [S: SALSUS 2018]. Not calibrated "
        "directly: it follows from the item model, and the tests hold it to this figure.",
    )
    wemwbs_mean: Annotated[SecondaryStages, Evidence.APPROXIMATE] = Field(
        SecondaryStages(s1=_W1, s2=_W2, s3=_W3, s4=_W4),
        description="WEMWBS mean by group (S2 boys 50, girls 47; S4 boys 48, girls 43-44); "
        "SALSUS 2018 overall 46.9 [S]; S1 and S3 interpolated.",
    )
    primary_low_mood: Annotated[PrimaryStages, Evidence.PUBLISHED] = Field(
        PrimaryStages(p5=_M5, p6=_M6, p7=_M7),
        description="'Lower than average mood' in P5-P7: 22% [S: RCS]; split by stage [A].",
    )
    low_mood_max_score: Annotated[int, Evidence.APPROXIMATE] = Field(
        16,
        ge=5,
        le=25,
        description="Highest mood score (5-25) counted as 'lower than average mood'.",
    )
    life_satisfaction: Annotated[tuple[float, ...], Evidence.APPROXIMATE] = Field(
        (0.01, 0.005, 0.01, 0.015, 0.025, 0.055, 0.07, 0.13, 0.22, 0.20, 0.26),
        description="Distribution of life satisfaction 0-10 in P5-P7 (~12% at 0-5).",
    )
    bullied_primary: Annotated[tuple[float, ...], Evidence.APPROXIMATE] = Field(
        (0.55, 0.22, 0.13, 0.10),
        description="Bullied in the last year, P5-P7: not at all / once or twice / a few times "
        "/ weekly.",
    )
    bullied_secondary: Annotated[tuple[float, ...], Evidence.APPROXIMATE] = Field(
        (0.62, 0.20, 0.11, 0.07), description="Bullied in the last year, S1-S4 (as above)."
    )
    young_carer_primary: Annotated[Rate, Evidence.APPROXIMATE] = Field(
        0.10, description="Share of P5-P7 respondents who say they care for a family member."
    )
    young_carer_secondary: Annotated[Rate, Evidence.APPROXIMATE] = Field(
        0.10, description="Share of S1-S4 respondents who say they care for a family member."
    )
    smoking: Annotated[SecondaryDistributions, Evidence.PUBLISHED] = Field(
        SecondaryDistributions(
            s1=(0.93, 0.04, 0.01, 0.01, 0.01),
            s2=(0.86, 0.08, 0.02, 0.02, 0.02),
            s3=(0.78, 0.12, 0.03, 0.025, 0.045),
            s4=(0.68, 0.16, 0.05, 0.04, 0.07),
        ),
        description="Smoking never / tried once / used to / occasionally / regularly; regular "
        "smokers 2% at 13 (S2) and 7% at 15 (S4) [S: SALSUS 2018]; S1 about half of S2, S3 "
        "between; other categories [A].",
    )
    alcohol_last_week: Annotated[SecondaryRates, Evidence.PUBLISHED] = Field(
        SecondaryRates(s1=0.03, s2=0.06, s3=0.13, s4=0.20),
        description="Drank alcohol in the last week: 6% at 13, 20% at 15 [S: SALSUS 2018].",
    )
    drugs_last_month: Annotated[SecondaryRates, Evidence.PUBLISHED] = Field(
        SecondaryRates(s1=0.02, s2=0.04, s3=0.08, s4=0.12),
        description="Used drugs in the last month: 4% at 13, 12% at 15 [S: SALSUS 2018].",
    )
    offered_drugs: Annotated[SecondaryRates, Evidence.PUBLISHED] = Field(
        SecondaryRates(s1=0.11, s2=0.22, s3=0.345, s4=0.47),
        description="Ever offered drugs: 22% at 13, 47% at 15 [S: SALSUS 2018].",
    )
    deprivation_effect: Annotated[TraitEffects, Evidence.APPROXIMATE] = Field(
        TraitEffects(
            emotional=0.12,
            conduct=0.18,
            hyperactivity=0.15,
            peer=0.12,
            prosocial=-0.05,
            wellbeing=-0.12,
            family=-0.10,
            school=-0.10,
            substance=0.15,
            bullied=0.10,
            carer=0.25,
        ),
        description="Trait shift from SIMD decile 10 to decile 1 is twice this (-1 to +1 "
        "scale); gives ~24% abnormal SDQ total in quintile 1 and WEMWBS 1-2 points lower.",
    )
    adversity_effect: Annotated[TraitEffects, Evidence.APPROXIMATE] = Field(
        TraitEffects(
            emotional=0.25,
            conduct=0.30,
            hyperactivity=0.25,
            peer=0.25,
            prosocial=-0.15,
            wellbeing=-0.30,
            family=-0.45,
            school=-0.30,
            substance=0.40,
            bullied=0.30,
            carer=0.20,
        ),
        description="Trait shift for looked-after or registered pupils (~2x odds of an "
        "abnormal SDQ total).",
    )
    sebd_effect: Annotated[TraitEffects, Evidence.APPROXIMATE] = Field(
        TraitEffects(
            emotional=0.15,
            conduct=0.50,
            hyperactivity=0.45,
            peer=0.20,
            prosocial=-0.25,
            wellbeing=-0.20,
            school=-0.35,
            substance=0.20,
            bullied=0.20,
        ),
        description="Trait shift for pupils with a social, emotional and behavioural "
        "difficulty (~2x odds of an abnormal SDQ total).",
    )
    autism_effect: Annotated[TraitEffects, Evidence.APPROXIMATE] = Field(
        TraitEffects(emotional=0.3, peer=0.7, prosocial=-0.3, bullied=0.4, wellbeing=-0.2),
        description="Trait shift for autistic pupils (peer problems, bullying).",
    )
    young_carer_asn_effect: Annotated[float, Evidence.APPROXIMATE] = Field(
        3.0,
        ge=0,
        description="Shift of the caring trait for pupils the census records as young carers: "
        "nearly all of them say so in the survey.",
    )
    trait_correlations: Annotated[tuple[tuple[float, ...], ...], Evidence.APPROXIMATE] = Field(
        _CORRELATIONS,
        description="Correlations of the latent traits (emotional, conduct, hyperactivity, "
        "peer, prosocial, wellbeing, family, school, substance, bullied, carer).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        for name, length in (
            ("life_satisfaction", 11),
            ("bullied_primary", 4),
            ("bullied_secondary", 4),
        ):
            self._check_distribution(getattr(self, name), length, name)
        for values in self.smoking.values():
            self._check_distribution(values, 5, "smoking")
        for group in (self.sdq_emotional_very_high, self.sdq_total_abnormal, self.primary_low_mood):
            for pair in group.values():
                if not (0 < pair.male < 1 and 0 < pair.female < 1):
                    msg = "prevalence targets must lie strictly between 0 and 1"
                    raise ValueError(msg)
        for pair in self.wemwbs_mean.values():
            if not (14 < pair.male < 70 and 14 < pair.female < 70):  # noqa: PLR2004 - WEMWBS range
                msg = "WEMWBS means must lie strictly inside 14-70"
                raise ValueError(msg)
        matrix = np.asarray(self.trait_correlations, dtype=float)
        size = len(TRAITS)
        if matrix.shape != (size, size):
            msg = f"trait_correlations must be {size} x {size}"
            raise ValueError(msg)
        if not np.allclose(matrix, matrix.T) or not np.allclose(np.diag(matrix), 1.0):
            msg = "trait_correlations must be symmetric with a unit diagonal"
            raise ValueError(msg)
        if np.linalg.eigvalsh(matrix).min() <= 0:
            msg = "trait_correlations must be positive definite"
            raise ValueError(msg)
        if self.reported_sex_other + self.reported_sex_unanswered >= 1:
            msg = "reported_sex_other + reported_sex_unanswered must be below 1"
            raise ValueError(msg)
        return self

    @staticmethod
    def _check_distribution(values: tuple[float, ...], length: int, name: str) -> None:
        if len(values) != length or any(v < 0 for v in values):
            msg = f"{name} needs {length} non-negative shares"
            raise ValueError(msg)
        if not math.isclose(sum(values), 1.0, abs_tol=1e-6):
            msg = f"{name} must sum to 1"
            raise ValueError(msg)
