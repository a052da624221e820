"""Benchmark: read and validate an authority extract from CSV, against a plain CSV-to-Parquet copy.

The input is generated here with numpy (vectorised): valid survey IDs, service flags at about
the published rates, SIMD deciles and urban/rural classes, with about 1% of rows carrying a
planted problem so that the quarantine path is exercised too. The baseline is DuckDB reading the
same file as text and writing Parquet with no checks: the least any validation of it can cost.

    python bench/bench_validate.py --size 1000000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from harness import Measurement, cores, measure
from linkwell.config import ColumnMapping
from linkwell.engine import Engine, quote_string
from linkwell.schema import load_dataset
from linkwell.schema.ids import issue_ids
from linkwell.schema.readers import read_table
from linkwell.schema.validate import validate_file

STAGE = "validate"
RATES = {
    "looked_after_home": 0.004, "looked_after_foster": 0.005, "looked_after_kinship": 0.0045,
    "looked_after_residential": 0.0015, "child_protection": 0.002,
    "coordinated_support_plan": 0.003, "individualised_education_plan": 0.055,
    "through_care_after_care": 0.0003, "prospective_adopters": 0.00005, "free_school_meals": 0.2,
}  # fmt: skip


def generate(size: int, path: Path, seed: int = 2016) -> int:
    """Write ``size`` authority rows to ``path`` as CSV; return the rows written."""
    rng = np.random.default_rng(seed)
    dataset = load_dataset("authority", 1)
    columns: dict[str, np.ndarray] = {"Pupil ID": issue_ids(size)}
    columns["school"] = np.char.add("SCH", rng.integers(1000, 1400, size).astype(str))
    columns["simd_decile"] = rng.integers(1, 11, size).astype(str)
    columns["urban_rural"] = rng.integers(1, 9, size).astype(str)
    yes_no = np.array(["N", "Y"])
    for field in dataset.fields:
        if field.type == "boolean" and not field.derived:
            rate = RATES.get(field.name, 0.03)
            columns[field.name] = yes_no[(rng.random(size) < rate).astype(int)]
    fsm = columns["free_school_meals"] == "Y"
    columns["fsm_basis"] = np.where(
        fsm, np.array(["universal", "means-tested"])[rng.integers(0, 2, size)], ""
    )
    planted = rng.random(size) < 0.01
    kind = rng.integers(0, 3, size)
    columns["simd_decile"] = np.where(planted & (kind == 0), "11", columns["simd_decile"])
    columns["looked_after_home"] = np.where(
        planted & (kind == 1), "maybe", columns["looked_after_home"]
    )
    duplicate = np.flatnonzero(planted & (kind == 2))
    columns["Pupil ID"][duplicate] = columns["Pupil ID"][duplicate - 1]
    table = pa.table({name: pa.array(values.astype(str)) for name, values in columns.items()})
    pacsv.write_csv(table, path)
    return size


def baseline(path: Path, out: Path) -> int:
    """DuckDB reads the CSV as text and writes Parquet: no row numbers, no checks."""
    with Engine() as engine:
        return engine.copy_to_parquet(
            f"SELECT * FROM read_csv({quote_string(path)}, all_varchar = true)",
            out,
            purpose="bench",
        )


def land(path: Path, out: Path) -> int:
    """linkwell's reader alone: encoding check, dialect, row numbers, cell limits."""
    with Engine() as engine:
        return read_table(path, engine=engine, dest=out).rows


def validate(path: Path, out_dir: Path) -> int:
    """Read, map and validate: the whole of ``linkwell validate``."""
    dataset = load_dataset("authority", 1)
    mapping = ColumnMapping(columns={"Pupil ID": "unique_id"})
    with Engine() as engine:
        return validate_file(path, dataset, mapping, out_dir=out_dir, engine=engine).rows_read


def run(size: int, workdir: Path) -> list[Measurement]:
    """Measure the baseline, the reader and the whole validation over one generated file."""
    source = workdir / "authority.csv"
    # Generated in its own process: a child's peak RSS on Linux starts from its parent's at fork,
    # so the generator's arrays must never live in the process that spawns the measured steps.
    measure(STAGE, "generate input", generate, size, source)
    note = f"{source.stat().st_size / 2**20:.0f} MiB CSV, {cores()} cores"
    first = measure(
        STAGE, "duckdb read_csv -> parquet", baseline, source, workdir / "base.parquet", note=note
    )
    return [
        first,
        measure(STAGE, "read_table", land, source, workdir / "landed.parquet", baseline=first.name),
        measure(STAGE, "validate_file", validate, source, workdir / "checked", baseline=first.name),
    ]


def table(results: list[Measurement]) -> str:
    """The measurements as a markdown table with ratios to the baseline."""
    base = results[0]
    lines = [
        "| step | rows | wall s | rows/s | peak RSS MiB | wall / baseline | RSS / baseline |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for m in results:
        lines.append(
            f"| {m.name} | {m.rows:,} | {m.wall_s:.2f} | {m.rows_per_s:,.0f} | {m.peak_rss_mb:.0f} "
            f"| {m.wall_s / base.wall_s:.2f} | {m.peak_rss_mb / base.peak_rss_mb:.2f} |"
        )
    return "\n".join(lines) + f"\n\n{base.note}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        print(table(run(args.size, Path(folder))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
