"""Kill points: named places where a test can make the process die as a power cut would.

Crash safety is a claim about every instant of a step, so the central mechanisms (atomic writes,
sealing, step commits, sending, receiving, opening, the audit log, the vault) call
:func:`kill_point` at the instants that matter. In production nothing is armed and a call costs
one global lookup. A test arms a process through the environment: ``LINKWELL_KILL_AT=name#n``
makes the n-th call of ``name`` in this process SIGKILL it (no ``finally``, no flush, no
cleanup), and ``LINKWELL_KILL_LIST=file`` appends every ``name#n`` reached to ``file``, so a dry
run lists the kill points a step passes through. ``docs/reliability.md`` lists the names.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Final, TextIO

__all__ = ["KILL_AT_ENV", "KILL_LIST_ENV", "configure", "kill_point", "parse_kill_at"]

KILL_AT_ENV: Final = "LINKWELL_KILL_AT"
"""``name#n``: the process kills itself at the n-th time it reaches kill point ``name``."""
KILL_LIST_ENV: Final = "LINKWELL_KILL_LIST"
"""A file to which every kill point reached is appended as a ``name#n`` line."""


class _Plan:
    """What an armed process does at kill points: count them, record them, die at one."""

    def __init__(self, target: tuple[str, int] | None, record: TextIO | None) -> None:
        self.target = target
        self.record = record
        self.counts: dict[str, int] = {}
        self.lock = threading.Lock()

    def reach(self, name: str) -> None:
        with self.lock:
            count = self.counts.get(name, 0) + 1
            self.counts[name] = count
            if self.record is not None:
                self.record.write(f"{name}#{count}\n")
                self.record.flush()
        if self.target == (name, count):
            os.kill(os.getpid(), signal.SIGKILL)


_plan: _Plan | None = None


def parse_kill_at(text: str) -> tuple[str, int]:
    """``name#n`` as ``(name, n)``; a malformed value raises :class:`ValueError`."""
    name, separator, count = text.rpartition("#")
    if not separator or not name or not count.isdigit() or int(count) < 1:
        raise ValueError(f"{KILL_AT_ENV} must look like 'name#n' with n >= 1, not {text!r}")
    return name, int(count)


def configure(environ: Mapping[str, str]) -> None:
    """Arm (or disarm) this process from ``environ``; counts start again from zero.

    Called once at import with :data:`os.environ`; a test harness that forks calls it again in
    each child after setting that child's variables.
    """
    global _plan  # noqa: PLW0603 - one plan per process, by design
    if _plan is not None and _plan.record is not None:
        _plan.record.close()
    at, listing = environ.get(KILL_AT_ENV), environ.get(KILL_LIST_ENV)
    if not at and not listing:
        _plan = None
        return
    # Kept open for the life of the process: a kill point must not pay for opening a file.
    record = Path(listing).open("a", encoding="utf-8") if listing else None  # noqa: SIM115
    _plan = _Plan(parse_kill_at(at) if at else None, record)


def kill_point(name: str) -> None:
    """Mark a named instant; an armed process may record it or die here."""
    if _plan is not None:
        _plan.reach(name)


configure(os.environ)
