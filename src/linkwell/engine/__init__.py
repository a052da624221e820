"""All tabular work: one DuckDB engine over Arrow and Parquet, streamed, never row by row.

Every SQL statement in linkwell runs through :meth:`Engine.execute`, which logs the statement's
purpose, binds values as parameters and turns DuckDB's errors into linkwell's own without quoting
data. SQL text is assembled only from identifiers quoted by :func:`quote_ident`.
"""

from linkwell.engine.core import PARQUET_COMPRESSION, Engine, Params, default_memory_limit
from linkwell.engine.sql import quote_ident, quote_string

__all__ = [
    "PARQUET_COMPRESSION",
    "Engine",
    "Params",
    "default_memory_limit",
    "quote_ident",
    "quote_string",
]
