"""``linkwell provider participants|split``: what a survey contractor or authority shares."""

from __future__ import annotations

from pathlib import Path

import click

from linkwell.cli._messages import print_personal_columns
from linkwell.cli._progress import terminal_progress
from linkwell.cli._workspace import counts_table, open_workspace, stdout, workspace_option
from linkwell.roles import provider as role

__all__ = ["provider"]

_FILE = click.Path(path_type=Path, dir_okay=False, exists=True)


@click.group()
def provider() -> None:
    """Validate and split a provider's extract (survey contractor or local authority)."""


@provider.command()
@workspace_option
@click.option("--source", required=True, help="The survey source in the project file.")
@click.argument("survey_file", type=_FILE)
def participants(workspace: Path, source: str, survey_file: Path) -> None:
    """Send each authority the IDs of the pupils who took part in the survey (nothing else).

    \b
    Example:
      linkwell provider participants -w ipsos-ws --source secondary salsus-2026.csv
      linkwell send -w ipsos-ws
    """
    ws = open_workspace(workspace)
    result = role.share_participants(
        ws, source=source, input_file=survey_file, progress=terminal_progress()
    )
    rows = {f"participants for {name}": count for name, count in result.participants.items()}
    rows["on no list (authority not in the project)"] = result.not_listed
    stdout.print(counts_table(f"{source}: rows validated", _validation_rows(result.validation)))
    print_personal_columns(stdout, result.validation.personal_columns)
    stdout.print(counts_table("participants lists sealed", rows))
    if result.not_listed:
        stdout.print(
            f"{result.not_listed:,} pupils are on no list: their school's authority code is none "
            "of the project's authority sources'. If they belong to one, correct the code"
        )
    stdout.print(
        f"quarantine: {ws.step_dir(f'participants-{source}') / result.validation.quarantine_file}"
    )


@provider.command()
@workspace_option
@click.option("--source", required=True, help="The source in the project file this file is.")
@click.argument("extract", type=_FILE)
def split(workspace: Path, source: str, extract: Path) -> None:
    """Validate EXTRACT, then seal identifiers for the indexer and content for the linker.

    An authority shares rows only for pupils who took part in the survey (it needs every
    survey provider's participants list first) and reports how many rows it withheld.

    \b
    Example:
      linkwell receive -w fife-ws
      linkwell provider split -w fife-ws --source fife fife-extract.xlsx
      linkwell send -w fife-ws
    """
    ws = open_workspace(workspace)
    result = role.split(ws, source=source, input_file=extract, progress=terminal_progress())
    rows = _validation_rows(result.validation)
    rows |= {
        "shared": result.shared,
        "withheld (did not take part)": result.withheld_not_participant,
    }
    if result.quarantined_participants:
        rows["quarantined, of pupils who took part"] = result.quarantined_participants
    stdout.print(counts_table(f"{source}: split", rows))
    if result.quarantined_participants:
        stdout.print(
            f"[yellow]warning:[/] {result.quarantined_participants:,} pupils who took part have "
            "their row quarantined, so they will show as not linked; correct those rows (see the "
            "quarantine) for the next wave"
        )
    print_personal_columns(stdout, result.validation.personal_columns)
    stdout.print(
        f"quarantine: {ws.step_dir(f'split-{source}') / result.validation.quarantine_file}"
    )


def _validation_rows(counts: role.ValidationCounts) -> dict[str, object]:
    return {
        "rows read": counts.rows_read,
        "accepted": counts.rows_accepted,
        "quarantined": counts.rows_quarantined,
    }
