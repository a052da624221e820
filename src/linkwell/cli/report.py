"""``linkwell report``: the standalone report for a release file, written into a folder."""

from __future__ import annotations

from pathlib import Path

import click

from linkwell.cli._progress import terminal_progress
from linkwell.config import DisclosurePolicy, load_model

__all__ = ["report"]

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.command("report")
@click.argument("release", type=_FILE)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for report.html, tables.xlsx, tables/*.csv and manifest.json.",
)
@click.option(
    "--disclosure-log",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to keep the rule that withheld each count, outside the report folder: it is "
    "not to be published (default: beside the folder, as OUT-disclosure-log.csv).",
)
@click.option(
    "--policy",
    "policy_file",
    type=_FILE,
    help="TOML file of disclosure-control settings (defaults: threshold 10, base 5).",
)
@click.option("--quality", type=_FILE, help="The linker's linkage-quality counts (Parquet/CSV).")
@click.option("--project-digest", default=None, help="Digest of the project file, recorded.")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Processes for the disclosure audit of a large release (default: one per core). The "
    "cells withheld are the same whatever the number.",
)
def report(  # noqa: PLR0917 - click passes one parameter per option
    release: Path,
    out_dir: Path,
    disclosure_log: Path | None,
    policy_file: Path | None,
    quality: Path | None,
    project_digest: str | None,
    workers: int | None,
) -> None:
    """Analyse a release and write the disclosure-checked report for the partnership.

    \b
    Examples:
      linkwell report release.parquet --out report/
      linkwell report release.parquet --out report/ --policy disclosure.toml

    The policy file holds the keys of a project file's [disclosure] table, e.g. threshold = 10.
    Everything in the report folder may be published; the disclosure log may not, since it
    says which withheld counts are small or zero.
    """
    # Imported here: statistics and spreadsheet libraries would slow every other command's start.
    from linkwell.report import write_report  # noqa: PLC0415

    policy = DisclosurePolicy()
    if policy_file is not None:
        policy = load_model(DisclosurePolicy, policy_file, what="disclosure policy")
    if disclosure_log is None:  # beside the folder, named after it ("--out ." included)
        folder = out_dir.resolve()
        disclosure_log = folder.parent / f"{folder.name}-disclosure-log.csv"
    bundle = write_report(
        release,
        out_dir,
        policy=policy,
        project_digest=project_digest,
        disclosure_log=disclosure_log,
        quality=quality,
        progress=terminal_progress(),
        workers=workers,
    )
    withheld = sum(o.suppressed_cells for o in bundle.outputs)
    click.echo(f"report: {bundle.html}")
    click.echo(f"workbook: {bundle.workbook} and {len(bundle.csv_files)} CSV files")
    click.echo(f"{len(bundle.outputs)} outputs passed disclosure checks; {withheld:,} withheld")
    click.echo(f"manifest: {bundle.manifest}")
    click.echo(f"disclosure log (keep it, do not publish it): {bundle.disclosure_log}")
