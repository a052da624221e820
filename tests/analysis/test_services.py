"""Services: NULL when not linked, groups as unions, 'any service' as the leaflet's complement."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from linkwell.analysis.services import (
    ANY_SERVICE,
    SERVICE_REGISTRY,
    ServiceScope,
    applicable_services,
)
from linkwell.config import DisclosurePolicy
from linkwell.engine import Engine
from linkwell.schema import load_dataset

BY_NAME = {s.name: s for s in SERVICE_REGISTRY}
AUTHORITY = load_dataset("authority", 1)
EXCLUSIVE = next(r for r in AUTHORITY.rules if r.name == "not-in-receipt-contradiction").others


def _evaluate(service: str, rows: list[dict[str, object]]) -> list[object]:
    columns = sorted({c for row in rows for c in row})
    table = pa.table({c: pa.array([row.get(c) for row in rows]) for c in columns})
    with Engine() as engine:
        engine.register("release", table)
        sql = BY_NAME[service].sql
        return [r[0] for r in engine.fetchall(f"SELECT {sql} FROM release", purpose="evaluate")]


def test_flags_are_null_for_children_not_linked() -> None:
    rows = [
        {"authority_linked": True, "child_protection": True},
        {"authority_linked": True, "child_protection": False},
        {"authority_linked": False, "child_protection": None},
    ]
    assert _evaluate("child_protection", rows) == [True, False, None]


def test_groups_are_unions_of_their_flags() -> None:
    base = dict.fromkeys(
        ("looked_after_home", "looked_after_foster", "looked_after_kinship"), False
    )
    rows = [
        {"authority_linked": True, **base, "looked_after_residential": True},
        {"authority_linked": True, **base, "looked_after_residential": False},
    ]
    assert _evaluate("any_looked_after", rows) == [True, False]


@settings(max_examples=10)
@given(
    st.lists(
        st.lists(st.booleans(), min_size=len(EXCLUSIVE), max_size=len(EXCLUSIVE)),
        min_size=1,
        max_size=20,
    )
)
def test_any_service_is_exactly_not_in_receipt_negated(children: list[list[bool]]) -> None:
    rows: list[dict[str, object]] = [
        {"authority_linked": True, **dict(zip(EXCLUSIVE, flags, strict=True))} for flags in children
    ]
    assert _evaluate(ANY_SERVICE, rows) == [any(flags) for flags in children]


def test_means_tested_meals_need_the_basis() -> None:
    rows = [
        {"authority_linked": True, "free_school_meals": True, "fsm_basis": "means-tested"},
        {"authority_linked": True, "free_school_meals": True, "fsm_basis": "universal"},
        {"authority_linked": True, "free_school_meals": False, "fsm_basis": None},
    ]
    assert _evaluate("free_school_meals_means_tested", rows) == [True, False, False]


def test_national_only_comes_from_the_policy() -> None:
    columns = {c for s in SERVICE_REGISTRY for c in s.columns}
    default = {s.name: s.scope for s in applicable_services(columns, DisclosurePolicy())}
    assert default["prospective_adopters"] is ServiceScope.NATIONAL_ONLY
    assert default["through_care_after_care"] is ServiceScope.NATIONAL_ONLY
    assert default["child_protection"] is ServiceScope.FULL
    assert default["asn_autism"] is ServiceScope.TOP
    custom = applicable_services(columns, DisclosurePolicy(national_only=("child_protection",)))
    scopes = {s.name: s.scope for s in custom}
    assert scopes["child_protection"] is ServiceScope.NATIONAL_ONLY
    assert scopes["prospective_adopters"] is ServiceScope.FULL


def test_missing_flags_drop_their_groups_and_parents() -> None:
    columns = {"authority_linked", "child_protection", "looked_after_home"}
    services = {s.name: s for s in applicable_services(columns, DisclosurePolicy())}
    assert set(services) == {"child_protection", "looked_after_home"}
    assert services["looked_after_home"].parents == ()


def test_every_flag_of_the_authority_dataset_is_reported() -> None:
    flags = {f.name for f in AUTHORITY.fields if f.kind.value == "service" and not f.derived}
    assert flags <= set(BY_NAME)
    assert BY_NAME["coordinated_support_plan"].parents == ("any_plan", ANY_SERVICE)
