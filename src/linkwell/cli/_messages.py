"""Messages that more than one command prints, worded once."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console

__all__ = ["print_personal_columns"]


def print_personal_columns(console: Console, columns: Sequence[str]) -> None:
    """Warn that the file held columns that look personal (their names only: never a value)."""
    if columns:
        console.print(
            "[yellow]These columns look like names, dates of birth, addresses or health data. "
            "They were dropped and are in no output; leave them out of future extracts:[/] "
            + ", ".join(columns),
            markup=True,
        )
