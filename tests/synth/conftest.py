"""Synthetic areas shared by the synth tests (made once per session) and readers of their files.

The readers here are deliberately independent of linkwell's own: they read each provider file
with the format's reference library and apply ``mapping.toml`` by hand, so a test comparing the
result with the ground truth can catch a writer, a mapping or a truth table that is wrong.
"""

from __future__ import annotations

import math
import tomllib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pyarrow.parquet as pq
import pyreadstat
import pytest

from linkwell.config import ColumnMapping
from linkwell.schema import load_dataset
from linkwell.schema.definitions import DatasetDef, FieldType
from linkwell.synth import FileFormat, MessRates, SourceFile, SynthResult, synthesise

INVALID = object()
"""A cell no mapping accepts (an out-of-range or unknown code)."""

MESSY_RATES = MessRates(
    id_typo=0.03,
    duplicate_id=0.02,
    missing_value=0.03,
    out_of_range=0.02,
    contradictory_flags=0.05,
    missing_from_extract=0.03,
)


@pytest.fixture(scope="session")
def messy_area(tmp_path_factory: pytest.TempPathFactory) -> SynthResult:
    """4,000 pupils in two authorities, every problem planted at a few per cent."""
    out = tmp_path_factory.mktemp("messy") / "area"
    return synthesise(out, children=4000, seed=11, authorities=2, mess=MESSY_RATES)


@pytest.fixture(scope="session")
def clean_area(tmp_path_factory: pytest.TempPathFactory) -> SynthResult:
    """2,000 pupils, no problems planted, the datasets' own names and codes."""
    out = tmp_path_factory.mktemp("clean") / "area"
    return synthesise(out, children=2000, seed=3, mess=MessRates.clean())


def dataset_of(result: SynthResult, source: str) -> DatasetDef:
    info = next(s for s in result.sources if s.source == source)
    return load_dataset(info.dataset, info.dataset_version)


def read_raw(
    path: Path, file_format: FileFormat, sheet: str | None = None, *, labels: bool = False
) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a provider file, every cell as the text a reader would see.

    ``labels`` reads an SPSS file's value labels instead of its codes, where it has them.
    """
    if file_format is FileFormat.CSV:
        data = path.read_bytes()
        assert data.startswith(b"\xef\xbb\xbf")
        lines = data[3:].decode("utf-8").split("\r\n")
        assert lines[-1] == ""
        rows = [line.split(",") for line in lines[:-1]]
        return rows[0], rows[1:]
    if file_format is FileFormat.XLSX:
        book = openpyxl.load_workbook(path, read_only=True)
        values = list(book[sheet or book.sheetnames[0]].iter_rows(values_only=True))
        text = [["" if v is None else str(v) for v in row] for row in values]
        width = len(text[0])  # a row ending in empty cells may come back shorter: pad it
        return text[0], [row + [""] * (width - len(row)) for row in text[1:]]
    if file_format is FileFormat.SAV:
        frame, _ = pyreadstat.read_sav(path, user_missing=True, apply_value_formats=labels)
        header = list(frame.columns)
        rows = []
        for record in frame.itertuples(index=False):
            cells = []
            for value in record:
                if isinstance(value, float):
                    cells.append("" if math.isnan(value) else str(int(value)))
                else:
                    cells.append(str(value))
            rows.append(cells)
        return header, rows
    table = pq.read_table(path)
    columns = [
        ["" if v is None else str(v) for v in table.column(i).to_pylist()]
        for i in range(table.num_columns)
    ]
    return table.column_names, [list(r) for r in zip(*columns, strict=True)]


def mappings(result: SynthResult) -> dict[str, ColumnMapping]:
    data = tomllib.loads(result.mapping.read_text(encoding="utf-8"))
    return {name: ColumnMapping.model_validate(table) for name, table in data.items()}


@dataclass(frozen=True)
class MappedFile:
    """A provider file read back into dataset fields: one dict per data row."""

    fields: list[str]
    rows: list[dict[str, object]]


def apply_mapping(
    header: list[str], rows: list[list[str]], mapping: ColumnMapping, dataset: DatasetDef
) -> MappedFile:
    """Translate provider cells into field values: None when missing, INVALID when unusable."""
    fields = [mapping.columns.get(name, name) for name in header]
    truthy = {c.lower() for c in mapping.true_codes}
    falsy = {c.lower() for c in mapping.false_codes}
    missing = {c.lower() for c in mapping.missing_codes}
    out = []
    for row in rows:
        record: dict[str, object] = {}
        for field_name, cell in zip(fields, row, strict=True):
            field = dataset.field(field_name)
            text = cell.strip()
            text = mapping.codes.get(field_name, {}).get(text, text)
            if text.lower() in missing:
                record[field_name] = None
            elif field.type is FieldType.BOOLEAN:
                record[field_name] = (
                    True if text.lower() in truthy else False if text.lower() in falsy else INVALID
                )
            elif field.type is FieldType.INTEGER:
                ok = text.lstrip("-").isdigit() and field.minimum <= int(text) <= field.maximum
                record[field_name] = int(text) if ok else INVALID
            elif field.type is FieldType.CATEGORY:
                record[field_name] = text if text in (field.codes or ()) else INVALID
            else:
                record[field_name] = text
        out.append(record)
    return MappedFile(fields, out)


@dataclass(frozen=True)
class ReadBack:
    """An area's truth and provider files read back, computed once per area."""

    truth: dict[str, dict[str, object]]
    files: dict[str, tuple[SourceFile, MappedFile, int]]
    headers: dict[str, list[str]]
    owners: dict[str, dict[int, str]]
    listed: dict[str, list[dict[str, object]]]


_CACHE: dict[Path, ReadBack] = {}


def read_back(result: SynthResult) -> ReadBack:
    """Truth, provider files (raw and mapped), row owners and problems of an area, cached."""
    if result.out_dir not in _CACHE:
        truth = {row["unique_id"]: row for row in pq.read_table(result.truth.pupils).to_pylist()}
        files, headers = {}, {}
        for info in result.sources:
            mapping = mappings(result)[info.source]
            header, rows = read_raw(info.path, info.format, mapping.sheet)
            first = 2 if info.format is FileFormat.XLSX else 1
            mapped = apply_mapping(header, rows, mapping, dataset_of(result, info.source))
            files[info.source] = (info, mapped, first)
            headers[info.source] = header
        owners: dict[str, dict[int, str]] = defaultdict(dict)
        for r in pq.read_table(result.truth.rows).to_pylist():
            owners[r["source"]][r["row"]] = r["unique_id"]
        listed: dict[str, list[dict[str, object]]] = defaultdict(list)
        for m in pq.read_table(result.truth.mess).to_pylist():
            listed[m["source"]].append(m)
        _CACHE[result.out_dir] = ReadBack(truth, files, headers, dict(owners), dict(listed))
    return _CACHE[result.out_dir]
