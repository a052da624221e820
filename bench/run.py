"""``make bench``: the five-party flow at national scale, every stage against its baseline.

Runs :mod:`bench_flow` (synthesise, set up, the flow with each step's plain counterpart, then each
target's piece beside its bound and the Splink and pandas peers), prints the markdown tables with
the machine described, and writes everything to ``bench/results/<date>-<size>.json`` (or
``<date>-<size>-<n>.json`` for the day's n-th run).

    python bench/run.py --size 100000            # a few minutes
    python bench/run.py --size 1000000 --repeat 3
    python bench/run.py --size 10000000 --repeat 1 --workdir /big/disk
    python bench/run.py --size 1000000 --repeat 1 --no-report   # every stage but the report
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    import bench_flow
    import flow_report

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000, help="pupils in the area")
    parser.add_argument("--repeat", type=int, default=2, help="runs of the flow and of each piece")
    parser.add_argument("--authorities", type=int, default=1, help="authorities in the area")
    parser.add_argument("--no-peers", action="store_true", help="skip Splink and pandas")
    parser.add_argument(
        "--no-report", action="store_true", help="stop the analyst at opening the release"
    )
    parser.add_argument("--workdir", type=Path, default=None, help="scratch folder (kept)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder for the JSON")
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-flow-") as tmp:
        workdir = args.workdir or Path(tmp)
        result = bench_flow.run_flow(
            args.size,
            workdir,
            repeat=args.repeat,
            authorities=args.authorities,
            peers=not args.no_peers,
            report=not args.no_report,
        )
    info = flow_report.machine(load)
    record = flow_report.record(result, info)
    stem = f"{datetime.now(UTC):%Y-%m-%d}-{args.size}"
    dest = args.results / f"{stem}.json"
    run = 1
    while dest.exists():  # an earlier run of the day is kept: the README cites it by name
        run += 1
        dest = args.results / f"{stem}-{run}.json"
    flow_report.write_json(record, dest)
    print(flow_report.table(result))
    print(
        f"\nMachine: {info['cores']} cores ({info['cpu']}), {info['memory_gb']} GB, "
        f"{info['system']}, Python {info['python']}; load average {info['load_average_start']} "
        f"at the start, {info['load_average_end']} at the end; commit {info['commit']}.\n"
        + ", ".join(f"{name} {version}" for name, version in info["versions"].items())
        + f"\n\nResults written to {dest}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
