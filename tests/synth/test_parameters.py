"""The parameter model: every value documented and tagged, and impossible sheets refused."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from linkwell.synth import Evidence, SynthParameters, parameter_sheet
from linkwell.synth.parameters import AuthorityParameters, Placements, StructureParameters
from linkwell.synth.survey_parameters import SurveyParameters

DEFAULT = SynthParameters()


def test_every_parameter_has_evidence_and_a_description() -> None:
    rows = parameter_sheet(DEFAULT)
    assert len(rows) > 150
    assert len({r.path for r in rows}) == len(rows)
    for row in rows:
        assert row.evidence is not None, row.path
        assert len(row.description) > 10, row.path


@pytest.mark.parametrize(
    ("path", "evidence"),
    [
        ("authority.looked_after_rate", Evidence.ESTIMATE),
        ("authority.placements.home", Evidence.PUBLISHED),
        ("authority.asn_rate", Evidence.PUBLISHED),
        ("authority.asn_reasons.autism.boys_per_girl", Evidence.PUBLISHED),
        ("authority.fsm_means_tested_by_decile", Evidence.APPROXIMATE),
        ("structure.primary_rural_share", Evidence.PUBLISHED),
        ("structure.simd_decile_shares", Evidence.APPROXIMATE),
        ("survey.participation_primary", Evidence.APPROXIMATE),
        ("survey.sdq_total_abnormal.s2.female", Evidence.PUBLISHED),
        ("survey.alcohol_last_week.s4", Evidence.PUBLISHED),
    ],
)
def test_tags_follow_the_sheet(path: str, evidence: Evidence) -> None:
    sheet = {r.path: r for r in parameter_sheet(DEFAULT)}
    assert sheet[path].evidence is evidence


def test_digest_is_stable_and_follows_every_change() -> None:
    assert DEFAULT.digest() == SynthParameters().digest()
    changed = SynthParameters(authority=AuthorityParameters(looked_after_rate=0.013))
    assert changed.digest() != DEFAULT.digest()
    assert SynthParameters.model_validate_json(DEFAULT.model_dump_json()) == DEFAULT


@pytest.mark.parametrize(
    ("model", "kwargs", "message"),
    [
        (StructureParameters, {"simd_decile_shares": (0.5, 0.5)}, "needs 10"),
        (StructureParameters, {"stage_shares": (0.2,) * 7}, "sum to 1"),
        (StructureParameters, {"urban_rural_neighbours": ((1.0,) * 8,) * 8}, "sum to 1"),
        (Placements, {"home": 0.5}, "sum to 1"),
        (AuthorityParameters, {"csp_rate": 0.1}, "nest"),
        (AuthorityParameters, {"asn_rate": 0.6}, "add up"),
        (AuthorityParameters, {"fsm_universal_from": {"P9": 2020}}, "unknown stages"),
        (AuthorityParameters, {"child_protection_rate": 0.2}, "looked-after"),
        (AuthorityParameters, {"fsm_means_tested_by_decile": (0.1,) * 9}, "10 values"),
        (SurveyParameters, {"life_satisfaction": (0.5, 0.5)}, "11"),
        (SurveyParameters, {"wemwbs_mean": {"s1": {"male": 80, "female": 40},
                                            "s2": {"male": 50, "female": 47},
                                            "s3": {"male": 49, "female": 45},
                                            "s4": {"male": 48, "female": 43}}}, "14-70"),
        (SurveyParameters, {"trait_correlations": ((1.0,) * 11,) * 11}, "positive definite"),
        (SurveyParameters, {"reported_sex_other": 0.6, "reported_sex_unanswered": 0.5}, "below 1"),
    ],
)  # fmt: skip
def test_impossible_parameters_are_refused(model: type, kwargs: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        model(**kwargs)


def test_models_are_frozen_and_closed() -> None:
    with pytest.raises(ValidationError):
        DEFAULT.authority.looked_after_rate = 0.5  # type: ignore[misc]
    with pytest.raises(ValidationError, match="Extra"):
        AuthorityParameters(looked_after=0.1)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("year", "universal"), [(2017, set()), (2021, set()), (2022, {"P5"}), (2030, {"P5"})]
)
def test_universal_free_school_meals_follow_the_policy_year(year: int, universal: set) -> None:
    assert AuthorityParameters(fsm_policy_year=year).universal_fsm_stages() == universal


def test_published_shares_may_be_rounded() -> None:
    # The 8-fold population shares of the sheet add up to 99.5%: accepted as published.
    assert sum(DEFAULT.structure.urban_rural_shares) == pytest.approx(0.995)
