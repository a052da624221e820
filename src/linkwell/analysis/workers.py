"""CPU-bound work on worker processes; what it produces does not depend on them.

The disclosure audit of a national release solves thousands of small linear programmes that do
not depend on each other within a wave. HiGHS (through scipy) runs on one core, so those waves
are spread over worker processes (:class:`Workers`), each holding the large shared input (the
component's programme) once, from start-up. A job is a module-level function of that input and
one task; results come back in the order of the tasks, and with one worker the same jobs run in
this process, so the outcome is the same whatever the number of workers.

:class:`Background` runs one ordered stream of jobs on a process of its own while this one goes
on making their input: the report's workbook is written there while the tables are still being
made.

Each worker is a fresh interpreter (running :func:`serve_pipes`) spoken to through its standard
input and output, not a :mod:`multiprocessing` child: forking a process that runs
DuckDB's threads is not safe, and a spawned child would first re-run the caller's main script,
which a script without a ``__main__`` guard does not survive.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import IO, Any, Generic, NoReturn, Self, TypeVar

from linkwell.errors import InternalError, LinkwellError

__all__ = ["Background", "Workers", "available_cores", "serve_pipes"]

Held = TypeVar("Held")
Task = TypeVar("Task")
Result = TypeVar("Result")

_STOP_SECONDS = 10
"""How long a worker may take to exit once told to stop, before it is killed."""


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system reports one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


class _Process:
    """One worker interpreter, given the shared input once, then one job and task at a time."""

    def __init__(self) -> None:
        self._child = subprocess.Popen(  # noqa: S603 - this interpreter, running linkwell's module
            [sys.executable, "-c", f"import {__name__} as w; w.serve_pipes()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self._send: IO[bytes] = self._child.stdin  # type: ignore[assignment]
        self._receive: IO[bytes] = self._child.stdout  # type: ignore[assignment]
        self.alive = True

    def hold(self, held: object) -> None:
        """Give the worker the input every job shares (and this interpreter's module path)."""
        self._write(sys.path)  # first, so that the input's own modules can be found
        self._write(held)

    def _write(self, message: object) -> None:
        try:
            pickle.dump(message, self._send, protocol=pickle.HIGHEST_PROTOCOL)
            self._send.flush()
        except (OSError, ValueError) as error:  # the worker is gone, or stopped: a closed pipe
            self._died(error)

    def _died(self, cause: BaseException | None) -> NoReturn:
        self.alive = False
        raise LinkwellError(
            "a worker process stopped unexpectedly (out of memory?)",
            hint="run again with fewer workers",
        ) from cause

    def run(self, job: Callable[[Held, Task], Result], task: Task) -> Result:
        """``job(held, task)`` in the worker; its error, if it raised one, raised here."""
        if not self.alive:
            self._died(None)
        self._write((job, task))
        try:
            failed, value = pickle.load(self._receive)  # noqa: S301 - our own child's answer
        except (EOFError, OSError, ValueError, pickle.UnpicklingError) as error:
            self._died(error)
        if failed:
            raise value
        return value  # type: ignore[no-any-return]

    def stop(self, *, kill: bool) -> None:
        """End the worker: tell it to stop (it exits at the end of its input) or kill it."""
        self.alive = False
        if kill:
            self._child.kill()
        for pipe in (self._send, self._receive):
            with contextlib.suppress(OSError):  # a pipe the dead worker already broke
                pipe.close()
        try:
            self._child.wait(timeout=_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self._child.kill()
            self._child.wait()


class Workers(Generic[Held]):
    """Runs jobs over one shared input on ``count`` processes, or in this one if ``count`` is 1.

    Use as a context manager: leaving it stops the workers, killing them after an error.
    """

    def __init__(self, held: Held, count: int) -> None:
        if count < 1:
            raise InternalError("a pool of workers needs at least one worker")
        self._held = held
        self._idle: queue.SimpleQueue[_Process] = queue.SimpleQueue()
        self._processes: list[_Process] = []
        if count > 1:
            self._threads = ThreadPoolExecutor(max_workers=count)
            try:
                for _ in range(count):  # all started before any is given the input: their
                    self._processes.append(_Process())  # start-ups overlap
                for process in self._processes:
                    process.hold(held)
                    self._idle.put(process)
            except BaseException:
                self.__exit__(*sys.exc_info())
                raise

    def map(self, job: Callable[[Held, Task], Result], tasks: Sequence[Task]) -> list[Result]:
        """``job(held, task)`` for every task, in the tasks' order."""
        if not self._processes or len(tasks) < 2:  # noqa: PLR2004 - one task gains nothing
            return [job(self._held, task) for task in tasks]

        def run(task: Task) -> Result:
            process = self._idle.get()
            try:
                return process.run(job, task)
            finally:
                self._idle.put(process)

        return list(self._threads.map(run, tasks))

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for process in self._processes:
            process.stop(kill=kind is not None)
        if self._processes:
            self._threads.shutdown(wait=True, cancel_futures=True)


class Background(Generic[Held]):
    """Jobs over one input, run in order on a process of their own while this one goes on.

    For output that one writer must produce in order from data this process is still making.
    Each job is ``job(held, task)`` as for :class:`Workers`, and the worker's copy of ``held``
    keeps what earlier jobs left in it. With ``process=False`` each job runs here as it is
    submitted, with the same outcome. A job's error is raised by the next :meth:`submit` or by
    :meth:`finish`; the jobs after it are not run. Use as a context manager: leaving it stops the
    process, killing it after an error.
    """

    def __init__(self, held: Held, *, process: bool) -> None:
        self._held = held
        self._jobs: queue.SimpleQueue[tuple[Callable[[Held, Any], object], object] | None] = (
            queue.SimpleQueue()
        )
        self._failure: BaseException | None = None
        self._process: _Process | None = None
        self._feeder: threading.Thread | None = None
        self._finished = False
        if process:
            self._process = _Process()
            try:
                self._process.hold(held)
            except BaseException:
                self._process.stop(kill=True)
                raise
            self._feeder = threading.Thread(target=self._feed, name="linkwell-background")
            self._feeder.start()

    def _feed(self) -> None:
        """Hand the submitted jobs to the process in order (on a thread of this process)."""
        process = self._process
        while (item := self._jobs.get()) is not None:
            if process is not None and self._failure is None:
                try:
                    process.run(*item)
                except BaseException as error:  # noqa: BLE001 - raised in the caller's thread
                    self._failure = error

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    def submit(self, job: Callable[[Held, Task], object], task: Task) -> None:
        """Run ``job(held, task)`` after the jobs submitted before it, without waiting for it."""
        self._raise_failure()
        if self._finished:
            raise InternalError("a job was given to a background process after it finished")
        if self._process is None:
            job(self._held, task)
        else:
            self._jobs.put((job, task))

    def finish(self, job: Callable[[Held, Task], Result], task: Task) -> Result:
        """Run ``job(held, task)`` after every job submitted, and return what it returns.

        The last job: none may be submitted after it.
        """
        self._finished = True
        if self._process is None:
            return job(self._held, task)
        self._stop_feeding()
        self._raise_failure()
        return self._process.run(job, task)

    def _stop_feeding(self) -> None:
        if self._feeder is not None:
            self._jobs.put(None)
            self._feeder.join()
            self._feeder = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._process is None:
            return
        if kind is None:
            self._stop_feeding()
            self._process.stop(kill=self._failure is not None)
            self._raise_failure()  # a job's error the caller has not yet been told of
        else:  # killed first, so that a job still running does not hold up the exit
            self._process.stop(kill=True)
            self._stop_feeding()


def _serve(receive: IO[bytes], send: IO[bytes]) -> None:
    """A worker's life: the shared input, then a job and task at a time until the input ends."""
    sys.path[:] = pickle.load(receive)  # noqa: S301 - from the process that started this one
    held = pickle.load(receive)  # noqa: S301 - as above
    while True:
        try:
            job, task = pickle.load(receive)  # noqa: S301 - as above
        except EOFError:
            return
        try:
            answer: tuple[bool, object] = (False, job(held, task))
        except Exception as error:  # noqa: BLE001 - every failure goes back to the caller
            answer = (True, error)
        try:
            data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001 - an error that cannot cross a pipe
            data = pickle.dumps((True, InternalError("a worker's error could not be passed on")))
        send.write(data)
        send.flush()


def serve_pipes() -> None:
    """A worker process's main: tasks on standard input, answers on standard output.

    Anything a job prints goes to standard error instead, where it cannot garble an answer. An
    interrupt from the terminal is left to the process that started this one, which stops it.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    _serve(sys.stdin.buffer, answers)
