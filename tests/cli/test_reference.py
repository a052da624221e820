"""Every command is documented, shows an example, and docs/cli.md matches the code's help."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import click
import pytest

from linkwell.cli import main

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _generator() -> object:
    spec = importlib.util.spec_from_file_location("generate", DOCS / "generate_cli_reference.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _leaves(
    group: click.Group, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], click.Command]]:
    found = []
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found += _leaves(command, (*path, name))
        else:
            found.append(((*path, name), command))
    return found


def test_docs_cli_md_is_up_to_date() -> None:
    expected = _generator().reference()  # type: ignore[attr-defined]
    assert (DOCS / "cli.md").read_text(encoding="utf-8") == expected + "\n", (
        "run: python docs/generate_cli_reference.py > docs/cli.md"
    )


@pytest.mark.parametrize(
    ("path", "command"), _leaves(main), ids=lambda x: " ".join(x) if isinstance(x, tuple) else ""
)
def test_every_command_has_help_and_an_example(
    path: tuple[str, ...], command: click.Command
) -> None:
    assert command.help, path
    assert "Example" in command.help, f"linkwell {' '.join(path)} needs an example in its help"
