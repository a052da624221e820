"""The receiving party's own record of every package file its transport has taken in.

One row per inbox file, known by its name *and* its content digest: the decision (accepted, with
its package id, or quarantined, with the reason), the digest and size, the name the file is kept
under, and two flags for the steps that follow a decision: the file was put in its place
(accepted or quarantine folder) and the server was told it may clear it. The decision is
committed before the file moves, so a crash in between is finished on the next run rather than
deciding twice; a name, a content digest or a package id is never accepted twice.

A name alone does not identify a file: package ids are public (they are file names), so anyone
able to write to an inbox could send junk under the id of a package yet to come. Once refused,
that name must not make the genuine package, arriving later with other bytes, look received:
it is judged in its own right, and a second refusal under one name is kept beside the first.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Final, Self

from pydantic import BaseModel, ConfigDict, Field

from linkwell.engine import Engine

__all__ = ["Receipt", "ReceiptBook", "ReceiptState", "RefusalReason"]

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS {table} (
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    package_id TEXT UNIQUE,
    reason TEXT,
    detail TEXT NOT NULL,
    decided_at TEXT NOT NULL,
    placed BOOLEAN NOT NULL,
    acknowledged BOOLEAN NOT NULL,
    stored_as TEXT NOT NULL,
    PRIMARY KEY (name, sha256),
    UNIQUE (state, stored_as)
)
"""
_COLUMNS: Final = (
    "name, state, sha256, size, package_id, reason, detail, decided_at, placed, acknowledged, "
    "stored_as"
)
_FIRST_COLUMNS: Final = _COLUMNS.removesuffix(", stored_as")
"""A book written before files were known by their content: one row per name."""


class ReceiptState(StrEnum):
    """What became of a file taken from the inbox."""

    ACCEPTED = "accepted"
    QUARANTINED = "quarantined"


class RefusalReason(StrEnum):
    """Why a file from the inbox was quarantined instead of accepted."""

    NO_DIGEST = "no-digest"
    """The sender's digest file is missing or malformed."""
    DIGEST_MISMATCH = "digest-mismatch"
    """The bytes received do not hash to the digest the sender committed, even after a retry."""
    DUPLICATE_CONTENT = "duplicate-content"
    """The same bytes were accepted before under another name."""
    REFUSED = "refused"
    """The receipt check (the seal layer) refused the package."""
    NAME_MISMATCH = "name-mismatch"
    """The file's name is not the package id the receipt check found inside it."""
    REPLAY = "replay"
    """A package with this id was accepted before."""
    UNKNOWN_SENDER = "unknown-sender"
    """Its signing key is on no card of the project file: judged again by ``receive --again``,
    once the sender's new card is there and trusted."""


_TRANSFER_REASONS: Final = frozenset({RefusalReason.NO_DIGEST, RefusalReason.DIGEST_MISMATCH})
_JUDGED_AGAIN: Final = _TRANSFER_REASONS | {RefusalReason.UNKNOWN_SENDER}
"""Refusals a later decision about the same bytes may replace."""


class Receipt(BaseModel):
    """One decision about one inbox file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    state: ReceiptState
    sha256: str
    size: int = Field(ge=0)
    package_id: str | None = None
    reason: RefusalReason | None = None
    detail: str = ""
    decided_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    """Stored as ISO-8601 text: reading a time-zone-aware column would load ICU for nothing."""
    placed: bool = False
    acknowledged: bool = False
    stored_as: str = ""
    """The file's name in the accepted or quarantine folder; the book sets it when deciding."""

    def stands_for(self, committed: str | None) -> bool:
        """Whether this decision settles the same bytes arriving with digest ``committed``.

        A refusal for how the file arrived (its digest file missing, or not its bytes' digest)
        judged the transfer, not the package: the same bytes arriving again with their right
        digest are judged afresh, or a genuine package sent once with a broken digest file could
        never be received.
        """
        if self.reason not in _TRANSFER_REASONS:
            return True
        return committed != self.sha256


class ReceiptBook:
    """The record, kept in a DuckDB file in the workspace; use as a context manager.

    Args:
        path: the database file; created on first use.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._engine = Engine(path, threads=1)
        self._upgrade()
        self._engine.execute(_SCHEMA.format(table="receipts"), purpose="create the receipts table")

    def get(self, name: str, sha256: str) -> Receipt | None:
        """The decision about the inbox file ``name`` holding these bytes, if one was made."""
        rows = self._select(
            "WHERE name = ? AND sha256 = ?", [name, sha256], purpose="look up a receipt"
        )
        return rows[0] if rows else None

    def settled(self, name: str, sha256: str, *, committed: str | None) -> bool:
        """Whether a decision about file ``name`` with these bytes stands for them now.

        ``committed`` is the digest the sender committed this time (see
        :meth:`Receipt.stands_for`).
        """
        earlier = self.get(name, sha256)
        return earlier is not None and earlier.stands_for(committed)

    def holds_content(self, sha256: str) -> bool:
        """Whether a file with these exact bytes was accepted before."""
        return bool(
            self._engine.scalar(
                "SELECT count(*) FROM receipts WHERE sha256 = ? AND state = ?",
                [sha256, ReceiptState.ACCEPTED.value],
                purpose="look for accepted content",
            )
        )

    def holds_package(self, package_id: str) -> bool:
        """Whether a package with this id was accepted before."""
        return bool(
            self._engine.scalar(
                "SELECT count(*) FROM receipts WHERE package_id = ?",
                [package_id],
                purpose="look for an accepted package id",
            )
        )

    def decide(self, receipt: Receipt) -> Receipt:
        """Record a decision, durable when this returns (DuckDB syncs its log on commit).

        Returns the decision with the name its file is kept under: its own name, or, when its
        folder keeps another file of that name, the name followed by its digest's start. A
        refusal judged again (see :data:`_JUDGED_AGAIN`) is replaced; refused again, the file
        keeps the quarantined copy's name, which holds the same bytes.
        """
        package_id = receipt.package_id if receipt.state is ReceiptState.ACCEPTED else None
        earlier = self.get(receipt.name, receipt.sha256)
        if earlier is not None and earlier.state is receipt.state:
            stored_as = earlier.stored_as
        else:
            taken = self._engine.scalar(
                "SELECT count(*) FROM receipts WHERE state = ? AND stored_as = ?",
                [receipt.state.value, receipt.name],
                purpose="look for a file kept under this name",
            )
            stored_as = f"{receipt.name}.{receipt.sha256[:16]}" if taken else receipt.name
        self._engine.execute(
            f"DELETE FROM receipts WHERE name = ? AND sha256 = ? AND reason IN "
            f"({', '.join('?' for _ in _JUDGED_AGAIN)})",
            [receipt.name, receipt.sha256, *sorted(r.value for r in _JUDGED_AGAIN)],
            purpose="supersede a refusal judged again",
        )
        self._engine.execute(
            f"INSERT INTO receipts ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                receipt.name,
                receipt.state.value,
                receipt.sha256,
                receipt.size,
                package_id,
                None if receipt.reason is None else receipt.reason.value,
                receipt.detail,
                receipt.decided_at.astimezone(UTC).isoformat(timespec="microseconds"),
                receipt.placed,
                receipt.acknowledged,
                stored_as,
            ],
            purpose="record a receipt",
        )
        return receipt.model_copy(update={"stored_as": stored_as, "package_id": package_id})

    def mark_placed(self, receipt: Receipt) -> None:
        """Record that the decided file now lies in its accepted or quarantine folder."""
        self._engine.execute(
            "UPDATE receipts SET placed = true WHERE name = ? AND sha256 = ?",
            [receipt.name, receipt.sha256],
            purpose="mark placed",
        )

    def mark_acknowledged(self, receipt: Receipt) -> None:
        """Record that the server was told it may clear the decided file."""
        self._engine.execute(
            "UPDATE receipts SET acknowledged = true WHERE name = ? AND sha256 = ?",
            [receipt.name, receipt.sha256],
            purpose="mark acknowledged",
        )

    def unknown_senders(self) -> tuple[Receipt, ...]:
        """Files refused, and kept in quarantine, because their signing key was on no card."""
        return self._select(
            "WHERE reason = ? AND placed",
            [RefusalReason.UNKNOWN_SENDER.value],
            purpose="find refusals of unknown senders",
        )

    def unplaced(self) -> tuple[Receipt, ...]:
        """Decisions whose file has not yet been moved into place (an interrupted run)."""
        return self._select("WHERE NOT placed", [], purpose="find unplaced receipts")

    def unacknowledged(self) -> tuple[Receipt, ...]:
        """Decisions the server has not yet been told about."""
        return self._select("WHERE NOT acknowledged", [], purpose="find unacknowledged receipts")

    def all(self) -> tuple[Receipt, ...]:
        """Every decision, oldest first."""
        return self._select("", [], purpose="list receipts")

    def close(self) -> None:
        """Close the record."""
        self._engine.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _upgrade(self) -> None:
        """Rewrite a book of one row per name as one of files known by name and content."""
        columns = {
            row[0]
            for row in self._engine.fetchall(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'receipts'",
                purpose="read the receipts table's columns",
            )
        }
        if not columns or "stored_as" in columns:
            return
        self._engine.execute("BEGIN TRANSACTION", purpose="upgrade the receipt book")
        self._engine.execute(
            _SCHEMA.format(table="receipts_upgraded"), purpose="upgrade the receipt book"
        )
        self._engine.execute(
            f"INSERT INTO receipts_upgraded ({_COLUMNS}) "
            f"SELECT {_FIRST_COLUMNS}, name FROM receipts",
            purpose="upgrade the receipt book",
        )
        self._engine.execute("DROP TABLE receipts", purpose="upgrade the receipt book")
        self._engine.execute(
            "ALTER TABLE receipts_upgraded RENAME TO receipts", purpose="upgrade the receipt book"
        )
        self._engine.execute("COMMIT", purpose="upgrade the receipt book")

    def _select(self, where: str, params: list[object], *, purpose: str) -> tuple[Receipt, ...]:
        rows = self._engine.fetchall(
            f"SELECT {_COLUMNS} FROM receipts {where} ORDER BY decided_at, name",
            params,
            purpose=purpose,
        )
        names = [column.strip() for column in _COLUMNS.split(",")]
        return tuple(Receipt.model_validate(dict(zip(names, row, strict=True))) for row in rows)
