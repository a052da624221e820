"""``linkwell send`` and ``linkwell receive``: moving sealed packages between parties."""

from __future__ import annotations

from pathlib import Path

import click

from linkwell.cli._progress import terminal_progress
from linkwell.cli._workspace import counts_table, open_workspace, stdout, workspace_option

__all__ = ["receive", "send"]


@click.command()
@workspace_option
def send(workspace: Path) -> None:
    """Deliver every package in the outbox to its recipient.

    Each package goes to the party its manifest names, over the project's transport (a shared
    folder or SFTP). Sending again after an interruption is safe: a package already delivered
    is recognised, and the recipient accepts it only once.

    \b
    Example:
      linkwell send -w /srv/linkwell/ipsos
    """
    deliveries = open_workspace(workspace).send(terminal_progress())
    for delivery in deliveries:
        note = " (already there)" if delivery.already_delivered else ""
        stdout.print(f"sent {delivery.name} to {delivery.recipient}{note}")
    if not deliveries:
        stdout.print("nothing to send")


@click.command()
@workspace_option
@click.option(
    "--again",
    is_flag=True,
    help="First judge again the packages refused because their signing key was on no card "
    "(after the sender's new card was added to the project file and trusted).",
)
def receive(workspace: Path, *, again: bool) -> None:
    """Fetch every package waiting for this party and check it before accepting it.

    A package is accepted only if its signature verifies and it is addressed to this party,
    project and wave along a route the role may receive; refused files go to quarantine with
    the reason.

    \b
    Examples:
      linkwell receive -w /srv/linkwell/nrs
      linkwell receive -w /srv/linkwell/nrs --again
    """
    ws = open_workspace(workspace)
    report = ws.receive(terminal_progress(), again=again)
    stdout.print(
        counts_table(
            f"received by {ws.party.name}",
            {
                "accepted": len(report.accepted),
                "already received": len(report.already_received),
                "refused (quarantined)": len(report.quarantined),
            },
        )
    )
    for refused in report.quarantined:
        stdout.print(f"refused {refused.name}: {refused.detail} (quarantined as {refused.path})")
