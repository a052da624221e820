"""Sealing and opening throughput against the raw age cipher on the same bytes, in one run.

Baselines: pyrage encrypting and decrypting the payload in memory (the cipher with nothing
around it; reading the file into memory is measured separately so the cipher-only rate can be
derived), and the ``age`` / ``rage`` command-line tools where installed. Seal and open include
everything linkwell does: hashing plaintext and ciphertext, signing, every opening check, the
ledger, writing atomically. Target: at least 60% of the raw cipher's throughput.

    python bench/bench_seal.py --size 100000     # payload of about 100 MB (1 KiB per row)
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

# linkwell is imported here, not inside the steps, so that each measured step's fresh process has
# loaded it before the clock starts: the figures are the steps', not Python's import time.
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pyrage

from linkwell.config import ProjectConfig, Role
from linkwell.seal import (
    DatasetRef,
    PackageKind,
    ReceiptLedger,
    SecretIdentity,
    new_identity,
    open_package,
    seal_package,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Measurement, measure

ROW_BYTES = 1024
NOW = datetime.now(UTC).replace(microsecond=0)
ROLES = {
    "ipsos": "survey-provider",
    "fife": "authority-provider",
    "nrs": "indexer",
    "edris": "linker",
    "scotcen": "analyst",
}


def make_payload(path: Path, rows: int) -> int:
    """Incompressible rows (a reference and 1 KiB of random bytes, as the school column: a
    content package carries its dataset's columns), written group by group."""
    rng = np.random.default_rng(11)
    schema = pa.schema([("row_ref", pa.int64()), ("school", pa.binary())])
    with pq.ParquetWriter(path, schema, compression="none") as writer:
        for start in range(0, rows, 16_384):
            n = min(16_384, rows - start)
            raw = rng.integers(0, 256, n * ROW_BYTES, dtype=np.uint8).tobytes()
            offsets = np.arange(0, n * ROW_BYTES + 1, ROW_BYTES, dtype=np.int32)
            blob = pa.BinaryArray.from_buffers(
                pa.binary(), n, [None, pa.py_buffer(offsets.tobytes()), pa.py_buffer(raw)]
            )
            refs = pa.array(np.arange(start, start + n))
            writer.write_table(pa.table({"row_ref": refs, "school": blob}, schema=schema))
    return path.stat().st_size


def prepare(workdir: Path, rows: int) -> int:
    """Payload, identities, project file and a raw age file: made in a child process, so the
    harness's own process stays small (Linux carries a parent's peak memory into its children).
    """
    size = make_payload(workdir / "payload.parquet", rows)
    make_world(workdir)
    recipient = pyrage.x25519.Recipient.from_str((workdir / "edris.recipient").read_text())
    (workdir / "raw.age").write_bytes(
        pyrage.encrypt((workdir / "payload.parquet").read_bytes(), [recipient])
    )
    return size


def make_world(workdir: Path) -> None:
    """Five parties' identities (secret texts) and the project file, as JSON, in ``workdir``."""
    identities = {
        n: new_identity(n, Role(r), now=NOW - timedelta(days=1)) for n, r in ROLES.items()
    }
    project = ProjectConfig.model_validate(
        {
            "project": {"id": "bench", "wave": 1},
            "transport": {"kind": "folder", "root": str(workdir)},
            "parties": [
                {"name": n, "role": r, "organisation": n,
                 "identities": [identities[n].card().model_dump(mode="json")]}
                for n, r in ROLES.items()
            ],
            "sources": [
                {"name": "secondary", "kind": "survey", "dataset": "survey-secondary",
                 "dataset_version": 1, "provider": "ipsos"},
            ],
        }
    )  # fmt: skip
    (workdir / "project.json").write_text(project.model_dump_json())
    for name in ("ipsos", "edris"):
        (workdir / f"{name}.txt").write_text(identities[name].secret_text())
        age_key = identities[name].secret_text().strip().splitlines()[-1]
        (workdir / f"{name}.agekey").write_text(age_key + "\n")
        (workdir / f"{name}.recipient").write_text(identities[name].card().encryption_key)


def _load(workdir: Path, name: str) -> tuple[ProjectConfig, SecretIdentity]:
    project = ProjectConfig.model_validate_json((workdir / "project.json").read_text())
    return project, SecretIdentity.from_secret_text((workdir / f"{name}.txt").read_text())


def step_read(workdir: Path) -> int:
    return len((workdir / "payload.parquet").read_bytes())


def step_raw_encrypt(workdir: Path) -> int:
    data = (workdir / "payload.parquet").read_bytes()
    recipient = pyrage.x25519.Recipient.from_str((workdir / "edris.recipient").read_text())
    pyrage.encrypt(data, [recipient])
    return len(data)


def step_raw_decrypt(workdir: Path) -> int:
    data = (workdir / "raw.age").read_bytes()
    identity = pyrage.x25519.Identity.from_str((workdir / "edris.agekey").read_text().strip())
    return len(pyrage.decrypt(data, [identity]))


def step_seal(workdir: Path) -> int:
    project, sender = _load(workdir, "ipsos")
    (workdir / "package.lwpkg").unlink(missing_ok=True)
    manifest = seal_package(
        workdir / "payload.parquet", project=project, sender=sender, recipient="edris",
        kind=PackageKind.CONTENT, source="secondary",
        dataset=DatasetRef(id="survey-secondary", version=1), parents=(), log_head=None,
        dest=workdir / "package.lwpkg", now=NOW,
    )  # fmt: skip
    return manifest.plaintext_size


def step_open(workdir: Path) -> int:
    project, recipient = _load(workdir, "edris")
    for stale in workdir.glob("receipts.sqlite*"):
        stale.unlink()
    (workdir / "opened.parquet").unlink(missing_ok=True)
    with ReceiptLedger(workdir / "receipts.sqlite") as ledger:
        opened = open_package(
            workdir / "package.lwpkg", project=project, identities=[recipient], ledger=ledger,
            dest=workdir / "opened.parquet", now=NOW,
        )  # fmt: skip
    return opened.manifest.plaintext_size


def step_cli(tool: str, mode: str, workdir: Path) -> int:
    size = (workdir / "payload.parquet").stat().st_size
    if mode == "encrypt":
        recipient = (workdir / "edris.recipient").read_text()
        args = [tool, "--encrypt", "--recipient", recipient, "--output", str(workdir / "cli.age")]
        args.append(str(workdir / "payload.parquet"))
    else:
        args = [tool, "--decrypt", "--identity", str(workdir / "edris.agekey"),
                "--output", str(workdir / "cli.out"), str(workdir / "cli.age")]  # fmt: skip
    subprocess.run(args, check=True)
    return size


def _best(repeat: int, *args: object, **kwargs: object) -> Measurement:
    """The fastest of ``repeat`` runs of one step: the least disturbed by other load."""
    runs = [measure(*args, **kwargs) for _ in range(repeat)]  # type: ignore[arg-type]
    return min(runs, key=lambda m: m.wall_s)


def run(size: int, workdir: Path, *, repeat: int = 3) -> list[Measurement]:
    """Seal and open a payload of ``size`` rows (1 KiB each), with every baseline, in one run."""
    workdir.mkdir(parents=True, exist_ok=True)
    measure("prepare", "make payload and keys", prepare, workdir, size)
    enc, dec = "raw encrypt (pyrage, in memory)", "raw decrypt (pyrage, in memory)"
    results = [
        _best(repeat, "seal", "read payload into memory", step_read, workdir),
        _best(repeat, "seal", enc, step_raw_encrypt, workdir),
        _best(repeat, "seal", dec, step_raw_decrypt, workdir),
        _best(repeat, "seal", "seal_package", step_seal, workdir, baseline=enc),
        _best(repeat, "seal", "open_package", step_open, workdir, baseline=dec),
    ]
    for tool in ("age", "rage"):
        if shutil.which(tool):
            results += [
                _best(repeat, "seal", f"{tool} --encrypt (CLI)", step_cli, tool, "encrypt",
                      workdir, baseline=enc),
                _best(repeat, "seal", f"{tool} --decrypt (CLI)", step_cli, tool, "decrypt",
                      workdir, baseline=dec),
            ]  # fmt: skip
    return results


def table(results: list[Measurement]) -> str:
    """Markdown: each step's rate, peak memory and ratio to its baseline (raw and cipher-only)."""
    by_name = {m.name: m for m in results}
    read = by_name["read payload into memory"].wall_s
    lines = [
        "| step | MB | wall s | MB/s | peak RSS MB | vs baseline | vs cipher only |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in results:
        mb = m.rows / 1e6
        ratio = cipher = ""
        if m.baseline:
            base = by_name[m.baseline].wall_s
            ratio = f"{base / m.wall_s:.0%}"
            cipher = f"{max(base - read, 1e-9) / m.wall_s:.0%}"
        lines.append(
            f"| {m.name} | {mb:.0f} | {m.wall_s:.2f} | {mb / m.wall_s:.0f} | "
            f"{m.peak_rss_mb:.0f} | {ratio} | {cipher} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000, help="payload rows (1 KiB each)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per step; the best counts")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-seal-") as tmp:
        workdir = args.workdir or Path(tmp)
        results = run(args.size, workdir, repeat=args.repeat)
    load = os.getloadavg()[0]
    print(f"linkwell seal benchmark: {args.size} rows, {os.cpu_count()} CPUs, load {load:.1f}\n")
    print(table(results))


if __name__ == "__main__":
    main()
