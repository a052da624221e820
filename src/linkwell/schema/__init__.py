"""Dataset definitions, the unique survey ID, reading providers' files and validating them.

Definitions (:func:`load_dataset`) say what each source supplies and how its instruments are
scored; :mod:`linkwell.schema.ids` defines the survey ID and its check digit. :func:`read_table`
lands any provider file as text, :func:`plan_mapping` matches its columns to a dataset, and
:func:`validate_file` checks every row, quarantining the ones with problems.
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
from linkwell.schema.mapping import MappingPlan, plan_mapping
from linkwell.schema.readers import ReadResult, SourceFormat, read_table
from linkwell.schema.rules import Rule
from linkwell.schema.validate import ValidationResult, validate_file, validate_table

__all__ = [
    "ID_SCHEME",
    "BandDef",
    "DatasetDef",
    "FieldDef",
    "FieldKind",
    "FieldType",
    "InstrumentDef",
    "MappingPlan",
    "ReadResult",
    "Rule",
    "RuleDef",
    "ScaleDef",
    "SourceFormat",
    "TotalDef",
    "ValidationResult",
    "available_datasets",
    "check_digit",
    "is_valid_id",
    "issue_ids",
    "load_dataset",
    "parse_dataset",
    "plan_mapping",
    "read_table",
    "validate_file",
    "validate_table",
]
