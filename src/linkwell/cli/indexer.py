"""``linkwell indexer link`` and ``linkwell indexer vault backup|restore|verify``."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from linkwell.cli._progress import terminal_progress
from linkwell.cli._workspace import counts_table, open_workspace, stdout, workspace_option
from linkwell.roles import indexer as role
from linkwell.roles.indexer import RowStatus

__all__ = ["indexer"]


@click.group()
def indexer() -> None:
    """The indexer: anonymous link IDs from identifiers only, kept in an encrypted vault."""


@indexer.command()
@workspace_option
def link(workspace: Path) -> None:
    """Issue the linkage key from every source's identifiers, with a match-quality report.

    \b
    Example:
      linkwell receive -w nrs-ws
      linkwell indexer link -w nrs-ws
      linkwell send -w nrs-ws
    """
    result = role.link(open_workspace(workspace), progress=terminal_progress())
    table = Table(title="match quality (rows per source)", title_justify="left")
    measures = ["rows", *(s.value for s in RowStatus), "matched", "survey-only"]
    table.add_column("source")
    for measure in measures:
        table.add_column(measure, justify="right")
    for source, counts in result.counts.items():
        table.add_row(source, *(f"{counts.get(m, 0):,}" for m in measures))
    stdout.print(table)
    stdout.print(
        counts_table(
            "vault",
            {
                "children new to the vault": result.persons_new,
                "already known": result.persons_known,
            },
        )
    )


@indexer.group()
def vault() -> None:
    """Back up, restore or verify the vault."""


@vault.command()
@workspace_option
@click.argument("dest", type=click.Path(path_type=Path, file_okay=False))
def backup(workspace: Path, dest: Path) -> None:
    """Write an encrypted, verified copy of the vault into the new folder DEST.

    \b
    Example:
      linkwell indexer vault backup -w nrs-ws /backups/vault-2026-11-26
    """
    manifest = role.vault_backup(open_workspace(workspace), dest)
    stdout.print(f"backup of {manifest['persons']:,} children written to {dest}")


@vault.command()
@workspace_option
@click.argument("backup_folder", type=click.Path(path_type=Path, file_okay=False, exists=True))
def restore(workspace: Path, backup_folder: Path) -> None:
    """Put a backup in place as the vault (never over an existing vault) and verify it.

    \b
    Example:
      linkwell indexer vault restore -w nrs-ws /backups/vault-2026-11-26
    """
    report = role.vault_restore(open_workspace(workspace), backup_folder)
    stdout.print(f"vault restored and verified: {report.persons:,} children")


@vault.command()
@workspace_option
def verify(workspace: Path) -> None:
    """Read the whole vault back and check its integrity.

    \b
    Example:
      linkwell indexer vault verify -w nrs-ws
    """
    report = role.vault_verify(open_workspace(workspace))
    stdout.print(
        counts_table(
            "vault verified",
            {
                "children": report.persons,
                "link IDs": report.link_ids,
                "longitudinal IDs": report.longitudinal_ids,
            },
        )
    )
