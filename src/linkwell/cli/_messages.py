"""Messages that more than one command prints, worded once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from rich.console import Console

__all__ = ["console", "print_personal_columns"]

_PIPE_WIDTH: Final = 200
"""Columns of output that is not a terminal's: a saved log keeps whole labels, not 80 columns'."""


def console(*, stderr: bool = False) -> Console:
    """The console commands print to: as wide as its terminal, or, in a pipe or file, wide enough.

    Rich takes 80 columns where there is no terminal, and cut the counts tables' labels to fit.
    """
    made = Console(stderr=stderr, highlight=False, soft_wrap=True)
    if not made.is_terminal:
        made.width = _PIPE_WIDTH
    return made


def print_personal_columns(console: Console, columns: Sequence[str]) -> None:
    """Warn that the file held columns that look personal (their names only: never a value)."""
    if columns:
        console.print(
            "[yellow]These columns look like names, dates of birth, addresses or health data. "
            "They were dropped and are in no output; leave them out of future extracts:[/] "
            + ", ".join(columns),
            markup=True,
        )
