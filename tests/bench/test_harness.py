"""The harness: each step's own time and memory, and a failing step reported, never waited on."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from harness import Measurement, Stopwatch, Timed, measure, table


def _allocate(megabytes: int) -> int:
    block = bytearray(megabytes * 2**20)
    block[::4096] = b"x" * len(block[::4096])  # touch every page, so it is resident
    return megabytes


def _timed_section(pause: float) -> Timed:
    time.sleep(pause)  # preparation: not charged
    clock = Stopwatch()
    with clock.section():
        sum(range(200_000))
    return clock.result(7)


def _fail() -> int:
    raise ValueError("step went wrong")


def _die() -> int:
    os._exit(3)


def test_a_step_reports_its_rows_and_its_own_peak_memory() -> None:
    small = measure("t", "small", _allocate, 1)
    big = measure("t", "big", _allocate, 300)
    assert (small.rows, big.rows) == (1, 300)
    assert big.peak_rss_mb - small.peak_rss_mb > 250
    assert small.peak_rss_mb < 250  # not the harness's memory, nor the previous step's
    assert big.wall_s > 0
    assert big.cpu_s > 0


def _with_a_worker(megabytes: int) -> int:
    """Hold ``megabytes`` while a started process holds as much, as the audit's workers do."""
    own = bytearray(megabytes * 2**20)
    own[::4096] = b"x" * len(own[::4096])
    hold = (
        f"b = bytearray({megabytes} * 2**20); b[::4096] = b'x' * len(b[::4096]); "
        "import time; time.sleep(2)"
    )
    subprocess.run([sys.executable, "-c", hold], check=True)
    return len(own) // 2**20


def test_a_step_is_charged_for_the_memory_of_the_processes_it_starts() -> None:
    """The two hold memory at the same time: the step's peak is their sum, not the larger."""
    helped = measure("t", "helped", _with_a_worker, 300)
    assert helped.peak_rss_mb > 550


def test_a_timed_step_is_charged_for_its_sections_only() -> None:
    m = measure("t", "timed", _timed_section, 0.5)
    assert m.rows == 7
    assert m.wall_s < 0.4


def test_a_failing_step_raises_with_its_traceback() -> None:
    with pytest.raises(RuntimeError, match="step went wrong"):
        measure("t", "fails", _fail)


def test_a_dying_step_is_reported_not_waited_for() -> None:
    with pytest.raises(RuntimeError, match="died with exit code 3"):
        measure("t", "dies", _die)


def test_the_table_gives_each_step_its_ratios_to_its_baseline() -> None:
    plain = Measurement("s", "plain", 2.0, 2.0, 100.0, 1000, None, "")
    step = Measurement("s", "ours", 3.0, 3.5, 250.0, 1000, "plain", "a note")
    rows = table([plain, step]).splitlines()
    assert rows[2].endswith("| 500 |  |  |")  # the baseline has no ratio of its own
    assert rows[3].endswith("| 333 | 1.50 | 2.50 |")
    assert rows[-1] == "- ours: a note"
