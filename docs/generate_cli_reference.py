"""Write docs/cli.md from the commands' own --help, so the reference cannot drift from the code.

Run: python docs/generate_cli_reference.py > docs/cli.md   (a test checks it is up to date)
"""

from __future__ import annotations

import click
from click.testing import CliRunner

from linkwell.cli import main


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
    return "\n".join(lines)


if __name__ == "__main__":
    print(reference())  # noqa: T201 - this script's output is the document
