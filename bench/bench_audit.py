"""Audit log: the cost of appending and of verifying, against what the disk and SHA-256 allow.

Appending is bounded by writing one line and fsync-ing it (the baseline does exactly that, no
lock, no model, no checks); verifying is bounded by reading the file and hashing every line once.
Audit entries are per step, not per data row, so ``size`` is capped: a party writes tens to
thousands of entries per project, never millions.

    python bench/bench_audit.py --size 5000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harness import Measurement, measure

# Imported here, not inside the steps, so that a spawned step's import time is not measured.
from linkwell.audit import (
    AuditAction,
    AuditLog,
    CountName,
    PackageRef,
    public_key_text,
    verify_log,
)
from linkwell.config import Role

MAX_ENTRIES = 20_000
SEED = bytes(range(32))


def _entries(size: int) -> int:
    return max(100, min(size, MAX_ENTRIES))


def raw_append(path: Path, count: int, line_bytes: int) -> int:
    """Baseline: append ``count`` lines of the same length, fsync after each."""
    line = b"x" * (line_bytes - 1) + b"\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for _ in range(count):
            os.write(fd, line)
            os.fsync(fd)
    finally:
        os.close(fd)
    return count


def audit_append(path: Path, count: int) -> int:
    """Stage: ``count`` entries through :class:`AuditLog` (lock, tail check, checkpoints, fsync)."""
    log = AuditLog(path, party="nrs", signing_key=Ed25519PrivateKey.from_private_bytes(SEED))
    package = PackageRef(id="ab" * 16, sha256="cd" * 32)
    for number in range(count):
        log.append(
            AuditAction.SEALED,
            peer_role=Role.LINKER,
            packages=[package],
            counts={CountName.ROWS: number, CountName.COLUMNS: 12},
            config_digest="ef" * 32,
        )
    return count


def raw_hash_lines(path: Path) -> int:
    """Baseline: read the file and SHA-256 every line once."""
    lines = 0
    with path.open("rb") as handle:
        for line in handle:
            hashlib.sha256(line).digest()
            lines += 1
    return lines


def raw_parse_and_hash(path: Path) -> int:
    """Baseline: read the file, parse every line as JSON and SHA-256 it once."""
    lines = 0
    with path.open("rb") as handle:
        for line in handle:
            json.loads(line)
            hashlib.sha256(line).digest()
            lines += 1
    return lines


def audit_verify(path: Path) -> int:
    """Stage: :func:`verify_log` over the whole log (parse, hash, chain, signatures)."""
    signer = public_key_text(Ed25519PrivateKey.from_private_bytes(SEED).public_key())
    report = verify_log(path, signer=signer)
    if not report.ok:
        raise RuntimeError("the benchmark log does not verify")
    return report.lines


def run(size: int, workdir: Path) -> list[Measurement]:
    """Append and verify ``size`` entries (capped), each beside its baseline."""
    count = _entries(size)
    log = workdir / "audit.log"
    raw = workdir / "raw.log"
    log.unlink(missing_ok=True)
    raw.unlink(missing_ok=True)
    append = measure("audit", "append", audit_append, log, count, baseline="raw-append")
    line_bytes = log.stat().st_size // append_lines(log)
    return [
        measure(
            "audit",
            "raw-append",
            raw_append,
            raw,
            count,
            line_bytes,
            note="write+fsync per line",
        ),
        append,
        measure("audit", "raw-hash", raw_hash_lines, log, note="read + sha256 per line"),
        measure("audit", "raw-parse", raw_parse_and_hash, log, note="+ json.loads per line"),
        measure("audit", "verify", audit_verify, log, baseline="raw-parse"),
    ]


def append_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


def table(results: list[Measurement]) -> str:
    by_name = {m.name: m for m in results}
    rows = [
        "| step | entries | wall s | cpu s | peak MB | entries/s | x baseline wall |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for m in results:
        ratio = m.wall_s / by_name[m.baseline].wall_s if m.baseline in by_name else 1.0
        name = m.name if m.baseline is None else f"{m.name} (vs {m.baseline})"
        rows.append(
            f"| {name} | {m.rows} | {m.wall_s:.3f} | {m.cpu_s:.3f} | {m.peak_rss_mb:.0f} "
            f"| {m.rows_per_s:,.0f} | {ratio:.2f} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=5000, help="entries (capped at 20000)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(table(run(args.size, Path(tmp))))


if __name__ == "__main__":
    main()
