"""Writing provider files in the formats providers send, plus Parquet and the mapping file.

CSV is UTF-8 with a byte-order mark and CRLF line ends, as survey contractors' Windows exports
are; SPSS .sav carries variable labels (the field descriptions) and value labels; .xlsx is
written in openpyxl's write-only mode with the data on a named sheet and a notes sheet after it;
Parquet keeps the provider's cells. Every file is written atomically. Row numbers of problems are
given as a user opening the file would count them: :func:`first_data_row`.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import tomli_w

from linkwell.config import ColumnMapping
from linkwell.errors import InternalError
from linkwell.fileio import atomic_path, write_text_atomic
from linkwell.schema.definitions import DatasetDef
from linkwell.synth.mess import PlantedFile
from linkwell.synth.provider import FileFormat

__all__ = [
    "first_data_row",
    "write_mapping",
    "write_parquet",
    "write_provider_file",
]

_BOM: Final = b"\xef\xbb\xbf"
_NOTES: Final = (
    "Synthetic data made by linkwell synth: no real pupil is described here.",
    "One row per pupil; the data are on the first sheet.",
    "An empty cell means the value was not recorded.",
)


def first_data_row(file_format: FileFormat) -> int:
    """The row number a user sees for the first data row.

    Spreadsheets count the header as row 1, so data start at row 2; CSV and Parquet count data
    rows from 1 after the header; SPSS counts cases from 1.
    """
    return 2 if file_format is FileFormat.XLSX else 1


def write_parquet(
    table: pa.Table, dest: Path, *, distinct: Collection[str] = ("unique_id",)
) -> None:
    """Write ``table`` to ``dest`` atomically; same table, same bytes.

    Every column is dictionary-encoded except the ``distinct`` ones (survey IDs), where a
    dictionary would only cost time.
    """
    encoded = [name for name in table.column_names if name not in distinct]
    with atomic_path(dest) as partial:
        pq.write_table(
            table,
            partial,
            compression="zstd",
            row_group_size=256 * 1024,
            use_dictionary=encoded,
        )


def _filled(planted: PlantedFile, *, as_text: bool) -> list[pa.Array]:
    """Cells with absent values replaced by the layout's missing code (if it has one)."""
    missing = planted.layout.missing
    out = []
    for cells in planted.cells:
        values = cells.cast(pa.string()) if as_text else cells
        if missing is not None:
            code = str(missing) if pa.types.is_string(values.type) else int(missing)
            values = pc.fill_null(values, pa.scalar(code, values.type))
        out.append(values)
    return out


def _write_csv(planted: PlantedFile, dest: Path) -> None:
    names = [c.name for c in planted.layout.columns]
    table = pa.table(_filled(planted, as_text=True), names=names)
    options = pacsv.WriteOptions(eol="\r\n", quoting_style="none", quoting_header="none")
    with atomic_path(dest) as partial, partial.open("wb") as stream:
        stream.write(_BOM)
        pacsv.write_csv(table, stream, write_options=options)


def _write_xlsx(planted: PlantedFile, dest: Path) -> None:
    from openpyxl import Workbook  # noqa: PLC0415 - heavy import, needed for this format only

    columns = [cells.to_pylist() for cells in _filled(planted, as_text=False)]
    book = Workbook(write_only=True)
    sheet = book.create_sheet(planted.layout.sheet)
    sheet.append([c.name for c in planted.layout.columns])
    # openpyxl has no bulk API: write-only mode streams one row per call, in constant memory.
    for row in zip(*columns, strict=True):
        sheet.append(row)
    notes = book.create_sheet("Notes")
    for line in _NOTES:
        notes.append([line])
    with atomic_path(dest) as partial:
        book.save(partial)


def _write_sav(planted: PlantedFile, dataset: DatasetDef, dest: Path) -> None:
    import pyreadstat  # noqa: PLC0415 - heavy import, needed for this format only
    from pyreadstat.pyclasses import MissingRange  # noqa: PLC0415

    layout = planted.layout
    data: dict[str, object] = {}
    labels: dict[str, dict[float, str]] = {}
    missing: dict[str, list[int | float | str | MissingRange]] = {}
    for spec, cells in zip(layout.columns, _filled(planted, as_text=False), strict=True):
        if spec.numeric:
            data[spec.name] = cells.to_numpy(zero_copy_only=False).astype(np.float64)
            if spec.labels:
                labels[spec.name] = {float(code): text for code, text in spec.labels}
            if layout.missing is not None:
                missing[spec.name] = [float(layout.missing)]
        else:
            data[spec.name] = pc.fill_null(cells, "").to_numpy(zero_copy_only=False)
    frame = pa.table(data).to_pandas()
    variable_labels: dict[str, str | None] = {
        spec.name: dataset.field(spec.field).description for spec in layout.columns
    }
    with atomic_path(dest) as partial:
        pyreadstat.write_sav(
            frame,
            str(partial),
            file_label="linkwell synthetic survey",
            column_labels=variable_labels,
            variable_value_labels=labels,
            missing_ranges=missing or None,
        )


def _write_provider_parquet(planted: PlantedFile, dest: Path) -> None:
    names = [c.name for c in planted.layout.columns]
    table = pa.table(_filled(planted, as_text=False), names=names)
    write_parquet(table, dest, distinct=(planted.layout.column("unique_id").name,))


def write_provider_file(
    planted: PlantedFile, dataset: DatasetDef, dest: Path, file_format: FileFormat
) -> None:
    """Write a provider file in ``file_format``."""
    if file_format is FileFormat.CSV:
        _write_csv(planted, dest)
    elif file_format is FileFormat.XLSX:
        _write_xlsx(planted, dest)
    elif file_format is FileFormat.SAV:
        _write_sav(planted, dataset, dest)
    elif file_format is FileFormat.PARQUET:
        _write_provider_parquet(planted, dest)
    else:  # pragma: no cover - exhaustive over FileFormat
        raise InternalError(f"no writer for {file_format}", file=dest)


def write_mapping(mappings: dict[str, ColumnMapping], dest: Path) -> None:
    """Write one ``ColumnMapping`` table per source into a TOML file."""
    body = tomli_w.dumps(
        {name: m.model_dump(mode="json", exclude_none=True) for name, m in mappings.items()}
    )
    header = (
        "# Column mappings for the synthetic provider files: one table per source, each a\n"
        "# linkwell ColumnMapping (provider column -> field; yes/no, missing and codes).\n\n"
    )
    write_text_atomic(dest, header + body)
