"""Worker processes: results in the tasks' order, the same as in this process, failures named."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from linkwell.analysis import workers
from linkwell.analysis.workers import Workers, available_cores
from linkwell.errors import InternalError, LinkwellError, StorageError


def _scaled(held: int, task: int) -> tuple[int, int]:
    return held * task, os.getpid()


def _refuse(held: int, task: int) -> int:
    if task == 3:
        raise StorageError("the third task fails", file="three.parquet", row=3, field="x")
    return task


def _die(held: int, task: int) -> int:
    if task == 1:
        os._exit(1)
    return task


def _ignores_interrupts(held: int, task: int) -> tuple[bool, int]:
    return signal.getsignal(signal.SIGINT) is signal.SIG_IGN, os.getpid()


def test_results_come_back_in_the_tasks_order_from_other_processes() -> None:
    with Workers(10, 2) as pool:
        found = pool.map(_scaled, list(range(20)))
    assert [value for value, _ in found] == [10 * task for task in range(20)]
    assert os.getpid() not in {pid for _, pid in found}


def test_one_worker_runs_the_same_jobs_in_this_process() -> None:
    with Workers(10, 1) as pool:
        found = pool.map(_scaled, list(range(5)))
    assert found == [(10 * task, os.getpid()) for task in range(5)]


def test_a_single_task_is_run_here_even_with_workers() -> None:
    with Workers(3, 2) as pool:
        assert pool.map(_scaled, [7]) == [(21, os.getpid())]
        assert pool.map(_scaled, []) == []


def test_an_error_in_a_worker_reaches_the_caller_whole() -> None:
    with pytest.raises(StorageError) as caught, Workers(0, 2) as pool:
        pool.map(_refuse, list(range(6)))
    assert (caught.value.file, caught.value.row, caught.value.field) == ("three.parquet", 3, "x")


def test_a_worker_that_dies_is_reported_with_what_to_do() -> None:
    with (
        pytest.raises(LinkwellError, match="stopped unexpectedly") as caught,
        Workers(0, 2) as pool,
    ):
        pool.map(_die, list(range(4)))
    assert caught.value.hint == "run again with fewer workers"


def test_workers_leave_an_interrupt_to_the_caller() -> None:
    # Ctrl-C reaches every process of the terminal's group; the caller stops its workers.
    with Workers(0, 2) as pool:
        found = pool.map(_ignores_interrupts, [1, 2, 3])
    assert all(ignored for ignored, _ in found)
    assert os.getpid() not in {pid for _, pid in found}


def test_workers_started_before_a_failure_are_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[workers._Process] = []
    hold = workers._Process.hold

    def refused(process: workers._Process, held: object) -> None:
        started.append(process)
        if len(started) == 2:
            raise StorageError("the input cannot be sent")
        hold(process, held)

    monkeypatch.setattr(workers._Process, "hold", refused)
    with pytest.raises(StorageError):
        Workers(0, 3)
    assert len(started) == 2
    assert all(process._child.poll() is not None for process in started)


def test_a_pool_needs_a_worker() -> None:
    with pytest.raises(InternalError):
        Workers(0, 0)


def test_the_cores_available_are_counted() -> None:
    assert 1 <= available_cores() <= (os.cpu_count() or 1)


def test_a_worker_loads_the_audit_without_the_analysis_it_does_not_run() -> None:
    """Each worker imports the audit's module only: not the statistics, database or readers."""
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, linkwell.analysis.disclosure; print(' '.join(sorted(sys.modules)))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert "scipy.optimize" in loaded
    heavy = ("statsmodels", "duckdb", "pydantic", "linkwell.schema", "linkwell.analysis.cells")
    assert not [m for m in loaded if m.startswith(heavy)]
