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


@analyst.command("report")
@workspace_option
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    help="A new or empty folder for the report (default: inside the workspace).",
)
def report(workspace: Path, out: Path | None) -> None:
    """Analyse need against services and write the partnership's report, disclosure-checked.

    Writes one self-contained HTML report, a workbook with every table (suppressed cells marked
    as in official statistics), CSVs and an output manifest with checksums, all of which may be
    published; the disclosure log, which names the rule that withheld each count and may not be
    published, stays in the workspace.

    \b
    Example:
      linkwell analyst report -w scotcen-ws --out report-2026
    """
    bundle = role.report(open_workspace(workspace), out=out, progress=terminal_progress())
    suppressed = sum(record.suppressed_cells for record in bundle.outputs)
    stdout.print(f"{len(bundle.outputs)} outputs, {suppressed:,} cells suppressed")
    stdout.print(f"report: {bundle.html}")
    stdout.print(f"workbook: {bundle.workbook}")
    stdout.print(f"disclosure log (keep it, do not publish it): {bundle.disclosure_log}")
