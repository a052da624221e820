from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from linkwell.engine import Engine, quote_ident, quote_string
from linkwell.errors import InternalError


def test_quote_ident_doubles_quotes() -> None:
    assert quote_ident('a"b') == '"a""b"'
    assert quote_string("it's") == "'it''s'"
    with pytest.raises(ValueError, match="NUL"):
        quote_ident("a\x00")


def test_copy_to_parquet_is_atomic_and_counts(tmp_path: Path) -> None:
    dest = tmp_path / "out.parquet"
    with Engine() as engine:
        rows = engine.copy_to_parquet("SELECT range AS x FROM range(?)", dest, [1234], purpose="t")
    assert rows == 1234
    assert pq.read_table(dest).num_rows == 1234
    assert [p.name for p in tmp_path.iterdir()] == ["out.parquet"]
    # DuckDB writes a new file in the process's default mode; the result is its owner's alone
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600


def test_errors_never_quote_data_values(tmp_path: Path) -> None:
    secret = "4839201175"
    with Engine() as engine:
        engine.register("t", pa.table({"x": [secret]}))
        with pytest.raises(InternalError) as info:
            engine.execute("SELECT CAST(x AS INTEGER) + 1e99::INTEGER FROM t", purpose="cast")
    assert secret not in str(info.value)
    assert "cast" in str(info.value)


def test_failed_copy_leaves_no_partial(tmp_path: Path) -> None:
    dest = tmp_path / "out.parquet"
    with Engine() as engine, pytest.raises(InternalError):
        engine.copy_to_parquet("SELECT error('boom')", dest, purpose="t")
    assert list(tmp_path.iterdir()) == []


def test_the_spill_folder_of_a_process_that_ended_is_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A process killed mid-query leaves its private spill folder, and the rows in it.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    orphan = tmp_path / f"linkwell-spill-{int(ended.stdout)}-a1b2c3"
    orphan.mkdir()
    (orphan / "duckdb_temp_storage.tmp").write_bytes(b"spilled rows")
    running = tmp_path / f"linkwell-spill-{os.getpid()}-d4e5f6"
    running.mkdir()
    other = tmp_path / "linkwell-spill-notapid"
    other.mkdir()
    with Engine():
        own = [
            p
            for p in tmp_path.iterdir()
            if p.name.startswith(f"linkwell-spill-{os.getpid()}-") and p != running
        ]
        assert len(own) == 1
        assert own[0].stat().st_mode & 0o777 == 0o700
    assert not orphan.exists()
    assert running.exists()  # its process (this one) is still there
    assert other.exists()
    assert not own[0].exists()


def test_the_debug_log_shows_the_start_of_a_long_statement(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A check's inlined table made single log lines of 100 KB, burying everything else."""
    listed = ", ".join(str(n) for n in range(20_000))
    with caplog.at_level(logging.DEBUG, logger="linkwell.engine.core"), Engine() as engine:
        assert engine.scalar(f"SELECT len([{listed}])", purpose="long") == 20_000
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("sql long")]
    assert len(line) < 2_200
    assert line.endswith(f"({len('SELECT len([' + listed + '])'):,} characters)")
