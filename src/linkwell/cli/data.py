"""Commands for a provider's data: ``linkwell validate`` and ``linkwell ids issue|check``.

Each command parses its options, calls one library function and renders the result; counts and
row numbers are printed, never a cell value or an ID.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from linkwell.cli._messages import console, print_personal_columns
from linkwell.cli._progress import terminal_progress
from linkwell.engine import Engine
from linkwell.errors import ValidationError
from linkwell.schema.idlists import IdCheck, check_id_arguments, issue_id_file
from linkwell.schema.inputs import validation_inputs
from linkwell.schema.validate import ValidationResult, validate_file

__all__ = ["ids", "validate"]

_SHOWN_ROWS = 20


def _render_validation(result: ValidationResult, out: Console) -> None:
    table = Table(title=f"{result.source.name} against {result.dataset}", show_header=False)
    table.add_row("rows read", f"{result.rows_read:,}")
    table.add_row("accepted", f"{result.rows_accepted:,}")
    table.add_row("quarantined", f"{result.rows_quarantined:,}")
    if result.blank_rows:
        table.add_row("empty rows skipped", f"{result.blank_rows:,}")
    for rule, count in sorted(result.problems_by_rule.items()):
        table.add_row(f"  problems: {rule}", f"{count:,}")
    if result.computed:
        table.add_row("computed fields", ", ".join(result.computed))
    if result.dropped_columns:
        table.add_row("columns dropped", ", ".join(result.dropped_columns))
    out.print(table)
    print_personal_columns(out, result.personal_columns)
    out.print(f"accepted rows: {result.accepted}")
    if result.rows_quarantined:
        out.print(f"quarantine (row, field, rule, message): {result.quarantine_csv}")
    out.print(f"summary: {result.summary}")


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--dataset", help="Dataset as ID or ID@VERSION, e.g. authority@1.")
@click.option(
    "--mapping",
    type=click.Path(path_type=Path),
    help="TOML file of one column mapping, or of one per source (with --source).",
)
@click.option("--project", type=click.Path(path_type=Path), help="Project file (with --source).")
@click.option(
    "--source",
    help="Source in the project file whose dataset and mapping to use, or the mapping "
    "file's table.",
)
@click.option("--sheet", help="Workbook sheet to read (default: the mapping's, else the first).")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output folder.")
@click.option("--strict", is_flag=True, help="Exit with an error if any row is quarantined.")
def validate(
    file: Path,
    *,
    dataset: str | None,
    mapping: Path | None,
    project: Path | None,
    source: str | None,
    sheet: str | None,
    out: Path,
    strict: bool,
) -> None:
    """Check a provider's FILE row by row; quarantine the rows with problems.

    Reads CSV (UTF-8 or Windows-1252; comma, semicolon or tab), Excel .xlsx, SPSS .sav or
    Parquet. Writes accepted.parquet, quarantine.parquet, quarantine.csv (never a value),
    quarantined-ids.parquet (your own IDs of the quarantined rows) and summary.json to --out.
    Exits 0 when it ran, even with quarantined rows, unless --strict.

    \b
    Examples:
      linkwell validate extract.csv --dataset authority@1 --out checked/
      linkwell validate pupils.xlsx --dataset authority --mapping fife.toml \\
          --sheet Pupils --out checked/
      linkwell validate survey.sav --project project.toml --source ipsos-s1s4 --out checked/
      linkwell validate area/secondary.csv --dataset survey-secondary \\
          --mapping area/mapping.toml --source secondary --out checked/
    """
    chosen, column_mapping = validation_inputs(
        dataset=dataset, mapping=mapping, project=project, source=source
    )
    with Engine() as engine:
        result = validate_file(
            file, chosen, column_mapping, out_dir=out, engine=engine, sheet=sheet,
            progress=terminal_progress(),
        )  # fmt: skip
    _render_validation(result, console())
    if result.rows_accepted == 0:
        raise ValidationError("no row was accepted", file=file, hint="see the quarantine file")
    if strict and result.rows_quarantined:
        raise ValidationError(
            f"{result.rows_quarantined} row(s) quarantined (--strict)",
            file=file,
            hint="see the quarantine file",
        )


@click.group()
def ids() -> None:
    """Issue and check unique survey IDs (ten digits with a Damm check digit).

    \b
    Examples:
      linkwell ids issue --count 1200 --out wave1-ids.txt
      linkwell ids check returned-ids.txt
    """


@ids.command()
@click.option("--count", required=True, type=click.IntRange(min=1), help="How many IDs to issue.")
@click.option("--out", type=click.Path(path_type=Path), help="File to write (default: print).")
@click.option("--exclude", type=click.Path(path_type=Path), help="List of IDs already issued.")
def issue(count: int, out: Path | None, exclude: Path | None) -> None:
    """Issue COUNT new random survey IDs, one per line, none already issued.

    The output file is never overwritten: keep every list you issue, and give them all to
    --exclude (concatenated) when issuing more.

    \b
    Examples:
      linkwell ids issue --count 1200 --out wave1-ids.txt
      linkwell ids issue --count 300 --exclude wave1-ids.txt --out wave1-extra.txt
    """
    issued = issue_id_file(count, out=out, exclude=exclude)
    if out is None:
        click.echo("\n".join(issued.tolist()))
    else:
        click.echo(f"{len(issued):,} IDs written to {out}", err=True)


def _describe(check: IdCheck) -> str:
    if not check.is_file:
        return f"{check.label}: {'valid' if check.valid else 'NOT a valid survey ID'}"
    text = f"{check.label}: {check.valid:,} of {check.total:,} valid"
    if check.invalid_rows:
        shown = ", ".join(str(r) for r in check.invalid_rows[:_SHOWN_ROWS])
        more = len(check.invalid_rows) - _SHOWN_ROWS
        text += f"; invalid at line(s) {shown}" + (f" and {more:,} more" if more > 0 else "")
    return text


@ids.command()
@click.argument("items", nargs=-1, required=True)
def check(items: tuple[str, ...]) -> None:
    """Check survey IDs: each ITEM is a file (one ID a line) or an ID.

    Prints how many are valid and, for a file, the line numbers of the invalid ones; never an
    ID itself. Exits with an error when any is invalid.

    \b
    Examples:
      linkwell ids check returned-ids.txt
      linkwell ids check 5724000000
    """
    results = check_id_arguments(items)
    for result in results:
        click.echo(_describe(result))
    invalid = sum(r.invalid for r in results)
    if invalid:
        raise ValidationError(f"{invalid:,} invalid survey ID(s)", hint="see the lines above")
