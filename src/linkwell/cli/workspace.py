"""``linkwell workspace init|show|trust``: a party's own folder for everything it holds."""

from __future__ import annotations

from pathlib import Path

import click

from linkwell.cli._workspace import counts_table, open_workspace, stdout, workspace_option
from linkwell.seal import format_fingerprint
from linkwell.workspace import Workspace

__all__ = ["workspace"]


@click.group()
def workspace() -> None:
    """Make or describe a party's workspace."""


@workspace.command("init")
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--project",
    "project_file",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="The project file.",
)
@click.option("--party", required=True, help="This party's name in the project file.")
@click.option(
    "--keys",
    "keyring",
    required=True,
    type=click.Path(path_type=Path, exists=True),
    help="The keyring folder `linkwell keys new` wrote (moved into the workspace).",
)
@click.option(
    "--passphrase-file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="A private file holding the identity's passphrase (else $LINKWELL_PASSPHRASE).",
)
def init(
    folder: Path, project_file: Path, party: str, keyring: Path, passphrase_file: Path | None
) -> None:
    """Make a workspace for PARTY and check its keys match its card in the project file.

    \b
    Example:
      linkwell keys new --party nrs --role indexer --out nrs-keys
      linkwell workspace init /srv/linkwell/nrs --project rcs.toml --party nrs --keys nrs-keys
    """
    made = Workspace.create(
        folder,
        project_file=project_file,
        party=party,
        keyring=keyring,
        passphrase_file=passphrase_file,
    )
    stdout.print(f"workspace for {made.party.name} ({made.role.value}) in {made.root}")


@workspace.command("show")
@workspace_option
def show(workspace: Path) -> None:
    """Say whose workspace this is and what it holds.

    \b
    Example:
      linkwell workspace show -w /srv/linkwell/nrs
    """
    ws = open_workspace(workspace)
    project = ws.project.project
    stdout.print(
        counts_table(
            f"{ws.party.name} ({ws.role.value}, {ws.party.organisation})",
            {
                "project": f"{project.id}, wave {project.wave}",
                "identity": format_fingerprint(ws.identity().fingerprint),
                "received, waiting": len(ws.inbox_packages()),
                "in the outbox": len(list(ws.folder("outbox").iterdir())),
                "sent": len(list(ws.folder("sent").iterdir())),
            },
        )
    )


@workspace.command("trust")
@workspace_option
@click.option(
    "--yes",
    is_flag=True,
    help="Trust the cards listed: give it only once each fingerprint was checked with its party.",
)
def trust(workspace: Path, *, yes: bool) -> None:
    """List the identity cards in the project file this workspace has not trusted; trust them.

    A workspace trusts the cards its project file held when it was made. A card added later (a
    party's rotation) is refused by every command until trusted here, so that a key put in
    this party's copy of the project file cannot receive what it seals.

    \b
    Example:
      linkwell workspace trust -w /srv/linkwell/nrs          # lists them
      linkwell workspace trust -w /srv/linkwell/nrs --yes    # once each was read aloud
    """
    ws = Workspace.open(workspace, check_cards=False)
    click.get_current_context().with_resource(ws.exclusive())
    untrusted = ws.untrusted_cards()
    if not untrusted:
        stdout.print("every card in the project file is trusted")
        return
    for party, fingerprint in untrusted:
        stdout.print(f"{party}: {format_fingerprint(fingerprint)}")
    if not yes:
        stdout.print(
            "check each fingerprint with its party (read it aloud), then run this again with --yes"
        )
        raise click.exceptions.Exit(1)
    ws.trust_cards()
    stdout.print(f"trusted {len(untrusted)} card(s)")
