from __future__ import annotations

import unicodedata

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkwell.errors import SchemaError
from linkwell.schema import load_dataset, parse_dataset
from linkwell.schema.rules import (
    CODE_PATTERN,
    Rule,
    build_checks,
    derived_order,
    problems_sql,
    sql_type,
)

from ._authority import AUTHORITY

_HEAD = """
id = "toy"
version = 1
kind = "authority"
title = "t"
description = "d"
[[fields]]
name = "unique_id"
kind = "survey-id"
type = "id"
description = "id"
"""


def _flag(name: str, *, derived: bool = False) -> str:
    return (
        f'[[fields]]\nname = "{name}"\nkind = "service"\ntype = "boolean"\ndescription = "x"\n'
        f"required = {str(not derived).lower()}\nderived = {str(derived).lower()}\n"
    )


def _rule(name: str, kind: str, field: str, others: list[str]) -> str:
    listed = ", ".join(f'"{o}"' for o in others)
    return (
        f'[[rules]]\nname = "{name}"\ntype = "{kind}"\nfield = "{field}"\nothers = [{listed}]\n'
        'description = "r"\n'
    )


def test_sql_types_are_canonical_and_small() -> None:
    types = {f.name: sql_type(f) for f in AUTHORITY.fields}
    assert types["unique_id"] == types["school"] == types["fsm_basis"] == "VARCHAR"
    assert types["simd_decile"] == types["urban_rural"] == "SMALLINT"
    assert types["looked_after_home"] == "BOOLEAN"
    survey = load_dataset("survey-secondary", 1)
    assert sql_type(survey.field("weight")) == "DOUBLE"


def test_check_ids_are_unique_and_messages_hold_no_placeholders() -> None:
    checks = build_checks(AUTHORITY)
    assert [c.id for c in checks] == list(range(1, len(checks) + 1))
    for check in checks:
        assert "{" not in check.message
        assert check.field in check.message or check.rule is Rule.DUPLICATE_ID


def test_every_field_and_rule_is_checked() -> None:
    checks = build_checks(AUTHORITY)
    kinds = {(c.field, c.rule) for c in checks}
    assert ("simd_decile", Rule.OUT_OF_RANGE) in kinds
    assert ("simd_decile", Rule.NOT_INTEGER) in kinds
    assert ("unique_id", Rule.ID_CHECK_DIGIT) in kinds
    assert ("fsm_basis", Rule.UNKNOWN_CODE) in kinds
    assert ("fsm_basis", Rule.REQUIRES) in kinds
    required = {c.field for c in checks if c.rule is Rule.REQUIRED}
    assert required == {f.name for f in AUTHORITY.fields if f.required and not f.derived}
    assert "not_in_receipt" not in required
    exclusive = [c for c in checks if c.rule is Rule.EXCLUSIVE]
    assert len(exclusive) == 10
    assert {c.dataset_rule for c in exclusive} == {"not-in-receipt-contradiction"}


def test_none_of_is_not_counted_twice_when_its_exclusive_twin_checks_it() -> None:
    assert not [c for c in build_checks(AUTHORITY) if c.rule is Rule.NONE_OF]
    text = _HEAD + _flag("a") + _flag("b") + _flag("none", derived=True)
    text += _rule("none-derived", "none_of", "none", ["a", "b"])
    lone = [c for c in build_checks(parse_dataset(text, origin="toy")) if c.rule is Rule.NONE_OF]
    assert [c.condition for c in lone] == ['"none" AND "a"', '"none" AND "b"']


def test_derived_rules_are_ordered_after_their_inputs_and_cycles_refused() -> None:
    order = [r.field for r in derived_order(AUTHORITY)]
    assert order.index("any_asn") < order.index("not_in_receipt")
    text = _HEAD + _flag("a", derived=True) + _flag("b", derived=True)
    text += _rule("x", "any_of", "a", ["b"]) + _rule("y", "any_of", "b", ["a"])
    with pytest.raises(SchemaError, match="cycle"):
        derived_order(parse_dataset(text, origin="toy"))


def test_problems_sql_lists_failed_ids_only() -> None:
    checks = build_checks(AUTHORITY)[:2]
    sql = problems_sql(checks)
    # the list is built only when some check fails; otherwise the row's list is empty
    guard, listed = sql.split(" THEN list_filter(", 1)
    assert guard == "CASE WHEN " + " OR ".join(f"({c.condition})" for c in checks)
    assert listed.startswith("[CASE WHEN")
    assert listed.count("CASE WHEN") == 2
    assert listed.endswith("x -> x IS NOT NULL) ELSE []::INTEGER[] END")
    assert problems_sql(()) == "[]::INTEGER[]"


def _a_code(code: str) -> bool:
    """The rule in words: letters and digits, with only a space, . / _ or - between them."""

    def alphanumeric(c: str) -> bool:
        return unicodedata.category(c)[0] in "LN"

    return (
        alphanumeric(code[0])
        and alphanumeric(code[-1])
        and all(alphanumeric(c) or c in " ./_-" for c in code)
    )


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=12))
def test_the_code_pattern_is_the_rule_in_words(code: str) -> None:
    found = duckdb.execute("SELECT regexp_full_match(?, ?)", [code, CODE_PATTERN]).fetchone()
    assert found == (_a_code(code),)


def test_code_fields_are_checked_for_formulas() -> None:
    kinds = {(c.field, c.rule) for c in build_checks(AUTHORITY)}
    assert ("school", Rule.CODE_FORMAT) in kinds
    assert not [
        c for c in build_checks(AUTHORITY) if c.rule is Rule.CODE_FORMAT and c.field != "school"
    ]
