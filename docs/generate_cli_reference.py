"""Write docs/cli.md from the commands' own --help, so the reference cannot drift from the code.

Run: python docs/generate_cli_reference.py > docs/cli.md   (a test checks it is up to date)
"""

from __future__ import annotations

import click
from click.testing import CliRunner

from linkwell.cli import main
from linkwell.errors import ConfigError, LinkwellError


def _walk(command: click.Command, path: list[str]) -> list[tuple[list[str], click.Command]]:
    found = [(path, command)]
    if isinstance(command, click.Group):
        for name in sorted(command.commands):
            found += _walk(command.commands[name], [*path, name])
    return found


def reference() -> str:
    """The markdown reference of every command."""
    lines = [
        "# Command-line reference",
        "",
        "Generated from each command's `--help` by `docs/generate_cli_reference.py`; do not edit.",
        "",
    ]
    runner = CliRunner()
    for path, _command in _walk(main, ["linkwell"]):
        result = runner.invoke(
            main, [*path[1:], "--help"], prog_name="linkwell", terminal_width=100
        )
        lines += [f"## {' '.join(path)}", "", "```", result.output.rstrip("\n"), "```", ""]
    return "\n".join([*lines, *_exit_codes()])


def _kinds(error: type[LinkwellError]) -> list[type[LinkwellError]]:
    """``error`` and every subclass that sets an exit code of its own, parents first."""
    found = [error] if "exit_code" in vars(error) else []
    for sub in error.__subclasses__():
        found += _kinds(sub)
    return found


def _exit_codes() -> list[str]:
    """The exit codes, one per kind of error, from the error classes themselves."""
    lines = [
        "## Exit codes",
        "",
        "| code | error | meaning |",
        "|---|---|---|",
        (
            "| 0 | | the command did its work (`validate` also when it quarantined rows, unless "
            "`--strict`) |"
        ),
    ]
    for kind in sorted(_kinds(LinkwellError), key=lambda k: k.exit_code):
        meaning = (kind.__doc__ or "").strip().splitlines()[0]
        if kind is ConfigError:  # click's own usage errors exit 2 too
            meaning += " Also a command line that cannot be parsed (an unknown or missing option)."
        lines.append(f"| {kind.exit_code} | `{kind.__name__}` | {meaning} |")
    return [*lines, ""]


if __name__ == "__main__":
    print(reference())  # noqa: T201 - this script's output is the document
