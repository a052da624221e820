"""Progress bars for the command line: rich on a terminal, nothing in pipes and tests."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from linkwell.progress import SILENT, ProgressTask
from linkwell.progress import Progress as ProgressSink

__all__ = ["terminal_progress"]


class _RichTask:
    def __init__(self, bar: Progress, task: TaskID) -> None:
        self._bar = bar
        self._task = task

    def advance(self, amount: float = 1) -> None:
        self._bar.advance(self._task, amount)


class _RichProgress:
    @contextmanager
    def task(self, description: str, *, total: float | None = None) -> Iterator[ProgressTask]:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            transient=True,
        ) as bar:
            yield _RichTask(bar, bar.add_task(description, total=total))


def terminal_progress() -> ProgressSink:
    """A rich progress sink when stderr is a terminal, otherwise the silent one."""
    return _RichProgress() if sys.stderr.isatty() else SILENT
