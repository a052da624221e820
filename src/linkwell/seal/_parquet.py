"""The shape of a Parquet payload (columns with Arrow types, row count), read from its footer only.

The sender records the shape in the manifest and the recipient compares the decrypted file's shape
with it, so a package cannot deliver other columns than it declares. Only the footer is read: no
row data passes through Python.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import ValidationError as PydanticValidationError

from linkwell.errors import LinkwellError
from linkwell.seal.manifest import Column

__all__ = ["parquet_shape"]


def parquet_shape(
    path: Path, *, on_error: Callable[[str], LinkwellError]
) -> tuple[tuple[Column, ...], int]:
    """The columns and row count of the Parquet file ``path``; ``on_error(why)`` if unreadable."""
    try:
        with pq.ParquetFile(path) as parquet:
            schema = parquet.schema_arrow
            rows = parquet.metadata.num_rows
    except (pa.ArrowException, OSError, ValueError) as exc:
        # ValueError: pyarrow decodes column names as UTF-8 and lets the decoder's error through.
        raise on_error("it is not a readable Parquet file") from exc
    try:
        columns = tuple(Column(name=field.name, type=str(field.type)) for field in schema)
    except PydanticValidationError:
        raise on_error("a column name is empty or too long") from None
    if len({c.name for c in columns}) != len(columns):
        raise on_error("two of its columns have the same name")
    return columns, int(rows)
