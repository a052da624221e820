"""Calibration: latent shifts and cut points that make the scored survey hit its targets.

Targets describe the national population, so calibration runs once per parameter set on a
fixed-seed calibration population (same generator, respondents only) and is reused for every
seed: an area then differs from the targets by sampling alone, as a real one would. Per
sex-and-stage group, bisection finds the trait shifts giving the 'very high' emotional share, the
abnormal SDQ total share, the WEMWBS mean (secondary) or the low-mood share (primary); items
answered on their own are cut at the per-stage quantiles of their latent giving the target shares.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

import numpy as np
import numpy.typing as npt

from linkwell.schema.definitions import DatasetDef
from linkwell.synth.items import PRIMARY, SECONDARY, ScaleModel, scale_models, single_items
from linkwell.synth.latent import GROUPS, group_index, latent_traits, take_part, trait_column
from linkwell.synth.parameters import PRIMARY_STAGES, STAGES, SynthParameters
from linkwell.synth.population import generate_population
from linkwell.synth.services import draw_services
from linkwell.synth.survey_parameters import TRAITS, SurveyParameters, Trait

__all__ = ["CALIBRATION_CHILDREN", "Calibration", "band_minimum", "calibrate", "item_shares"]

CALIBRATION_CHILDREN: Final = 140_000
"""Size of the calibration population: ~12,000 respondents per secondary sex-and-stage group."""

_CALIBRATION_SEED: Final = 0x6C696E6B77656C6C
_BISECTION_STEPS: Final = 30
_SHIFT_RANGE: Final = 5.0

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Calibration:
    """Group shifts ``(groups, traits)`` and per-stage cut points of the single items."""

    shifts: FloatArray
    cuts: dict[str, FloatArray]


def band_minimum(dataset: DatasetDef, band: str, label: str) -> int:
    """Lowest score of band ``label`` of ``band`` in ``dataset`` (e.g. SDQ total 'abnormal')."""
    for instrument in dataset.instruments:
        for definition in instrument.bands:
            if definition.name == band:
                return next(c.min for c in definition.cuts if c.label == label)
    msg = f"no band {band!r} in {dataset.key}"
    raise KeyError(msg)


def item_shares(survey: SurveyParameters, field: str, stage: int) -> tuple[float, ...] | None:
    """Target shares of ``field``'s codes (lowest latent first) in ``stage``, if it is asked."""
    secondary = stage >= PRIMARY_STAGES
    s = stage - PRIMARY_STAGES
    by_field: dict[str, tuple[float, ...] | None] = {
        "life_satisfaction": None if secondary else survey.life_satisfaction,
        "bullied": survey.bullied_secondary if secondary else survey.bullied_primary,
        "young_carer": _yes_no(
            survey.young_carer_secondary if secondary else survey.young_carer_primary
        ),
        "smoking": survey.smoking.values()[s] if secondary else None,
        "alcohol_last_week": _yes_no(survey.alcohol_last_week.values()[s]) if secondary else None,
        "drugs_last_month": _yes_no(survey.drugs_last_month.values()[s]) if secondary else None,
        "offered_drugs": _yes_no(survey.offered_drugs.values()[s]) if secondary else None,
    }
    return by_field[field]


def _yes_no(rate: float) -> tuple[float, float]:
    return (1 - rate, rate)


def _group_targets(survey: SurveyParameters, name: str) -> FloatArray:
    """Target per sex-and-stage group (NaN where the measure is not asked)."""
    targets = np.full(GROUPS, np.nan)
    source = {
        "emotional": (survey.sdq_emotional_very_high.values(), PRIMARY_STAGES),
        "total": (survey.sdq_total_abnormal.values(), PRIMARY_STAGES),
        "wemwbs": (survey.wemwbs_mean.values(), PRIMARY_STAGES),
        "mood": (survey.primary_low_mood.values(), 0),
    }[name]
    pairs, first = source
    for offset, pair in enumerate(pairs):
        targets[(first + offset) * 2] = pair.male
        targets[(first + offset) * 2 + 1] = pair.female
    return targets


def _solve(
    statistic: Callable[[FloatArray], FloatArray], targets: FloatArray, *, increasing: bool
) -> FloatArray:
    """Per group, the shift at which the monotone ``statistic`` meets its target (bisection)."""
    low = np.full(GROUPS, -_SHIFT_RANGE)
    high = np.full(GROUPS, _SHIFT_RANGE)
    for _ in range(_BISECTION_STEPS):
        mid = (low + high) / 2
        below = statistic(mid) < targets
        raise_shift = below if increasing else ~below
        low = np.where(raise_shift, mid, low)
        high = np.where(raise_shift, high, mid)
    return np.where(np.isnan(targets), 0.0, (low + high) / 2)


class _Scale:
    """A scale's items for the calibration respondents, with noise fixed across evaluations."""

    def __init__(self, model: ScaleModel, trait: FloatArray, rng: np.random.Generator) -> None:
        noise = rng.standard_normal((len(trait), len(model.items)), dtype=np.float32)
        self._base = trait[:, None].astype(np.float32) * model.loadings[None, :] + noise
        self._loadings = model.loadings
        self._cuts = model.thresholds
        self.lowest = model.items[0].item_min * len(model.items)
        """The scale's lowest score: scores() counts from zero above it."""

    def scores(self, shift: FloatArray) -> npt.NDArray[np.int32]:
        """Sum of scored categories (0-based) when each pupil's trait is moved by ``shift``."""
        latent = self._base + shift[:, None].astype(np.float32) * self._loadings[None, :]
        total = np.zeros(len(latent), dtype=np.int32)
        for column in range(self._cuts.shape[1]):
            total += (latent > self._cuts[None, :, column]).sum(axis=1, dtype=np.int32)
        return total


def _per_group(values: npt.NDArray[np.generic], group: npt.NDArray[np.int16]) -> FloatArray:
    """Mean of ``values`` per sex-and-stage group (NaN for groups with no one)."""
    counts = np.bincount(group, minlength=GROUPS).astype(np.float64)
    sums = np.bincount(group, weights=values.astype(np.float64), minlength=GROUPS)
    with np.errstate(invalid="ignore", divide="ignore"):
        means: FloatArray = np.where(counts > 0, sums / counts, np.nan)
    return means


@dataclass(frozen=True)
class _Respondents:
    """The calibration population's respondents: latent traits before group shifts."""

    traits: npt.NDArray[np.float32]
    group: npt.NDArray[np.int16]
    secondary: npt.NDArray[np.bool_]

    def trait(self, name: Trait, *, secondary: bool) -> FloatArray:
        """One trait of the respondents of one sector."""
        rows = self.secondary if secondary else ~self.secondary
        values: FloatArray = self.traits[rows, trait_column(name)].astype(np.float64)
        return values

    def groups(self, *, secondary: bool) -> npt.NDArray[np.int16]:
        """Groups of the respondents of one sector."""
        return self.group[self.secondary if secondary else ~self.secondary]


def _respondents(params: SynthParameters, rng: np.random.Generator) -> _Respondents:
    population = generate_population(CALIBRATION_CHILDREN, 1, params.structure, rng)
    services = draw_services(population.pupils, params.authority, rng)
    took_part = take_part(population.pupils, services, params.survey, rng)
    zero = np.zeros((GROUPS, len(TRAITS)))
    traits = latent_traits(population.pupils, services, params.survey, zero, rng)[took_part]
    group = group_index(population.pupils)[took_part]
    return _Respondents(traits, group, group >= PRIMARY_STAGES * 2)


def _sdq_shifts(
    people: _Respondents, survey: SurveyParameters, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray]:
    """Shifts of the emotional trait, then of the conduct, hyperactivity and peer traits."""
    group = people.groups(secondary=True)
    sdq = scale_models(SECONDARY)
    emotional = _Scale(sdq["sdq_emotional"], people.trait(Trait.EMOTIONAL, secondary=True), rng)
    very_high = band_minimum(SECONDARY, "sdq_emotional_band4", "very high")
    emotional_shift = _solve(
        lambda shift: _per_group(emotional.scores(shift[group]) >= very_high, group),
        _group_targets(survey, "emotional"),
        increasing=True,
    )
    emotional_scores = emotional.scores(emotional_shift[group])
    problems = [
        _Scale(sdq[name], people.trait(trait, secondary=True), rng)
        for name, trait in (
            ("sdq_conduct", Trait.CONDUCT),
            ("sdq_hyperactivity", Trait.HYPERACTIVITY),
            ("sdq_peer", Trait.PEER),
        )
    ]
    abnormal = band_minimum(SECONDARY, "sdq_total_band3", "abnormal")

    def abnormal_share(shift: FloatArray) -> FloatArray:
        total = emotional_scores.copy()
        for scale in problems:
            total += scale.scores(shift[group])
        return _per_group(total >= abnormal, group)

    difficulty_shift = _solve(abnormal_share, _group_targets(survey, "total"), increasing=True)
    return emotional_shift, difficulty_shift


def _wellbeing_shift(
    people: _Respondents, survey: SurveyParameters, rng: np.random.Generator
) -> FloatArray:
    """Shift of wellbeing: the WEMWBS mean in secondary, the share with low mood in primary."""
    secondary, primary = people.groups(secondary=True), people.groups(secondary=False)
    wemwbs = _Scale(
        scale_models(SECONDARY)["wemwbs_total"], people.trait(Trait.WELLBEING, secondary=True), rng
    )
    wemwbs_shift = _solve(
        lambda shift: _per_group(wemwbs.scores(shift[secondary]) + wemwbs.lowest, secondary),
        _group_targets(survey, "wemwbs"),
        increasing=True,
    )
    mood = _Scale(
        scale_models(PRIMARY)["mood_score"], people.trait(Trait.WELLBEING, secondary=False), rng
    )
    low = survey.low_mood_max_score - mood.lowest
    mood_shift = _solve(
        lambda shift: _per_group(mood.scores(shift[primary]) <= low, primary),
        _group_targets(survey, "mood"),
        increasing=False,
    )
    return wemwbs_shift + mood_shift  # each is zero outside its own sector's groups


def _single_item_cuts(
    people: _Respondents, shifts: FloatArray, survey: SurveyParameters, rng: np.random.Generator
) -> dict[str, FloatArray]:
    """Per stage, the latent cut points that give each single item its target shares."""
    traits = people.traits + shifts[people.group].astype(np.float32)
    stage = people.group // 2
    cuts: dict[str, FloatArray] = {}
    for item in single_items():
        noise = rng.standard_normal(len(traits), dtype=np.float32)
        trait = traits[:, trait_column(item.trait)]
        latent = item.loading * trait + np.sqrt(1 - item.loading**2) * noise
        table = np.full((len(STAGES), len(item.codes) - 1), np.nan)
        for index in range(len(STAGES)):
            shares = item_shares(survey, item.field, index)
            if shares is not None:
                quantiles = np.cumsum(shares)[:-1] / sum(shares)
                table[index] = np.quantile(latent[stage == index], quantiles)
        cuts[item.field] = table
    return cuts


def _calibrate(params: SynthParameters) -> Calibration:
    rng = np.random.default_rng(np.random.SeedSequence(_CALIBRATION_SEED))
    people = _respondents(params, rng)
    shifts = np.zeros((GROUPS, len(TRAITS)))
    emotional, difficulty = _sdq_shifts(people, params.survey, rng)
    shifts[:, trait_column(Trait.EMOTIONAL)] = emotional
    for name in (Trait.CONDUCT, Trait.HYPERACTIVITY, Trait.PEER):
        shifts[:, trait_column(name)] = difficulty
    shifts[:, trait_column(Trait.WELLBEING)] = _wellbeing_shift(people, params.survey, rng)
    return Calibration(shifts=shifts, cuts=_single_item_cuts(people, shifts, params.survey, rng))


@lru_cache(maxsize=4)
def _cached(parameters_json: str) -> Calibration:
    return _calibrate(SynthParameters.model_validate_json(parameters_json))


def calibrate(params: SynthParameters) -> Calibration:
    """The calibration for ``params`` (computed once per parameter set and cached)."""
    return _cached(params.model_dump_json())
