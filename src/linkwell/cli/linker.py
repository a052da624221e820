"""``linkwell linker release``: from content and the key to the release for the analyst."""

from __future__ import annotations

from pathlib import Path

import click

from linkwell.cli._progress import terminal_progress
from linkwell.cli._workspace import counts_table, open_workspace, stdout, workspace_option
from linkwell.roles import linker as role

__all__ = ["linker"]


@click.group()
def linker() -> None:
    """The linker: joins content through the linkage key, never seeing a survey ID."""


@linker.command()
@workspace_option
def release(workspace: Path) -> None:
    """Join every source's content into the release, check it, and seal it for the analyst.

    \b
    Example:
      linkwell receive -w edris-ws
      linkwell linker release -w edris-ws
      linkwell send -w edris-ws
    """
    result = role.release(open_workspace(workspace), progress=terminal_progress())
    rows: dict[str, object] = {f"{source}: received": n for source, n in result.received.items()}
    rows |= {f"{source}: keyed": n for source, n in result.keyed.items()}
    rows |= {"children released": result.released, "with authority data": result.linked}
    stdout.print(counts_table("release", rows))
    stdout.print(counts_table("disclosure risk (k-anonymity)", result.risk))
