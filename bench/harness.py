"""Measuring one benchmark step: wall time, CPU time and peak memory, in a fresh process.

Each step runs in its own spawned process so that its peak resident set size is its own and not
the harness's. A stage's figure is only meaningful beside the baseline measured in the same run,
so results are reported as ratios to that baseline.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import resource
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


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


def _child(fn: Callable[..., int], args: tuple[Any, ...], queue: mp.Queue) -> None:  # type: ignore[type-arg]
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    rows = fn(*args)
    wall, cpu = time.perf_counter() - start_wall, time.process_time() - start_cpu
    children_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    queue.put((wall, cpu, max(own_peak_kb(), children_kb) / 1024, rows))


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
    fn: Callable[..., int],
    *args: Any,
    baseline: str | None = None,
    note: str = "",
) -> Measurement:
    """Run ``fn(*args)`` (which returns the rows or bytes it processed) in a fresh process."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(fn, args, queue))
    proc.start()
    wall, cpu, peak, rows = queue.get()
    proc.join()
    if proc.exitcode != 0:
        raise RuntimeError(f"benchmark step {stage}/{name} failed with exit code {proc.exitcode}")
    return Measurement(stage, name, wall, cpu, peak, rows, baseline, note)


def cores() -> int:
    return len(os.sched_getaffinity(0))
