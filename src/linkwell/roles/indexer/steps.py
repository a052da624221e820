"""The indexer's steps in a workspace: issue the linkage key; back up, restore, verify the vault.

``link`` opens the identifiers packages (the only kind the indexer may receive), requires one
of every source in the project (refusing two of one source), updates the vault and seals the
key and the match-quality report for the linker. The vault's secrets are encrypted to the
indexer's own identity; a vault without them, or them without a vault, is refused rather than
recreated.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from linkwell.audit import AuditAction, CountName, DigestRef, DigestSubject
from linkwell.config import Role
from linkwell.engine import Engine
from linkwell.errors import IdentityError, LinkwellError, ValidationError, VaultError
from linkwell.progress import SILENT, Progress
from linkwell.roles.indexer.linkage import IdentifierFile, build_linkage_key
from linkwell.roles.indexer.vault import (
    DATABASE_FILE,
    SECRETS_FILE,
    Vault,
    VaultReport,
    VaultSecrets,
    read_secrets,
    restore,
    unrestore,
    write_secrets,
)
from linkwell.seal import PackageKind, payloads
from linkwell.workspace import Opened, Workspace, one_per_source

__all__ = [
    "LinkResult",
    "link",
    "open_vault",
    "vault_backup",
    "vault_restore",
    "vault_verify",
]


class LinkResult(BaseModel):
    """What ``indexer link`` did: counts per source and status, and the two packages sent."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key_rows: int
    counts: dict[str, dict[str, int]]
    persons_new: int
    persons_known: int
    link_ids_new: int
    key_package: str
    report_package: str


def open_vault(ws: Workspace, engine: Engine, *, create: bool) -> Vault:
    """The indexer's vault in ``ws``, unlocked with the identity's secrets file."""
    directory = ws.folder("vault")
    secrets_file = directory / SECRETS_FILE
    if not secrets_file.exists():
        if (directory / DATABASE_FILE).exists():
            raise VaultError(
                "the vault's secrets file is missing",
                file=secrets_file,
                hint="restore the vault from a backup with `linkwell indexer vault restore`",
            )
        if not create:
            raise VaultError(
                "there is no vault here yet",
                file=directory,
                hint="the first `linkwell indexer link` makes it; to bring back a vault from a "
                "backup, use `linkwell indexer vault restore`",
            )
        write_secrets(VaultSecrets.generate(), secrets_file, ws.identity().card().encryption_key)
    last: IdentityError | None = None
    for identity in reversed(ws.keyring):  # newest first: the secrets follow rotations
        try:
            vault_secrets = read_secrets(secrets_file, identity)
        except IdentityError as exc:
            last = exc
            continue
        return Vault(engine, directory, vault_secrets, create=create)
    assert last is not None  # noqa: S101 - a keyring is never empty
    raise last


def _one_per_source(ws: Workspace, opened: list[Opened]) -> list[Opened]:
    newest = one_per_source(opened)
    missing = [s.name for s in ws.project.sources if s.name not in newest]
    if missing:
        raise ValidationError(
            "identifiers are missing for some sources; the key would be incomplete",
            field=", ".join(missing),
            hint="run `linkwell receive` once every provider has sent its identifiers",
        )
    return [newest[s.name] for s in ws.project.sources]


def link(ws: Workspace, *, progress: Progress = SILENT) -> LinkResult:
    """Issue the linkage key for this project and wave, and the match-quality report."""
    ws.require(Role.INDEXER, step="indexer link")
    name = "link"
    done = ws.completed(name, LinkResult)
    if done is None:
        inputs = _one_per_source(ws, ws.open_inbox({PackageKind.IDENTIFIERS}, progress))
        files = [
            IdentifierFile(
                str(o.manifest.source), ws.project.source(str(o.manifest.source)).kind, o.path
            )
            for o in inputs
        ]
        project = ws.project.project
        linker = ws.project.the(Role.LINKER).name
        parents = tuple(o.manifest.package_id for o in inputs)
        with ws.engine() as engine, ws.step(name) as staging:
            vault = open_vault(ws, engine, create=True)
            result = build_linkage_key(
                engine,
                vault,
                files,
                project=project.id,
                wave=project.wave,
                longitudinal=ws.project.release.longitudinal_id,
                key_dest=staging / "linkage-key.parquet",
                report_dest=staging / "match-report.parquet",
            )
            children = result.assigned.persons_new + result.assigned.persons_known
            ws.audit.append(
                AuditAction.VAULT_UPDATED,
                counts={
                    CountName.LINK_IDS_NEW: result.assigned.link_ids_new,
                    CountName.LINK_IDS_REUSED: children - result.assigned.link_ids_new,
                },
            )
            sealed = {}
            for kind, payload, dataset in (
                (PackageKind.LINKAGE_KEY, "linkage-key.parquet", payloads.LINKAGE_KEY),
                (PackageKind.REPORT, "match-report.parquet", payloads.MATCH_REPORT),
            ):
                sealed[kind] = ws.seal(
                    staging / payload,
                    to=linker,
                    kind=kind,
                    source=None,
                    dataset=dataset,
                    parents=parents,
                    dest_dir=staging / "packages",
                    progress=progress,
                )
            # The key's plaintext goes: beside the opened identifiers (row_ref, unique_id) it
            # would map survey IDs to link IDs on this disk, with no key needed. Only the linker
            # can open the sealed key.
            (staging / "linkage-key.parquet").unlink()
            ws.audit.append(
                AuditAction.KEY_ISSUED,
                counts={CountName.ROWS: result.key_rows},
                config_digest=ws.project.digest(),
            )
            done = LinkResult(
                key_rows=result.key_rows,
                counts=result.counts,
                persons_new=result.assigned.persons_new,
                persons_known=result.assigned.persons_known,
                link_ids_new=result.assigned.link_ids_new,
                key_package=sealed[PackageKind.LINKAGE_KEY].stem,
                report_package=sealed[PackageKind.REPORT].stem,
            )
            ws.record(staging, done)
    ws.publish(ws.step_dir(name))
    return done


def vault_verify(ws: Workspace) -> VaultReport:
    """Read the whole vault back and check its integrity; raise :class:`VaultError` if bad."""
    ws.require(Role.INDEXER, step="indexer vault verify")
    with ws.engine() as engine:
        report = open_vault(ws, engine, create=False).verify()
    if not report.ok:
        failed = ", ".join(name for name, count in report.checks.items() if count)
        raise VaultError(
            f"the vault fails its integrity checks: {failed}",
            file=ws.folder("vault") / DATABASE_FILE,
            hint="restore the last good backup with `linkwell indexer vault restore`",
        )
    return report


def vault_backup(ws: Workspace, dest: Path) -> dict[str, object]:
    """Write an encrypted, verified backup of the vault to the new folder ``dest``."""
    ws.require(Role.INDEXER, step="indexer vault backup")
    with ws.engine() as engine:
        manifest = open_vault(ws, engine, create=False).backup(dest)
    digests = manifest["sha256"]
    assert isinstance(digests, dict)  # noqa: S101 - written just above
    ws.audit.append(
        AuditAction.BACKUP,
        digests=[DigestRef(subject=DigestSubject.BACKUP, sha256=str(digests[DATABASE_FILE]))],
    )
    return manifest


def vault_restore(ws: Workspace, backup: Path) -> VaultReport:
    """Put a backup in place as the vault (never over an existing one) and verify it."""
    ws.require(Role.INDEXER, step="indexer vault restore")
    manifest = restore(backup, ws.folder("vault"))
    try:
        report = vault_verify(ws)
    except LinkwellError as exc:
        unrestore(ws.folder("vault"))
        raise VaultError(
            "the restored backup does not verify, so it was taken out again; nothing changed",
            file=backup,
            hint="restore another backup; keep this one as evidence",
        ) from exc
    digests = manifest["sha256"]
    assert isinstance(digests, dict)  # noqa: S101 - checked by restore
    ws.audit.append(
        AuditAction.RESTORE,
        digests=[DigestRef(subject=DigestSubject.BACKUP, sha256=str(digests[DATABASE_FILE]))],
    )
    return report
