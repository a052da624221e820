"""Every check validation makes, as SQL over whole columns, each with its rule and message.

Checks are built once from a dataset's definition: per field *required*, type, range and (for the
survey ID) shape, check digit and duplicates, then each of the dataset's own rules. Each is a
boolean condition over the relation :func:`typed_query` builds, where ``_t_<field>`` holds a
field's text and ``<field>`` its typed value; messages say what to do and never hold a value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from linkwell.engine import quote_ident, quote_string
from linkwell.errors import SchemaError
from linkwell.schema.definitions import DatasetDef, FieldDef, FieldType, RuleDef
from linkwell.schema.ids import ID_PATTERN, damm_sql

__all__ = [
    "CODE_PATTERN",
    "DUPLICATE_IDS",
    "Check",
    "Rule",
    "build_checks",
    "derived_order",
    "problems_sql",
    "sql_type",
    "text_column",
    "typed_query",
]

DUPLICATE_IDS: Final = "_duplicate_ids"
"""Name of the one-column relation of survey IDs found on more than one row."""

CODE_PATTERN: Final = r"[\pL\pN]([\pL\pN ./_-]*[\pL\pN])?"
"""What a ``code`` field's text may be (RE2, whole value): letters and digits, with only a space,
``.``, ``/``, ``_`` or ``-`` between them. School and authority codes become the report's row
labels: a code starting with ``=``, ``+``, ``-`` or ``@`` would run as a formula in every reader's
spreadsheet (``=HYPERLINK(...)``), and one with a thousands separator, a stray mark or an
invisible character (``1,349,343``, ``1349343!``, a zero-width space) would count one school as
two."""

_SHORTENED: Final = r"[0-9]+(\.[0-9]+)?[eE][+-]?[0-9]+"
"""A code written in scientific notation: a spreadsheet showed a long number so, dropping digits."""
_INTEGER: Final = r"[+-]?[0-9]+(\.0*)?"
_NUMBER: Final = r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?"


class Rule(StrEnum):
    """The kinds of problem validation reports; a row with any of them is quarantined."""

    REQUIRED = "required"
    NOT_INTEGER = "not-integer"
    NOT_NUMBER = "not-number"
    NOT_YES_NO = "not-yes-no"
    UNKNOWN_CODE = "unknown-code"
    CODE_FORMAT = "code-format"
    OUT_OF_RANGE = "out-of-range"
    ID_FORMAT = "id-format"
    ID_CHECK_DIGIT = "id-check-digit"
    DUPLICATE_ID = "duplicate-id"
    EXCLUSIVE = "exclusive"
    ANY_OF = "any-of"
    NONE_OF = "none-of"
    REQUIRES = "requires"


@dataclass(frozen=True)
class Check:
    """One check: where it reports (``field``), what kind it is, and the SQL that finds it.

    ``dataset_rule`` names the dataset's own rule a cross-field check comes from.
    """

    id: int
    field: str
    rule: Rule
    message: str
    condition: str
    dataset_rule: str | None = None


def text_column(field: str) -> str:
    """The quoted column holding ``field``'s canonical text in the typed relation."""
    return quote_ident(f"_t_{field}")


def sql_type(field: FieldDef) -> str:
    """The column type a field is stored as once validated."""
    if field.type is FieldType.BOOLEAN:
        return "BOOLEAN"
    if field.type is FieldType.NUMBER:
        return "DOUBLE"
    if field.type is FieldType.INTEGER:
        low, high = field.minimum or 0, field.maximum or 0
        for name, bits in (("SMALLINT", 15), ("INTEGER", 31)):
            if -(2**bits) <= low and high < 2**bits:
                return name
        return "BIGINT"
    return "VARCHAR"


def _number(value: float | None) -> str:
    """A bound from the definition as SQL text (definitions are trusted)."""
    return repr(float(value if value is not None else 0))


def _typed_value(field: FieldDef) -> str:
    """SQL for a field's typed value from its text; NULL when missing or not valid."""
    text = text_column(field.name)
    kind = sql_type(field)
    if field.type is FieldType.BOOLEAN:
        return f"CASE {text} WHEN 'true' THEN true WHEN 'false' THEN false END"
    if field.type in (FieldType.INTEGER, FieldType.NUMBER):
        pattern = _INTEGER if field.type is FieldType.INTEGER else _NUMBER
        low, high = _number(field.minimum), _number(field.maximum)
        return (
            f"CASE WHEN regexp_full_match({text}, '{pattern}') AND "
            f"TRY_CAST({text} AS DOUBLE) BETWEEN {low} AND {high} "
            f"THEN CAST(TRY_CAST({text} AS DOUBLE) AS {kind}) END"
        )
    if field.type is FieldType.CATEGORY:
        codes = ", ".join(quote_string(c) for c in field.codes or ())
        return f"CASE WHEN {text} IN ({codes}) THEN {text} END"
    return text


def derived_order(dataset: DatasetDef) -> tuple[RuleDef, ...]:
    """The dataset's ``any_of``/``none_of`` rules, each after the rules its inputs come from."""
    pending = [r for r in dataset.rules if r.type in ("any_of", "none_of")]
    produced = {r.field for r in pending}
    done: set[str] = set()
    ordered: list[RuleDef] = []
    while pending:
        ready = [r for r in pending if not (set(r.others) & produced - done)]
        if not ready:
            raise SchemaError(
                f"dataset {dataset.key}: derived fields depend on each other in a cycle",
                field=pending[0].field,
                hint="a derived field may only be computed from supplied or earlier fields",
            )
        for rule in ready:
            ordered.append(rule)
            done.add(rule.field)
            pending.remove(rule)
    return tuple(ordered)


def _any(others: Sequence[str]) -> str:
    return "(" + " OR ".join(quote_ident(o) for o in others) + ")"


def typed_query(dataset: DatasetDef, relation: str) -> str:
    """SQL giving ``_row``, each field's text (``_t_<f>``) and typed value (``<f>``).

    ``relation`` yields ``_row`` and every field as canonical text. A derived field's value is
    the supplied one where given, else computed from its rule; the computed value is kept as
    ``_c_<f>`` for the checks.
    """
    texts = ", ".join(f"{quote_ident(f.name)} AS {text_column(f.name)}" for f in dataset.fields)
    values = ", ".join(f"{_typed_value(f)} AS {quote_ident(f.name)}" for f in dataset.fields)
    query = f"SELECT _row, {texts} FROM {relation}"
    query = f"SELECT *, {values} FROM ({query})"
    for rule in derived_order(dataset):
        computed = _any(rule.others) if rule.type == "any_of" else f"(NOT {_any(rule.others)})"
        name = quote_ident(rule.field)
        query = (
            f"SELECT * REPLACE (coalesce({name}, {computed}) AS {name}), "
            f"{computed} AS {quote_ident('_c_' + rule.field)} FROM ({query})"
        )
    return query


_Found = tuple[str, Rule, str, str]
"""A check before numbering: field, rule, message, condition."""


def _field_checks(field: FieldDef) -> list[_Found]:
    """One field's own checks: required, type, range, and for the survey ID its duplicates."""
    name = field.name
    text = text_column(name)
    present = f"{text} IS NOT NULL"
    low, high = _number(field.minimum), _number(field.maximum)
    span = f"{field.minimum:g} to {field.maximum:g}" if field.minimum is not None else ""
    found: list[_Found] = []

    def add(rule: Rule, message: str, condition: str) -> None:
        found.append((name, rule, message, condition))

    if field.required and not field.derived:
        add(Rule.REQUIRED, f"{name!r} is required but empty or a missing code; fill it in",
            f"{text} IS NULL")  # fmt: skip
    if field.type in (FieldType.INTEGER, FieldType.NUMBER):
        whole = field.type is FieldType.INTEGER
        pattern = _INTEGER if whole else _NUMBER
        kind = "a whole number" if whole else "a number"
        add(Rule.NOT_INTEGER if whole else Rule.NOT_NUMBER,
            f"{name!r} must be {kind} from {span}",
            f"{present} AND NOT regexp_full_match({text}, '{pattern}')")  # fmt: skip
        add(Rule.OUT_OF_RANGE, f"{name!r} is outside its range, {span}; check the value",
            f"regexp_full_match({text}, '{pattern}') AND NOT "
            f"coalesce(TRY_CAST({text} AS DOUBLE) BETWEEN {low} AND {high}, false)")  # fmt: skip
    if field.type is FieldType.BOOLEAN:
        add(Rule.NOT_YES_NO,
            f"{name!r} is not a yes/no code; use one of the mapping's yes or no codes",
            f"{present} AND {text} NOT IN ('true', 'false')")  # fmt: skip
    if field.type is FieldType.CATEGORY:
        codes = field.codes or ()
        listed = ", ".join(quote_string(c) for c in codes)
        add(Rule.UNKNOWN_CODE,
            f"{name!r} is not one of its codes ({', '.join(codes)}); map the provider's code "
            "to one of them",
            f"{present} AND {text} NOT IN ({listed})")  # fmt: skip
    if field.type is FieldType.CODE:
        add(Rule.CODE_FORMAT,
            f"{name!r} is not a code of letters and digits (with only a space, '.', '/', '_' "
            "or '-' between them): it holds another mark, an invisible character or a "
            "thousands separator, or starts as a spreadsheet formula would; correct the code",
            f"{present} AND NOT regexp_full_match({text}, '{CODE_PATTERN}') "
            f"AND NOT regexp_full_match({text}, '{_SHORTENED}')")  # fmt: skip
        add(Rule.CODE_FORMAT,
            f"{name!r} looks like a number a spreadsheet shortened (such as 9.35E+06), so its "
            "last digits are lost; export the column as text and send the file again",
            f"regexp_full_match({text}, '{_SHORTENED}')")  # fmt: skip
    if field.type is FieldType.ID:
        pattern = ID_PATTERN.pattern.removeprefix("^").removesuffix("$")
        add(Rule.ID_FORMAT, f"{name!r} is not a survey ID: it must be 10 digits, the first not 0",
            f"{present} AND NOT regexp_full_match({text}, '{pattern}')")  # fmt: skip
        add(Rule.ID_CHECK_DIGIT,
            f"{name!r} fails its check digit: a digit is mistyped or two digits are swapped; "
            "ask the survey contractor for the right ID",
            f"regexp_full_match({text}, '{pattern}') AND NOT {damm_sql(text)}")  # fmt: skip
        add(Rule.DUPLICATE_ID,
            f"the same {name!r} is on more than one row, so every row with it is quarantined; "
            "ask the survey contractor which row is right",
            f"{text} IN (SELECT * FROM {quote_ident(DUPLICATE_IDS)})")  # fmt: skip
    return found


def _rule_checks(rule: RuleDef, *, covered: bool) -> list[_Found]:
    """The checks of one of the dataset's rules; ``covered``: an exclusive twin checks it."""
    value = quote_ident(rule.field)
    field = rule.field
    found: list[_Found] = []
    if rule.type == "exclusive" or (rule.type == "none_of" and not covered):
        kind = Rule.EXCLUSIVE if rule.type == "exclusive" else Rule.NONE_OF
        found.extend(
            (field, kind,
             f"{field!r} is yes while {other!r} is yes, which contradicts it; correct one",
             f"{value} AND {quote_ident(other)}")
            for other in rule.others
        )  # fmt: skip
    elif rule.type == "any_of":
        computed = quote_ident("_c_" + field)
        found.append(
            (field, Rule.ANY_OF,
             (f"{field!r} is yes but none of the fields it sums up is yes; correct it, or "
              "leave it empty to have it computed"),
             f"{value} AND NOT {computed}")
        )  # fmt: skip
        found.append(
            (field, Rule.ANY_OF,
             (f"{field!r} is no but one of the fields it sums up is yes; correct it, or "
              "leave it empty to have it computed"),
             f"NOT {value} AND {computed}")
        )  # fmt: skip
    elif rule.type == "requires":
        for other in rule.others:
            found.append(
                (other, Rule.REQUIRES, f"{other!r} is needed when {field!r} is yes",
                 f"{value} AND {text_column(other)} IS NULL")
            )  # fmt: skip
            found.append(
                (other, Rule.REQUIRES, f"{other!r} must be empty when {field!r} is no",
                 f"NOT {value} AND {text_column(other)} IS NOT NULL")
            )  # fmt: skip
    return found


def build_checks(dataset: DatasetDef) -> tuple[Check, ...]:
    """Every check for ``dataset``, numbered from 1 in a fixed order."""
    raw: list[tuple[str, Rule, str, str, str | None]] = []
    for field in dataset.fields:
        raw += [(*c, None) for c in _field_checks(field)]
    exclusive = [r for r in dataset.rules if r.type == "exclusive"]
    for rule in dataset.rules:
        # none_of is checked only in the direction its exclusive twin states; when such a twin
        # exists it already reports that direction, so the same problem is not counted twice.
        covered = any(
            e.field == rule.field and set(rule.others) <= set(e.others) for e in exclusive
        )
        raw += [(*c, rule.name) for c in _rule_checks(rule, covered=covered)]
    return tuple(
        Check(id=i, field=f, rule=r, message=m, condition=c, dataset_rule=d)
        for i, (f, r, m, c, d) in enumerate(raw, start=1)
    )


def problems_sql(checks: Sequence[Check]) -> str:
    """SQL for a row's list of failed check ids (empty when the row passes).

    The list is built only for rows that fail a check: building and filtering a list of every
    check's outcome costs more than the checks themselves, and almost every row passes.
    """
    if not checks:
        return "[]::INTEGER[]"
    cases = ", ".join(f"CASE WHEN {c.condition} THEN {c.id} END" for c in checks)
    failed = " OR ".join(f"({c.condition})" for c in checks)
    return (
        f"CASE WHEN {failed} THEN list_filter([{cases}], x -> x IS NOT NULL) ELSE []::INTEGER[] END"
    )
