"""How long-running library work reports progress without owning a terminal.

The library never draws a progress bar itself: functions that take a while accept a
:class:`Progress` and report through it. :data:`SILENT` is the default, so library calls, pipes
and tests stay quiet; the command line passes a rich-backed implementation when it writes to a
terminal.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

__all__ = ["SILENT", "Progress", "ProgressTask", "SilentProgress"]


class ProgressTask(Protocol):
    """One unit of work in progress."""

    def advance(self, amount: float = 1) -> None:
        """Record that ``amount`` more of the task's total is done."""


class Progress(Protocol):
    """A sink for progress reports."""

    def task(
        self, description: str, *, total: float | None = None
    ) -> AbstractContextManager[ProgressTask]:
        """Open a task; ``total`` is in the task's own units (rows, bytes) or unknown."""


class _SilentTask:
    def advance(self, amount: float = 1) -> None:
        """Discard the report."""


class SilentProgress:
    """Progress that reports nothing: the default for library calls, pipes and tests."""

    @contextmanager
    def task(self, description: str, *, total: float | None = None) -> Iterator[ProgressTask]:  # noqa: ARG002
        """Yield a task that ignores every report."""
        yield _SilentTask()


SILENT: Progress = SilentProgress()
