"""Every role step, SIGKILLed at its kill points and rerun, ends in the clean run's release.

The driver (``tests/reliability/driver.py``) plays the five-party flow on a clean synthetic area
of 1,200 pupils: first cleanly, listing the kill points each role step passes, then along
trajectories that kill steps at chosen points, rerun them and play on to the end. A trajectory
recovers when its release equals the ground truth row for row and everything else a user can
see (step results, receipts, audit logs) equals the clean run's. The default run samples kill
points so that it stays near a minute and a half on two cores; the slow run kills every one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _drive(work: Path, *options: str, timeout: float) -> dict[str, Any]:
    report = work / "report.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINKWELL_KILL")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.reliability.driver",
            "--work",
            str(work / "run"),
            "--report",
            str(report),
            *options,
        ],
        cwd=ROOT,
        env={**env, "OPENBLAS_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    assert report.exists(), result.stdout + result.stderr
    return json.loads(report.read_text(encoding="utf-8"))


def _judge(report: dict[str, Any], capsys: pytest.CaptureFixture[str], *, least: int) -> None:
    from tests.reliability.driver import render

    with capsys.disabled():
        print(f"\n{render(report)}\n")  # noqa: T201 - the figure the issue asks for
    figure = report["figure"]
    failures = [t["problem"] for t in report["trajectories"] if not t["recovered"]]
    assert not failures, failures
    baseline = report["baseline_release"]
    assert (baseline["missing"], baseline["extra"]) == (0, 0)
    assert baseline["rows"] == baseline["expected_rows"] == baseline["distinct_release_ids"]
    assert figure["kill_points"] == figure["recovered"] >= least
    assert figure["rows_lost"] == figure["rows_duplicated"] == 0
    # Every kind of kill point was used at least once, in some role step.
    assert figure["names"] == len(report["point_names"])


def test_a_sample_of_kill_points_across_every_role_recovers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = _drive(tmp_path, "--target", "64", "--trajectories", "2", timeout=900)
    _judge(report, capsys, least=50)
    assert len(report["steps"]) == 8  # two participants lists, three splits, link, release, open


@pytest.mark.slow
@pytest.mark.timeout(6 * 3600)
def test_every_kill_point_recovers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = _drive(tmp_path, "--per-step", "4", timeout=6 * 3600)
    _judge(report, capsys, least=sum(report["points_reached"]))
    assert report["figure"]["never_reached"] == 0
