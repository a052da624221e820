"""The cyclic collector is paused while acyclic objects are built, and restored as it was."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from linkwell.analysis.collector import without_cycle_collection


@pytest.fixture
def collector_state() -> Iterator[None]:
    enabled = gc.isenabled()
    yield
    if enabled:
        gc.enable()
    else:
        gc.disable()


@pytest.mark.usefixtures("collector_state")
@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_paused_inside_and_restored_after(enabled: bool) -> None:
    if enabled:
        gc.enable()
    else:
        gc.disable()
    with without_cycle_collection():
        assert not gc.isenabled()
    assert gc.isenabled() is enabled


@pytest.mark.usefixtures("collector_state")
def test_the_collector_is_restored_after_an_error() -> None:
    gc.enable()
    with pytest.raises(KeyError), without_cycle_collection():
        raise KeyError("failed while building")
    assert gc.isenabled()
