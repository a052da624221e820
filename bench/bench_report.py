"""Benchmark: the whole report for a release of N children against DuckDB's GROUP BYs alone.

The baseline opens and scores the release and runs exactly the GROUP BY GROUPING SETS queries
the report's tables are counted from, with no disclosure control, tables, models or rendering;
the stage is ``write_report`` end to end. The release is release-shaped synthetic data made with
the tests' vectorised generator (32 authorities, one school per 400 children).

    python bench/bench_report.py --size 1000000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from flow_plain import group_bys  # noqa: E402
from harness import Measurement, cores, measure, table  # noqa: E402

STAGE = "report"


def _generate(size: int, path: Path) -> int:
    from tests.analysis.conftest import make_release

    make_release(path, size, seed=1, schools=max(8, size // 400), authorities=32, weighted=True)
    return size


def _report(path: Path, out: Path) -> int:
    from linkwell.config import DisclosurePolicy
    from linkwell.report import write_report

    bundle = write_report(
        path,
        out,
        policy=DisclosurePolicy(),
        project_digest=None,
        disclosure_log=out.with_name(f"{out.name}-disclosure-log.csv"),
    )
    return sum(1 for _ in bundle.out_dir.rglob("*") if _.is_file())


def run(size: int, workdir: Path) -> list[Measurement]:
    """Generate a release of ``size`` children, then time the baseline and the report."""
    release = workdir / "release.parquet"
    _generate(size, release)
    baseline = measure(STAGE, "duckdb group-bys (baseline)", group_bys, release)
    report = measure(
        STAGE,
        "write_report",
        _report,
        release,
        workdir / "report",
        baseline=baseline.name,
        note="scoring, counting, disclosure control with LP audit, tables, models, HTML, xlsx",
    )
    return [baseline, Measurement(**{**report.__dict__, "rows": size})]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000, help="children in the release")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        results = run(args.size, Path(tmp))
    print(f"report for {args.size:,} children on {cores()} cores\n")
    print(table(results))


if __name__ == "__main__":
    main()
