"""How each provider writes its file: column names, codes, missing-value codes, value labels.

With provider coding, each source looks like its real sender's export: the secondary survey uses
``PupilID``, stage ``S01``, sex ``M``/``F`` and 1 = yes / 2 = no with ``-9`` for no answer; the
primary survey is an SPSS file with numeric codes and value labels; the authority extract says
``LAC_Foster`` = ``Y``/``N``. Without it every file uses the dataset's own names and codes. For
each layout :func:`mapping_for` gives the :class:`~linkwell.config.ColumnMapping` that turns the
file back into the dataset, and :func:`encode` turns canonical columns into provider cells.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from linkwell.config import ColumnMapping
from linkwell.schema.definitions import DatasetDef, FieldDef, FieldType
from linkwell.synth.tables import Column

__all__ = [
    "FileFormat",
    "Layout",
    "ProviderColumn",
    "SourceRole",
    "encode",
    "layout_for",
    "mapping_for",
]

Cell = str | int
Codes = tuple[Cell, ...]


class FileFormat(StrEnum):
    """File formats a provider may send."""

    CSV = "csv"
    XLSX = "xlsx"
    SAV = "sav"
    PARQUET = "parquet"


class SourceRole(StrEnum):
    """Which of the three kinds of provider file a layout is for."""

    SECONDARY = "secondary"
    PRIMARY = "primary"
    AUTHORITY = "authority"


@dataclass(frozen=True)
class ProviderColumn:
    """One column of a provider file.

    ``codes`` gives the provider's value for each canonical code (``(no, yes)`` for yes/no
    fields, the definition's order for categories); ``None`` passes values through. ``invalid``
    are values the provider might send that no mapping accepts (planted as out-of-range codes).
    ``labels`` are SPSS value labels of a numeric column.
    """

    field: str
    name: str
    numeric: bool
    codes: tuple[Cell, ...] | None = None
    invalid: tuple[Cell, ...] = ()
    labels: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class Layout:
    """A provider file's columns, its missing-value code and, for spreadsheets, its sheet."""

    role: SourceRole
    columns: tuple[ProviderColumn, ...]
    missing: Cell | None
    sheet: str

    def column(self, field: str) -> ProviderColumn:
        """The column holding ``field``."""
        return next(c for c in self.columns if c.field == field)


_SHEET: Final = "Pupils"
_SECONDARY_MISSING: Final = -9
_FIXED_NAMES: Final[dict[SourceRole, dict[str, str]]] = {
    SourceRole.SECONDARY: {
        "unique_id": "PupilID", "school": "SchoolCode", "authority": "LACode", "stage": "Stage",
        "sex": "Sex", "bullied": "Bullied", "young_carer": "YoungCarer", "smoking": "Smoking",
        "alcohol_last_week": "AlcoholLastWeek", "drugs_last_month": "DrugsLastMonth",
        "offered_drugs": "OfferedDrugs",
    },
    SourceRole.PRIMARY: {
        "unique_id": "UniqueID", "school": "SchCode", "authority": "LA", "stage": "Stage",
        "sex": "Sex", "life_satisfaction": "LifeSat", "bullied": "Bullied", "young_carer": "Carer",
    },
    SourceRole.AUTHORITY: {
        "unique_id": "PupilID", "school": "SchoolCode", "simd_decile": "SIMD_Decile",
        "urban_rural": "UR8", "not_in_receipt": "NotInReceipt", "looked_after_home": "LAC_Home",
        "looked_after_foster": "LAC_Foster", "looked_after_kinship": "LAC_Kinship",
        "looked_after_residential": "LAC_Residential", "child_protection": "CPR",
        "coordinated_support_plan": "CSP", "individualised_education_plan": "IEP",
        "any_asn": "ASN_Any", "free_school_meals": "FSM", "fsm_basis": "FSM_Basis",
        "through_care_after_care": "Throughcare_Aftercare",
        "prospective_adopters": "Prospective_Adopters",
    },
}  # fmt: skip
_NUMBERED: Final[dict[SourceRole, dict[str, str]]] = {
    SourceRole.SECONDARY: {
        "sdq": "SDQ", "wemwbs": "WEMWBS", "family_connect": "FamilyConnect",
        "school_connect": "SchoolConnect",
    },
    SourceRole.PRIMARY: {"mood": "Mood", "family_connect": "FamConn", "school_connect": "SchConn"},
    SourceRole.AUTHORITY: {},
}  # fmt: skip
_ABBREVIATIONS: Final = {"sebd": "SEBD", "eal": "EAL"}
_CATEGORY_CODES: Final[dict[tuple[SourceRole, str], tuple[Codes, Codes]]] = {
    (SourceRole.SECONDARY, "stage"): (("S01", "S02", "S03", "S04"), ("S05", "S00")),
    (SourceRole.SECONDARY, "sex"): (("F", "M", "O"), ("X", "U")),
    (SourceRole.PRIMARY, "stage"): ((5, 6, 7), (4, 8)),
    (SourceRole.PRIMARY, "sex"): ((2, 1, 3), (4, 9)),
    (SourceRole.AUTHORITY, "fsm_basis"): (("Universal", "Means tested"), ("Other", "X")),
}
_BOOLEAN_CODES: Final[dict[SourceRole, tuple[Codes, Codes]]] = {
    SourceRole.SECONDARY: ((2, 1), (3, 9)),
    SourceRole.PRIMARY: ((0, 1), (2, 9)),
    SourceRole.AUTHORITY: (("N", "Y"), ("U", "X")),
}
_PROVIDER_LABELS: Final[dict[str, tuple[tuple[int, str], ...]]] = {
    "stage": ((5, "P5"), (6, "P6"), (7, "P7")),
    "sex": ((1, "Boy"), (2, "Girl"), (3, "Other")),
    "young_carer": ((0, "No"), (1, "Yes")),
    "life_satisfaction": ((0, "Worst possible life"), (10, "Best possible life")),
    "mood": ((1, "Never"), (2, "Rarely"), (3, "Some of the time"), (4, "Often"), (5, "Always")),
}


def _provider_name(role: SourceRole, field: str) -> str:
    fixed = _FIXED_NAMES[role].get(field)
    if fixed is not None:
        return fixed
    match = re.fullmatch(r"(?P<stem>[a-z_]+)_(?P<number>\d+)", field)
    if match and match["stem"] in _NUMBERED[role]:
        return f"{_NUMBERED[role][match['stem']]}{int(match['number'])}"
    if field.startswith("asn_"):
        parts = field.removeprefix("asn_").split("_")
        return "ASN_" + "".join(_ABBREVIATIONS.get(part, part.title()) for part in parts)
    return field


def _integer_invalid(field: FieldDef, missing: Cell | None) -> tuple[Cell, ...]:
    low, high = int(field.minimum or 0), int(field.maximum or 0)
    candidates = [high + 1, 99] if high < 99 else [high + 1]  # noqa: PLR2004 - a common junk code
    if low >= 1:
        candidates.insert(0, low - 1)
    return tuple(c for c in candidates if c != missing)


def _labels_of(role: SourceRole, field: FieldDef, *, provider: bool) -> tuple[tuple[int, str], ...]:
    """SPSS value labels for a numeric column of the primary survey."""
    if role is not SourceRole.PRIMARY:
        return ()
    stem = field.name.rsplit("_", 1)[0] if field.name.startswith("mood_") else field.name
    if provider and stem in _PROVIDER_LABELS:
        return _PROVIDER_LABELS[stem]
    return tuple((int(code), label) for code, label in field.labels.items())


def _coded(role: SourceRole, field: FieldDef, *, provider: bool) -> tuple[Codes, Codes]:
    """The codes written for a yes/no or category field, and codes no mapping accepts."""
    if field.type is FieldType.BOOLEAN:
        return _BOOLEAN_CODES[role] if provider else (("false", "true"), ("U", "X"))
    if provider and (role, field.name) in _CATEGORY_CODES:
        return _CATEGORY_CODES[role, field.name]
    return tuple(field.codes or ()), ("X", "unknown")


def _column(
    role: SourceRole, field: FieldDef, *, provider: bool, missing: Cell | None
) -> ProviderColumn:
    name = _provider_name(role, field.name) if provider else field.name
    if field.type in (FieldType.BOOLEAN, FieldType.CATEGORY):
        codes, invalid = _coded(role, field, provider=provider)
        numeric = isinstance(codes[0], int)
        return ProviderColumn(
            field=field.name,
            name=name,
            numeric=numeric,
            codes=codes,
            invalid=invalid,
            labels=_labels_of(role, field, provider=provider) if numeric else (),
        )
    if field.type is FieldType.INTEGER:
        return ProviderColumn(
            field=field.name,
            name=name,
            numeric=True,
            invalid=_integer_invalid(field, missing),
            labels=_labels_of(role, field, provider=provider),
        )
    return ProviderColumn(field=field.name, name=name, numeric=False)


def layout_for(role: SourceRole, dataset: DatasetDef, *, provider_coding: bool) -> Layout:
    """The layout of ``role``'s file; the optional survey weight is never sent."""
    missing: Cell | None = (
        _SECONDARY_MISSING if provider_coding and role is SourceRole.SECONDARY else None
    )
    columns = tuple(
        _column(role, field, provider=provider_coding, missing=missing)
        for field in dataset.fields
        if field.type is not FieldType.NUMBER
    )
    return Layout(role=role, columns=columns, missing=missing, sheet=_SHEET)


def mapping_for(layout: Layout, dataset: DatasetDef, file_format: FileFormat) -> ColumnMapping:
    """The mapping that turns ``layout``'s file, sent as ``file_format``, into ``dataset``.

    SPSS files carry value labels, and a reader may land either the codes or the labels, so the
    mapping of a .sav file accepts both.
    """
    labelled = file_format is FileFormat.SAV
    renames = {c.name: c.field for c in layout.columns if c.name != c.field}
    true_codes: list[str] = []
    false_codes: list[str] = []
    codes: dict[str, dict[str, str]] = {}
    for column in layout.columns:
        field = dataset.field(column.field)
        labels = dict(column.labels) if labelled else {}
        if field.type is FieldType.BOOLEAN and column.codes is not None:
            no, yes = column.codes
            for bucket, value in ((false_codes, no), (true_codes, yes)):
                for text in (str(value), labels.get(value) if isinstance(value, int) else None):
                    if text is not None and text.lower() not in (t.lower() for t in bucket):
                        bucket.append(text)
        elif field.type is FieldType.CATEGORY and column.codes is not None:
            table = {}
            for ours, theirs in zip(field.codes or (), column.codes, strict=True):
                table[str(theirs)] = ours
                if isinstance(theirs, int) and theirs in labels:
                    table[labels[theirs]] = ours
            if any(k != v for k, v in table.items()):
                codes[field.name] = table
        elif labels:
            # Every valid code maps to itself, so the table reads the codes as well as the labels.
            low, high = int(field.minimum or 0), int(field.maximum or 0)
            table = {str(code): str(code) for code in range(low, high + 1)}
            table |= {label: str(code) for code, label in column.labels}
            codes[field.name] = table
    missing = ("",) if layout.missing is None else ("", str(layout.missing))
    return ColumnMapping(
        columns=renames,
        true_codes=tuple(true_codes) or ColumnMapping().true_codes,
        false_codes=tuple(false_codes) or ColumnMapping().false_codes,
        missing_codes=missing,
        codes=codes,
        sheet=layout.sheet if file_format is FileFormat.XLSX else None,
    )


def encode(spec: ProviderColumn, field: FieldDef, column: Column) -> pa.Array:
    """Canonical values as the provider's cells: int64 for numeric columns, text otherwise.

    Absent values are nulls; the writer turns them into the layout's missing code.
    """
    mask = None if column.valid is None else pa.array(~column.valid)
    kind = pa.int64() if spec.numeric else pa.string()
    if spec.codes is not None:
        index = column.data.astype(np.int64)
        if field.type is FieldType.BOOLEAN:
            index = column.data.astype(np.bool_).astype(np.int64)
        if column.valid is not None:
            index = np.where(column.valid, index, 0)
        values = pc.take(pa.array(list(spec.codes), kind), pa.array(index))
    elif spec.numeric:
        values = pa.array(column.data.astype(np.int64), kind)
    else:
        values = pa.array(column.data.astype(str), kind)
    if mask is not None:
        values = pc.if_else(mask, pa.scalar(None, kind), values)
    return values
