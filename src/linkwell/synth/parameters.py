"""Every rate and shape the synthetic area is drawn from, as one typed, frozen parameter model.

Each parameter carries the evidence behind it as an :class:`Evidence` tag in its annotation
([S] published source, [E] estimate from published totals, [A] approximate, unchecked), taken
from ``shared/data/synth-parameters.md``; :func:`parameter_sheet` lists them all with their tags
so a reviewer can correct any one of them. Structure and authority parameters live here; survey
targets live in :mod:`linkwell.synth.survey_parameters`.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from typing import Annotated, Final, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from linkwell.synth.evidence import Evidence
from linkwell.synth.survey_parameters import SurveyParameters

__all__ = [
    "DECILES",
    "PRIMARY_STAGES",
    "STAGES",
    "URBAN_RURAL_CLASSES",
    "AsnReasons",
    "AuthorityParameters",
    "Evidence",
    "ParameterRow",
    "Placements",
    "ReasonRate",
    "RollDistribution",
    "StructureParameters",
    "SynthParameters",
    "parameter_sheet",
]

STAGES: Final = ("P5", "P6", "P7", "S1", "S2", "S3", "S4")
"""The stages in scope, in order; index 0-2 are primary, 3-6 secondary."""

PRIMARY_STAGES: Final = 3
"""How many of :data:`STAGES` are primary stages."""

DECILES: Final = 10
"""SIMD deciles, 1 (most deprived) to 10."""

URBAN_RURAL_CLASSES: Final = 8
"""Classes of the urban/rural 8-fold classification."""


S: Final = Evidence.PUBLISHED
E: Final = Evidence.ESTIMATE
A: Final = Evidence.APPROXIMATE

Rate = Annotated[float, Field(ge=0.0, le=1.0)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _check_shares(values: tuple[float, ...], what: str) -> None:
    """Shares must be non-negative and sum to 1, within 1% because published shares are rounded.

    Users of a share vector normalise it, so a rounded sheet (the 8-fold shares add to 99.5%)
    can be copied in as published.
    """
    if any(v < 0 for v in values) or not math.isclose(sum(values), 1.0, abs_tol=0.01):
        msg = f"{what} must be non-negative and sum to 1"
        raise ValueError(msg)


class RollDistribution(_Model):
    """Whole-school rolls drawn log-normally around ``median`` and clipped to a plausible range."""

    median: float = Field(gt=0)
    sigma: float = Field(ge=0)
    minimum: int = Field(ge=1)
    maximum: int = Field(ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.minimum <= self.median <= self.maximum:
            msg = "roll median must lie between minimum and maximum"
            raise ValueError(msg)
        return self


class StructureParameters(_Model):
    """The shape of the partnership area: schools, stages, sex, deprivation and rurality."""

    female_share: Annotated[Rate, A] = Field(0.49, description="Share of pupils who are female.")
    stage_shares: Annotated[tuple[float, ...], A] = Field(
        (1 / 7,) * 7, description="Share of pupils in each of P5, P6, P7, S1, S2, S3, S4."
    )
    simd_decile_shares: Annotated[tuple[float, ...], A] = Field(
        (0.12, 0.11, 0.105, 0.10, 0.10, 0.095, 0.095, 0.09, 0.09, 0.095),
        description="Share of pupils living in SIMD deciles 1 (most deprived) to 10; pupils are "
        "over-represented in deprived areas. The area as a whole is calibrated to these shares.",
    )
    simd_between_school_share: Annotated[Rate, A] = Field(
        0.55,
        description="Share of the variance of pupils' deprivation that lies between schools: "
        "pupils of one school come mostly from nearby data zones.",
    )
    authority_deprivation_sd: Annotated[float, A] = Field(
        0.35,
        ge=0,
        description="Spread of authorities' deprivation (latent SD units) when there are several: "
        "SIMD varies strongly by authority. Centred, so the area keeps the national shares.",
    )
    authority_size_sd: Annotated[float, A] = Field(
        0.5, ge=0, description="Log-normal spread of authorities' pupil numbers."
    )
    primary_rural_share: Annotated[Rate, S] = Field(
        0.40, description="Share of primary schools that are rural [S: school statistics]."
    )
    secondary_rural_share: Annotated[Rate, S] = Field(
        0.20, description="Share of secondary schools that are rural [S: school statistics]."
    )
    primary_roll_urban: Annotated[RollDistribution, A] = Field(
        RollDistribution(median=220, sigma=0.4, minimum=60, maximum=700),
        description="Whole-school roll of urban primaries (typical 150-300).",
    )
    primary_roll_rural: Annotated[RollDistribution, A] = Field(
        RollDistribution(median=30, sigma=0.65, minimum=6, maximum=250),
        description="Whole-school roll of rural primaries (many of 10-50, long tail).",
    )
    secondary_roll_urban: Annotated[RollDistribution, A] = Field(
        RollDistribution(median=950, sigma=0.25, minimum=400, maximum=1900),
        description="Whole-school roll of urban secondaries (400-1,500).",
    )
    secondary_roll_rural: Annotated[RollDistribution, A] = Field(
        RollDistribution(median=500, sigma=0.45, minimum=60, maximum=1300),
        description="Whole-school roll of rural secondaries (smaller, some very small).",
    )
    primary_in_scope_share: Annotated[Rate, A] = Field(
        3 / 7, description="Share of a primary roll in P5-P7 (three of seven stages)."
    )
    secondary_in_scope_share: Annotated[Rate, A] = Field(
        0.72, description="Share of a secondary roll in S1-S4 (S5-S6 are smaller cohorts)."
    )
    urban_rural_shares: Annotated[tuple[float, ...], A] = Field(
        (0.345, 0.36, 0.085, 0.015, 0.01, 0.115, 0.03, 0.035),
        description="Population shares of the urban/rural 8-fold classes; a school's own class "
        "is drawn from classes 1-5 (urban school) or 6-8 (rural school) in these proportions.",
    )
    urban_rural_home_share_primary: Annotated[Rate, A] = Field(
        0.85, description="Share of a primary's pupils living in the school's own 8-fold class."
    )
    urban_rural_home_share_secondary: Annotated[Rate, A] = Field(
        0.70,
        description="Share of a secondary's pupils living in the school's own 8-fold class "
        "(secondaries draw from wider catchments).",
    )
    urban_rural_neighbours: Annotated[tuple[tuple[float, ...], ...], A] = Field(
        (
            (0.0, 0.5, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0),
            (0.3, 0.0, 0.2, 0.0, 0.0, 0.5, 0.0, 0.0),
            (0.0, 0.3, 0.0, 0.0, 0.0, 0.7, 0.0, 0.0),
            (0.0, 0.0, 0.2, 0.0, 0.0, 0.0, 0.8, 0.0),
            (0.0, 0.0, 0.0, 0.2, 0.0, 0.0, 0.0, 0.8),
            (0.0, 0.3, 0.5, 0.0, 0.0, 0.0, 0.2, 0.0),
            (0.0, 0.0, 0.0, 0.3, 0.0, 0.5, 0.0, 0.2),
            (0.0, 0.0, 0.0, 0.0, 0.5, 0.0, 0.5, 0.0),
        ),
        description="Row c: where pupils of a class-c school live when not in class c (nearby "
        "classes: a town school's catchment reaches into accessible rural areas, and so on).",
    )
    deprivation_by_urban_rural: Annotated[tuple[float, ...], A] = Field(
        (0.30, 0.05, -0.05, 0.0, 0.0, -0.60, -0.50, -0.45),
        description="Shift of a school's catchment deprivation (latent SD units, + = more "
        "deprived) by its 8-fold class: SIMD finds few rural data zones deprived.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        classes = URBAN_RURAL_CLASSES
        expected = {
            "stage_shares": len(STAGES),
            "simd_decile_shares": DECILES,
            "urban_rural_shares": classes,
        }
        for name, length in expected.items():
            values = getattr(self, name)
            if len(values) != length:
                msg = f"{name} needs {length} values"
                raise ValueError(msg)
            _check_shares(values, name)
        if len(self.deprivation_by_urban_rural) != classes:
            msg = f"deprivation_by_urban_rural needs {classes} values"
            raise ValueError(msg)
        rows = self.urban_rural_neighbours
        if len(rows) != classes or any(len(row) != classes for row in rows):
            msg = f"urban_rural_neighbours must be {classes} rows of {classes}"
            raise ValueError(msg)
        for row in self.urban_rural_neighbours:
            _check_shares(row, "each row of urban_rural_neighbours")
        return self


class Placements(_Model):
    """Shares of looked-after children by placement; one placement per child."""

    home: Rate = 0.25
    kinship: Rate = 0.30
    foster: Rate = 0.35
    residential: Rate = 0.10

    @model_validator(mode="after")
    def _sum(self) -> Self:
        _check_shares((self.home, self.kinship, self.foster, self.residential), "placements")
        return self


class ReasonRate(_Model):
    """One additional-support-need reason: share of all pupils, and boys per girl among them."""

    rate: Rate
    boys_per_girl: float = Field(gt=0)


class AsnReasons(_Model):
    """Pupil-census reasons for support, one per ``asn_*`` field of the authority dataset."""

    sebd: ReasonRate = ReasonRate(rate=0.055, boys_per_girl=5.0)
    eal: ReasonRate = ReasonRate(rate=0.045, boys_per_girl=1.0)
    dyslexia: ReasonRate = ReasonRate(rate=0.03, boys_per_girl=1.6)
    moderate_learning: ReasonRate = ReasonRate(rate=0.03, boys_per_girl=1.5)
    autism: ReasonRate = ReasonRate(rate=0.02, boys_per_girl=5.0)
    learning_disability: ReasonRate = ReasonRate(rate=0.02, boys_per_girl=1.6)
    family_issues: ReasonRate = ReasonRate(rate=0.02, boys_per_girl=1.1)
    physical_medical: ReasonRate = ReasonRate(rate=0.015, boys_per_girl=1.3)
    language_speech: ReasonRate = ReasonRate(rate=0.015, boys_per_girl=2.3)
    other_specific_learning: ReasonRate = ReasonRate(rate=0.01, boys_per_girl=1.6)
    looked_after: ReasonRate = ReasonRate(rate=0.008, boys_per_girl=1.1)
    mental_health: ReasonRate = ReasonRate(rate=0.005, boys_per_girl=0.7)
    interrupted_learning: ReasonRate = ReasonRate(rate=0.005, boys_per_girl=1.0)
    sensory: ReasonRate = ReasonRate(rate=0.005, boys_per_girl=1.1)
    young_carer: ReasonRate = ReasonRate(rate=0.003, boys_per_girl=0.8)
    other: ReasonRate = ReasonRate(rate=0.03, boys_per_girl=1.3)

    def items(self) -> Iterator[tuple[str, ReasonRate]]:
        """``(reason, rate)`` in field order; the authority field is ``asn_<reason>``."""
        for name in type(self).model_fields:
            yield name, getattr(self, name)


class AuthorityParameters(_Model):
    """Rates of the authority's service flags and their correlations (RCS era, 2016-18)."""

    looked_after_rate: Annotated[Rate, E] = Field(
        0.015,
        description="Looked after, any placement: 1.5% of P5-S4 pupils (2016-18; 1.3% in 2023) "
        "[E: Children's Social Work Statistics].",
    )
    looked_after_simd_ratio: Annotated[float, A] = Field(
        9.0, gt=0, description="Looked-after rate in SIMD decile 1 over decile 10 (8-10x)."
    )
    placements: Annotated[Placements, S] = Field(
        Placements(), description="At home / kinship / foster / residential shares (2015-18)."
    )
    residential_secondary_share: Annotated[Rate, A] = Field(
        0.85, description="Share of residential placements that are pupils in S1-S4."
    )
    child_protection_rate: Annotated[Rate, E] = Field(
        0.0018,
        description="On the child protection register: 0.15-0.2% [E: 2,094 in 2023, 2.3 per "
        "1,000 under-16s].",
    )
    child_protection_looked_after_share: Annotated[Rate, S] = Field(
        0.25, description="Share of registered children also looked after [S: 2018, 655/2,668]."
    )
    child_protection_simd_ratio: Annotated[float, A] = Field(
        12.0, gt=0, description="Registration rate in SIMD decile 1 over decile 10 (steep)."
    )
    prospective_adopters_rate: Annotated[Rate, E] = Field(
        0.00005,
        description="Looked after with prospective adopters being sought: ~0.005% [E: ~150 "
        "children nationally, mostly under 5]; drawn among foster and kinship placements.",
    )
    through_care_rate_s4: Annotated[Rate, E] = Field(
        0.0003, description="Receiving through care / after care in S4 (care leavers 16+)."
    )
    through_care_rate_before_s4: Annotated[Rate, E] = Field(
        0.0, description="Receiving through care / after care in P5-S3 (~0)."
    )
    through_care_looked_after_ratio: Annotated[float, A] = Field(
        10.0, gt=0, description="Relative rate of through care for currently looked-after pupils."
    )
    asn_rate: Annotated[Rate, S] = Field(
        0.27,
        description="Any additional support need: 25% (2016) to 29% (2018) [S: pupil census]; "
        "the RCS-era midpoint.",
    )
    asn_male_share: Annotated[Rate, A] = Field(
        0.60, description="Share of ASN pupils who are boys."
    )
    asn_secondary_ratio: Annotated[float, A] = Field(
        1.25, gt=0, description="ASN rate in secondary over primary (higher in secondary)."
    )
    asn_q1_vs_q5_ratio: Annotated[float, A] = Field(
        1.75, gt=0, description="ASN rate in SIMD quintile 1 over quintile 5 (1.5-2x)."
    )
    asn_given_looked_after: Annotated[Rate, A] = Field(
        0.70, description="Share of looked-after pupils with an additional support need."
    )
    asn_reasons: Annotated[AsnReasons, S] = Field(
        AsnReasons(),
        description="Reason rates as % of all pupils [S: census categories]; boys per girl [A] "
        "(autism and SEBD ~5:1). 'looked_after' is drawn among looked-after pupils only; "
        "'other' covers reasons outside the list.",
    )
    iep_rate: Annotated[Rate, E] = Field(
        0.055, description="Individualised education plan: ~5.5% (2016), all of them ASN pupils."
    )
    iep_learning_reason_ratio: Annotated[float, A] = Field(
        3.0,
        gt=0,
        description="Relative chance of an IEP for ASN pupils with autism, learning disability "
        "or moderate learning difficulty.",
    )
    csp_rate: Annotated[Rate, S] = Field(
        0.003, description="Coordinated support plan: 0.35% (2016) to 0.2% (2024) [S: census]."
    )
    csp_with_iep_share: Annotated[Rate, A] = Field(
        0.90, description="Share of CSP pupils who also have an IEP (all have an ASN)."
    )
    fsm_policy_year: Annotated[int, A] = Field(
        2017,
        ge=2010,
        le=2100,
        description="School year whose free-school-meal policy applies (RCS era by default).",
    )
    fsm_universal_from: Annotated[dict[str, int], S] = Field(
        {"P1": 2015, "P2": 2015, "P3": 2015, "P4": 2021, "P5": 2022},
        description="First year of universal free school meals per stage.",
    )
    fsm_means_tested_by_decile: Annotated[tuple[float, ...], A] = Field(
        (0.38, 0.30, 0.23, 0.18, 0.13, 0.10, 0.07, 0.05, 0.04, 0.03),
        description="Means-tested registration by SIMD decile 1-10 (~17% overall, 2016).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if len(self.fsm_means_tested_by_decile) != DECILES:
            msg = f"fsm_means_tested_by_decile needs {DECILES} values"
            raise ValueError(msg)
        if any(not 0 <= v <= 1 for v in self.fsm_means_tested_by_decile):
            msg = "fsm_means_tested_by_decile values are rates between 0 and 1"
            raise ValueError(msg)
        unknown = set(self.fsm_universal_from) - {"P1", "P2", "P3", "P4", *STAGES}
        if unknown:
            msg = f"fsm_universal_from names unknown stages {sorted(unknown)}"
            raise ValueError(msg)
        if self.child_protection_rate * self.child_protection_looked_after_share > (
            self.looked_after_rate
        ):
            msg = "more registered children are looked after than there are looked-after children"
            raise ValueError(msg)
        if self.csp_rate > self.iep_rate or self.iep_rate > self.asn_rate:
            msg = "plans must nest: csp_rate <= iep_rate <= asn_rate"
            raise ValueError(msg)
        reasons = sum(r.rate for n, r in self.asn_reasons.items() if n != "looked_after")
        if reasons < self.asn_rate:
            msg = "ASN reason rates (other than looked_after) must add up to at least asn_rate"
            raise ValueError(msg)
        return self

    def universal_fsm_stages(self) -> frozenset[str]:
        """The in-scope stages where free school meals were universal in the policy year."""
        return frozenset(
            stage
            for stage, year in self.fsm_universal_from.items()
            if stage in STAGES and self.fsm_policy_year >= year
        )


class SynthParameters(_Model):
    """All parameters of the synthetic area; the defaults are the parameter sheet's values."""

    structure: StructureParameters = StructureParameters()
    authority: AuthorityParameters = AuthorityParameters()
    survey: SurveyParameters = SurveyParameters()

    def digest(self) -> str:
        """SHA-256 of the parameters' canonical JSON: recorded with every synthetic area."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()


class ParameterRow(_Model):
    """One line of the parameter sheet."""

    path: str
    value: str
    evidence: Evidence | None
    description: str


def _evidence(metadata: list[object]) -> Evidence | None:
    return next((m for m in metadata if isinstance(m, Evidence)), None)


def _rows(
    model: BaseModel, prefix: str, inherited: Evidence | None, inherited_doc: str
) -> Iterator[ParameterRow]:
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        evidence = _evidence(info.metadata) or inherited
        description = info.description or inherited_doc
        path = f"{prefix}{name}"
        if isinstance(value, BaseModel):
            yield from _rows(value, f"{path}.", evidence, description)
        else:
            shown = value if not isinstance(value, float) else round(value, 6)
            yield ParameterRow(
                path=path, value=str(shown), evidence=evidence, description=description
            )


def parameter_sheet(parameters: SynthParameters) -> tuple[ParameterRow, ...]:
    """Every leaf parameter with its value, evidence tag and description, in model order.

    A nested model's fields inherit its tag and description unless they carry their own.
    """
    return tuple(_rows(parameters, "", None, ""))
