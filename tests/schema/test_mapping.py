from __future__ import annotations

import re
from collections.abc import Sequence

import pyarrow as pa
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError as PydanticValidationError

from linkwell.config import ColumnMapping
from linkwell.engine import Engine
from linkwell.errors import ConfigError, ValidationError
from linkwell.schema import load_dataset
from linkwell.schema.mapping import (
    check_mapping,
    looks_personal,
    mapped_query,
    mapping_digest,
    normalise_name,
    plan_mapping,
)

from ._authority import AUTHORITY, FLAGS, SUPPLIED

SURVEY = load_dataset("survey-secondary", 1)


def run_mapping(
    columns: dict[str, Sequence[str | None]], mapping: ColumnMapping, dataset=AUTHORITY
) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    names = list(columns)
    count = len(next(iter(columns.values())))
    plan = plan_mapping(names, dataset, mapping)
    table = pa.table(
        {
            "_row": list(range(1, count + 1)),
            **{n: pa.array(v, pa.string()) for n, v in columns.items()},
        }
    )
    with Engine() as engine:
        engine.register("landed", table)
        sql, params = mapped_query(plan, "landed")
        return engine.arrow(f"{sql} ORDER BY _row", params, purpose="map").to_pylist()


def full(values: dict[str, Sequence[str | None]], count: int) -> dict[str, Sequence[str | None]]:
    """Every supplied authority column, with ``values`` overriding the defaults."""
    base: dict[str, Sequence[str | None]] = {c: ["1"] * count for c in SUPPLIED}
    return base | values


def test_normalised_names() -> None:
    assert normalise_name("  SIMD Decile ") == "simd_decile"
    assert normalise_name("Looked after (home)") == "looked_after_home"
    assert normalise_name("Unique-ID") == "unique_id"


@pytest.mark.parametrize(
    "name",
    ["Forename", "Pupil Name", "Surname", "DateOfBirth", "DOB", "date_of_birth", "Post Code",
     "Home Address 1", "CHI Number", "NHS no", "Medical conditions", "e-mail", "Diagnosis"],
)  # fmt: skip
def test_personal_column_names_are_recognised(name: str) -> None:
    assert looks_personal(name)


@pytest.mark.parametrize(
    "name", ["School Name", "school", "SIMD", "Stage", "Sex", "Notes", "LA name"]
)
def test_ordinary_column_names_are_not_flagged(name: str) -> None:
    assert not looks_personal(name)


def test_renamed_and_loosely_matched_columns_and_dropped_ones() -> None:
    columns = [
        "Pupil ID",
        "School",
        "SIMD Decile",
        "urban_rural",
        *FLAGS,
        "fsm_basis",
        "Forename",
        "Notes",
    ]
    plan = plan_mapping(columns, AUTHORITY, ColumnMapping(columns={"Pupil ID": "unique_id"}))
    assert plan.sources["unique_id"] == "Pupil ID"
    assert plan.sources["school"] == "School"
    assert plan.sources["simd_decile"] == "SIMD Decile"
    assert plan.sources["not_in_receipt"] is None
    assert plan.absent == ("not_in_receipt", "any_asn")
    assert plan.dropped == ("Forename", "Notes")
    assert plan.personal == ("Forename",)


def test_mapping_to_an_unknown_field_is_refused_naming_it() -> None:
    with pytest.raises(ConfigError) as info:
        plan_mapping(list(SUPPLIED), AUTHORITY, ColumnMapping(columns={"x": "pupil_weight"}))
    assert info.value.field == "pupil_weight"
    with pytest.raises(ConfigError) as info:
        plan_mapping(list(SUPPLIED), AUTHORITY, ColumnMapping(codes={"sdq_01": {"a": "b"}}))
    assert info.value.field == "sdq_01"


def test_two_columns_for_one_field_are_refused() -> None:
    columns = [*SUPPLIED, "School Code"]
    with pytest.raises(ValidationError) as info:
        plan_mapping(columns, AUTHORITY, ColumnMapping(columns={"School Code": "school"}))
    assert info.value.field == "school"
    with pytest.raises(ValidationError, match="2 columns"):
        plan_mapping([*SUPPLIED, "School "], AUTHORITY, ColumnMapping())


def test_the_mapping_model_refuses_two_columns_to_one_field() -> None:
    with pytest.raises(ValueError, match="same field"):
        ColumnMapping(columns={"a": "school", "b": "school"})


def test_a_required_field_without_column_is_refused_naming_it() -> None:
    columns = [c for c in SUPPLIED if c != "simd_decile"]
    with pytest.raises(ValidationError) as info:
        plan_mapping(columns, AUTHORITY, ColumnMapping())
    assert info.value.field == "simd_decile"


def test_mapped_column_missing_from_file() -> None:
    """A renamed or mistyped column must not leave its field empty on every row, unnoticed."""
    columns = [c for c in SUPPLIED if c != "fsm_basis"]
    assert plan_mapping(columns, AUTHORITY, ColumnMapping()).sources["fsm_basis"] is None
    with pytest.raises(ValidationError) as info:  # optional, but the mapping says it is there
        plan_mapping(columns, AUTHORITY, ColumnMapping(columns={"FSM Basis": "fsm_basis"}))
    assert info.value.field == "fsm_basis"
    assert "fsm_basis (the mapping's column 'FSM Basis')" in str(info.value)
    plan = plan_mapping(  # the field's own name supplies it: nothing is left empty
        SUPPLIED, AUTHORITY, ColumnMapping(columns={"FSM Basis": "fsm_basis"})
    )
    assert plan.sources["fsm_basis"] == "fsm_basis"
    columns = [c for c in SUPPLIED if c != "simd_decile"]
    with pytest.raises(ValidationError) as info:
        plan_mapping(columns, AUTHORITY, ColumnMapping(columns={"Decile": "simd_decile"}))
    assert info.value.field == "simd_decile"
    assert "simd_decile (the mapping's column 'Decile')" in str(info.value)  # what to look for
    with pytest.raises(ValidationError) as info:  # two loose matches are not "no column"
        plan_mapping(
            [*columns, "decile", "DECILE"],
            AUTHORITY,
            ColumnMapping(columns={"Decile": "simd_decile"}),
        )
    assert "column 'Decile', which 2 columns match but for case or spacing" in str(info.value)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("Y", "true"), ("yes", "true"), (" YES ", "true"), ("1", "true"), ("TRUE", "true"),
     ("t", "true"), ("N", "false"), ("No", "false"), ("0", "false"), ("False", "false"),
     ("f", "false"), ("maybe", "maybe"), ("", None), ("  ", None), ("NA", None), ("n/a", None),
     (".", None), (None, None)],
)  # fmt: skip
def test_yes_no_codes(cell: str | None, expected: str | None) -> None:
    (row,) = run_mapping(full({"looked_after_home": [cell]}, 1), ColumnMapping())
    assert row["looked_after_home"] == expected


@pytest.mark.parametrize(
    ("codes", "wrong"),
    [
        ({"fsm_basis": {"U": "universal", "X": "Universall"}}, "'Universall'"),
        ({"looked_after_home": {"LAH": "oui"}}, "'oui'"),
    ],
)
def test_a_code_map_to_a_code_the_field_cannot_hold_is_refused_at_once(
    codes: dict[str, dict[str, str]], wrong: str
) -> None:
    """Caught when the mapping is read, naming it, not as a quarantine of every row."""
    mapping = ColumnMapping(codes=codes)
    with pytest.raises(ConfigError) as info:
        check_mapping(mapping, AUTHORITY, file="mapping.toml")
    assert wrong in str(info.value)
    assert info.value.file == "mapping.toml"
    assert info.value.field == next(iter(codes))
    fine = {"fsm_basis": {"U": "Universal", "?": ""}, "looked_after_home": {"LAH": "TRUE"}}
    check_mapping(ColumnMapping(codes=fine), AUTHORITY, file="mapping.toml")


def test_custom_codes_and_per_field_code_maps() -> None:
    mapping = ColumnMapping(
        true_codes=("ja",),
        false_codes=("nee", "2"),
        missing_codes=("-9",),
        codes={
            "fsm_basis": {"U": "universal", "MT": "means-tested", "?": ""},
            "looked_after_home": {"LAH": "ja"},
            "simd_decile": {"99": ""},
        },
    )
    columns = full(
        {
            "looked_after_home": ["LAH", "Ja", "2", "Y", "-9"],
            "fsm_basis": ["U", "MT", "?", "Means-Tested", "x"],
            "simd_decile": [" 99 ", "3", "-9", "4", "5"],
        },
        5,
    )
    rows = run_mapping(columns, mapping)
    assert [r["looked_after_home"] for r in rows] == ["true", "true", "false", "Y", None]
    assert [r["fsm_basis"] for r in rows] == [
        "universal",
        "means-tested",
        None,
        "means-tested",
        "x",
    ]
    assert [r["simd_decile"] for r in rows] == [None, "3", None, "4", "5"]
    assert all(r["not_in_receipt"] is None for r in rows)


def test_category_codes_are_canonicalised_case_insensitively() -> None:
    columns = {c: ["x", "x"] for c in ("unique_id", "school", "authority")} | {
        "Stage": ["s2", "S4"],
        "SEX": ["Female", "male "],
    }
    rows = run_mapping(columns, ColumnMapping(), SURVEY)
    assert [(r["stage"], r["sex"]) for r in rows] == [("S2", "female"), ("S4", "male")]


def test_a_code_map_matches_in_any_case_as_every_other_code_list_does() -> None:
    columns = {c: ["x"] * 4 for c in ("unique_id", "school", "authority")} | {
        "Stage": ["S2"] * 4,
        "SEX": ["F", "f", " F ", "X"],
    }
    mapping = ColumnMapping(codes={"sex": {"F": "female", "X": ""}})
    rows = run_mapping(columns, mapping, SURVEY)
    assert [r["sex"] for r in rows] == ["female", "female", "female", None]


def test_a_code_map_giving_one_code_twice_in_two_cases_is_refused() -> None:
    with pytest.raises(PydanticValidationError, match="another case"):
        ColumnMapping(codes={"sex": {"F": "female", "f": "male"}})


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("9346726.0", "9346726"), ("9346726.00", "9346726"), ("9346726", "9346726"),
     ("5237521.5", "5237521.5"), ("S12000033", "S12000033"), ("1.0.0", "1.0.0")],
)  # fmt: skip
def test_a_code_exported_as_a_whole_number_with_a_point_is_its_digits(
    cell: str, expected: str
) -> None:
    (row,) = run_mapping(full({"school": [cell]}, 1), ColumnMapping())
    assert row["school"] == expected


def test_values_never_enter_the_sql_text() -> None:
    hostile = "x'); DROP TABLE landed; --"
    mapping = ColumnMapping(
        codes={"school": {hostile: "S1"}}, missing_codes=(hostile,), true_codes=(hostile + "y",)
    )
    plan = plan_mapping(list(SUPPLIED), AUTHORITY, mapping)
    sql, params = mapped_query(plan, "landed")
    assert hostile not in sql
    assert hostile.lower() in str(params)  # a parameter, compared in any case
    rows = run_mapping(full({"school": [hostile, "  " + hostile]}, 2), mapping)
    assert [r["school"] for r in rows] == [None, None]


def test_mapping_digest_changes_with_the_mapping() -> None:
    one = mapping_digest(ColumnMapping(columns={"a": "school"}))
    assert one == mapping_digest(ColumnMapping(columns={"a": "school"}))
    assert one != mapping_digest(ColumnMapping(columns={"b": "school"}))
    assert len(one) == 64


@settings(max_examples=25)
@given(st.lists(st.text(max_size=30), min_size=1, max_size=40))
@example(["0.0", " 9346726.00 ", "1.5", "0.", ".0", "12.010"])
def test_trimming_and_missing_codes_hold_for_any_text(cells: list[str]) -> None:
    # A school code is trimmed, a missing code is missing, and a whole number written with a
    # decimal point (as a spreadsheet exports it) is its digits; any other text is kept as is.
    rows = run_mapping(full({"school": cells}, len(cells)), ColumnMapping())
    for cell, row in zip(cells, rows, strict=True):
        trimmed = cell.strip(" \t\r\n\u00a0")
        expected = None if trimmed.lower() in ("", "na", "n/a", ".") else trimmed
        if expected is not None and re.fullmatch(r"[0-9]+\.0+", expected):
            expected = expected.split(".")[0]
        assert row["school"] == expected
