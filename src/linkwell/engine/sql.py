"""Quoting for the only parts of SQL text that are not bound parameters.

Values never enter SQL text: they are bound. Identifiers (table and column names, which may come
from a provider's header) and, where DuckDB's grammar has no parameter slot, file paths, are
quoted here and nowhere else.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["quote_ident", "quote_string"]


def quote_ident(name: str) -> str:
    """Quote ``name`` as a DuckDB identifier, doubling any embedded quote."""
    if "\x00" in name:
        msg = "identifier contains a NUL character"
        raise ValueError(msg)
    return '"' + name.replace('"', '""') + '"'


def quote_string(text: str | Path) -> str:
    """Quote ``text`` as a SQL string literal: for paths where no parameter is allowed."""
    value = str(text)
    if "\x00" in value:
        msg = "string contains a NUL character"
        raise ValueError(msg)
    return "'" + value.replace("'", "''") + "'"
