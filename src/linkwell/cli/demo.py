"""``linkwell demo`` and ``linkwell verify-separation``."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import click
from rich.table import Table

from linkwell.cli._app import stderr
from linkwell.cli._progress import terminal_progress
from linkwell.cli._workspace import stdout
from linkwell.demo import DemoTransport, run_demo
from linkwell.separation import Forbidden, SeparationReport, verify_separation
from linkwell.workspace import WORKSPACE_FILE

__all__ = ["demo", "verify_separation_command"]


def _render(report: SeparationReport) -> None:
    table = Table(title="separation: values found per party (- : not forbidden for the role)")
    for header in (
        "party",
        "role",
        "files read",
        "sealed for others",
        *(k.value for k in Forbidden),
    ):
        table.add_column(header, justify="left" if header in ("party", "role") else "right")
    for row in report.rows():
        table.add_row(*row)
    stdout.print(table)
    stdout.print(f"looked for: {report.looked_for()}, and survey-answer and service-data columns")


@click.command()
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("demo-output"),
    show_default=True,
    help="An empty or new folder for everything the demo makes.",
)
@click.option(
    "--children",
    type=click.IntRange(1_000),
    default=20_000,
    show_default=True,
    help="Pupils in the synthetic partnership area.",
)
@click.option(
    "--seed", type=int, default=2026, show_default=True, help="The same seed makes the same area."
)
@click.option(
    "--transport",
    type=click.Choice(get_args(DemoTransport)),
    default="folder",
    show_default=True,
    help="A shared folder, or a real local SFTP server (needs root).",
)
def demo(out: Path, children: int, seed: int, transport: DemoTransport) -> None:
    """Run the whole five-party flow on a synthetic area, then prove the separation held.

    Every party gets its own identity and workspace. Packages move through a shared folder, or
    with --transport sftp (as root) through a real OpenSSH server started for the run, with a
    chrooted SFTP-only login per party; its accounts are removed at the end.

    \b
    Example:
      linkwell demo --out demo-output --children 20000
      sudo linkwell demo --out demo-sftp --transport sftp
    """
    result = run_demo(
        out,
        children=children,
        seed=seed,
        transport=transport,
        progress=terminal_progress(),
        on_step=stderr.print,
    )
    _render(result.separation)
    result.separation.raise_for_leaks()
    stdout.print(f"report: {result.report}")
    stdout.print(f"release: {result.release}")
    stdout.print(f"separation table: {result.separation_table}")
    stdout.print(f"project file: {result.project_file}; workspaces: {out / 'workspaces'}")


@click.command("verify-separation")
@click.argument("demo_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
def verify_separation_command(demo_dir: Path) -> None:
    """Search every workspace of a demo run for the values its role must never hold.

    Reads each party's files as that party could (its own packages decrypted, the indexer's
    vault unlocked), looks for the run's actual survey IDs, link IDs and row references and for
    survey answers and service data, and exits with an error if anything is found.

    \b
    Example:
      linkwell verify-separation demo-output
    """
    workspaces = {
        path.parent.name: path.parent
        for path in sorted((demo_dir / "workspaces").glob(f"*/{WORKSPACE_FILE}"))
    }
    report = verify_separation(
        workspaces,
        truth_pupils=demo_dir / "synthetic" / "truth" / "pupils.parquet",
        progress=terminal_progress(),
    )
    _render(report)
    report.raise_for_leaks()
