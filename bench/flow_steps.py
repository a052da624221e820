"""The five parties' steps, each as one party would run it: one process, one workspace.

Every function here is one measured step of the flow: open the party's workspace (which unlocks
its keyring: a fixed scrypt cost per process, as for every command a party runs), receive what
the folder transport delivered, run the role's step, and send what it sealed. Each returns the
rows it processed, so rows per second compare across stages.
"""

from __future__ import annotations

from pathlib import Path

from linkwell.roles import analyst, indexer, linker, provider
from linkwell.workspace import Workspace


def participants(workspace: str, sources: list[tuple[str, str, str]]) -> int:
    """Survey provider: validate its file, seal each authority's participants list, send."""
    ws = Workspace.open(Path(workspace))
    rows = 0
    for source, _kind, input_file in sources:
        done = provider.share_participants(ws, source=source, input_file=Path(input_file))
        rows += done.validation.rows_read
    ws.send()
    return rows


def split(workspace: str, sources: list[tuple[str, str, str]]) -> int:
    """Any provider: receive (an authority: the participants lists), validate, split, seal, send."""
    ws = Workspace.open(Path(workspace))
    ws.receive()
    rows = 0
    for source, _kind, input_file in sources:
        done = provider.split(ws, source=source, input_file=Path(input_file))
        rows += done.validation.rows_read
    ws.send()
    return rows


def index(workspace: str) -> int:
    """Indexer: receive and open the identifiers, update the vault, seal the key, send."""
    ws = Workspace.open(Path(workspace))
    ws.receive()
    done = indexer.link(ws)
    ws.send()
    return sum(counts["rows"] for counts in done.counts.values())


def release(workspace: str) -> int:
    """Linker: receive and open content and key, join, check, report, seal the release, send."""
    ws = Workspace.open(Path(workspace))
    ws.receive()
    done = linker.release(ws)
    ws.send()
    return sum(done.received.values())


def open_release(workspace: str) -> int:
    """Analyst: receive and open the release and its reports, check the release again."""
    ws = Workspace.open(Path(workspace))
    ws.receive()
    return analyst.open_release(ws).rows


def report(workspace: str) -> int:
    """Analyst: analyse the opened release and write the report, disclosure-checked."""
    ws = Workspace.open(Path(workspace))
    analyst.report(ws)
    return analyst.open_release(ws).rows  # the intake's completed step, not run again
