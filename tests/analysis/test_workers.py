"""Worker processes: results in the tasks' order, the same as in this process, failures named."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from linkwell.analysis import workers
from linkwell.analysis.workers import Background, Workers, available_cores
from linkwell.errors import InternalError, LinkwellError, StorageError
from tests.imports import modules_loaded_by


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
    loaded = modules_loaded_by("linkwell.analysis.disclosure")
    assert "scipy.optimize" in loaded
    heavy = ("statsmodels", "duckdb", "pydantic", "linkwell.schema", "linkwell.analysis.cells")
    assert not [m for m in loaded if m.startswith(heavy)]


class _Tally:
    """A held input that jobs change: what the process running them has been given so far."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    def note(self, task: int) -> None:
        if task < 0:
            raise StorageError("a negative task", file="tally.parquet", row=-task, field="task")
        self.seen.append(task)

    def report(self, task: int) -> tuple[list[int], int]:
        return [*self.seen, task], os.getpid()


@pytest.mark.parametrize("process", [False, True], ids=["here", "own process"])
def test_background_jobs_run_in_order_on_what_earlier_jobs_left(process: bool) -> None:
    with Background(_Tally(), process=process) as background:
        for task in range(50):
            background.submit(_Tally.note, task)
        seen, pid = background.finish(_Tally.report, 50)
    assert seen == list(range(51))
    assert (pid == os.getpid()) is not process


def test_background_jobs_do_not_hold_up_the_caller(tmp_path: Path) -> None:
    # The first job waits for a file the caller makes only once both submits have returned: a
    # submit that waited for its job would leave the job to give up, and the test to fail.
    signal_file = tmp_path / "go"
    with Background(_Tally(), process=True) as background:
        background.submit(_wait_for, signal_file)
        background.submit(_Tally.note, 1)
        signal_file.touch()
        seen, _ = background.finish(_Tally.report, 2)
    assert seen == [1, 2]


def _wait_for(held: _Tally, path: Path) -> None:
    deadline = time.monotonic() + 30
    while not path.exists():
        if time.monotonic() > deadline:
            raise InternalError("the caller was held up by its own job")
        time.sleep(0.01)


def _sleep(held: _Tally, seconds: float) -> None:
    time.sleep(seconds)


def _run(background: Background[_Tally], tasks: list[int]) -> tuple[list[int], int]:
    for task in tasks:
        background.submit(_Tally.note, task)
    return background.finish(_Tally.report, len(tasks))


@pytest.mark.parametrize("process", [False, True], ids=["here", "own process"])
def test_a_background_job_error_is_raised_and_no_later_job_runs(process: bool) -> None:
    tally = _Tally()
    with pytest.raises(StorageError) as caught, Background(tally, process=process) as background:
        _run(background, [1, -2, 3])
    assert (caught.value.file, caught.value.row, caught.value.field) == ("tally.parquet", 2, "task")
    if not process:
        assert tally.seen == [1]


def test_a_background_error_not_yet_told_is_raised_on_leaving() -> None:
    with pytest.raises(StorageError), Background(_Tally(), process=True) as background:
        background.submit(_Tally.note, -1)


def _fail_while_running(background: Background[_Tally]) -> None:
    background.submit(_sleep, 60.0)
    raise KeyError("the caller failed")


def test_leaving_background_after_an_error_stops_its_process() -> None:
    started = time.monotonic()
    with pytest.raises(KeyError), Background(_Tally(), process=True) as background:
        _fail_while_running(background)
    process = background._process
    assert process is not None
    assert process._child.poll() is not None  # killed, not waited for: it would still sleep
    assert time.monotonic() - started < 60  # the job would sleep a minute: not waited for


def _exit_then_report(background: Background[_Tally]) -> None:
    background.submit(_exit, 1)
    background.finish(_Tally.report, 2)


def test_a_background_process_that_dies_is_reported() -> None:
    with (
        pytest.raises(LinkwellError, match="stopped unexpectedly"),
        Background(_Tally(), process=True) as background,
    ):
        _exit_then_report(background)


def _exit(held: _Tally, code: int) -> None:
    os._exit(code)


def _submit_after_finishing(background: Background[_Tally]) -> None:
    background.finish(_Tally.report, 1)
    background.submit(_Tally.note, 2)


@pytest.mark.parametrize("process", [False, True], ids=["here", "own process"])
def test_a_job_after_the_background_finished_is_refused(process: bool) -> None:
    with (
        pytest.raises(InternalError, match="after it finished"),
        Background(_Tally(), process=process) as background,
    ):
        _submit_after_finishing(background)
