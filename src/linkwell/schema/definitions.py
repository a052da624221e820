"""Dataset definitions: the fields each source supplies and the scoring rules of its instruments.

Definitions are versioned TOML files shipped with the package (``definitions/<id>.v<N>.toml``),
parsed into frozen models. The model itself enforces the leaflet's exclusions: every field must
be of a declared kind, and no kind exists for names, contact details, dates of birth or health
records, while a field whose name reads like one is refused — so a schema that asks for them
cannot be declared at all.
"""

from __future__ import annotations

import itertools
import re
import tomllib
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic import ValidationError as PydanticValidationError

from linkwell.config import SourceKind
from linkwell.errors import SchemaError

__all__ = [
    "FORBIDDEN_NAME_PARTS",
    "BandCut",
    "BandDef",
    "DatasetDef",
    "FieldDef",
    "FieldKind",
    "FieldType",
    "InstrumentDef",
    "RuleDef",
    "ScaleDef",
    "TotalDef",
    "available_datasets",
    "load_dataset",
    "parse_dataset",
]

FieldName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$")]

FORBIDDEN_NAME_PARTS = frozenset(
    {
        "name", "names", "forename", "forenames", "surname", "surnames", "firstname", "lastname",
        "fullname", "givenname", "familyname", "middlename", "nickname", "initials",
        "dob", "birth", "birthdate", "birthday", "address", "postcode", "zipcode", "street",
        "email", "phone", "telephone", "mobile", "chi", "nhs", "scn", "upn", "nino",
        "diagnosis", "diagnoses", "icd", "medication", "medicine", "prescription", "hospital",
        "gp", "clinic", "clinical", "treatment", "disease", "illness", "health", "medical",
    }
)  # fmt: skip
"""Words that mark a personal identifier other than the survey ID, or health data.

A field name is split on ``_`` and refused if any part is one of these; validation uses the same
words to call out a provider's dropped column that looks like personal or health data.
"""
# Pupil-census ASN reason categories are education categories, not health records; their names
# contain words above ("mental_health", "physical_medical") only inside these fixed names.
_ALLOWED_NAMES = frozenset({"asn_mental_health", "asn_physical_medical"})


class FieldKind(StrEnum):
    """What a field is about. There is deliberately no kind for names or health data."""

    SURVEY_ID = "survey-id"
    SERVICE = "service"
    SUPPORT_NEED = "support-need"
    ENTITLEMENT = "entitlement"
    AREA = "area"
    SCHOOL = "school"
    DEMOGRAPHIC = "demographic"
    SURVEY_ITEM = "survey-item"
    WEIGHT = "weight"


class FieldType(StrEnum):
    """How a field's values are stored and checked."""

    ID = "id"
    BOOLEAN = "boolean"
    INTEGER = "integer"
    CATEGORY = "category"
    CODE = "code"
    NUMBER = "number"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FieldDef(_Model):
    """One field of a dataset.

    ``derived`` fields are computed by linkwell from others; a provider may still supply one, in
    which case it is checked against the computed value. ``labels`` are human labels for codes
    (used for SPSS value labels and reports), never wording of a copyrighted item.
    """

    name: FieldName
    kind: FieldKind
    type: FieldType
    description: str = Field(min_length=1)
    required: bool = True
    derived: bool = False
    minimum: float | None = None
    maximum: float | None = None
    codes: tuple[str, ...] | None = None
    labels: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _well_formed(self) -> Self:
        parts = set(self.name.split("_"))
        if self.name not in _ALLOWED_NAMES and parts & FORBIDDEN_NAME_PARTS:
            msg = (
                f"field {self.name!r} looks like a name, contact detail, date of birth or health "
                "record; linkwell datasets may not hold any of these"
            )
            raise ValueError(msg)
        if (self.type is FieldType.ID) != (self.kind is FieldKind.SURVEY_ID):
            msg = f"field {self.name!r}: only the survey-id field may be of type id, and it must be"
            raise ValueError(msg)
        if self.type is FieldType.CATEGORY and not self.codes:
            msg = f"category field {self.name!r} needs its codes"
            raise ValueError(msg)
        if self.type in (FieldType.INTEGER, FieldType.NUMBER) and (
            self.minimum is None or self.maximum is None or self.minimum > self.maximum
        ):
            msg = f"numeric field {self.name!r} needs minimum <= maximum"
            raise ValueError(msg)
        return self


class ScaleDef(_Model):
    """A scale scored from items: the sum of item scores, prorated where the instrument allows.

    With every item answered the score is the plain sum (reverse items scored as
    ``item_min + item_max - value``). With at least ``min_answered`` items it is the mean of the
    answered items times the number of items, rounded half up; below that it is missing.
    """

    name: FieldName
    items: tuple[FieldName, ...] = Field(min_length=1)
    reverse: tuple[FieldName, ...] = ()
    item_min: int
    item_max: int
    min_answered: int

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if not set(self.reverse) <= set(self.items):
            msg = f"scale {self.name!r}: reverse items must be among its items"
            raise ValueError(msg)
        if not 1 <= self.min_answered <= len(self.items):
            msg = f"scale {self.name!r}: min_answered must be between 1 and the number of items"
            raise ValueError(msg)
        return self

    @property
    def minimum(self) -> int:
        """Lowest possible score."""
        return self.item_min * len(self.items)

    @property
    def maximum(self) -> int:
        """Highest possible score."""
        return self.item_max * len(self.items)


class TotalDef(_Model):
    """A total of scales; missing if any of its scales is missing."""

    name: FieldName
    scales: tuple[FieldName, ...] = Field(min_length=2)


class BandCut(_Model):
    """One band: scores from ``min`` to ``max`` inclusive get ``label``."""

    label: str
    min: int
    max: int


class BandDef(_Model):
    """A classification of a score into labelled bands covering its whole range."""

    name: FieldName
    score: FieldName
    cuts: tuple[BandCut, ...] = Field(min_length=2)

    @model_validator(mode="after")
    def _contiguous(self) -> Self:
        ordered = sorted(self.cuts, key=lambda c: c.min)
        for low, high in itertools.pairwise(ordered):
            if high.min != low.max + 1:
                msg = f"bands of {self.name!r} must be contiguous and not overlap"
                raise ValueError(msg)
        return self


class InstrumentDef(_Model):
    """A questionnaire instrument: item codes and scoring rules, never item wording."""

    name: FieldName
    title: str
    scoring_notes: str
    scales: tuple[ScaleDef, ...] = ()
    totals: tuple[TotalDef, ...] = ()
    bands: tuple[BandDef, ...] = ()


class RuleDef(_Model):
    """A rule across fields of one row.

    * ``exclusive``: ``field`` true together with any of ``others`` true is contradictory.
    * ``any_of``: derived ``field`` is true exactly when any of ``others`` is true.
    * ``none_of``: derived ``field`` is true exactly when none of ``others`` is true; a supplied
      value is only checked in the direction ``exclusive`` states.
    * ``requires``: when boolean ``field`` is true, every one of ``others`` must be present,
      and when it is false they must be missing.
    """

    name: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,62}$")]
    type: Literal["exclusive", "any_of", "none_of", "requires"]
    field: FieldName
    others: tuple[FieldName, ...] = Field(min_length=1)
    description: str


class DatasetDef(_Model):
    """A versioned dataset definition."""

    id: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,62}$")]
    version: int = Field(ge=1)
    kind: SourceKind
    title: str
    description: str
    fields: tuple[FieldDef, ...]
    instruments: tuple[InstrumentDef, ...] = ()
    rules: tuple[RuleDef, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            msg = "field names must be unique"
            raise ValueError(msg)
        if [f.name for f in self.fields if f.kind is FieldKind.SURVEY_ID] != ["unique_id"]:
            msg = "a dataset has exactly one survey-id field, called unique_id"
            raise ValueError(msg)
        known = set(names)
        scored = {s.name for i in self.instruments for s in i.scales} | {
            t.name for i in self.instruments for t in i.totals
        }
        for instrument in self.instruments:
            for scale in instrument.scales:
                if not set(scale.items) <= known:
                    msg = f"scale {scale.name!r} uses items that are not fields"
                    raise ValueError(msg)
            for total in instrument.totals:
                if not set(total.scales) <= scored:
                    msg = f"total {total.name!r} uses unknown scales"
                    raise ValueError(msg)
            for band in instrument.bands:
                if band.score not in scored:
                    msg = f"band {band.name!r} classifies an unknown score"
                    raise ValueError(msg)
        for rule in self.rules:
            if not {rule.field, *rule.others} <= known:
                msg = f"rule {rule.name!r} names fields that are not in the dataset"
                raise ValueError(msg)
        return self

    def field(self, name: str) -> FieldDef:
        """The field called ``name``."""
        for field in self.fields:
            if field.name == name:
                return field
        raise SchemaError(f"dataset {self.id} v{self.version} has no field {name!r}", field=name)

    @property
    def content_fields(self) -> tuple[FieldDef, ...]:
        """Every field except the survey ID: what goes to the linker."""
        return tuple(f for f in self.fields if f.kind is not FieldKind.SURVEY_ID)

    @property
    def key(self) -> str:
        """``id@version``, as written in manifests."""
        return f"{self.id}@{self.version}"


_DEFINITIONS = "definitions"
_FILE = re.compile(r"^(?P<id>[a-z][a-z0-9-]*)\.v(?P<version>[1-9][0-9]*)\.toml$")


def available_datasets() -> tuple[tuple[str, int], ...]:
    """Every ``(id, version)`` shipped with this release of linkwell."""
    found = []
    for entry in resources.files(__package__).joinpath(_DEFINITIONS).iterdir():
        match = _FILE.match(entry.name)
        if match:
            found.append((match["id"], int(match["version"])))
    return tuple(sorted(found))


@cache
def load_dataset(dataset_id: str, version: int) -> DatasetDef:
    """The shipped definition ``dataset_id`` at ``version``."""
    if (dataset_id, version) not in available_datasets():
        raise SchemaError(
            f"no dataset definition {dataset_id!r} version {version}",
            hint="available: " + ", ".join(f"{i} v{v}" for i, v in available_datasets()),
        )
    name = f"{dataset_id}.v{version}.toml"
    text = resources.files(__package__).joinpath(_DEFINITIONS, name).read_text(encoding="utf-8")
    return parse_dataset(text, origin=name)


def parse_dataset(text: str, *, origin: str) -> DatasetDef:
    """Parse and validate a dataset definition from TOML text."""
    try:
        definition = DatasetDef.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise SchemaError("dataset definition is not valid TOML", file=origin) from exc
    except PydanticValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or None
        raise SchemaError(
            f"dataset definition refused: {first['msg']}", file=origin, field=where
        ) from exc
    return definition
