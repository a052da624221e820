"""One call from a release file to every disclosure-checked output: :func:`analyse`.

It opens the release in a DuckDB engine of its own, scores it, counts every table's populations,
runs disclosure control over all of them at once, builds the published tables and fits the
models, and returns them with what the report needs to explain them. The engine is closed before
it returns; nothing but aggregated, checked numbers leaves this function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from linkwell.analysis.disclosure import AuditSummary, Protection, protect
from linkwell.analysis.groups import plan_breakdowns
from linkwell.analysis.model import ModelResult, fit_models
from linkwell.analysis.needs import NeedMeasure
from linkwell.analysis.publication import Publication, build_publication
from linkwell.analysis.services import ServiceMeasure
from linkwell.analysis.source import PreparedRelease, prepare_release
from linkwell.analysis.tables import OutputTable, build_tables
from linkwell.config import DisclosurePolicy
from linkwell.engine import Engine
from linkwell.progress import SILENT, Progress

__all__ = ["Analysis", "analyse"]


@dataclass(frozen=True)
class Analysis:
    """Every checked output of a release, and what produced it."""

    release: PreparedRelease
    policy: DisclosurePolicy
    publication: Publication
    protection: Protection
    tables: tuple[OutputTable, ...]
    models: tuple[ModelResult, ...]

    @property
    def needs(self) -> tuple[NeedMeasure, ...]:
        """The need measures analysed."""
        return self.publication.needs

    @property
    def services(self) -> tuple[ServiceMeasure, ...]:
        """The services analysed."""
        return self.publication.services

    @property
    def audit(self) -> AuditSummary:
        """What disclosure control did."""
        return self.protection.audit

    def table(self, table_id: str) -> OutputTable:
        """The table called ``table_id``."""
        for table in self.tables:
            if table.id == table_id:
                return table
        msg = f"no table {table_id!r}"
        raise KeyError(msg)


def analyse(
    release: Path,
    policy: DisclosurePolicy,
    *,
    progress: Progress = SILENT,
    open_engine: Callable[[], Engine] = Engine,
    workers: int | None = None,
    on_table: Callable[[OutputTable], None] | None = None,
) -> Analysis:
    """Analyse the release at ``release`` under ``policy`` (see the module docstring).

    ``open_engine`` makes the engine that reads the release: by default one with a bounded
    memory that spills into a private temporary folder; a workspace passes its own
    (:meth:`~linkwell.workspace.Workspace.engine`), which keeps to the workspace's memory limit
    and spills into it. ``workers``: processes for the disclosure audit of a large release
    (default: one per core). ``on_table`` is given each published table as soon as it is made.
    """
    with open_engine() as engine:
        prepared = prepare_release(engine, release, policy)
        # Models first, while few Python objects are alive: their collection is then cheap.
        models = fit_models(engine, prepared, policy, progress=progress)
        plans = plan_breakdowns(prepared.simd, prepared.urban_rural)
        publication = build_publication(
            engine, prepared, plans, dominance_n=policy.dominance_n, progress=progress
        )
    protection = protect(
        publication.system,
        policy,
        weighted=prepared.weighted,
        progress=progress,
        workers=workers,
    )
    tables = build_tables(publication, protection, policy, on_table=on_table)
    return Analysis(
        release=prepared,
        policy=policy,
        publication=publication,
        protection=protection,
        tables=tables,
        models=models,
    )
