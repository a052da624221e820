"""The receipt ledger: every package a workspace has received or opened, so none is taken twice.

One SQLite file per workspace (write-ahead log, full sync, one transaction per change), so a crash
leaves each receipt either recorded or not, and two processes of the same party (the transport
fetching while someone opens) can share it. A package is recorded as ``received`` when the
transport takes it in and as ``opened`` once its payload is in place; a second receipt of the same
package id, or of the same ciphertext under another id, is a :class:`~linkwell.errors.ReplayError`.
SQLite, not DuckDB, because this is a small multi-process transactional store, not tabular work.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Final, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict

from linkwell.errors import ReplayError, StorageError
from linkwell.seal.manifest import Manifest
from linkwell.seal.routes import PackageKind

__all__ = ["Receipt", "ReceiptLedger", "ReceiptState"]

_SCHEMA_VERSION: Final = 1
_SCHEMA: Final = """
CREATE TABLE receipts (
    package_id TEXT PRIMARY KEY,
    ciphertext_sha256 TEXT NOT NULL UNIQUE,
    project TEXT NOT NULL,
    wave INTEGER NOT NULL,
    kind TEXT NOT NULL,
    sender TEXT NOT NULL,
    recipient TEXT NOT NULL,
    source TEXT,
    state TEXT NOT NULL CHECK (state IN ('received', 'opened')),
    file_name TEXT NOT NULL,
    received_at TEXT,
    opened_at TEXT,
    opened_to TEXT
) STRICT
"""
_COLUMNS: Final = (
    "package_id, kind, sender, recipient, project, wave, source, state, "
    "file_name, received_at, opened_at, opened_to"
)


class ReceiptState(StrEnum):
    """How far a package has come in this workspace."""

    RECEIVED = "received"
    """Taken in by the transport; not yet opened."""
    OPENED = "opened"
    """Verified, decrypted and put in place: it will never be accepted again."""


class Receipt(BaseModel):
    """One ledger row."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    package_id: str
    kind: PackageKind
    sender: str
    recipient: str
    project: str
    wave: int
    source: str | None
    state: ReceiptState
    file_name: str
    received_at: AwareDatetime | None
    opened_at: AwareDatetime | None
    opened_to: str | None


def _now(now: datetime | None) -> str:
    return (now or datetime.now(UTC)).astimezone(UTC).isoformat()


class ReceiptLedger:
    """The receipt ledger at ``path`` (created, mode 0600, if missing). Use as a context manager.

    ``timeout`` is how long to wait, in seconds, for another process's transaction to finish.
    """

    def __init__(self, path: Path, *, timeout: float = 30.0) -> None:
        self.path = path
        try:
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            self._con = sqlite3.connect(path, isolation_level=None, timeout=timeout)
        except (OSError, sqlite3.Error) as exc:
            raise self._storage_error(exc) from exc
        try:
            self._con.execute("PRAGMA journal_mode = WAL")
            self._con.execute("PRAGMA synchronous = FULL")
            if self._con.execute("PRAGMA user_version").fetchone()[0] == 0:
                with self._transaction():
                    self._create_or_check_schema()
            else:
                self._create_or_check_schema()
        except sqlite3.Error as exc:
            self._con.close()
            raise self._storage_error(exc) from exc
        except BaseException:
            self._con.close()
            raise

    def _create_or_check_schema(self) -> None:
        version = self._con.execute("PRAGMA user_version").fetchone()[0]
        if version == 0:
            self._con.execute(_SCHEMA)
            self._con.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
        elif version != _SCHEMA_VERSION:
            raise StorageError(
                f"the receipt ledger is of version {version}, not {_SCHEMA_VERSION}",
                file=self.path,
                hint="use the linkwell release that made this workspace",
            )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the ledger; it cannot be used afterwards."""
        self._con.close()

    def _storage_error(self, exc: BaseException) -> StorageError:
        if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
            return StorageError(
                "the receipt ledger stayed locked by another process",
                file=self.path,
                hint="wait for the other linkwell command to finish, then try again",
            )
        return StorageError(
            f"the receipt ledger cannot be used ({type(exc).__name__})",
            file=self.path,
            hint="check the disk and permissions; restore the ledger from backup if it is corrupt",
        )

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once so two writers never interleave."""
        try:
            self._con.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._storage_error(exc) from exc
        try:
            yield self._con
        except sqlite3.Error as exc:
            self._con.execute("ROLLBACK")
            raise self._storage_error(exc) from exc
        except BaseException:
            self._con.execute("ROLLBACK")
            raise
        try:
            self._con.execute("COMMIT")
        except sqlite3.Error as exc:
            raise self._storage_error(exc) from exc

    def _row(self, package_id: str) -> tuple[str, str | None] | None:
        row = self._con.execute(
            "SELECT state, opened_at FROM receipts WHERE package_id = ?", (package_id,)
        ).fetchone()
        return None if row is None else (row[0], row[1])

    def _check_ciphertext_unseen(self, manifest: Manifest, file: Path) -> None:
        other = self._con.execute(
            "SELECT 1 FROM receipts WHERE ciphertext_sha256 = ? AND package_id != ?",
            (manifest.ciphertext_sha256, manifest.package_id),
        ).fetchone()
        if other is not None:
            raise ReplayError(
                "this package's content was already received under another package id",
                file=file,
                hint="do not use it: a package was copied and relabelled; tell the sender",
            )

    def state(self, package_id: str) -> ReceiptState | None:
        """The state of ``package_id`` here, or ``None`` if it was never seen."""
        try:
            row = self._row(package_id)
        except sqlite3.Error as exc:
            raise self._storage_error(exc) from exc
        return None if row is None else ReceiptState(row[0])

    def check_not_opened(self, manifest: Manifest, *, file: Path) -> None:
        """Refuse with :class:`ReplayError` a package opened here before (by id or content)."""
        try:
            row = self._row(manifest.package_id)
            if row is not None and row[0] == ReceiptState.OPENED:
                raise ReplayError(
                    f"this package was already opened here (at {row[1]})",
                    file=file,
                    hint="a package is opened once; use the file it was opened to",
                )
            self._check_ciphertext_unseen(manifest, file)
        except sqlite3.Error as exc:
            raise self._storage_error(exc) from exc

    def record_received(
        self, manifest: Manifest, *, file: Path, now: datetime | None = None
    ) -> Receipt:
        """Record that ``file`` (holding ``manifest``) was received; refuse a repeat."""
        with self._transaction() as con:
            if self._row(manifest.package_id) is not None:
                raise ReplayError(
                    "this package was already received here",
                    file=file,
                    hint="the copy can be deleted; the package is received once",
                )
            self._check_ciphertext_unseen(manifest, file)
            self._insert(con, manifest, ReceiptState.RECEIVED, file, received_at=_now(now))
        return self._get(manifest.package_id)

    def record_opened(
        self, manifest: Manifest, *, file: Path, dest: Path, now: datetime | None = None
    ) -> Receipt:
        """Record that ``file`` was opened into ``dest``; refuse if it was opened already."""
        with self._transaction() as con:
            row = self._row(manifest.package_id)
            if row is not None and row[0] == ReceiptState.OPENED:
                raise ReplayError(
                    "this package was opened here meanwhile, by another process",
                    file=file,
                    hint="a package is opened once; use the file it was opened to",
                )
            self._check_ciphertext_unseen(manifest, file)
            if row is None:
                self._insert(con, manifest, ReceiptState.OPENED, file, received_at=None)
            con.execute(
                "UPDATE receipts SET state = ?, opened_at = ?, opened_to = ? WHERE package_id = ?",
                (ReceiptState.OPENED.value, _now(now), str(dest), manifest.package_id),
            )
        return self._get(manifest.package_id)

    @staticmethod
    def _insert(
        con: sqlite3.Connection,
        manifest: Manifest,
        state: ReceiptState,
        file: Path,
        *,
        received_at: str | None,
    ) -> None:
        con.execute(
            "INSERT INTO receipts (package_id, ciphertext_sha256, project, wave, kind, sender, "
            "recipient, source, state, file_name, received_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                manifest.package_id,
                manifest.ciphertext_sha256,
                manifest.project,
                manifest.wave,
                manifest.kind.value,
                manifest.sender.party,
                manifest.recipient.party,
                manifest.source,
                state.value,
                file.name,
                received_at,
            ),
        )

    def _get(self, package_id: str) -> Receipt:
        (found,) = self._select("WHERE package_id = ?", (package_id,))
        return found

    def _select(self, where: str, params: tuple[str, ...]) -> tuple[Receipt, ...]:
        try:
            rows = self._con.execute(
                f"SELECT {_COLUMNS} FROM receipts {where} ORDER BY rowid", params
            ).fetchall()
        except sqlite3.Error as exc:
            raise self._storage_error(exc) from exc
        names = [name.strip() for name in _COLUMNS.split(",")]
        return tuple(Receipt.model_validate(dict(zip(names, row, strict=True))) for row in rows)

    def receipts(
        self, *, state: ReceiptState | None = None, kind: PackageKind | None = None
    ) -> tuple[Receipt, ...]:
        """Every receipt, oldest first; only those in ``state`` and of ``kind`` if given."""
        clauses, params = [], []
        if state is not None:
            clauses.append("state = ?")
            params.append(state.value)
        if kind is not None:
            clauses.append("kind = ?")
            params.append(kind.value)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        return self._select(where, tuple(params))
