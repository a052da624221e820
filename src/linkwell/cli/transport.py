"""``linkwell transport``: the SFTP server operator's commands (prepare the folders, sweep).

Parties send and receive through their workspaces; these commands are for whoever runs the SFTP
server, as root: ``prepare`` makes each party's chroot area and prints the matching ``sshd_config``
lines, ``sweep`` moves committed packages into recipients' read-only inboxes.
"""

from __future__ import annotations

from pathlib import Path

import click

from linkwell.config import load_project
from linkwell.transport import PACKAGE_SUFFIX, SweepOutcome, prepare_server, sweep

__all__ = ["transport"]


def _route(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> list[tuple[str, str]]:
    routes = []
    for value in values:
        sender, sep, recipient = value.partition(":")
        if not sep or not sender or not recipient:
            raise click.BadParameter(f"{value!r} is not SENDER:RECIPIENT")
        routes.append((sender, recipient))
    return routes


@click.group()
def transport() -> None:
    """Run the SFTP server side: prepare the folders and sweep deliveries.

    \b
    Example:
      linkwell transport prepare --root /srv/linkwell --project project.toml --route ipsos:nrs
      linkwell transport sweep --root /srv/linkwell
    """


@transport.command()
@click.option(
    "--root", required=True, type=click.Path(path_type=Path), help="The server's SFTP root folder."
)
@click.option(
    "--project",
    "project_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The project file (party names and their sftp users).",
)
@click.option(
    "--route",
    "routes",
    multiple=True,
    required=True,
    callback=_route,
    help="SENDER:RECIPIENT, once per route a party may deliver along.",
)
def prepare(root: Path, project_file: Path, routes: list[tuple[str, str]]) -> None:
    """Make or repair each party's chroot area, inbox and drop folders (run as root).

    Prints the sshd_config lines that lock each party's login into its area.

    \b
    Example:
      linkwell transport prepare --root /srv/linkwell --project project.toml \\
        --route ipsos:nrs --route ipsos:edris --route nrs:edris --route edris:scotcen
    """
    layout = prepare_server(root, load_project(project_file), routes)
    click.echo(f"# {len(layout.parties)} party areas and {len(layout.routes)} routes under {root}")
    click.echo("# add to /etc/ssh/sshd_config (with 'Subsystem sftp internal-sftp'):")
    click.echo(layout.sshd_config)


@transport.command(name="sweep")
@click.option(
    "--root",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The server's SFTP root folder, as made by 'linkwell transport prepare'.",
)
@click.option("--suffix", default=PACKAGE_SUFFIX, show_default=True, help="Package file suffix.")
@click.option(
    "--keep-acknowledged",
    is_flag=True,
    help="Leave packages in inboxes after their recipient acknowledged them.",
)
def sweep_command(root: Path, suffix: str, keep_acknowledged: bool) -> None:  # noqa: FBT001
    """Move committed packages from drop folders into read-only inboxes (run as root).

    Run it often (a systemd timer or cron every minute): a package reaches its recipient
    only when swept. Refused files go to ROOT/.quarantine with the reason.

    \b
    Example:
      linkwell transport sweep --root /srv/linkwell
    """
    report = sweep(root, suffix=suffix, purge_acknowledged=not keep_acknowledged)
    if report.busy:
        click.echo("another sweep is running; nothing done")
        return
    counts = ", ".join(f"{report.count(outcome)} {outcome.value}" for outcome in SweepOutcome)
    click.echo(f"{counts}, {report.waiting} waiting for their digest file")
    for swept in report.files:
        if swept.outcome is SweepOutcome.QUARANTINED:
            click.echo(
                f"quarantined {swept.sender}->{swept.recipient} {swept.name}: {swept.reason}"
            )
