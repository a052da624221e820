"""Write docs/cli.md from the commands' own --help, so the reference cannot drift from the code.

Run: python docs/generate_cli_reference.py > docs/cli.md   (a test checks it is up to date)
"""

from __future__ import annotations

import click

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
    for path, command in _walk(main, ["linkwell"]):
        with click.Context(command, info_name=" ".join(path), terminal_width=100) as ctx:
            text = command.get_help(ctx)
        lines += [f"## {' '.join(path)}", "", "```", text, "```", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(reference())  # noqa: T201 - this script's output is the document
