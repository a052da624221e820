"""Benchmark: synthesising a whole area to Parquet against writing random columns to Parquet.

The stage is ``synthesise`` with every provider file as Parquet (so spreadsheet and SPSS writers,
which are bounded by their libraries, stay out of the figure): population, flags, calibration,
survey answers, planted problems, canonical tables and the ground truth. The baseline is numpy
drawing as many uniform random cells as the stage writes and writing them to Parquet: the cost of
producing that much data with no model behind it.

    python bench/bench_synth.py --size 1000000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from harness import Measurement, cores, measure, table
from linkwell.synth import FileFormat, SynthFormats, synthesise

_CHUNK = 131_072


def _synthesise(size: int, out: str) -> int:
    synthesise(Path(out), children=size, seed=1, formats=SynthFormats.every(FileFormat.PARQUET))
    return size


def cells_written(out: Path) -> int:
    return sum(
        pq.ParquetFile(p).metadata.num_rows * pq.ParquetFile(p).metadata.num_columns
        for p in out.rglob("*.parquet")
    )


def uniform_cells(size: int, columns: int, dest: str) -> int:
    rng = np.random.default_rng(1)
    schema = pa.schema([(f"c{i}", pa.float64()) for i in range(columns)])
    with pq.ParquetWriter(dest, schema, compression="zstd") as writer:
        for start in range(0, size, _CHUNK):
            rows = min(_CHUNK, size - start)
            writer.write_table(pa.table([rng.random(rows) for _ in range(columns)], schema=schema))
    return size


def run(size: int, workdir: Path) -> list[Measurement]:
    """Synthesise ``size`` pupils to Parquet, then the baseline writing as many random cells."""
    out = workdir / "area"
    stage = measure(
        "synth", "synthesise to Parquet", _synthesise, size, str(out), baseline="numpy uniform"
    )
    columns = max(1, round(cells_written(out) / size))
    baseline = measure(
        "synth",
        "numpy uniform",
        uniform_cells,
        size,
        columns,
        str(workdir / "uniform.parquet"),
        note=f"{columns} float64 columns: as many cells as the area's Parquet files",
    )
    return [baseline, stage]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="pupils to synthesise")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-synth-") as tmp:
        results = run(args.size, Path(tmp))
    print(f"bench_synth: {args.size:,} pupils on {cores()} cores\n")
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
