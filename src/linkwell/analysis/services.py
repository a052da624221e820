"""The services: each authority flag, the groups planners ask about, how far each is broken down.

A service is a boolean SQL expression over the release: TRUE when the child's authority row was
linked and shows the service, FALSE when linked without it, NULL when not linked (nothing is known
then). Groups are unions of flags; "any service" is exactly the complement of the leaflet's "not in
receipt of children's services" (the dataset's own rule), so "not in receipt" is published as the
children without any service. Every service records the groups that contain it, because an
intruder knows a flag count can never exceed its group's count, and disclosure control must too.
Rare flags named in ``DisclosurePolicy.national_only`` are published at authority level only.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Final

from pydantic import BaseModel, ConfigDict

from linkwell.config import DisclosurePolicy
from linkwell.engine import quote_ident, quote_string
from linkwell.schema import load_dataset
from linkwell.schema.definitions import FieldKind
from linkwell.schema.release import AUTHORITY_LINKED

__all__ = [
    "ANY_SERVICE",
    "SERVICE_REGISTRY",
    "ServiceKind",
    "ServiceMeasure",
    "ServiceScope",
    "applicable_services",
]

ANY_SERVICE: Final = "any_service"
"""The group every need is compared with for reach and unmet need."""


class ServiceKind(StrEnum):
    """What a service row is."""

    FLAG = "service flag"
    GROUP = "group of flags"
    SUPPORT_NEED = "additional support need"
    ENTITLEMENT = "entitlement"


class ServiceScope(StrEnum):
    """How far a service is broken down.

    ``FULL``: every breakdown and the need x service matrix. ``TOP``: the whole area and each
    authority only (reasons for additional support need, which by school would be almost all
    suppressed). ``NATIONAL_ONLY``: authority level only; every finer cell is withheld and
    logged, and the flag is left out of the need x service matrix.
    """

    FULL = "full"
    TOP = "top"
    NATIONAL_ONLY = "national-only"


class ServiceMeasure(BaseModel):
    """One service or group of services, with its definition and SQL over the release."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    title: str
    short: str
    kind: ServiceKind
    definition: str
    columns: tuple[str, ...]
    sql: str
    parents: tuple[str, ...] = ()
    scope: ServiceScope = ServiceScope.FULL


_LOOKED_AFTER: Final = (
    "looked_after_home",
    "looked_after_foster",
    "looked_after_kinship",
    "looked_after_residential",
)
_PLANS: Final = ("coordinated_support_plan", "individualised_education_plan")
_FSM: Final = quote_ident("free_school_meals")
_SHORT: Final = {
    "looked_after_home": "Looked after at home",
    "looked_after_foster": "Foster care",
    "looked_after_kinship": "Kinship care",
    "looked_after_residential": "Residential care",
    "child_protection": "Child protection register",
    "coordinated_support_plan": "Coordinated support plan",
    "individualised_education_plan": "Individualised education plan",
    "through_care_after_care": "Through care / after care",
    "prospective_adopters": "Prospective adopters sought",
}


def _linked(expr: str) -> str:
    """``expr`` for linked children, NULL for the rest."""
    return f"(CASE WHEN {quote_ident(AUTHORITY_LINKED)} THEN {expr} END)"


def _any_of(columns: Iterable[str]) -> str:
    return "(" + " OR ".join(f"coalesce({quote_ident(c)}, FALSE)" for c in columns) + ")"


def _registry() -> tuple[ServiceMeasure, ...]:
    authority = load_dataset("authority", 1)
    flags = [f for f in authority.fields if f.kind is FieldKind.SERVICE and not f.derived]
    exclusive = next(r for r in authority.rules if r.name == "not-in-receipt-contradiction")
    services: list[ServiceMeasure] = []
    for field in flags:
        parents = [ANY_SERVICE]
        if field.name in _LOOKED_AFTER:
            parents.insert(0, "any_looked_after")
        if field.name in _PLANS:
            parents.insert(0, "any_plan")
        services.append(
            ServiceMeasure(
                name=field.name,
                title=field.description,
                short=_SHORT.get(field.name, field.description),
                kind=ServiceKind.FLAG,
                definition=f"{field.description} (authority flag '{field.name}').",
                columns=(field.name,),
                sql=_linked(f"coalesce({quote_ident(field.name)}, FALSE)"),
                parents=tuple(parents),
            )
        )
    services += [
        ServiceMeasure(
            name="any_looked_after",
            title="Looked after (any placement)",
            short="Any looked after",
            kind=ServiceKind.GROUP,
            definition="Looked after at home, in foster, kinship or residential care (any).",
            columns=_LOOKED_AFTER,
            sql=_linked(_any_of(_LOOKED_AFTER)),
            parents=(ANY_SERVICE,),
        ),
        ServiceMeasure(
            name="any_plan",
            title="Coordinated support plan or individualised education plan",
            short="Any plan (CSP or IEP)",
            kind=ServiceKind.GROUP,
            definition="With a coordinated support plan or an individualised education plan.",
            columns=_PLANS,
            sql=_linked(_any_of(_PLANS)),
            parents=(ANY_SERVICE,),
        ),
        ServiceMeasure(
            name="any_asn",
            title="Any additional support need recorded",
            short="Any ASN",
            kind=ServiceKind.SUPPORT_NEED,
            definition="At least one reason for additional support recorded in the pupil census.",
            columns=("any_asn",),
            sql=_linked(f"coalesce(CAST({quote_ident('any_asn')} AS BOOLEAN), FALSE)"),
            parents=(ANY_SERVICE,),
        ),
        ServiceMeasure(
            name=ANY_SERVICE,
            title="Any children's service (not 'not in receipt')",
            short="Any service",
            kind=ServiceKind.GROUP,
            definition=(
                "Any of: " + ", ".join(exclusive.others) + ". Exactly the children the authority "
                "does not mark 'not in receipt of children's services'; children without any "
                "are published as 'not in receipt'."
            ),
            columns=exclusive.others,
            sql=_linked(_any_of(exclusive.others)),
        ),
        ServiceMeasure(
            name="free_school_meals",
            title="Free school meals (any basis)",
            short="Free school meals",
            kind=ServiceKind.ENTITLEMENT,
            definition="Receives free school meals, universal or means-tested. Universal "
            "provision covers P5 from 2022, so this is not a deprivation marker there.",
            columns=("free_school_meals",),
            sql=_linked(f"coalesce(CAST({_FSM} AS BOOLEAN), FALSE)"),
        ),
        ServiceMeasure(
            name="free_school_meals_means_tested",
            title="Free school meals (means-tested registration)",
            short="FSM means-tested",
            kind=ServiceKind.ENTITLEMENT,
            definition="Receives free school meals through means-tested registration.",
            columns=("free_school_meals", "fsm_basis"),
            sql=_linked(
                f"(coalesce(CAST({_FSM} AS BOOLEAN), FALSE) AND coalesce("
                f"{quote_ident('fsm_basis')} = {quote_string('means-tested')}, FALSE))"
            ),
            parents=("free_school_meals",),
        ),
    ]
    for field in authority.fields:
        if field.kind is FieldKind.SUPPORT_NEED and not field.derived:
            services.append(
                ServiceMeasure(
                    name=field.name,
                    title=field.description,
                    short=field.description.removeprefix("Additional support need: "),
                    kind=ServiceKind.SUPPORT_NEED,
                    definition=f"{field.description} (pupil census reason '{field.name}').",
                    columns=(field.name,),
                    sql=_linked(f"coalesce({quote_ident(field.name)}, FALSE)"),
                    parents=("any_asn", ANY_SERVICE),
                    scope=ServiceScope.TOP,
                )
            )
    return tuple(services)


SERVICE_REGISTRY: Final[tuple[ServiceMeasure, ...]] = _registry()
"""Every service linkwell reports, flags first, then groups, entitlements and ASN reasons."""


def applicable_services(
    columns: Iterable[str],
    policy: DisclosurePolicy,
    registry: tuple[ServiceMeasure, ...] = SERVICE_REGISTRY,
) -> tuple[ServiceMeasure, ...]:
    """The services a release with ``columns`` supports, with the policy's national-only scope.

    A group is kept only when every flag it is built from is present; a parent that is not kept
    is dropped from its members' ``parents``.
    """
    available = set(columns)
    kept = [s for s in registry if set(s.columns) <= available]
    names = {s.name for s in kept}
    national = set(policy.national_only)
    result = []
    for service in kept:
        scope = ServiceScope.NATIONAL_ONLY if service.name in national else service.scope
        parents = tuple(p for p in service.parents if p in names)
        result.append(service.model_copy(update={"scope": scope, "parents": parents}))
    return tuple(result)
