"""The indexer's vault: the linkage key's source of truth, encrypted at rest, backed up, verifiable.

The vault is a DuckDB database encrypted with AES-GCM (so any altered or corrupted block fails
authentication when read). Survey IDs are held only as keyed HMACs. Each distinct child gets a
random internal person ID that stays the same across projects and waves; each (project, wave,
person) gets a random link ID, and, where a project allows it, each (project, person) a random
longitudinal ID. The database key and HMAC key live in a secrets file encrypted to the indexer's
own age identity, never in configuration. Every change runs in one transaction, so a crash
leaves the vault as it was before the step.
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Self

import pyarrow as pa
import pyrage

from linkwell.engine import Engine, quote_string
from linkwell.engine.tokens import random_tokens
from linkwell.errors import IdentityError, LinkwellError, VaultError
from linkwell.faults import kill_point
from linkwell.fileio import atomic_path, write_bytes_atomic, write_text_atomic
from linkwell.roles.indexer.hmac_sql import HMAC_KEY_BYTES, hmac_pads
from linkwell.seal import SecretIdentity

__all__ = [
    "ASSIGNED",
    "VAULT_FORMAT",
    "AssignCounts",
    "Vault",
    "VaultReport",
    "VaultSecrets",
    "read_secrets",
    "restore",
    "unrestore",
    "write_secrets",
]

VAULT_FORMAT: Final = 1
DATABASE_FILE: Final = "vault.duckdb"
SECRETS_FILE: Final = "secrets.age"
BACKUP_MANIFEST: Final = "backup.json"
_ALIAS: Final = "vault"
ASSIGNED: Final = "assigned"
"""The temporary table :meth:`Vault.assign` leaves: its children and their IDs."""

# Survey-ID HMACs and the random IDs are incompressible; left to choose, DuckDB analyses every
# column segment for a compression that cannot help, and that analysis was most of the time
# an insert of a million children took. Stored uncompressed (still encrypted, as every block).
_RANDOM: Final = "USING COMPRESSION uncompressed NOT NULL"
_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS vault.meta (key VARCHAR, value VARCHAR)",
    (
        f"CREATE TABLE IF NOT EXISTS vault.persons (id_hmac BLOB {_RANDOM}, "
        f"person_id VARCHAR {_RANDOM}, first_project VARCHAR NOT NULL, "
        "first_wave INTEGER NOT NULL)"
    ),
    (
        "CREATE TABLE IF NOT EXISTS vault.link_ids (project VARCHAR NOT NULL, "
        f"wave INTEGER NOT NULL, person_id VARCHAR {_RANDOM}, link_id VARCHAR {_RANDOM})"
    ),
    (
        "CREATE TABLE IF NOT EXISTS vault.longitudinal_ids (project VARCHAR NOT NULL, "
        f"person_id VARCHAR {_RANDOM}, longitudinal_id VARCHAR {_RANDOM})"
    ),
)
_UNIQUE_CHECKS: Final = {
    "survey ID held twice": "SELECT count(*) - count(DISTINCT id_hmac) FROM vault.persons",
    "person ID issued twice": "SELECT count(*) - count(DISTINCT person_id) FROM vault.persons",
    "link ID issued twice": "SELECT count(*) - count(DISTINCT link_id) FROM vault.link_ids",
    "two link IDs for one child": "SELECT count(*) - count(DISTINCT (project, wave, person_id))"
    " FROM vault.link_ids",
    "link for an unknown person": "SELECT count(*) FROM vault.link_ids l"
    " ANTI JOIN vault.persons p USING (person_id)",
    "longitudinal ID issued twice": "SELECT count(*) - count(DISTINCT longitudinal_id)"
    " FROM vault.longitudinal_ids",
    "two longitudinal IDs for one child": "SELECT count(*) - count(DISTINCT (project, person_id))"
    " FROM vault.longitudinal_ids",
}


@dataclass(frozen=True)
class VaultSecrets:
    """The database encryption key and the HMAC key: the two secrets that unlock the vault."""

    database_key: str
    hmac_key: bytes

    @classmethod
    def generate(cls) -> Self:
        """Fresh random secrets for a new vault."""
        return cls(database_key=secrets.token_hex(32), hmac_key=secrets.token_bytes(HMAC_KEY_BYTES))

    def to_bytes(self) -> bytes:
        """Serialise for encryption to the indexer's identity."""
        body = {
            "format": VAULT_FORMAT,
            "database_key": self.database_key,
            "hmac_key": self.hmac_key.hex(),
        }
        return json.dumps(body, sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        """Parse :meth:`to_bytes`' output."""
        try:
            body = json.loads(data)
            if body["format"] != VAULT_FORMAT:
                raise VaultError(f"vault secrets are of unknown format {body['format']!r}")
            return cls(
                database_key=str(body["database_key"]), hmac_key=bytes.fromhex(body["hmac_key"])
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise VaultError("vault secrets file is malformed") from exc


def write_secrets(vault_secrets: VaultSecrets, path: Path, recipient: str) -> None:
    """Encrypt the secrets to the indexer's own age recipient and write them (0600)."""
    ciphertext = pyrage.encrypt(
        vault_secrets.to_bytes(), [pyrage.x25519.Recipient.from_str(recipient)]
    )
    write_bytes_atomic(path, ciphertext)


def read_secrets(path: Path, identity: SecretIdentity) -> VaultSecrets:
    """Decrypt the secrets with the indexer's identity."""
    try:
        ciphertext = path.read_bytes()
    except FileNotFoundError as exc:
        raise VaultError(
            "the vault's secrets file is missing",
            file=path,
            hint="restore the vault from a backup with `linkwell indexer vault restore`",
        ) from exc
    plaintext = io.BytesIO()
    try:
        identity.decrypt_io(io.BytesIO(ciphertext), plaintext)
    except pyrage.DecryptError as exc:
        raise IdentityError(
            "this identity cannot open the vault's secrets",
            file=path,
            hint="use the indexer identity the vault was created with (or a rotated one it was "
            "re-keyed to)",
        ) from exc
    return VaultSecrets.from_bytes(plaintext.getvalue())


@dataclass(frozen=True)
class AssignCounts:
    """What the vault holds for the children of one assignment, in its project and wave.

    ``persons_new`` children were first seen in this project and wave, ``persons_known`` in an
    earlier one; ``link_ids_new`` link IDs and ``longitudinal_ids_new`` longitudinal IDs were
    issued for this project and wave (not reused from an earlier wave). The counts describe the
    vault, not the run: a run after a crash that had already committed its IDs reports what that
    run stored, so a step re-run after a crash reports exactly what an uninterrupted run would.
    """

    persons_new: int
    persons_known: int
    link_ids_new: int
    longitudinal_ids_new: int


@dataclass(frozen=True)
class VaultReport:
    """The result of :meth:`Vault.verify`: table sizes and every integrity check, by name."""

    persons: int
    link_ids: int
    longitudinal_ids: int
    checks: dict[str, int]

    @property
    def ok(self) -> bool:
        """True when every check found nothing wrong."""
        return not any(self.checks.values())


class Vault:
    """An open vault inside an :class:`Engine` (attached as schema ``vault``).

    Args:
        engine: the engine to attach the vault to.
        directory: the vault's directory (database and secrets files).
        vault_secrets: the unlocked secrets.
        create: make a new vault if none exists; otherwise a missing vault is an error.
    """

    def __init__(
        self, engine: Engine, directory: Path, vault_secrets: VaultSecrets, *, create: bool = False
    ) -> None:
        self._engine = engine
        self.directory = directory
        self._secrets = vault_secrets
        database = directory / DATABASE_FILE
        if not database.exists() and not create:
            raise VaultError(
                "no vault here",
                file=database,
                hint="run `linkwell indexer vault restore` from a backup",
            )
        directory.mkdir(parents=True, exist_ok=True)
        engine.enable_encryption()
        _attach(engine, database, _ALIAS, vault_secrets.database_key)
        self._transaction("create the vault tables", _SCHEMA)
        self._check_format(database)
        inner, outer = hmac_pads(vault_secrets.hmac_key)
        self.hmac_params: dict[str, object] = {"hmac_inner": inner, "hmac_outer": outer}

    def _check_format(self, database: Path) -> None:
        try:
            rows = self._engine.fetchall(
                "SELECT value FROM vault.meta WHERE key = 'format'", purpose="read the vault format"
            )
        except LinkwellError as exc:  # the first read of the file: a cut or damaged vault
            raise VaultError(
                "the vault cannot be read: its file is damaged or cut short",
                file=database,
                hint="restore the last good backup with `linkwell indexer vault restore` (move "
                "the damaged vault aside first, and keep it)",
            ) from exc
        if not rows:
            self._engine.execute(
                "INSERT INTO vault.meta VALUES ('format', ?), ('created', ?)",
                [str(VAULT_FORMAT), datetime.now(UTC).isoformat()],
                purpose="record the vault format",
            )
        elif rows[0][0] != str(VAULT_FORMAT):
            raise VaultError("the vault was written by another version of linkwell", file=database)

    def _transaction(self, purpose: str, statements: tuple[str, ...]) -> None:
        self._engine.execute("BEGIN TRANSACTION", purpose=purpose)
        try:
            for statement in statements:
                self._engine.execute(statement, purpose=purpose)
        except BaseException:
            self._engine.execute("ROLLBACK", purpose=f"{purpose}: roll back")
            raise
        self._engine.execute("COMMIT", purpose=f"{purpose}: commit")

    def assign(self, relation: str, *, project: str, wave: int, longitudinal: bool) -> AssignCounts:
        """Give every child in ``relation`` (a column ``id_hmac``) a person ID and a link ID.

        Children already in the vault keep their person ID; a link ID already issued for this
        project and wave is kept, so re-running a step yields the same key (and the same
        counts: see :class:`AssignCounts`). All in one transaction. Afterwards the temporary
        table :data:`ASSIGNED` holds these children only, with their ``id_hmac``, ``link_id``
        and ``longitudinal_id`` (null where the project has none): the key is made from it
        without reading the vault, which holds every child of every wave, again.
        """
        engine = self._engine
        engine.execute(
            f"CREATE OR REPLACE TEMP TABLE assign_ids AS SELECT DISTINCT id_hmac FROM {relation}",
            purpose="collect children to assign",
        )
        engine.execute("BEGIN TRANSACTION", purpose="assign link IDs")
        try:
            self._insert_with_tokens(
                "SELECT id_hmac FROM assign_ids ANTI JOIN vault.persons USING (id_hmac)",
                "INSERT INTO vault.persons SELECT id_hmac, token, ?, ? "
                "FROM needing POSITIONAL JOIN tokens",
                [project, wave],
            )
            self._insert_with_tokens(
                "SELECT p.person_id FROM assign_ids JOIN vault.persons p USING (id_hmac) "
                "ANTI JOIN (SELECT person_id FROM vault.link_ids WHERE project = $project "
                "AND wave = $wave) l USING (person_id)",
                "INSERT INTO vault.link_ids SELECT ?, ?, person_id, token "
                "FROM needing POSITIONAL JOIN tokens",
                [project, wave],
                {"project": project, "wave": wave},
            )
            if longitudinal:
                self._insert_with_tokens(
                    "SELECT p.person_id FROM assign_ids JOIN vault.persons p USING (id_hmac) "
                    "ANTI JOIN (SELECT person_id FROM vault.longitudinal_ids "
                    "WHERE project = $project) l USING (person_id)",
                    "INSERT INTO vault.longitudinal_ids "
                    "SELECT ?, person_id, token FROM needing POSITIONAL JOIN tokens",
                    [project],
                    {"project": project},
                )
            kill_point("vault.assign.before-commit")
        except BaseException:
            engine.execute("ROLLBACK", purpose="assign link IDs: roll back")
            raise
        engine.execute("COMMIT", purpose="assign link IDs: commit")
        kill_point("vault.assign.after-commit")
        return self._counts(project=project, wave=wave, longitudinal=longitudinal)

    def _counts(self, *, project: str, wave: int, longitudinal: bool) -> AssignCounts:
        """Materialise :data:`ASSIGNED` for the children in ``assign_ids``, then count it.

        Without longitudinal IDs this wave issued none, so none are looked up (the look-up of
        each child's earlier waves was a third of the statement's time at 1,000,000 children).
        """
        engine = self._engine
        params = {"project": project, "wave": wave}
        found = (
            "g.longitudinal_id, g.longitudinal_id IS NOT NULL AND NOT EXISTS (SELECT 1 "
            "FROM vault.link_ids e WHERE e.person_id = p.person_id AND e.project = $project "
            "AND e.wave < $wave) AS first_wave_longitudinal "
            if longitudinal
            else "CAST(NULL AS VARCHAR) AS longitudinal_id, false AS first_wave_longitudinal "
        )
        joined = (
            "LEFT JOIN vault.longitudinal_ids g ON g.person_id = p.person_id "
            "AND g.project = $project"
            if longitudinal
            else ""
        )
        engine.execute(
            f"CREATE OR REPLACE TEMP TABLE {ASSIGNED} AS "
            "SELECT a.id_hmac, l.link_id, "
            "p.first_project = $project AND p.first_wave = $wave AS first_seen, "
            f"{found}"
            "FROM assign_ids a JOIN vault.persons p USING (id_hmac) "
            "LEFT JOIN vault.link_ids l ON l.person_id = p.person_id "
            f"AND l.project = $project AND l.wave = $wave {joined}",
            params,
            purpose="look up the assigned IDs",
        )
        row = engine.fetchall(
            "SELECT count(*), count(*) FILTER (first_seen), count(link_id), "
            f"count(*) FILTER (first_wave_longitudinal) FROM {ASSIGNED}",
            purpose="count assigned",
        )[0]
        total, persons_new, link_ids, longitudinal_new = (int(value) for value in row)
        return AssignCounts(persons_new, total - persons_new, link_ids, longitudinal_new)

    def _insert_with_tokens(
        self,
        select: str,
        insert: str,
        insert_params: list[object],
        select_params: dict[str, object] | None = None,
    ) -> int:
        """Pair each row of ``select`` (as ``needing``) with a fresh random token; run ``insert``.

        Rows and tokens are paired by position (``needing POSITIONAL JOIN tokens``): any pairing
        will do, the tokens are random, and there are exactly as many of each.
        """
        engine = self._engine
        engine.execute(
            f"CREATE OR REPLACE TEMP TABLE needing AS {select}",
            select_params,
            purpose="collect rows needing a token",
        )
        count = int(
            engine.scalar("SELECT count(*) FROM needing", purpose="count rows needing a token")
        )
        engine.register("tokens", pa.table({"token": random_tokens(count)}))
        try:
            engine.execute(insert, insert_params, purpose="store new random IDs")
        finally:
            engine.unregister("tokens")
        return count

    def verify(self) -> VaultReport:
        """Read every table in full (AES-GCM authenticates each block) and check uniqueness."""
        engine = self._engine
        try:
            counts = engine.fetchall(
                "SELECT (SELECT count(*) FROM vault.persons), "
                "(SELECT count(*) FROM vault.link_ids), "
                "(SELECT count(*) FROM vault.longitudinal_ids)",
                purpose="count vault rows",
            )[0]
            checks = {
                name: int(engine.scalar(sql, purpose=f"vault check: {name}"))
                for name, sql in _UNIQUE_CHECKS.items()
            }
        except LinkwellError as exc:
            raise VaultError(
                "the vault cannot be read back: it is corrupt or was altered",
                file=self.directory / DATABASE_FILE,
                hint="restore the last good backup with `linkwell indexer vault restore`",
            ) from exc
        return VaultReport(int(counts[0]), int(counts[1]), int(counts[2]), checks)

    def backup(self, dest: Path) -> dict[str, object]:
        """Write a consistent, encrypted copy of the vault and its secrets file into ``dest``.

        The copy is made by DuckDB (``COPY FROM DATABASE``) into a fresh database encrypted with
        the same key, so it is a transactionally consistent snapshot. A manifest records the
        SHA-256 of each file so that a damaged backup is refused on restore.
        """
        if dest.exists() and any(dest.iterdir()):
            raise VaultError(
                "the backup folder is not empty", file=dest, hint="choose a new folder"
            )
        report = self.verify()
        if not report.ok:
            raise VaultError(
                "the vault fails verification; refusing to back it up", file=self.directory
            )
        staging = dest.with_name(f".{dest.name}.partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        _attach(self._engine, staging / DATABASE_FILE, "vault_backup", self._secrets.database_key)
        try:
            self._engine.execute(
                "COPY FROM DATABASE vault TO vault_backup", purpose="copy the vault"
            )
        finally:
            self._engine.execute("DETACH vault_backup", purpose="close the backup copy")
        shutil.copy2(self.directory / SECRETS_FILE, staging / SECRETS_FILE)
        manifest: dict[str, object] = {
            "format": VAULT_FORMAT,
            "created": datetime.now(UTC).isoformat(),
            "persons": report.persons,
            "link_ids": report.link_ids,
            "longitudinal_ids": report.longitudinal_ids,
            "sha256": {name: _sha256(staging / name) for name in (DATABASE_FILE, SECRETS_FILE)},
        }
        write_text_atomic(staging / BACKUP_MANIFEST, json.dumps(manifest, indent=2, sort_keys=True))
        if dest.exists():
            dest.rmdir()
        staging.rename(dest)
        return manifest


_SET_ASIDE: Final = ".before-restore"


def restore(backup: Path, directory: Path) -> dict[str, object]:
    """Check a backup's digests and put it in place as the vault in ``directory``.

    Refuses to overwrite an existing vault; the caller opens the restored vault and runs
    :meth:`Vault.verify` before using it, and calls :func:`unrestore` if it does not verify. The
    secrets of a vault whose database is gone are not overwritten but set aside, as
    ``secrets.age.before-restore``, for :func:`unrestore` to put back.
    """
    try:
        manifest = json.loads((backup / BACKUP_MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise VaultError("not a vault backup, or its manifest is damaged", file=backup) from exc
    expected = manifest.get("sha256") if isinstance(manifest, dict) else None
    if not isinstance(expected, dict):
        raise VaultError(
            "not a vault backup, or its manifest is damaged: it lists no digests",
            file=backup / BACKUP_MANIFEST,
            hint="use another backup",
        )
    for name in (DATABASE_FILE, SECRETS_FILE):
        if not (backup / name).is_file() or _sha256(backup / name) != expected.get(name):
            raise VaultError(
                "the backup is damaged: a file does not match its recorded digest",
                file=backup / name,
                hint="use another backup",
            )
    if (directory / DATABASE_FILE).exists():
        raise VaultError(
            "a vault already exists here; refusing to overwrite it",
            file=directory / DATABASE_FILE,
            hint="move the existing vault away first if you really mean to replace it",
        )
    directory.mkdir(parents=True, exist_ok=True)
    aside = directory / f"{SECRETS_FILE}{_SET_ASIDE}"
    if (directory / SECRETS_FILE).exists():
        if aside.exists():
            raise VaultError(
                "secrets set aside by an earlier restore are still here",
                file=aside,
                hint="keep them safe elsewhere if they may be needed, then restore again",
            )
        (directory / SECRETS_FILE).rename(aside)
    for name in (SECRETS_FILE, DATABASE_FILE):
        with (
            atomic_path(directory / name) as partial,
            (backup / name).open("rb") as source,
            partial.open("wb") as target,
        ):
            shutil.copyfileobj(source, target, 1 << 20)
    return dict(manifest)


def unrestore(directory: Path) -> None:
    """Take out a restored vault that did not verify, and put back the secrets set aside."""
    for name in (DATABASE_FILE, SECRETS_FILE):
        (directory / name).unlink(missing_ok=True)
    aside = directory / f"{SECRETS_FILE}{_SET_ASIDE}"
    if aside.exists():
        aside.rename(directory / SECRETS_FILE)


def _attach(engine: Engine, database: Path, alias: str, key: str) -> None:
    try:
        engine.execute(
            f"ATTACH {quote_string(database)} AS {alias} (ENCRYPTION_KEY $key)",
            {"key": key},
            purpose="open the vault",
            log_sql=False,
        )
    except LinkwellError as exc:
        raise VaultError(
            "the vault cannot be opened: wrong key, corrupt file, or in use by another process",
            file=database,
            hint="check no other indexer step is running; if the file is damaged, restore a backup",
        ) from exc


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
