"""Survey answers: the definitions' items exactly, in range, reverse items reversed, calibrated."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from linkwell.engine import Engine
from linkwell.schema import load_dataset
from linkwell.schema.scoring import score_query
from linkwell.synth import SynthParameters
from linkwell.synth.calibration import band_minimum, calibrate, item_shares
from linkwell.synth.latent import take_part
from linkwell.synth.population import generate_population
from linkwell.synth.services import draw_services
from linkwell.synth.survey import NOT_ASKED, SurveyAnswers, draw_answers, survey_item_fields
from linkwell.synth.survey_parameters import SecondaryStages, SexPair, SurveyParameters

SECONDARY = load_dataset("survey-secondary", 1)
PRIMARY = load_dataset("survey-primary", 1)
PARAMS = SynthParameters()


def _answers(params: SynthParameters, children: int, seed: int):
    rng = np.random.default_rng(seed)
    population = generate_population(children, 1, params.structure, rng)
    services = draw_services(population.pupils, params.authority, rng)
    respondents = take_part(population.pupils, services, params.survey, rng)
    answers = draw_answers(
        population.pupils,
        services,
        respondents,
        params=params.survey,
        calibration=calibrate(params),
        rng=rng,
    )
    return population.pupils, services, respondents, answers


@pytest.fixture(scope="module")
def drawn():
    return _answers(PARAMS, 20_000, 8)


def test_items_are_exactly_the_definitions_for_the_right_pupils(drawn) -> None:
    pupils, _, respondents, answers = drawn
    assert isinstance(answers, SurveyAnswers)
    primary_items = set(survey_item_fields(PRIMARY))
    secondary_items = set(survey_item_fields(SECONDARY))
    assert set(answers.values) == primary_items | secondary_items
    for name, values in answers.values.items():
        asked = np.zeros(len(pupils), dtype=bool)
        if name in primary_items:
            asked |= respondents & ~pupils.secondary
        if name in secondary_items:
            asked |= respondents & pupils.secondary
        assert np.array_equal(values != NOT_ASKED, asked), name
        field = (SECONDARY if name in secondary_items else PRIMARY).field(name)
        given = values[asked]
        low, high = (0, 1) if field.type.value == "boolean" else (field.minimum, field.maximum)
        assert given.min() >= low
        assert given.max() <= high
        assert len(np.unique(given)) == high - low + 1, name  # every answer occurs
    assert np.all((answers.reported_sex == NOT_ASKED) >= ~respondents)


def test_reverse_items_are_written_reversed(drawn) -> None:
    _, _, _, answers = drawn
    sdq = next(i for i in SECONDARY.instruments if i.name == "sdq")
    for scale in sdq.scales:
        for item in scale.items:
            others = [o for o in scale.items if o != item and o not in scale.reverse]
            values = answers.values[item]
            rows = values != NOT_ASKED
            rest = sum(answers.values[o][rows].astype(float) for o in others)
            correlation = np.corrcoef(values[rows].astype(float), rest)[0, 1]
            if item in scale.reverse:
                assert correlation < -0.1, item
            else:
                assert correlation > 0.1, item


def test_participation_is_lower_with_services_and_deprivation(drawn) -> None:
    pupils, services, respondents, _ = drawn
    assert abs(respondents[~pupils.secondary].mean() - 0.78) < 0.03
    assert abs(respondents[pupils.secondary].mean() - 0.68) < 0.03
    assert respondents[services.any_service].mean() < respondents[~services.any_service].mean()
    assert (
        respondents[pupils.simd_decile == 1].mean() < respondents[pupils.simd_decile == 10].mean()
    )


def test_reported_sex_is_mostly_the_true_sex(drawn) -> None:
    pupils, _, respondents, answers = drawn
    reported = answers.reported_sex[respondents]
    true = np.where(pupils.female[respondents], 0, 1)
    agree = reported == true
    assert 0.97 < agree.mean() < 1.0
    assert np.all(np.isin(reported[~agree], (2, NOT_ASKED)))


def test_calibration_is_cached_and_follows_its_targets() -> None:
    assert calibrate(PARAMS) is calibrate(SynthParameters())
    pair = SexPair(male=0.4, female=0.4)
    survey = SurveyParameters(
        sdq_total_abnormal=SecondaryStages(s1=pair, s2=pair, s3=pair, s4=pair)
    )
    params = SynthParameters(survey=survey)
    pupils, _, respondents, answers = _answers(params, 20_000, 9)
    rows = respondents & pupils.secondary
    columns = {
        name: pa.array(answers.values[name][rows].astype(np.int16))
        for name in survey_item_fields(SECONDARY)
    }
    with Engine() as engine:
        engine.register("answers", pa.table(columns))
        scored = score_query(SECONDARY, "answers")
        abnormal = engine.scalar(
            f"SELECT avg((sdq_total_band3 = 'abnormal')::INT) FROM ({scored})", purpose="share"
        )
    assert abs(abnormal - 0.4) < 0.025  # ~7,800 respondents: SE 0.55 points, plus calibration


def test_band_and_share_lookups() -> None:
    assert band_minimum(SECONDARY, "sdq_total_band3", "abnormal") == 20
    assert band_minimum(SECONDARY, "sdq_emotional_band4", "very high") == 7
    with pytest.raises(KeyError):
        band_minimum(SECONDARY, "no_such_band", "abnormal")
    survey = PARAMS.survey
    assert item_shares(survey, "life_satisfaction", 0) == survey.life_satisfaction
    assert item_shares(survey, "life_satisfaction", 4) is None
    assert item_shares(survey, "alcohol_last_week", 6) == pytest.approx((0.8, 0.2))
    assert item_shares(survey, "smoking", 1) is None
