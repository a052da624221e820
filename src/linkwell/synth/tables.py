"""The area as canonical tables: one per source in its dataset's fields, and the ground truth.

A :class:`SourceTable` holds, per row, the pupil it describes and a :class:`Column` per field
supplied, typed the way validation leaves them (ID and codes as text, yes/no as booleans,
integers, categories as an index into the definition's codes). Provider files are made from
these by taking rows and encoding them; the clean tables themselves are written as the canonical
Parquet for benchmarks, and :func:`truth_table` joins everything per pupil.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from linkwell.schema.definitions import DatasetDef, FieldDef, FieldType, load_dataset
from linkwell.synth.items import PRIMARY, SECONDARY
from linkwell.synth.parameters import PRIMARY_STAGES, STAGES
from linkwell.synth.population import Population
from linkwell.synth.services import FsmBasis, Services
from linkwell.synth.survey import NOT_ASKED, SEX_CODES, SurveyAnswers, survey_item_fields

__all__ = [
    "AUTHORITY",
    "Area",
    "Column",
    "SourceTable",
    "arrow_column",
    "authority_source_name",
    "source_tables",
    "truth_table",
]

AUTHORITY: Final = load_dataset("authority", 1)

_INTEGER: Final = pa.int16()


@dataclass(frozen=True)
class Column:
    """A field's values (text, booleans, integers or category indexes); ``valid`` marks set ones."""

    data: npt.NDArray[np.generic]
    valid: npt.NDArray[np.bool_] | None = None

    def take(self, rows: npt.NDArray[np.intp]) -> Column:
        """The values at ``rows`` (a copy, safe to modify)."""
        return Column(self.data[rows], None if self.valid is None else self.valid[rows])

    def is_set(self) -> npt.NDArray[np.bool_]:
        """Where a value is present."""
        return np.ones(len(self.data), np.bool_) if self.valid is None else self.valid


def arrow_column(field: FieldDef, column: Column) -> pa.Array:
    """``column`` as an Arrow array of the field's canonical type (nulls where not set)."""
    mask = None if column.valid is None else ~column.valid
    if field.type is FieldType.CATEGORY:
        codes = pa.array(field.codes or (), pa.string())
        return pc.take(codes, pa.array(column.data.astype(np.int32), mask=mask))
    if field.type is FieldType.BOOLEAN:
        return pa.array(column.data.astype(np.bool_), pa.bool_(), mask=mask)
    if field.type is FieldType.INTEGER:
        return pa.array(column.data.astype(np.int16), _INTEGER, mask=mask)
    if field.type is FieldType.NUMBER:
        return pa.array(column.data.astype(np.float64), pa.float64(), mask=mask)
    return pa.array(column.data.astype(str), pa.string(), mask=mask)


@dataclass(frozen=True)
class SourceTable:
    """A source's rows in canonical form, and the pupil behind each row."""

    name: str
    dataset: DatasetDef
    authority_code: str | None
    pupils: npt.NDArray[np.intp]
    columns: dict[str, Column]

    def __len__(self) -> int:
        return len(self.pupils)

    def take(self, rows: npt.NDArray[np.intp]) -> SourceTable:
        """The rows at positions ``rows``, in that order."""
        taken = {name: column.take(rows) for name, column in self.columns.items()}
        return replace(self, pupils=self.pupils[rows], columns=taken)

    def to_arrow(self) -> pa.Table:
        """Every field of the dataset, canonical types; fields not supplied are all null."""
        arrays = []
        for field in self.dataset.fields:
            column = self.columns.get(field.name)
            if column is None:
                column = Column(np.zeros(len(self), np.int8), np.zeros(len(self), np.bool_))
            arrays.append(arrow_column(field, column))
        return pa.table(arrays, names=[f.name for f in self.dataset.fields])


@dataclass(frozen=True)
class Area:
    """Everything drawn for the area, one entry per pupil."""

    population: Population
    services: Services
    respondents: npt.NDArray[np.bool_]
    answers: SurveyAnswers
    ids: npt.NDArray[np.str_]

    @property
    def authority_code(self) -> npt.NDArray[np.str_]:
        """Each pupil's authority code."""
        codes = np.asarray(self.population.authority_codes)
        return codes[self.population.pupils.authority]

    @property
    def school_code(self) -> npt.NDArray[np.str_]:
        """Each pupil's school code."""
        return self.population.schools.code[self.population.pupils.school]


def authority_source_name(code: str) -> str:
    """Source name of an authority's extract, e.g. ``authority-s12000047``."""
    return f"authority-{code.lower()}"


def _survey_columns(area: Area, dataset: DatasetDef, first_stage: int) -> dict[str, Column]:
    answers = area.answers
    columns = {
        "unique_id": Column(area.ids),
        "school": Column(area.school_code),
        "authority": Column(area.authority_code),
        "stage": Column((area.population.pupils.stage - first_stage).astype(np.int8)),
        "sex": Column(answers.reported_sex, answers.reported_sex != NOT_ASKED),
    }
    for name in survey_item_fields(dataset):
        values = answers.values[name]
        data = values == 1 if dataset.field(name).type is FieldType.BOOLEAN else values
        columns[name] = Column(data, values != NOT_ASKED)
    return columns


def _authority_columns(area: Area, services: Services) -> dict[str, Column]:
    pupils = area.population.pupils
    columns = {
        "unique_id": Column(area.ids),
        "school": Column(area.school_code),
        "simd_decile": Column(pupils.simd_decile),
        "urban_rural": Column(pupils.urban_rural),
    }
    columns |= {name: Column(values) for name, values in services.flags.items()}
    basis = services.fsm_basis
    index = np.where(basis == FsmBasis.MEANS_TESTED, 1, 0).astype(np.int8)
    columns["fsm_basis"] = Column(index, basis != FsmBasis.NONE)
    return {f.name: columns[f.name] for f in AUTHORITY.fields}


def source_tables(area: Area) -> list[SourceTable]:
    """The clean tables: each survey's respondents, and all pupils of each authority.

    Rows are in pupil order; provider files choose their own order.
    """
    pupils = area.population.pupils
    tables = []
    for name, dataset, in_sector, first in (
        ("secondary", SECONDARY, pupils.secondary, PRIMARY_STAGES),
        ("primary", PRIMARY, ~pupils.secondary, 0),
    ):
        whole = SourceTable(
            name, dataset, None, np.arange(len(pupils)), _survey_columns(area, dataset, first)
        )
        tables.append(whole.take(np.flatnonzero(area.respondents & in_sector)))
    authority = SourceTable(
        "authority",
        AUTHORITY,
        None,
        np.arange(len(pupils)),
        _authority_columns(area, area.services),
    )
    for index, code in enumerate(area.population.authority_codes):
        rows = np.flatnonzero(pupils.authority == index)
        tables.append(
            replace(authority.take(rows), name=authority_source_name(code), authority_code=code)
        )
    return tables


def truth_table(area: Area, *, in_extract: npt.NDArray[np.bool_]) -> pa.Table:
    """Per pupil: true ID, place, stage, sex, every authority field, participation, answers."""
    pupils = area.population.pupils
    stage_codes = pa.array(STAGES, pa.string())
    sex = np.where(pupils.female, SEX_CODES.index("female"), SEX_CODES.index("male"))
    arrays: dict[str, pa.Array] = {
        "unique_id": pa.array(area.ids, pa.string()),
        "authority": pa.array(area.authority_code, pa.string()),
        "school": pa.array(area.school_code, pa.string()),
        "survey": pc.take(
            pa.array(["primary", "secondary"]), pa.array(pupils.secondary.astype(np.int8))
        ),
        "stage": pc.take(stage_codes, pa.array(pupils.stage.astype(np.int32))),
        "sex": pc.take(pa.array(SEX_CODES), pa.array(sex.astype(np.int32))),
    }
    authority = _authority_columns(area, area.services)
    for field in AUTHORITY.fields:
        if field.name not in arrays:
            arrays[field.name] = arrow_column(field, authority[field.name])
    arrays["participated"] = pa.array(area.respondents, pa.bool_())
    arrays["in_authority_extract"] = pa.array(in_extract, pa.bool_())
    reported = area.answers.reported_sex
    arrays["reported_sex"] = pc.take(
        pa.array(SEX_CODES),
        pa.array(np.maximum(reported, 0).astype(np.int32), mask=reported == NOT_ASKED),
    )
    for dataset in (PRIMARY, SECONDARY):
        for name in survey_item_fields(dataset):
            if name in arrays:
                continue
            values = area.answers.values[name]
            is_boolean = dataset.field(name).type is FieldType.BOOLEAN
            arrays[name] = arrow_column(
                dataset.field(name),
                Column(values == 1 if is_boolean else values, values != NOT_ASKED),
            )
    return pa.table(arrays)
