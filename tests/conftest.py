"""Suite-wide fixtures: every test runs in its own temporary directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

pytest_plugins = ("tests.fuzzing",)  # counts every fuzzed input and prints the figure

settings.register_profile(
    "linkwell", deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
settings.load_profile("linkwell")


@pytest.fixture(autouse=True)
def _run_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run each test inside its tmp dir so nothing can land in the working tree."""
    monkeypatch.chdir(tmp_path)
