from __future__ import annotations

import pytest

from linkwell.errors import SchemaError
from linkwell.schema import FieldKind, available_datasets, load_dataset, parse_dataset

MINIMAL = """
id = "custom"
version = 1
kind = "authority"
title = "t"
description = "d"
[[fields]]
name = "unique_id"
kind = "survey-id"
type = "id"
description = "the ID"
"""


def _with_field(name: str, kind: str = "service", type_: str = "boolean") -> str:
    return (
        MINIMAL
        + f'[[fields]]\nname = "{name}"\nkind = "{kind}"\ntype = "{type_}"\ndescription = "x"\n'
    )


def test_shipped_definitions_load() -> None:
    assert {d for d, _ in available_datasets()} == {
        "authority",
        "survey-primary",
        "survey-secondary",
    }
    authority = load_dataset("authority", 1)
    names = {f.name for f in authority.fields}
    for leaflet_field in (
        "not_in_receipt", "looked_after_home", "looked_after_foster", "looked_after_kinship",
        "looked_after_residential", "child_protection", "coordinated_support_plan",
        "individualised_education_plan", "any_asn", "free_school_meals", "fsm_basis",
        "through_care_after_care", "prospective_adopters", "simd_decile", "urban_rural", "school",
    ):  # fmt: skip
        assert leaflet_field in names
    assert sum(f.kind is FieldKind.SUPPORT_NEED for f in authority.fields) == 17


@pytest.mark.parametrize(
    "name",
    ["first_name", "surname", "name", "date_of_birth", "dob", "postcode", "home_address",
     "chi_number", "nhs_number", "diagnosis", "medication_list", "gp_practice", "mental_health"],
)  # fmt: skip
def test_names_and_health_cannot_be_declared(name: str) -> None:
    with pytest.raises(SchemaError, match="name, contact detail, date of birth or health"):
        parse_dataset(_with_field(name), origin="custom.v1.toml")


def test_only_the_survey_id_is_an_identifier() -> None:
    with pytest.raises(SchemaError, match="only the survey-id field"):
        parse_dataset(_with_field("pupil_ref", type_="id"), origin="x")


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(SchemaError, match="field"):
        parse_dataset(_with_field("caseworker", kind="health-record"), origin="x")


def test_unknown_version_is_refused() -> None:
    with pytest.raises(SchemaError, match="no dataset definition"):
        load_dataset("authority", 99)


def test_sdq_scoring_rules_are_the_published_ones() -> None:
    sdq = next(i for i in load_dataset("survey-secondary", 1).instruments if i.name == "sdq")
    reverse = sorted(item for scale in sdq.scales for item in scale.reverse)
    assert reverse == ["sdq_07", "sdq_11", "sdq_14", "sdq_21", "sdq_25"]
    assert all(scale.min_answered == 3 and len(scale.items) == 5 for scale in sdq.scales)
    (total,) = sdq.totals
    assert "sdq_prosocial" not in total.scales
