"""Choosing what a file is validated against: a dataset and a column mapping.

Either named directly (a dataset key such as ``authority@1``, and a mapping file: a TOML file
holding one :class:`~linkwell.config.ColumnMapping` at its top level, or one table per source,
as ``linkwell synth`` writes, from which a source name picks one) or taken from a source of the
project file, which fixes both for every party. Mixing the two ways is refused, so a validation
always says unambiguously which settings it used.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

from pydantic import RootModel

from linkwell.config import ColumnMapping, load_model, load_project
from linkwell.errors import ConfigError
from linkwell.schema.definitions import DatasetDef, available_datasets, load_dataset
from linkwell.schema.mapping import check_mapping

__all__ = ["load_mapping", "parse_dataset_key", "validation_inputs"]

_KEY: Final = re.compile(r"^(?P<id>[a-z][a-z0-9-]*)(@v?(?P<version>[1-9][0-9]*))?$")


def parse_dataset_key(key: str) -> DatasetDef:
    """The dataset named ``id@version``, or ``id`` alone for its newest shipped version."""
    match = _KEY.match(key.strip())
    if match is None:
        raise ConfigError(
            "a dataset is named id or id@version, e.g. authority@1",
            field="dataset",
            hint="available: " + ", ".join(f"{i}@{v}" for i, v in available_datasets()),
        )
    if match["version"] is not None:
        return load_dataset(match["id"], int(match["version"]))
    versions = [v for i, v in available_datasets() if i == match["id"]]
    if not versions:
        raise ConfigError(
            f"no dataset called {match['id']!r}",
            field="dataset",
            hint="available: " + ", ".join(f"{i}@{v}" for i, v in available_datasets()),
        )
    return load_dataset(match["id"], max(versions))


def validation_inputs(
    *,
    dataset: str | None = None,
    mapping: Path | None = None,
    project: Path | None = None,
    source: str | None = None,
) -> tuple[DatasetDef, ColumnMapping]:
    """The dataset and mapping to validate with, named directly or by a project's source.

    ``source`` names a source of ``project``, or, without a project, the table of a mapping file
    that holds one per source.
    """
    if project is not None:
        if source is None:
            raise ConfigError(
                "a project file and a source name go together",
                field="source",
                hint="give both --project and --source",
            )
        if dataset is not None or mapping is not None:
            raise ConfigError(
                "the project's source fixes the dataset and mapping; do not give them too",
                field="dataset" if dataset is not None else "mapping",
                hint="leave out --dataset and --mapping, or leave out --project and --source",
            )
        chosen = load_project(project).source(source)
        dataset_def = load_dataset(chosen.dataset, chosen.dataset_version)
        check_mapping(chosen.mapping, dataset_def, file=project)
        return dataset_def, chosen.mapping
    if source is not None and mapping is None:
        raise ConfigError(
            "a source name picks a source of a project file, or a table of a mapping file",
            field="source",
            hint="give --project with it, or --mapping",
        )
    if dataset is None:
        raise ConfigError(
            "no dataset given",
            field="dataset",
            hint="give --dataset (e.g. authority@1), or --project and --source",
        )
    dataset_def = parse_dataset_key(dataset)
    if mapping is None:
        return dataset_def, ColumnMapping()
    loaded = load_mapping(mapping, source=source)
    check_mapping(loaded, dataset_def, file=mapping)  # its faults are the mapping file's
    return dataset_def, loaded


class _PerSource(RootModel[dict[str, ColumnMapping]]):
    """A mapping file of one table per source."""


def load_mapping(path: Path, *, source: str | None = None) -> ColumnMapping:
    """Read a mapping file: one ColumnMapping's keys at its top level, or ``source``'s table."""
    if source is not None:
        tables = load_model(_PerSource, path, what="mapping file").root
        if source not in tables:
            raise ConfigError(
                f"the mapping file has no table for source {source!r}",
                file=path,
                field="source",
                hint="its sources: " + (", ".join(tables) or "none"),
            )
        return tables[source]
    try:
        return load_model(ColumnMapping, path, what="mapping file")
    except ConfigError as exc:
        tables = _tables(path)
        if not tables:
            raise
        raise ConfigError(
            "the mapping file holds one mapping per source, not one mapping",
            file=path,
            hint="pick one with --source: " + ", ".join(tables),
        ) from exc


def _tables(path: Path) -> dict[str, ColumnMapping]:
    """The file's mappings if it holds one per source, else none."""
    try:
        return load_model(_PerSource, path, what="mapping file").root
    except ConfigError:
        return {}
