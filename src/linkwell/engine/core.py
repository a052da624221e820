"""The :class:`Engine`: one DuckDB connection through which every SQL statement runs.

The engine owns the connection's settings (threads, memory limit, spill directory, insertion
order), writes Parquet atomically, and is the single place where DuckDB errors become linkwell
errors. DuckDB's own messages are kept out of linkwell's messages unless they are about storage,
because conversion and constraint messages quote the offending values.

Its memory is always bounded and it never spills where it was started: left to itself, DuckDB
takes up to 80% of the machine and spills into ``.tmp`` under the current directory, where a
killed process leaves the rows it was working on.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self, TypeAlias, final

import duckdb
import pyarrow as pa

from linkwell.engine.sql import quote_string
from linkwell.errors import InternalError, LinkwellError, StorageError
from linkwell.faults import kill_point
from linkwell.fileio import atomic_path

__all__ = ["PARQUET_COMPRESSION", "Engine", "Params", "default_memory_limit"]

logger = logging.getLogger(__name__)

_LOGGED_SQL: Final = 2_000
"""Characters of a statement the debug log shows: enough to tell which it is."""

Params: TypeAlias = Sequence[object] | Mapping[str, object] | None
"""Bound parameters for a statement: positional (``?``) or named (``$name``)."""

_MAX_DEFAULT_MEMORY: Final = 4 * 2**30

PARQUET_COMPRESSION: Final = "COMPRESSION zstd, COMPRESSION_LEVEL 1"
"""How every Parquet file linkwell writes is compressed (the options of DuckDB's ``COPY``).

zstd's fastest positive level: on the flow's files (random IDs and references as hex text, coded
answers and flags) it writes a fifth to two fifths faster than DuckDB's default level 3, and the
files come out a few percent smaller, not larger (measured on a national linkage key, content
and release), so sealing, sending and opening them costs no more.
"""

_STORAGE_ERRORS: Final = (
    duckdb.IOException,
    duckdb.OutOfMemoryException,
    duckdb.PermissionException,
)


@final
class Engine:
    """A DuckDB connection with linkwell's settings; use as a context manager.

    Args:
        database: ``":memory:"`` or the path of a database file.
        temp_dir: where DuckDB may spill when a query outgrows ``memory_limit`` (default: a
            private temporary folder, removed when the engine closes).
        memory_limit: DuckDB's memory limit, e.g. ``"1GB"`` (default:
            :func:`default_memory_limit`).
        threads: worker threads; DuckDB's default (all cores) if ``None``.
    """

    def __init__(
        self,
        database: str | Path = ":memory:",
        *,
        temp_dir: Path | None = None,
        memory_limit: str | None = None,
        threads: int | None = None,
    ) -> None:
        try:
            self._con = duckdb.connect(str(database))
        except duckdb.Error as exc:
            raise self._translate(exc, "open the database", database) from exc
        self.execute("SET preserve_insertion_order = false", purpose="allow streaming order")
        # DuckDB draws its own progress bar on long queries; only the command line draws bars.
        self.execute("SET enable_progress_bar = false", purpose="no progress bar")
        # Mode 0700, removed on close, or failing that when the engine is collected (quietly:
        # an engine a caller let go of has nothing left to say).
        self._private: weakref.finalize[[str], Engine] | None = None
        if temp_dir is None:
            temp_dir = _private_spill_folder()
            self._private = weakref.finalize(self, _remove_folder, str(temp_dir))
        temp_dir.mkdir(parents=True, exist_ok=True)
        self.execute(f"SET temp_directory = {quote_string(temp_dir)}", purpose="set spill dir")
        self.execute(
            f"SET memory_limit = {quote_string(memory_limit or default_memory_limit())}",
            purpose="set memory limit",
        )
        if threads is not None:
            self.execute(f"SET threads = {int(threads)}", purpose="set threads")

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The raw connection, for registering Arrow objects and reading relations."""
        return self._con

    def execute(
        self, sql: str, params: Params = None, *, purpose: str, log_sql: bool = True
    ) -> duckdb.DuckDBPyConnection:
        """Run one statement with bound ``params``; ``purpose`` names it in logs and errors.

        ``log_sql=False`` keeps the statement text out of the debug log, for statements that
        bind secrets (the vault key is bound, but its statement is still not worth logging).
        """
        started = time.perf_counter()
        try:
            result = (
                self._con.execute(sql, params) if params is not None else self._con.execute(sql)
            )
        except duckdb.Error as exc:
            raise self._translate(exc, purpose, None) from exc
        if logger.isEnabledFor(logging.DEBUG):
            elapsed = time.perf_counter() - started
            text = " ".join(sql.split()) if log_sql else "<not logged>"
            if len(text) > _LOGGED_SQL:  # a check's inlined lookup table runs to 100 KB
                text = f"{text[:_LOGGED_SQL]}… ({len(text):,} characters)"
            logger.debug("sql %s (%.3fs): %s", purpose, elapsed, text)
        return result

    def enable_encryption(self) -> None:
        """Load DuckDB's read-write crypto module so encrypted databases can be written.

        DuckDB ships only a read-only AES module; the read-write one comes with its httpfs
        extension, installed from PyPI as ``duckdb-extension-httpfs`` (same release as DuckDB)
        and loaded by path, so no network access is ever needed.
        """
        import duckdb_extension_httpfs  # noqa: PLC0415 - only the vault needs it

        package = Path(duckdb_extension_httpfs.__file__).parent
        extension = package / "extensions" / f"v{duckdb.__version__}" / "httpfs.duckdb_extension"
        if not extension.is_file():
            raise StorageError(
                f"DuckDB's httpfs extension for DuckDB {duckdb.__version__} is not installed",
                file=extension,
                hint="install duckdb-extension-httpfs of the same version as duckdb",
            )
        self.execute(f"LOAD {quote_string(extension)}", purpose="load the crypto extension")

    def fetchall(self, sql: str, params: Params = None, *, purpose: str) -> list[tuple[Any, ...]]:
        """Run a query and return every row (for small results such as counts)."""
        return self.execute(sql, params, purpose=purpose).fetchall()

    def scalar(self, sql: str, params: Params = None, *, purpose: str) -> Any:  # noqa: ANN401
        """Run a query that returns one value."""
        row = self.execute(sql, params, purpose=purpose).fetchone()
        if row is None:
            raise InternalError(f"query for {purpose} returned no row")
        return row[0]

    def arrow(self, sql: str, params: Params = None, *, purpose: str) -> pa.Table:
        """Run a query and return its result as an Arrow table (for bounded results)."""
        try:
            return self.execute(sql, params, purpose=purpose).to_arrow_table()
        except duckdb.Error as exc:
            raise self._translate(exc, purpose, None) from exc

    def register(self, name: str, data: pa.Table | pa.RecordBatchReader) -> None:
        """Expose an Arrow table or stream to SQL as view ``name``."""
        self._con.register(name, data)

    def unregister(self, name: str) -> None:
        """Remove a view made by :meth:`register`."""
        self._con.unregister(name)

    def copy_to_parquet(
        self,
        query: str,
        dest: Path,
        params: Params = None,
        *,
        purpose: str,
        row_group_size: int = 122_880,
    ) -> int:
        """Stream ``query``'s result into a Parquet file written atomically; return its rows."""
        with atomic_path(dest) as partial:
            sql = (
                f"COPY ({query}) TO {quote_string(partial)} "
                f"(FORMAT parquet, {PARQUET_COMPRESSION}, ROW_GROUP_SIZE {int(row_group_size)})"
            )
            row = self.execute(sql, params, purpose=purpose).fetchone()
            kill_point("engine.after-copy")
        if row is None:
            raise InternalError(f"{purpose}: COPY reported no row count", file=dest)
        return int(row[0])

    def close(self) -> None:
        """Close the connection; the engine cannot be used afterwards."""
        self._con.close()
        if self._private is not None:
            self._private()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @staticmethod
    def _translate(exc: duckdb.Error, purpose: str, file: str | Path | None) -> LinkwellError:
        """Turn a DuckDB error into linkwell's, quoting DuckDB only about storage."""
        if isinstance(exc, _STORAGE_ERRORS):
            first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return StorageError(
                f"{purpose} failed: {first_line}",
                file=file,
                hint="check free disk space, permissions and the memory limit",
            )
        return InternalError(
            f"{purpose} failed in the database engine ({type(exc).__name__})", file=file
        )


def default_memory_limit() -> str:
    """DuckDB's memory limit unless one is given: half the machine's memory, at most 4 GiB."""
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return f"{min(_MAX_DEFAULT_MEMORY, physical // 2) // 2**20}MiB"


def _remove_folder(path: str) -> None:
    """Remove a private spill folder and whatever DuckDB left in it."""
    shutil.rmtree(path, ignore_errors=True)


_SPILL_PREFIX: Final = "linkwell-spill-"


def _private_spill_folder() -> Path:
    """A new spill folder of this process's own (mode 0700), named for the process.

    A process killed mid-query (by the out-of-memory killer, say) cannot remove its folder, nor
    the rows DuckDB spilled into it; the next engine on the machine removes the folders of this
    user's processes that have ended.
    """
    base = Path(tempfile.gettempdir())
    _remove_orphaned_spills(base)
    return Path(tempfile.mkdtemp(prefix=f"{_SPILL_PREFIX}{os.getpid()}-", dir=base))


def _remove_orphaned_spills(base: Path) -> None:
    """Remove ``base``'s spill folders whose process has ended, if they are this user's."""
    for folder in base.glob(f"{_SPILL_PREFIX}*-*"):
        pid = folder.name.removeprefix(_SPILL_PREFIX).split("-", 1)[0]
        if not pid.isdigit():
            continue
        try:
            if folder.lstat().st_uid != os.getuid() or not folder.is_dir():
                continue
            os.kill(int(pid), 0)  # signal 0: is the process there?
        except ProcessLookupError:
            _remove_folder(str(folder))
        except OSError:  # gone already, or a process of another user's: not ours to remove
            continue
