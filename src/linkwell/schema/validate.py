"""Validating a provider's file against its dataset, keeping every rejected row's problems.

:func:`validate_file` lands, maps and checks the file in one pass over whole columns, collecting
every problem of every row; a row with any problem is quarantined, never repaired or dropped, and
every row sharing a survey ID is quarantined. ``out_dir`` receives ``accepted.parquet`` (typed,
derived fields filled), ``quarantine.parquet`` and ``quarantine.csv`` (file, row, field, rule,
message; never a value), ``quarantined-ids.parquet`` (the quarantined rows' survey IDs, for the
provider's own counts) and ``summary.json``, whose counts are checked to add up.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Final

import pyarrow as pa

from linkwell.config import ColumnMapping
from linkwell.engine import Engine, quote_ident, quote_string
from linkwell.errors import ConfigError, InternalError, StorageError
from linkwell.fileio import atomic_path, write_text_atomic
from linkwell.progress import SILENT, Progress
from linkwell.schema.definitions import DatasetDef, FieldKind
from linkwell.schema.mapping import (
    MappingPlan,
    check_mapping,
    mapped_query,
    mapping_digest,
    plan_mapping,
)
from linkwell.schema.readers import ROW_COLUMN, ReadResult, SourceFormat, detect_format, read_table
from linkwell.schema.rules import (
    DUPLICATE_IDS,
    Check,
    Rule,
    build_checks,
    problems_sql,
    sql_type,
    typed_query,
)

__all__ = [
    "ACCEPTED",
    "QUARANTINE",
    "QUARANTINED_IDS",
    "QUARANTINE_CSV",
    "SUMMARY",
    "ValidationResult",
    "validate_file",
    "validate_table",
]

ACCEPTED: Final = "accepted.parquet"
QUARANTINE: Final = "quarantine.parquet"
QUARANTINE_CSV: Final = "quarantine.csv"
SUMMARY: Final = "summary.json"
QUARANTINED_IDS: Final = "quarantined-ids.parquet"
"""The distinct survey IDs of quarantined rows, as written: the provider's own, never shared.

An authority counts those of pupils who took part; the rest of the flow sees such pupils only as
not linked, which would otherwise be put down to linkage."""


@dataclass(frozen=True)
class ValidationResult:
    """What validation found and where it wrote it.

    ``rows_read`` = ``rows_accepted`` + ``rows_quarantined`` always; ``problems_by_rule`` and
    ``problems_by_field`` count problems (a quarantined row has at least one). ``computed`` are
    the derived fields the file did not supply and linkwell filled in.
    """

    source: Path
    dataset: str
    out_dir: Path
    rows_read: int
    rows_accepted: int
    rows_quarantined: int
    blank_rows: int
    problems_by_rule: Mapping[Rule, int]
    problems_by_field: Mapping[str, int]
    problems_by_dataset_rule: Mapping[str, int]
    dropped_columns: tuple[str, ...]
    personal_columns: tuple[str, ...]
    computed: tuple[str, ...]
    mapping_digest: str
    read: ReadResult

    @property
    def accepted(self) -> Path:
        """The accepted rows, typed."""
        return self.out_dir / ACCEPTED

    @property
    def quarantine(self) -> Path:
        """One row per problem found, as Parquet."""
        return self.out_dir / QUARANTINE

    @property
    def quarantine_csv(self) -> Path:
        """The same problems as CSV, for a spreadsheet."""
        return self.out_dir / QUARANTINE_CSV

    @property
    def summary(self) -> Path:
        """The counts, as JSON."""
        return self.out_dir / SUMMARY

    @property
    def problems(self) -> int:
        """Problems found in all."""
        return sum(self.problems_by_rule.values())


def _safe_cell(text: str) -> str:
    """A file name as a CSV cell a spreadsheet will not run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


_OUTPUTS: Final = (SUMMARY, ACCEPTED, QUARANTINE, QUARANTINE_CSV, QUARANTINED_IDS)


def _check_out_dir(out_dir: Path) -> None:
    """Make ``out_dir``, or take one holding only a validation's outputs (they are replaced)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(
            "the output is a file, not a folder",
            file=out_dir,
            field="out",
            hint="give a new folder, or one a validation wrote before",
        )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        others = sorted(
            e.name for e in out_dir.iterdir() if e.name not in _OUTPUTS and e.name[:1] != "."
        )
    except OSError as exc:
        raise StorageError(
            f"cannot create or list the output folder ({exc.strerror})",
            file=out_dir,
            hint="check the folder's path and permissions",
        ) from exc
    if others:
        raise ConfigError(
            f"the output folder holds files a validation did not write ({len(others)}, such as "
            f"{others[0]!r}), which its results would be mixed with",
            file=out_dir,
            field="out",
            hint="give a new or empty folder, or one a validation wrote before (its results are "
            "replaced)",
        )


def _clear_outputs(out_dir: Path) -> None:
    """Remove a previous run's outputs first, so the folder never mixes two runs' files."""
    for name in _OUTPUTS:
        try:
            (out_dir / name).unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(
                f"cannot remove the previous run's {name} ({exc.strerror})",
                file=out_dir / name,
                hint="check the folder's permissions, or choose another output folder",
            ) from exc


def _checks_table(checks: tuple[Check, ...]) -> pa.Table:
    return pa.table(
        {
            "id": pa.array([c.id for c in checks], pa.int32()),
            "field": [c.field for c in checks],
            "rule": [c.rule.value for c in checks],
            "dataset_rule": pa.array([c.dataset_rule for c in checks], pa.string()),
            "message": [c.message for c in checks],
        }
    )


def _checked_query(
    plan: MappingPlan, checks: tuple[Check, ...], landed: Path
) -> tuple[str, dict[str, object]]:
    """SQL for ``_row``, every typed field and the row's failed check ids (``_problems``)."""
    dataset = plan.dataset
    mapped, params = mapped_query(plan, f"read_parquet({quote_string(landed)})")
    survey_id = quote_ident(next(f.name for f in dataset.fields if f.kind is FieldKind.SURVEY_ID))
    fields = ", ".join(quote_ident(f.name) for f in dataset.fields)
    query = (
        f"WITH {quote_ident(DUPLICATE_IDS)} AS (SELECT {survey_id} FROM ({mapped}) "
        f"WHERE {survey_id} IS NOT NULL GROUP BY ALL HAVING count(*) > 1) "
        f"SELECT {quote_ident(ROW_COLUMN)}, {fields}, {problems_sql(checks)} AS _problems "
        f"FROM ({typed_query(dataset, f'({mapped})')})"
    )
    return query, params


def _counts(engine: Engine, quarantine: Path, column: str) -> dict[str, int]:
    rows = engine.fetchall(
        f"SELECT {quote_ident(column)}, count(*) FROM read_parquet({quote_string(quarantine)}) "
        f"WHERE {quote_ident(column)} IS NOT NULL GROUP BY ALL ORDER BY ALL",
        purpose=f"count problems by {column}",
    )
    return {str(key): int(n) for key, n in rows}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def validate_table(
    read: ReadResult,
    dataset: DatasetDef,
    mapping: ColumnMapping,
    *,
    out_dir: Path,
    engine: Engine,
    progress: Progress = SILENT,
) -> ValidationResult:
    """Validate a table landed by :func:`~linkwell.schema.readers.read_table` into ``out_dir``."""
    plan = plan_mapping(read.columns, dataset, mapping, file=read.source)
    checks = build_checks(dataset)
    _clear_outputs(out_dir)
    token = secrets.token_hex(6)
    checked = out_dir / f".checked-{token}.parquet"
    view = f"lw_checks_{token}"
    engine.register(view, _checks_table(checks))
    try:
        with progress.task(f"validating {read.source.name}", total=3) as task:
            query, params = _checked_query(plan, checks, read.dest)
            engine.copy_to_parquet(query, checked, params, purpose="check every row")
            task.advance()
            result = _write_outputs(engine, read, plan, checked=checked, view=view, out_dir=out_dir)
            task.advance()
            _write_summary(result, read, plan)
            task.advance()
    finally:
        engine.unregister(view)
        checked.unlink(missing_ok=True)
    return result


def _write_outputs(
    engine: Engine, read: ReadResult, plan: MappingPlan, *, checked: Path, view: str, out_dir: Path
) -> ValidationResult:
    dataset = plan.dataset
    source = f"read_parquet({quote_string(checked)})"
    typed = ", ".join(
        f"CAST({quote_ident(f.name)} AS {sql_type(f)}) AS {quote_ident(f.name)}"
        for f in dataset.fields
    )
    row = quote_ident(ROW_COLUMN)
    engine.copy_to_parquet(
        f"SELECT {typed}, {row} FROM {source} WHERE len(_problems) = 0",
        out_dir / ACCEPTED,
        purpose="write the accepted rows",
    )
    engine.copy_to_parquet(
        f"SELECT $file AS file, q.{row} AS row, k.field, k.rule, k.dataset_rule, k.message "
        f"FROM (SELECT {row}, unnest(_problems) AS check_id FROM {source} "
        f"WHERE len(_problems) > 0) AS q JOIN {quote_ident(view)} AS k ON k.id = q.check_id "
        "ORDER BY q._row, k.id",
        out_dir / QUARANTINE,
        {"file": _safe_cell(read.source.name)},
        purpose="write the quarantine",
    )
    survey_id = quote_ident(next(f.name for f in dataset.fields if f.kind is FieldKind.SURVEY_ID))
    engine.copy_to_parquet(
        f"SELECT DISTINCT {survey_id} AS unique_id FROM {source} "
        f"WHERE len(_problems) > 0 AND {survey_id} IS NOT NULL ORDER BY ALL",
        out_dir / QUARANTINED_IDS,
        purpose="list the quarantined rows' IDs",
    )
    with atomic_path(out_dir / QUARANTINE_CSV) as partial:
        engine.execute(
            f"COPY (SELECT * FROM read_parquet({quote_string(out_dir / QUARANTINE)})) "
            f"TO {quote_string(partial)} (FORMAT csv, HEADER)",
            purpose="write the quarantine as CSV",
        )
    total, accepted = engine.fetchall(
        f"SELECT count(*), count(*) FILTER (WHERE len(_problems) = 0) FROM {source}",
        purpose="count rows",
    )[0]
    quarantine = out_dir / QUARANTINE
    by_rule = _counts(engine, quarantine, "rule")
    computed = tuple(
        r.field
        for r in dataset.rules
        if r.type in ("any_of", "none_of") and plan.sources[r.field] is None
    )
    result = ValidationResult(
        source=read.source,
        dataset=dataset.key,
        out_dir=out_dir,
        rows_read=int(total),
        rows_accepted=int(accepted),
        rows_quarantined=int(total) - int(accepted),
        blank_rows=read.blank_rows,
        problems_by_rule={Rule(k): v for k, v in by_rule.items()},
        problems_by_field=_counts(engine, quarantine, "field"),
        problems_by_dataset_rule=_counts(engine, quarantine, "dataset_rule"),
        dropped_columns=plan.dropped,
        personal_columns=plan.personal,
        computed=tuple(dict.fromkeys(computed)),
        mapping_digest=mapping_digest(plan.mapping),
        read=read,
    )
    quarantined_rows = engine.scalar(
        f"SELECT count(DISTINCT row) FROM read_parquet({quote_string(quarantine)})",
        purpose="count quarantined rows",
    )
    if result.rows_read != read.rows or int(quarantined_rows) != result.rows_quarantined:
        raise InternalError(
            "validation counts do not add up: rows read, accepted and quarantined disagree",
            file=read.source,
        )
    return result


def _write_summary(result: ValidationResult, read: ReadResult, plan: MappingPlan) -> None:
    summary = {
        "linkwell": version("linkwell"),
        "file": read.source.name,
        "format": read.format.value,
        "encoding": read.encoding,
        "delimiter": read.delimiter,
        "sheet": read.sheet,
        "dataset": result.dataset,
        "mapping_digest": result.mapping_digest,
        "rows_read": result.rows_read,
        "rows_accepted": result.rows_accepted,
        "rows_quarantined": result.rows_quarantined,
        "blank_rows_skipped": result.blank_rows,
        "problems": result.problems,
        "problems_by_rule": {str(k): v for k, v in sorted(result.problems_by_rule.items())},
        "problems_by_field": dict(result.problems_by_field),
        "problems_by_dataset_rule": dict(result.problems_by_dataset_rule),
        "dropped_columns": list(result.dropped_columns),
        "dropped_personal_columns": list(result.personal_columns),
        "fields_not_supplied": list(plan.absent),
        "derived_fields_computed": list(result.computed),
        "outputs": {
            "accepted": {"file": ACCEPTED, "sha256": _sha256(result.accepted)},
            "quarantine": {"file": QUARANTINE, "sha256": _sha256(result.quarantine)},
            "quarantine_csv": {"file": QUARANTINE_CSV, "sha256": _sha256(result.quarantine_csv)},
        },
    }
    write_text_atomic(result.summary, json.dumps(summary, indent=2, sort_keys=False) + "\n")


def validate_file(
    path: Path,
    dataset: DatasetDef,
    mapping: ColumnMapping,
    *,
    out_dir: Path,
    engine: Engine,
    sheet: str | None = None,
    progress: Progress = SILENT,
) -> ValidationResult:
    """Read, map and validate a provider's file into ``out_dir``.

    ``sheet`` chooses a workbook's sheet, over the mapping's own ``sheet``. The landed copy of
    the file (which holds every provider column, dropped ones too) lives only while this runs.
    """
    check_mapping(mapping, dataset, file=path)
    if sheet is None and mapping.sheet is not None and detect_format(path) is SourceFormat.XLSX:
        sheet = mapping.sheet
    _check_out_dir(out_dir)
    _clear_outputs(out_dir)
    landed = out_dir / f".landed-{secrets.token_hex(6)}.parquet"
    try:
        read = read_table(path, engine=engine, dest=landed, sheet=sheet, progress=progress)
        return validate_table(
            read, dataset, mapping, out_dir=out_dir, engine=engine, progress=progress
        )
    finally:
        landed.unlink(missing_ok=True)
