"""The receipt ledger: states, replays by id and by content, concurrency, crashes, corruption."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from linkwell.errors import ReplayError, StorageError
from linkwell.seal import Manifest, PackageKind, ReceiptLedger, ReceiptState

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def manifest(n: int, *, ciphertext: str | None = None, kind: str = "content") -> Manifest:
    return Manifest.model_validate(
        {
            "package_id": f"{n:032x}",
            "project": "rcs-test",
            "wave": 1,
            "kind": kind,
            "source": "secondary" if kind == "content" else None,
            "sender": {"party": "ipsos", "fingerprint": "11" * 32},
            "recipient": {"party": "edris", "fingerprint": "22" * 32},
            "dataset": {"id": "survey-secondary", "version": 1},
            "columns": [],
            "rows": 0,
            "created": T0,
            "expires": T0.replace(month=4),
            "plaintext_sha256": "33" * 32,
            "plaintext_size": 0,
            "ciphertext_sha256": ciphertext or f"{n:064x}",
            "ciphertext_size": 0,
            "parents": [],
            "config_digest": "44" * 32,
            "sender_log_head": None,
        }
    )


def test_states_and_queries(tmp_path: Path) -> None:
    path = tmp_path / "ws" / "receipts.sqlite"
    with ReceiptLedger(path) as ledger:
        assert path.stat().st_mode & 0o777 == 0o600
        assert ledger.state(manifest(1).package_id) is None
        received = ledger.record_received(manifest(1), file=Path("in/a.lwpkg"), now=T0)
        assert (received.state, received.file_name, received.received_at) == (
            ReceiptState.RECEIVED,
            "a.lwpkg",
            T0,
        )
        ledger.check_not_opened(manifest(1), file=Path("a.lwpkg"))  # received is not opened
        opened = ledger.record_opened(
            manifest(1), file=Path("a.lwpkg"), dest=Path("x.parquet"), now=T0
        )
        assert (opened.state, opened.opened_to, opened.received_at) == (
            ReceiptState.OPENED,
            "x.parquet",
            T0,
        )
        ledger.record_opened(manifest(2, kind="report"), file=Path("b"), dest=Path("y"), now=T0)
        ledger.record_received(manifest(3), file=Path("c"), now=T0)
    with ReceiptLedger(path) as again:  # persisted
        assert [r.package_id for r in again.receipts()] == [f"{n:032x}" for n in (1, 2, 3)]
        assert len(again.receipts(state=ReceiptState.OPENED)) == 2
        assert [r.kind for r in again.receipts(kind=PackageKind.REPORT)] == [PackageKind.REPORT]
        assert again.receipts(state=ReceiptState.RECEIVED, kind=PackageKind.REPORT) == ()
        assert again.state(manifest(3).package_id) is ReceiptState.RECEIVED


def test_replays_are_refused(tmp_path: Path) -> None:
    with ReceiptLedger(tmp_path / "r.sqlite") as ledger:
        ledger.record_received(manifest(1), file=Path("a"))
        with pytest.raises(ReplayError, match="already received"):
            ledger.record_received(manifest(1), file=Path("a-again"))
        ledger.record_opened(manifest(1), file=Path("a"), dest=Path("x"))
        with pytest.raises(ReplayError, match="already opened"):
            ledger.check_not_opened(manifest(1), file=Path("a"))
        with pytest.raises(ReplayError, match="meanwhile"):
            ledger.record_opened(manifest(1), file=Path("a"), dest=Path("y"))
        same_content = manifest(9, ciphertext=manifest(1).ciphertext_sha256)
        for action in (
            lambda: ledger.check_not_opened(same_content, file=Path("b")),
            lambda: ledger.record_received(same_content, file=Path("b")),
            lambda: ledger.record_opened(same_content, file=Path("b"), dest=Path("z")),
        ):
            with pytest.raises(ReplayError, match="another package id"):
                action()
        assert len(ledger.receipts()) == 1


def test_two_processes_cannot_both_open(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite"
    with ReceiptLedger(path) as first, ReceiptLedger(path) as second:
        first.check_not_opened(manifest(1), file=Path("a"))
        second.check_not_opened(manifest(1), file=Path("a"))  # both passed the check...
        first.record_opened(manifest(1), file=Path("a"), dest=Path("x"))
        with pytest.raises(ReplayError):  # ...but only one may record the opening
            second.record_opened(manifest(1), file=Path("a"), dest=Path("y"))


def _run(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )


def test_a_crash_inside_a_transaction_records_nothing(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite"
    ReceiptLedger(path).close()
    common = f"""
        import os
        from pathlib import Path
        from linkwell.seal import ReceiptLedger, ReceiptState
        from tests.seal.test_ledger import manifest
        ledger = ReceiptLedger(Path({str(path)!r}))
    """
    crashed = _run(
        common
        + """
        con = ledger._con
        con.execute("BEGIN IMMEDIATE")
        ledger._insert(con, manifest(1), ReceiptState.OPENED, Path("a"), received_at=None)
        os._exit(9)
    """
    )
    assert crashed.returncode == 9, crashed.stderr
    committed = _run(
        common
        + """
        ledger.record_opened(manifest(2), file=Path("b"), dest=Path("y"))
        os._exit(9)
    """
    )
    assert committed.returncode == 9, committed.stderr
    with ReceiptLedger(path) as ledger:
        assert ledger.state(manifest(1).package_id) is None
        assert ledger.state(manifest(2).package_id) is ReceiptState.OPENED


def test_corrupt_or_foreign_ledger_is_a_storage_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StorageError, match="receipt ledger") as info:
        ReceiptLedger(junk)
    assert info.value.file == str(junk)
    future = tmp_path / "future.sqlite"
    con = sqlite3.connect(future)
    con.execute("PRAGMA user_version = 99")
    con.close()
    with pytest.raises(StorageError, match="version 99"):
        ReceiptLedger(future)


def test_locked_ledger_times_out_clearly(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite"
    with ReceiptLedger(path, timeout=0.1) as ledger:
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            with pytest.raises(StorageError, match="locked"):
                ledger.record_received(manifest(1), file=Path("a"))
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        ledger.record_received(manifest(1), file=Path("a"))  # usable again once released
