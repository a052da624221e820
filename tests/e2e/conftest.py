"""One demo run per module, shared by the end-to-end tests (identities cost seconds each)."""

from __future__ import annotations

import pytest

from linkwell.demo import DemoResult, run_demo
from linkwell.synth import MessRates


@pytest.fixture(scope="module")
def clean_demo(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    return run_demo(
        tmp_path_factory.mktemp("demo") / "run", children=1500, seed=7, mess=MessRates.clean()
    )
