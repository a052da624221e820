"""``linkwell keys``: make a party's secret identity and card; show cards' fingerprints.

Passphrases come from ``--passphrase-file`` or ``$LINKWELL_PASSPHRASE``, never from an option
value (it would show in the process list). The option helpers here are shared with
``linkwell package``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from linkwell.config import ProjectConfig, Role, load_project
from linkwell.seal import (
    CardInfo,
    create_identity,
    format_fingerprint,
    read_cards,
    read_passphrase,
)

__all__ = ["keys", "passphrase_option", "project_option"]

F = TypeVar("F", bound=Callable[..., Any])


def _passphrase(ctx: click.Context, param: click.Parameter, value: Path | None) -> str:  # noqa: ARG001
    return read_passphrase(file=value)


def passphrase_option(command: F) -> F:
    """``--passphrase-file``, resolved (with ``$LINKWELL_PASSPHRASE``) into ``passphrase``."""
    return click.option(
        "--passphrase-file",
        "passphrase",
        type=click.Path(dir_okay=False, path_type=Path),
        callback=_passphrase,
        help="File whose first line is the passphrase (mode 0600); default: $LINKWELL_PASSPHRASE.",
    )(command)


def _project(ctx: click.Context, param: click.Parameter, value: Path) -> ProjectConfig:  # noqa: ARG001
    return load_project(value)


def project_option(command: F) -> F:
    """``--project FILE``, loaded and validated into ``project``."""
    return click.option(
        "--project",
        required=True,
        type=click.Path(dir_okay=False, path_type=Path),
        callback=_project,
        help="The project file.",
    )(command)


@click.group("keys")
def keys() -> None:
    """Party identities: make one, show fingerprints."""


@keys.command("new")
@click.option("--party", required=True, help="The party's name, as in the project file.")
@click.option(
    "--role", required=True, type=click.Choice([r.value for r in Role]), help="The party's role."
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The party's keyring folder (created if missing).",
)
@passphrase_option
def new(party: str, role: str, out: Path, passphrase: str) -> None:
    """Make a new secret identity for a party, and the card for the project file.

    Writes <party>-<time>.identity.age (encrypted with the passphrase, mode 0600) and
    card.toml into the keyring folder. Paste card.toml under the party's entry in the
    project file; to rotate, run this again and mark the old card retired with the
    time of the rotation (retired = 2026-06-01T09:30:00Z).

    \b
    Example:
      export LINKWELL_PASSPHRASE='three random words'
      linkwell keys new --party nrs --role indexer --out keyring/
    """
    made = create_identity(party, Role(role), out, passphrase)
    click.echo(f"secret identity: {made.identity_file}  (keep it, and back it up)")
    click.echo(f"card:            {made.card_file}  (paste into the project file)")
    click.echo(f"fingerprint:     {format_fingerprint(made.fingerprint)}")
    if made.earlier:
        click.echo(
            f"rotation:        the keyring keeps its {made.earlier} earlier identit"
            f"{'y' if made.earlier == 1 else 'ies'} to open older packages; in the project "
            "file, mark the older card retired with the time of this rotation"
        )


def _describe(info: CardInfo) -> str:
    who = f"{info.party} ({info.role.value})" if info.party and info.role else "card"
    retired_at = info.card.retired_at
    state = (
        "active"
        if info.card.retired is False
        else "retired" + ("" if retired_at is None else f" {retired_at:%Y-%m-%d %H:%M} UTC")
    )
    return (
        f"{who}  created {info.card.created:%Y-%m-%d %H:%M} UTC  {state}\n"
        f"  fingerprint: {format_fingerprint(info.fingerprint)}"
    )


@keys.command("show")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--party", help="Only this party's cards (project files only).")
def show(path: Path, party: str | None) -> None:
    """Show the fingerprints of a card.toml or of the cards in a project file.

    Read the fingerprint aloud to compare it with the project file by another channel.

    \b
    Examples:
      linkwell keys show keyring/card.toml
      linkwell keys show project.toml --party nrs
    """
    for info in read_cards(path, party=party):
        click.echo(_describe(info))
