"""Kill points: inert unless armed; armed, they record every point reached or die at one."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from linkwell import faults

_SCRIPT = """
from linkwell.faults import kill_point
for _ in range(3):
    kill_point("a")
    kill_point("b")
print("finished")
"""


@pytest.fixture(autouse=True)
def _disarm() -> Iterator[None]:
    yield
    faults.configure({})


def _run(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LINKWELL_KILL")}
    return subprocess.run(
        [sys.executable, "-c", _SCRIPT],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_unarmed_points_do_nothing(tmp_path: Path) -> None:
    faults.configure({})
    for _ in range(5):
        faults.kill_point("fileio.before-rename")
    assert list(tmp_path.iterdir()) == []


def test_a_listing_records_every_point_with_its_count(tmp_path: Path) -> None:
    listing = tmp_path / "points.txt"
    faults.configure({faults.KILL_LIST_ENV: str(listing)})
    for name in ("a", "b", "a", "c", "a"):
        faults.kill_point(name)
    assert listing.read_text(encoding="utf-8").split() == ["a#1", "b#1", "a#2", "c#1", "a#3"]


def test_configure_starts_counting_again(tmp_path: Path) -> None:
    listing = tmp_path / "points.txt"
    faults.configure({faults.KILL_LIST_ENV: str(listing)})
    faults.kill_point("a")
    faults.configure({faults.KILL_LIST_ENV: str(listing)})
    faults.kill_point("a")
    assert listing.read_text(encoding="utf-8").split() == ["a#1", "a#1"]


def test_the_named_occurrence_kills_the_process() -> None:
    result = _run(**{faults.KILL_AT_ENV: "b#2"})
    assert result.returncode == -signal.SIGKILL
    assert "finished" not in result.stdout


def test_an_occurrence_never_reached_kills_nothing(tmp_path: Path) -> None:
    listing = tmp_path / "points.txt"
    result = _run(**{faults.KILL_AT_ENV: "b#4", faults.KILL_LIST_ENV: str(listing)})
    assert result.returncode == 0
    assert "finished" in result.stdout
    assert listing.read_text(encoding="utf-8").split() == [
        f"{name}#{n}" for n in (1, 2, 3) for name in ("a", "b")
    ]


def test_killed_after_recording_the_point_it_died_at(tmp_path: Path) -> None:
    listing = tmp_path / "points.txt"
    result = _run(**{faults.KILL_AT_ENV: "a#2", faults.KILL_LIST_ENV: str(listing)})
    assert result.returncode == -signal.SIGKILL
    assert listing.read_text(encoding="utf-8").split() == ["a#1", "b#1", "a#2"]


@pytest.mark.parametrize("text", ["a", "a#", "#2", "a#0", "a#-1", "a#x"])
def test_a_malformed_target_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="name#n"):
        faults.configure({faults.KILL_AT_ENV: text})


def test_names_may_hold_hashes() -> None:
    assert faults.parse_kill_at("seal#block#12") == ("seal#block", 12)


def _names_in_source() -> set[str]:
    source = Path(__file__).resolve().parents[1] / "src" / "linkwell"
    pattern = re.compile(r'(?:kill_point\(|block_point=)"([a-z0-9.#-]+)"')
    return {name for path in source.rglob("*.py") for name in pattern.findall(path.read_text())}


def test_every_kill_point_is_documented_and_every_documented_one_exists() -> None:
    docs = Path(__file__).resolve().parents[1] / "docs" / "reliability.md"
    documented = set(re.findall(r"^\| `([a-z0-9.-]+)` \|", docs.read_text(), re.MULTILINE))
    in_source = _names_in_source() - {"stream.block-written"}  # the unused default
    assert len(in_source) >= 30
    assert documented == in_source
