"""Realistic problems planted in provider files, each one recorded for the ground truth.

:class:`MessRates` holds one rate per kind of problem (``MessRates.clean()`` sets all to zero and
uses the dataset's own names and codes). :func:`plant` orders a source's clean rows the way a
provider sends them, then plants, per row, at most one of: a duplicated record, a mistyped ID (one
digit substituted, or two adjacent digits swapped: the Damm check catches both) or contradictory
flags; and, per cell of rows with none of those, missing values and out-of-range codes. Every
problem is listed with its position, field, provider column and kind, so nothing planted is
unaccounted for.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Final, Self

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field, model_validator

from linkwell.synth.provider import Layout, ProviderColumn, encode
from linkwell.synth.tables import Column, SourceTable

__all__ = ["MessKind", "MessRates", "MessRecords", "PlantedFile", "plant"]

Rate = Annotated[float, Field(ge=0.0, le=1.0)]

_ID_COLUMN: Final = "unique_id"
_SERVICE_RULE: Final = "not-in-receipt-contradiction"
_ASN_RULE: Final = "any-asn-derived"
_FSM_RULE: Final = "fsm-basis"


class MessKind(StrEnum):
    """The kinds of problem planted in provider files."""

    ID_SUBSTITUTION = "id-substitution"
    ID_TRANSPOSITION = "id-transposition"
    DUPLICATE_ID = "duplicate-id"
    MISSING_VALUE = "missing-value"
    OUT_OF_RANGE = "out-of-range"
    CONTRADICTORY_FLAGS = "contradictory-flags"
    NOT_IN_EXTRACT = "not-in-authority-extract"


class MessRates(BaseModel):
    """How much of each problem to plant; the defaults are realistic small rates.

    Row rates (``id_typo``, ``duplicate_id``, ``contradictory_flags``) are the share of a file's
    rows affected, and at most one of them hits any row; cell rates (``missing_value``,
    ``out_of_range``) are the share of non-ID cells of otherwise untouched rows.
    ``missing_from_extract`` is the share of survey respondents the authority's extract lacks.
    The extract always covers non-respondents too: that is how extracts are, not a problem.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id_typo: Rate = Field(0.003, description="Rows whose ID has one mistyped digit or swap.")
    id_transposition_share: Rate = Field(
        0.5, description="Share of ID typos that swap two adjacent digits (the rest substitute)."
    )
    duplicate_id: Rate = Field(0.001, description="Rows sent twice (two rows sharing an ID).")
    missing_value: Rate = Field(0.01, description="Non-ID cells left empty.")
    out_of_range: Rate = Field(0.001, description="Non-ID cells holding a code no mapping accepts.")
    contradictory_flags: Rate = Field(
        0.002, description="Authority rows breaking a rule between flags."
    )
    missing_from_extract: Rate = Field(
        0.005, description="Respondents absent from their authority's extract."
    )
    provider_coding: bool = Field(
        default=True,
        description="Providers' own column names and codes (with a mapping file), not ours.",
    )

    @model_validator(mode="after")
    def _fits(self) -> Self:
        if self.id_typo + self.duplicate_id + self.contradictory_flags > 1:
            msg = "row rates (id_typo, duplicate_id, contradictory_flags) must add up to <= 1"
            raise ValueError(msg)
        if self.missing_value + self.out_of_range > 1:
            msg = "cell rates (missing_value, out_of_range) must add up to <= 1"
            raise ValueError(msg)
        return self

    @classmethod
    def clean(cls) -> MessRates:
        """No planted problems, and the dataset's own column names and codes."""
        return cls(
            id_typo=0,
            duplicate_id=0,
            missing_value=0,
            out_of_range=0,
            contradictory_flags=0,
            missing_from_extract=0,
            provider_coding=False,
        )


@dataclass
class MessRecords:
    """Planted problems of one file, by 0-based position in the file's data rows."""

    position: list[npt.NDArray[np.int64]]
    field: list[str]
    column: list[str]
    kind: list[MessKind]
    detail: list[str | None]

    @classmethod
    def empty(cls) -> MessRecords:
        """No records yet."""
        return cls([], [], [], [], [])

    def add(
        self,
        positions: npt.NDArray[np.integer],
        field: str,
        column: str,
        kind: MessKind,
        detail: str | None = None,
    ) -> None:
        """Record ``kind`` at every position in ``positions``."""
        if len(positions):
            self.position.append(np.asarray(positions, dtype=np.int64))
            self.field.append(field)
            self.column.append(column)
            self.kind.append(kind)
            self.detail.append(detail)

    def count(self) -> int:
        """How many problems are recorded."""
        return sum(len(p) for p in self.position)


@dataclass(frozen=True)
class PlantedFile:
    """A provider file's rows (pupil per row), its cells, and the problems planted in it."""

    table: SourceTable
    layout: Layout
    cells: list[pa.Array]
    records: MessRecords


def _order(school: npt.NDArray[np.integer], rng: np.random.Generator) -> npt.NDArray[np.intp]:
    """Provider order: school by school, pupils in random order within each."""
    return np.lexsort((rng.random(len(school)), school)).astype(np.intp)


def _typos(
    ids: npt.NDArray[np.str_], rows: npt.NDArray[np.intp], share: float, rng: np.random.Generator
) -> tuple[npt.NDArray[np.str_], npt.NDArray[np.bool_]]:
    """Mistype the IDs at ``rows``; return new IDs and which of ``rows`` are transpositions.

    A substitution adds 1-9 to one digit (mod 10); a transposition swaps two adjacent digits
    that differ. Damm's check detects both, so no typo yields another valid ID.
    """
    digits = np.frombuffer(ids[rows].astype("U10").tobytes(), dtype=np.uint32).reshape(-1, 10)
    digits = digits.copy() - ord("0")
    swap = rng.random(len(rows)) < share
    pair_differs = digits[:, :-1] != digits[:, 1:]
    swap &= pair_differs.any(axis=1)
    pick = np.argmax(rng.random(pair_differs.shape) * pair_differs, axis=1)
    at = np.arange(len(rows))
    left = digits[at, pick].copy()
    digits[at[swap], pick[swap]] = digits[at[swap], pick[swap] + 1]
    digits[at[swap], pick[swap] + 1] = left[swap]
    position = rng.integers(0, 10, len(rows))
    bump = rng.integers(1, 10, len(rows)).astype(np.uint32)
    sub = ~swap
    digits[at[sub], position[sub]] = (digits[at[sub], position[sub]] + bump[sub]) % 10
    text = (digits + ord("0")).astype(np.uint32).tobytes()
    changed = np.frombuffer(text, dtype="U10")
    out = ids.copy()
    out[rows] = changed
    return out, swap


def _contradict(
    table: SourceTable,
    rows: npt.NDArray[np.intp],
    records: MessRecords,
    layout: Layout,
    rng: np.random.Generator,
) -> None:
    """Break exactly one of the dataset's cross-field rules in each of ``rows``.

    Each row gets one change that violates one rule and no other: 'not in receipt' set beside a
    service (or a placement set beside 'not in receipt'); 'any ASN' contradicting the reasons
    (or a reason recorded beside 'not in receipt', where raising 'any ASN' would break two
    rules); free school meals without a basis, or a basis without them.
    """
    columns = table.columns
    which = rng.integers(0, 3, len(rows))
    services = [f for r in table.dataset.rules if r.name == _SERVICE_RULE for f in r.others]
    reasons = [f for r in table.dataset.rules if r.name == _ASN_RULE for f in r.others]
    any_service = np.logical_or.reduce([columns[f].data[rows] for f in services])
    any_reason = np.logical_or.reduce([columns[f].data[rows] for f in reasons])
    fsm = columns["free_school_meals"].data[rows].astype(np.bool_)
    changes = (
        ("not_in_receipt", True, _SERVICE_RULE, (which == 0) & any_service),
        ("looked_after_home", True, _SERVICE_RULE, (which == 0) & ~any_service),
        ("any_asn", False, _ASN_RULE, (which == 1) & any_reason),
        ("any_asn", True, _ASN_RULE, (which == 1) & ~any_reason & any_service),
        ("asn_other", True, _ASN_RULE, (which == 1) & ~any_reason & ~any_service),
        ("free_school_meals", False, _FSM_RULE, (which == 2) & fsm),  # noqa: PLR2004
    )
    for field, value, rule, chosen in changes:
        at = rows[chosen]
        columns[field].data[at] = value
        records.add(at, field, layout.column(field).name, MessKind.CONTRADICTORY_FLAGS, rule)
    basis_rows = rows[(which == 2) & ~fsm]  # noqa: PLR2004
    basis = columns["fsm_basis"]
    basis.data[basis_rows] = 1  # 'means-tested'
    if basis.valid is not None:
        basis.valid[basis_rows] = True
    column = layout.column("fsm_basis").name
    records.add(basis_rows, "fsm_basis", column, MessKind.CONTRADICTORY_FLAGS, _FSM_RULE)


def _cell_mess(
    values: pa.Array,
    spec: ProviderColumn,
    column: Column,
    *,
    eligible: npt.NDArray[np.bool_],
    rates: MessRates,
    records: MessRecords,
    rng: np.random.Generator,
) -> pa.Array:
    """Blank some set cells and put out-of-range codes in others, among ``eligible`` rows."""
    chance = rng.random(len(values))
    blank = eligible & column.is_set() & (chance < rates.missing_value)
    wrong = eligible & ~blank & (chance < rates.missing_value + rates.out_of_range)
    wrong &= bool(spec.invalid)
    if blank.any():
        values = pc.if_else(pa.array(blank), pa.scalar(None, values.type), values)
        records.add(np.flatnonzero(blank), spec.field, spec.name, MessKind.MISSING_VALUE)
    if wrong.any():
        invalid = pa.array(list(spec.invalid), values.type)
        picked = pc.take(invalid, pa.array(rng.integers(0, len(spec.invalid), len(values))))
        values = pc.if_else(pa.array(wrong), picked, values)
        records.add(np.flatnonzero(wrong), spec.field, spec.name, MessKind.OUT_OF_RANGE)
    return values


def plant(
    clean: SourceTable,
    layout: Layout,
    rates: MessRates,
    rng: np.random.Generator,
    *,
    school: npt.NDArray[np.integer],
) -> PlantedFile:
    """Order ``clean`` as the provider would, plant problems at ``rates``, and encode the cells.

    ``school`` (one number per row of ``clean``) keeps each school's rows together, as a
    provider's export lists them.
    """
    n = len(clean)
    records = MessRecords.empty()
    draw = rng.random(n)
    duplicated = draw < rates.duplicate_id
    typo = ~duplicated & (draw < rates.duplicate_id + rates.id_typo)
    contradiction = np.zeros(n, dtype=np.bool_)
    if any(rule.name == _SERVICE_RULE for rule in clean.dataset.rules):
        row_rates = rates.duplicate_id + rates.id_typo + rates.contradictory_flags
        contradiction = ~duplicated & ~typo & (draw < row_rates)

    copies = np.flatnonzero(duplicated)
    source_rows = np.concatenate([np.arange(n), copies]).astype(np.intp)
    extended = clean.take(source_rows)
    order = _order(school[source_rows], rng)
    table = extended.take(order)
    position = np.empty(len(order), dtype=np.intp)  # final position of each extended row
    position[order] = np.arange(len(order))
    touched = np.concatenate([duplicated | typo | contradiction, np.ones(len(copies), np.bool_)])
    untouched = ~touched[order]

    id_column = layout.column(_ID_COLUMN).name
    first, copy = np.sort(position[copies]), np.sort(position[n:])
    records.add(first, _ID_COLUMN, id_column, MessKind.DUPLICATE_ID, "first")
    records.add(copy, _ID_COLUMN, id_column, MessKind.DUPLICATE_ID, "copy")
    if contradiction.any():
        _contradict(table, np.sort(position[np.flatnonzero(contradiction)]), records, layout, rng)
    typo_rows = np.sort(position[np.flatnonzero(typo)])
    if len(typo_rows):
        ids, swapped = _typos(
            table.columns[_ID_COLUMN].data.astype(np.str_),
            typo_rows,
            rates.id_transposition_share,
            rng,
        )
        table.columns[_ID_COLUMN] = Column(ids)
        records.add(typo_rows[swapped], _ID_COLUMN, id_column, MessKind.ID_TRANSPOSITION)
        records.add(typo_rows[~swapped], _ID_COLUMN, id_column, MessKind.ID_SUBSTITUTION)

    cells = []
    for spec in layout.columns:
        column = table.columns[spec.field]
        values = encode(spec, clean.dataset.field(spec.field), column)
        if spec.field != _ID_COLUMN and (rates.missing_value or rates.out_of_range):
            values = _cell_mess(
                values, spec, column, eligible=untouched, rates=rates, records=records, rng=rng
            )
        cells.append(values)
    return PlantedFile(table=table, layout=layout, cells=cells, records=records)
