"""What every party command shares: the ``--workspace`` option and a counts table renderer."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

import click
from rich.table import Table

from linkwell.cli._messages import console
from linkwell.workspace import Workspace

__all__ = ["counts_table", "open_workspace", "stdout", "workspace_option"]

F = TypeVar("F", bound=Callable[..., object])

stdout = console()


def workspace_option(command: F) -> F:
    """``-w/--workspace DIR`` (or ``$LINKWELL_WORKSPACE``), the party's workspace folder."""
    return click.option(
        "-w",
        "--workspace",
        type=click.Path(path_type=Path, file_okay=False),
        envvar="LINKWELL_WORKSPACE",
        default=Path(),
        show_default="the current folder",
        help="The party's workspace (made by `linkwell workspace init`).",
    )(command)


def open_workspace(path: Path) -> Workspace:
    """The workspace at ``path``, held by this command until it ends (see ``exclusive``)."""
    ws = Workspace.open(path)
    click.get_current_context().with_resource(ws.exclusive())
    return ws


def counts_table(title: str, rows: Mapping[str, object]) -> Table:
    """A two-column table of labelled counts, numbers right-aligned with thousands separators."""
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    for label, value in rows.items():
        table.add_row(label, f"{value:,}" if isinstance(value, int) else str(value))
    return table
