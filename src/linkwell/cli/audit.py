"""``linkwell audit``: look at a party's audit log, verify it, and repair an interrupted write.

Each command calls one library function from :mod:`linkwell.audit` and renders its result; a log
that fails verification ends in an :class:`~linkwell.errors.AuditError` at the error boundary,
so the exit code says what went wrong.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich import box
from rich.markup import escape
from rich.table import Table

from linkwell.audit import (
    AuditEntry,
    LogLine,
    VerifyReport,
    read_log,
    repair_log,
    verify_log_files,
)
from linkwell.cli._messages import console
from linkwell.cli._progress import terminal_progress

__all__ = ["audit"]

stdout = console()

_LOG = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group()
def audit() -> None:
    """Look at, verify and repair a party's tamper-evident audit log."""


@audit.command()
@click.argument("log", type=_LOG)
@click.option("--tail", type=click.IntRange(min=1), help="Only the last N lines.")
def show(log: Path, tail: int | None) -> None:
    """Print a log's entries as a table (it checks nothing: use `verify` for that).

    \b
    Examples:
      linkwell audit show workspace/audit.log
      linkwell audit show workspace/audit.log --tail 20
    """
    table = _table()
    for name in ("line", "entry", "time", "action"):
        table.add_column(name, no_wrap=True)
    for name in ("detail", "packages", "counts"):
        table.add_column(name, overflow="fold")  # never cut a count short
    for line in read_log(log, tail=tail):
        table.add_row(*_row(line))
    stdout.print(table)


@audit.command()
@click.argument("log", type=_LOG)
@click.option(
    "--signer",
    "signers",
    multiple=True,
    required=True,
    metavar="KEY_OR_CARD",
    help="The party's signing key ('ed25519:…'), its card.toml, or the project file. "
    "Repeat for keys retired by rotation.",
)
@click.option(
    "--witness",
    "witnesses",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON file with a signed head of this log that another party holds. Repeatable.",
)
@click.option(
    "--party",
    metavar="NAME",
    help="The party whose log this must be (its keys are then taken from a project file "
    "given as --signer); a log whose entries name another party fails. Default: the party "
    "the log names.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def verify(
    log: Path,
    signers: tuple[str, ...],
    witnesses: tuple[Path, ...],
    party: str | None,
    as_json: bool,  # noqa: FBT001
) -> None:
    """Check a log for any edit, deletion, insertion, reordering or truncation, and say where.

    Exits 0 if the log verifies, 8 if it does not (every problem is listed first), 2 if a key
    or witness file is wrong.

    \b
    Examples:
      linkwell audit verify nrs/audit.log --signer ed25519:3q2+7w...=
      linkwell audit verify nrs/audit.log --signer project.toml --party nrs \\
          --witness heads/nrs-from-edris.json --witness heads/nrs-from-ipsos.json
    """
    report = verify_log_files(
        log, signers=signers, witness_files=witnesses, party=party, progress=terminal_progress()
    )
    if as_json:
        click.echo(report.model_dump_json(indent=2))
    else:
        _render_report(report)
    report.raise_for_issues()


@audit.command()
@click.argument("log", type=_LOG)
def repair(log: Path) -> None:
    """Cut off a torn last line left by an interrupted write, recording the cut in the log.

    Refuses any other damage: that is evidence, to be kept as it is.

    \b
    Example:
      linkwell audit repair workspace/audit.log
    """
    result = repair_log(log)
    if result.line_end_added:
        stdout.print("the last entry lacked its line end; added it back (nothing was cut)")
    elif result.log_removed:
        stdout.print(f"removed the log: its only line was torn ({result.bytes_removed} bytes)")
    elif result.entry is None:
        stdout.print("nothing to repair: the log's last line is complete")
    else:
        stdout.print(
            f"cut off {result.bytes_removed} torn byte(s); recorded as entry "
            f"{result.entry.sequence}"
        )


def _table(*headers: str) -> Table:
    return Table(
        *headers, box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, collapse_padding=True
    )


def _row(line: LogLine) -> tuple[str, ...]:
    entry = line.entry
    if entry is None:
        return (str(line.number), "?", "", f"[red]{line.problem}[/]", "", "", "")
    return (
        str(line.number),
        str(entry.sequence),
        entry.time.strftime("%Y-%m-%dT%H:%M:%SZ"),
        entry.action.value,
        _detail(entry),
        " ".join(ref.id[:8] for ref in entry.packages),
        "\n".join(f"{name.value}={value}" for name, value in sorted(entry.counts.items())),
    )


def _detail(entry: AuditEntry) -> str:
    parts = [str(part) for part in (entry.detail, entry.peer_role) if part is not None]
    if entry.checkpoint is not None:
        parts.append(f"signs {entry.checkpoint.head.sequence}")
    return " ".join(parts)


def _render_report(report: VerifyReport) -> None:
    if report.issues:
        stdout.print(f"{escape(str(report.path))}: {len(report.issues)} problem(s)")
        table = _table("problem", "entry", "line", "what it means")
        for issue in report.issues:
            sequence = "" if issue.sequence is None else str(issue.sequence)
            if issue.earliest is not None:
                sequence = f"{issue.earliest}-{sequence}"
            line = "" if issue.line is None else str(issue.line)
            table.add_row(issue.kind.value, sequence, line, issue.message)
        stdout.print(table)
        return
    head = "no entries" if report.head is None else f"{report.head.sequence + 1} entries"
    stdout.print(
        f"[green]ok[/]: {escape(str(report.path))} ({report.party}, {head}, {report.checkpoints} "
        f"checkpoint(s), {report.witnesses} witness(es), {report.repairs} repair(s))"
    )
    protected = max(
        (n for n in (report.signed_through, report.witnessed_through) if n is not None),
        default=None,
    )
    if report.head is not None and (protected is None or protected < report.head.sequence):
        start = 0 if protected is None else protected + 1
        last = report.head.sequence
        which = f"entry {last} is" if start == last else f"entries {start}-{last} are"
        stdout.print(
            f"note: {which} covered by the hash chain only; a signed head of the log held by "
            "another party would cover them"
        )
