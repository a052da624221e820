"""Measuring one benchmark step: wall time, CPU time and peak memory, in a fresh process.

Each step runs in its own spawned process so that its peak resident set size is its own and not
the harness's. A step that starts processes of its own (the disclosure audit's workers) is
charged for them too: its peak is that of the memory its whole process tree holds at once. A
stage's figure is only meaningful beside the baseline measured in the same run, so results are
reported as ratios to that baseline. A step that must prepare something it should not be charged
for (a baseline that encrypts "in memory" needs the bytes in memory first) times its own sections
with a :class:`Stopwatch` and returns :class:`Timed`.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import resource
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

_POLL_S = 1.0
_SAMPLE_S = 0.5


@dataclass(frozen=True)
class Measurement:
    """One step's cost. ``rows`` (or bytes) lets rates be computed; ``baseline`` names its bound."""

    stage: str
    name: str
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    rows: int
    baseline: str | None = None
    note: str = ""

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.wall_s if self.wall_s > 0 else float("inf")

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rows_per_s": self.rows_per_s}


@dataclass(frozen=True)
class Timed:
    """What a step returns when it timed its own measured sections (see :class:`Stopwatch`)."""

    rows: int
    wall_s: float
    cpu_s: float


class Stopwatch:
    """Adds up the wall and CPU time of the sections run inside :meth:`section`."""

    def __init__(self) -> None:
        self.wall_s = 0.0
        self.cpu_s = 0.0

    @contextmanager
    def section(self) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.wall_s += time.perf_counter() - wall
            self.cpu_s += time.process_time() - cpu

    def result(self, rows: int) -> Timed:
        return Timed(rows, self.wall_s, self.cpu_s)


class TreeMemory:
    """The most memory this process and its descendants held at once, sampled from ``/proc``.

    A process's own peak (``VmHWM``) is exact, but the peaks of several processes do not add
    up to the peak of their sum; sampling the sum every half second can miss a spike shorter than
    that, so the figure is never taken below the process's own exact peak.
    """

    def __init__(self) -> None:
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_kb = max(self.peak_kb, own_peak_kb())

    def _watch(self) -> None:
        while not self._stop.wait(_SAMPLE_S):
            self.peak_kb = max(self.peak_kb, sum(_rss_kb(pid) for pid in _tree(os.getpid())))


def _tree(root: int) -> list[int]:
    """``root`` and every process descended from it."""
    parent_of = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while being read
            continue
        parent_of[int(stat.parent.name)] = int(fields[1])
    found, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parent_of.items() if parent in frontier]
        found += frontier
    return found


def _rss_kb(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _child(fn: Callable[..., int | Timed], args: tuple[Any, ...], results: mp.Queue) -> None:  # type: ignore[type-arg]
    try:
        start_wall, start_cpu = time.perf_counter(), time.process_time() + _children_cpu_s()
        with TreeMemory() as memory:
            outcome = fn(*args)
        wall = time.perf_counter() - start_wall
        cpu = time.process_time() + _children_cpu_s() - start_cpu  # with the audit's workers
        if isinstance(outcome, Timed):
            rows, wall, cpu = outcome.rows, outcome.wall_s, outcome.cpu_s
        else:
            rows = outcome
        results.put(("ok", (wall, cpu, memory.peak_kb / 1024, rows)))
    except BaseException:
        results.put(("error", traceback.format_exc()))
        raise


def _children_cpu_s() -> float:
    """CPU time of the finished processes this one started (the disclosure audit's workers)."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def own_peak_kb() -> int:
    """This process's own peak resident set (VmHWM), in KiB.

    ``ru_maxrss`` is not used for the process itself: on Linux a spawned child's value starts
    from its parent's peak, which would charge the harness's memory to the step.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def measure(
    stage: str,
    name: str,
    fn: Callable[..., int | Timed],
    *args: Any,
    baseline: str | None = None,
    note: str = "",
) -> Measurement:
    """Run ``fn(*args)`` (which returns the rows or bytes it processed) in a fresh process.

    A step that fails, or a process that dies (killed for memory, say), raises ``RuntimeError``
    with the step's traceback instead of leaving the harness waiting.
    """
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    proc = ctx.Process(target=_child, args=(fn, args, results))
    proc.start()
    while True:
        try:
            status, payload = results.get(timeout=_POLL_S)
            break
        except queue.Empty:
            if not proc.is_alive():
                proc.join()
                raise RuntimeError(
                    f"benchmark step {stage}/{name} died with exit code {proc.exitcode}"
                ) from None
    proc.join()
    if status != "ok" or proc.exitcode != 0:
        raise RuntimeError(f"benchmark step {stage}/{name} failed:\n{payload}")
    wall, cpu, peak, rows = payload
    return Measurement(stage, name, wall, cpu, peak, rows, baseline, note)


def cores() -> int:
    return len(os.sched_getaffinity(0))


def table(results: list[Measurement]) -> str:
    """The markdown table a component bench prints: each step, and its ratios to its baseline."""
    by_name = {m.name: m for m in results}
    lines = [
        (
            "| stage | step | rows | wall s | CPU s | peak RSS MB | rows/s | x baseline wall "
            "| x baseline RSS |"
        ),
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for m in results:
        base = by_name.get(m.baseline or "")
        wall = f"{m.wall_s / base.wall_s:.2f}" if base else ""
        rss = f"{m.peak_rss_mb / base.peak_rss_mb:.2f}" if base else ""
        lines.append(
            f"| {m.stage} | {m.name} | {m.rows:,} | {m.wall_s:.2f} | {m.cpu_s:.2f} | "
            f"{m.peak_rss_mb:.0f} | {m.rows_per_s:,.0f} | {wall} | {rss} |"
        )
    notes = [f"- {m.name}: {m.note}" for m in results if m.note]
    return "\n".join([*lines, "", *notes])
