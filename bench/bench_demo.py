"""Benchmark: the five-party demo over a real local SFTP server against the shared-folder demo.

Both runs play the same parties on the same synthetic area (``--size`` pupils, clean data): the
folder demo is the baseline that bounds the SFTP one, whose extra cost is the server's set-up
(accounts, host key, sshd), an SSH login per transfer, the encrypted copies through sshd and the
sweeps. Figures are linkwell's own process: sshd's sessions are not its children and their CPU
is not counted. The SFTP run needs root and OpenSSH; without them only the baseline is measured.

    python bench/bench_demo.py --size 20000
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
from pathlib import Path

from harness import Measurement, cores, measure, table


def _demo(transport: str, size: int, out: str) -> int:
    from linkwell.demo import run_demo
    from linkwell.synth import MessRates

    server_dir = Path("/srv") / f"lwb{secrets.token_hex(3)}-bench"
    run_demo(
        Path(out),
        children=size,
        seed=1,
        mess=MessRates.clean(),
        transport=transport,  # type: ignore[arg-type]
        server_dir=server_dir if transport == "sftp" else None,
    )
    return size


def _sftp_possible() -> str | None:
    from linkwell.errors import ConfigError
    from linkwell.transport import check_server_prerequisites

    try:
        check_server_prerequisites("the SFTP benchmark")
    except ConfigError as exc:
        return str(exc)
    return None


def run(size: int, workdir: Path) -> list[Measurement]:
    """The folder demo (baseline), then the SFTP demo if this machine can run it."""
    baseline = measure(
        "demo", "folder demo", _demo, "folder", size, str(workdir / "folder"), note="baseline"
    )
    why_not = _sftp_possible()
    if why_not is not None:
        print(f"SFTP demo not measured: {why_not}", file=sys.stderr)
        return [baseline]
    stage = measure(
        "demo",
        "SFTP demo",
        _demo,
        "sftp",
        size,
        str(workdir / "sftp"),
        baseline="folder demo",
        note="local sshd, one chrooted login per party, a sweep per delivery round",
    )
    return [baseline, stage]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=20_000, help="pupils in the area")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as tmp:
        results = run(args.size, Path(tmp))
    print(f"bench_demo: {args.size:,} pupils on {cores()} cores\n")
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
