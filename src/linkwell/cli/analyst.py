"""``linkwell analyst open``: the analyst's intake of the release."""

from __future__ import annotations

from pathlib import Path

import click

from linkwell.cli._progress import terminal_progress
from linkwell.cli._workspace import open_workspace, stdout, workspace_option
from linkwell.roles import analyst as role

__all__ = ["analyst"]


@click.group()
def analyst() -> None:
    """The analyst: opens the anonymous release and reports need against services."""


@analyst.command("open")
@workspace_option
def open_(workspace: Path) -> None:
    """Verify and open the release into the workspace, checking it again for identifiers.

    \b
    Example:
      linkwell receive -w scotcen-ws
      linkwell analyst open -w scotcen-ws
    """
    result = role.open_release(open_workspace(workspace), progress=terminal_progress())
    stdout.print(f"release of {result.rows:,} children: {result.release}")
    for name, path in sorted(result.reports.items()):
        stdout.print(f"{name}: {path}")
