"""``linkwell package``: seal, open and inspect single packages (expert commands).

The role commands seal and open packages as part of their steps; these commands expose the same
library functions for checking a package by hand or moving one outside the usual flow.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from linkwell.cli._progress import terminal_progress
from linkwell.cli.keys import passphrase_option, project_option
from linkwell.config import ProjectConfig
from linkwell.seal import (
    DatasetRef,
    Manifest,
    PackageKind,
    ReceiptLedger,
    format_fingerprint,
    inspect_package,
    load_keyring,
    open_package,
    seal_package,
    sealing_identity,
)

__all__ = ["package"]

_KINDS = click.Choice([k.value for k in PackageKind])
_IDENTITY = click.option(
    "--identity",
    required=True,
    type=click.Path(path_type=Path),
    help="The party's keyring folder (or one identity file).",
)


def _summary(manifest: Manifest) -> str:
    lines = [
        f"package    {manifest.package_id}  (format {manifest.format})",
        f"kind       {manifest.kind.value}"
        + (f"  source {manifest.source}" if manifest.source else ""),
        f"project    {manifest.project}  wave {manifest.wave}",
        f"from       {manifest.sender.party}  {format_fingerprint(manifest.sender.fingerprint)}",
        (
            f"to         {manifest.recipient.party}  "
            f"{format_fingerprint(manifest.recipient.fingerprint)}"
        ),
        f"dataset    {manifest.dataset.id} v{manifest.dataset.version}",
        (
            f"payload    {manifest.rows} rows, {len(manifest.columns)} columns, "
            f"{manifest.plaintext_size} bytes"
        ),
        f"created    {manifest.created:%Y-%m-%d %H:%M:%S} UTC",
        f"expires    {manifest.expires:%Y-%m-%d %H:%M:%S} UTC",
    ]
    lines += [f"parent     {parent}" for parent in manifest.parents]
    return "\n".join(lines)


@click.group("package")
def package() -> None:
    """Sealed packages: seal, open and inspect one by hand."""


@package.command("seal")
@click.argument("payload", type=click.Path(dir_okay=False, path_type=Path))
@project_option
@_IDENTITY
@passphrase_option
@click.option("--to", "recipient", required=True, help="The receiving party's name.")
@click.option("--kind", required=True, type=_KINDS, help="What the package holds.")
@click.option("--source", help="The project source (participants, identifiers, content).")
@click.option("--dataset", required=True, help="The dataset definition id of the payload.")
@click.option("--dataset-version", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--parent", "parents", multiple=True, help="Id of a package the payload came from.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def seal(
    *,
    payload: Path,
    project: ProjectConfig,
    identity: Path,
    passphrase: str,
    recipient: str,
    kind: str,
    source: str | None,
    dataset: str,
    dataset_version: int,
    parents: tuple[str, ...],
    out: Path,
) -> None:
    """Seal a Parquet file for one party: encrypt to it, sign as this party.

    \b
    Example:
      linkwell package seal content.parquet --project project.toml \\
        --identity keyring/ --to edris --kind content --source secondary \\
        --dataset survey-secondary --out outbox/content.lwpkg
    """
    sender = sealing_identity(load_keyring(identity, passphrase), project)
    manifest = seal_package(
        payload, project=project, sender=sender, recipient=recipient, kind=PackageKind(kind),
        source=source, dataset=DatasetRef(id=dataset, version=dataset_version), parents=parents,
        log_head=None, dest=out, progress=terminal_progress(),
    )  # fmt: skip
    click.echo(f"sealed {out}\n{_summary(manifest)}")


@package.command("open")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@project_option
@_IDENTITY
@passphrase_option
@click.option(
    "--ledger",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="This workspace's receipt ledger (created if missing).",
)
@click.option("--expect", multiple=True, type=_KINDS, help="Accept only these kinds.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def open_(
    *,
    path: Path,
    project: ProjectConfig,
    identity: Path,
    passphrase: str,
    ledger: Path,
    expect: tuple[str, ...],
    out: Path,
) -> None:
    """Check a package completely, then decrypt its payload and record it as opened.

    \b
    Example:
      linkwell package open inbox/content.lwpkg --project project.toml \\
        --identity keyring/ --ledger receipts.sqlite --expect content --out content.parquet
    """
    keyring = load_keyring(identity, passphrase)
    with ReceiptLedger(ledger) as receipts:
        opened = open_package(
            path, project=project, identities=keyring, ledger=receipts, dest=out,
            expect_kinds={PackageKind(k) for k in expect} or None, progress=terminal_progress(),
        )  # fmt: skip
    click.echo(f"opened {path} into {opened.path}\n{_summary(opened.manifest)}")
    if not opened.config_matches:
        click.echo("note: the sender's project file differs from yours (e.g. a rotated card)")


@package.command("inspect")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@project_option
@click.option("--json", "as_json", is_flag=True, help="Print the whole manifest as JSON.")
def inspect(path: Path, project: ProjectConfig, as_json: bool) -> None:  # noqa: FBT001
    """Verify a package's signature and ciphertext digest and show its manifest.

    Never decrypts: it says what the package is and that it is intact, not whether
    this party should accept it (linkwell package open decides that).

    \b
    Example:
      linkwell package inspect inbox/content.lwpkg --project project.toml
    """
    manifest = inspect_package(path, project=project, progress=terminal_progress())
    if as_json:
        click.echo(json.dumps(manifest.model_dump(mode="json"), indent=2, sort_keys=True))
    else:
        click.echo(f"verified {path}\n{_summary(manifest)}")
