"""Every survey answer of every respondent, item by item, from calibrated latent traits.

Respondents in P5-P7 answer the primary questionnaire, those in S1-S4 the secondary one, exactly
the survey-item fields of the dataset definitions. Scale items follow the ordered-probit model of
:mod:`linkwell.synth.items`; items answered on their own are cut at the calibrated per-stage
quantiles. Non-respondents, and items a pupil's questionnaire does not ask, hold
:data:`NOT_ASKED`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from linkwell.schema.definitions import DatasetDef, FieldKind
from linkwell.synth.calibration import Calibration
from linkwell.synth.items import PRIMARY, SECONDARY, scale_models, scored_categories, single_items
from linkwell.synth.latent import latent_traits, trait_column
from linkwell.synth.population import Pupils
from linkwell.synth.services import Services
from linkwell.synth.survey_parameters import SurveyParameters

__all__ = ["NOT_ASKED", "SEX_CODES", "SurveyAnswers", "draw_answers", "survey_item_fields"]

NOT_ASKED: Final = -1
"""Marks an item with no answer: not a respondent, or not on the pupil's questionnaire."""

SEX_CODES: Final = ("female", "male", "other")
"""Codes of the survey's sex question, as the definitions spell them."""


def survey_item_fields(dataset: DatasetDef) -> tuple[str, ...]:
    """The survey-item fields of ``dataset``, in definition order."""
    return tuple(f.name for f in dataset.fields if f.kind is FieldKind.SURVEY_ITEM)


@dataclass(frozen=True)
class SurveyAnswers:
    """Answer codes per item field (int8, :data:`NOT_ASKED` where none) and reported sex."""

    values: dict[str, npt.NDArray[np.int8]]
    reported_sex: npt.NDArray[np.int8]


def _answer_sector(
    dataset: DatasetDef,
    rows: npt.NDArray[np.intp],
    traits: npt.NDArray[np.float32],
    *,
    stage: npt.NDArray[np.int8],
    calibration: Calibration,
    values: dict[str, npt.NDArray[np.int8]],
    rng: np.random.Generator,
) -> None:
    """Fill ``values`` for the respondents ``rows`` of one questionnaire."""
    asked = set(survey_item_fields(dataset))
    for model in scale_models(dataset).values():
        trait = traits[rows, trait_column(model.trait)]
        noise = rng.standard_normal((len(rows), len(model.items)), dtype=np.float32)
        scored = scored_categories(trait, noise, model)
        for column, item in enumerate(model.items):
            values[item.field][rows] = item.answer(scored[:, column])
            asked.discard(item.field)
    for single in single_items():
        if single.field not in asked:
            continue
        latent = single.loading * traits[rows, trait_column(single.trait)] + np.sqrt(
            1 - single.loading**2
        ) * rng.standard_normal(len(rows), dtype=np.float32)
        codes = np.asarray(single.codes, dtype=np.int8)
        answer = np.empty(len(rows), dtype=np.int8)
        table = calibration.cuts[single.field]
        for index in np.unique(stage[rows]):
            here = stage[rows] == index
            answer[here] = codes[np.searchsorted(table[index], latent[here])]
        values[single.field][rows] = answer
        asked.discard(single.field)
    if asked:
        msg = f"no item model for {sorted(asked)} of {dataset.key}"
        raise KeyError(msg)


def draw_answers(
    pupils: Pupils,
    services: Services,
    respondents: npt.NDArray[np.bool_],
    *,
    params: SurveyParameters,
    calibration: Calibration,
    rng: np.random.Generator,
) -> SurveyAnswers:
    """Every respondent's answers to their sector's questionnaire."""
    n = len(pupils)
    fields = dict.fromkeys(survey_item_fields(PRIMARY) + survey_item_fields(SECONDARY))
    values = {name: np.full(n, NOT_ASKED, dtype=np.int8) for name in fields}
    traits = latent_traits(pupils, services, params, calibration.shifts, rng)
    for dataset, in_sector in ((PRIMARY, ~pupils.secondary), (SECONDARY, pupils.secondary)):
        rows = np.flatnonzero(respondents & in_sector)
        _answer_sector(
            dataset,
            rows,
            traits,
            stage=pupils.stage,
            calibration=calibration,
            values=values,
            rng=rng,
        )

    draw = rng.random(n)
    other = draw < params.reported_sex_other
    blank = ~other & (draw < params.reported_sex_other + params.reported_sex_unanswered)
    sex = np.where(pupils.female, SEX_CODES.index("female"), SEX_CODES.index("male"))
    sex = np.where(other, SEX_CODES.index("other"), sex)
    sex = np.where(blank | ~respondents, NOT_ASKED, sex).astype(np.int8)
    return SurveyAnswers(values=values, reported_sex=sex)
