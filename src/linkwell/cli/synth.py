"""``linkwell synth``: write a synthetic partnership area with its ground truth."""

from __future__ import annotations

import secrets
from pathlib import Path

import click
from rich.table import Table

from linkwell.cli._messages import console
from linkwell.cli._progress import terminal_progress
from linkwell.config import load_model
from linkwell.synth import (
    FileFormat,
    MessRates,
    SynthFormats,
    SynthParameters,
    SynthResult,
    synthesise,
)

__all__ = ["synth"]

_SOURCES = ("secondary", "primary", "authority")


def _formats(values: tuple[str, ...]) -> SynthFormats:
    """Parse ``--format`` values: ``FORMAT`` for every file, or ``SOURCE=FORMAT`` for one."""
    chosen: dict[str, FileFormat] = {}
    for value in values:
        source, _, name = value.rpartition("=")
        if name not in {f.value for f in FileFormat} or source not in ("", *_SOURCES):
            raise click.BadParameter(
                f"{value!r}: use FORMAT or SOURCE=FORMAT, with SOURCE one of "
                f"{', '.join(_SOURCES)} and FORMAT one of {', '.join(f.value for f in FileFormat)}",
                param_hint="--format",
            )
        for target in [source] if source else _SOURCES:
            chosen[target] = FileFormat(name)
    return SynthFormats(**chosen)


def _render(result: SynthResult) -> None:
    out = console()
    out.print(
        f"Synthetic area of {result.children:,} pupils ({result.respondents:,} took part), "
        f"seed {result.seed}, authorities {', '.join(result.authorities)}, in {result.out_dir}"
    )
    table = Table("source", "provider file", "format", "rows")
    for source in result.sources:
        table.add_row(source.source, source.path.name, source.format.value, f"{source.rows:,}")
    out.print(table)
    out.print(f"mapping: {result.mapping.name}, clean Parquet: canonical/, ground truth: truth/")
    planted = ", ".join(f"{kind.value} {count:,}" for kind, count in result.mess.items() if count)
    out.print(f"planted problems: {planted or 'none'}")
    for note in result.notes:
        out.print(f"note: {note}")


@click.command("synth")
@click.option("--children", type=click.IntRange(1), required=True, help="Pupils in P5-S4.")
@click.option(
    "--seed", type=click.IntRange(0), default=None, help="Seed; a random one if not given."
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Folder to write into (new or empty).",
)
@click.option("--authorities", type=click.IntRange(1, 32), default=1, show_default=True)
@click.option("--clean", is_flag=True, help="No planted problems; the datasets' own names/codes.")
@click.option(
    "--format",
    "formats",
    multiple=True,
    metavar="[SOURCE=]FORMAT",
    help="csv, xlsx, sav or parquet, for every file or one source (repeatable).",
)
@click.option(
    "--parameters",
    "parameters_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="TOML overriding parameter-sheet values (e.g. [authority] looked_after_rate = 0.013).",
)
@click.option("--force", is_flag=True, help="Replace an earlier synthetic area in --out.")
def synth(
    *,
    children: int,
    seed: int | None,
    out_dir: Path,
    authorities: int,
    clean: bool,
    formats: tuple[str, ...],
    parameters_file: Path | None,
    force: bool,
) -> None:
    """Write a synthetic partnership area: provider files, mapping and ground truth.

    The secondary survey is written as CSV, the primary survey as SPSS .sav and each
    authority's extract as .xlsx, with realistic problems planted; truth/ holds every pupil's
    real values and every planted problem. The same seed makes the same area.

    \b
    Examples:
      linkwell synth --children 5000 --seed 1 --out area/
      linkwell synth --children 20000 --authorities 3 --out area/ --format authority=csv
      linkwell synth --children 1000000 --seed 7 --out big/ --format parquet --clean
      linkwell synth --children 8000 --out area/ --parameters rates-2023.toml
    """
    parameters = None
    if parameters_file is not None:
        parameters = load_model(SynthParameters, parameters_file, what="parameters file")
    result = synthesise(
        out_dir,
        children=children,
        seed=secrets.randbelow(2**32) if seed is None else seed,
        authorities=authorities,
        mess=MessRates.clean() if clean else MessRates(),
        formats=_formats(formats),
        parameters=parameters,
        overwrite=force,
        progress=terminal_progress(),
    )
    _render(result)
