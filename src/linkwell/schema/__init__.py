"""Dataset definitions, the unique survey ID, reading providers' files and validating them.

Definitions (:func:`load_dataset`) say what each source supplies and how its instruments are
scored; :mod:`linkwell.schema.ids` defines the survey ID and its check digit.
"""

from linkwell.schema.definitions import (
    BandDef,
    DatasetDef,
    FieldDef,
    FieldKind,
    FieldType,
    InstrumentDef,
    RuleDef,
    ScaleDef,
    TotalDef,
    available_datasets,
    load_dataset,
    parse_dataset,
)
from linkwell.schema.ids import ID_SCHEME, check_digit, is_valid_id, issue_ids

__all__ = [
    "ID_SCHEME",
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
    "check_digit",
    "is_valid_id",
    "issue_ids",
    "load_dataset",
    "parse_dataset",
]
