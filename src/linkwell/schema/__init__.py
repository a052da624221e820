"""Dataset definitions, the unique survey ID, reading providers' files and validating them.

Definitions (:func:`load_dataset`) say what each source supplies and how its instruments are
scored; :mod:`linkwell.schema.ids` defines the survey ID and its check digit. :func:`read_table`
lands any provider file as text, :func:`plan_mapping` matches its columns to a dataset, and
:func:`validate_file` checks every row, quarantining the ones with problems. Names are imported
on first use: a layer that needs the definitions alone (sealing, which checks what a package
may carry) does not load the readers and their database engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from linkwell._exports import on_first_use

if TYPE_CHECKING:
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

_EXPORTS: dict[str, str] = {
    "BandDef": "linkwell.schema.definitions",
    "DatasetDef": "linkwell.schema.definitions",
    "FieldDef": "linkwell.schema.definitions",
    "FieldKind": "linkwell.schema.definitions",
    "FieldType": "linkwell.schema.definitions",
    "InstrumentDef": "linkwell.schema.definitions",
    "RuleDef": "linkwell.schema.definitions",
    "ScaleDef": "linkwell.schema.definitions",
    "TotalDef": "linkwell.schema.definitions",
    "available_datasets": "linkwell.schema.definitions",
    "load_dataset": "linkwell.schema.definitions",
    "parse_dataset": "linkwell.schema.definitions",
    "ID_SCHEME": "linkwell.schema.ids",
    "check_digit": "linkwell.schema.ids",
    "is_valid_id": "linkwell.schema.ids",
    "issue_ids": "linkwell.schema.ids",
    "MappingPlan": "linkwell.schema.mapping",
    "plan_mapping": "linkwell.schema.mapping",
    "ReadResult": "linkwell.schema.readers",
    "SourceFormat": "linkwell.schema.readers",
    "read_table": "linkwell.schema.readers",
    "Rule": "linkwell.schema.rules",
    "ValidationResult": "linkwell.schema.validate",
    "validate_file": "linkwell.schema.validate",
    "validate_table": "linkwell.schema.validate",
}

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

__getattr__ = on_first_use(__name__, _EXPORTS)


def __dir__() -> list[str]:
    return sorted(__all__)
