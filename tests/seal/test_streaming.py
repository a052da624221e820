"""Memory stays flat whatever the payload's size: sealing and opening stream through the cipher.

Each measurement seals and opens a payload in a fresh interpreter and reads its peak resident set
size, so the figure is the seal code's own and not the test runner's. The peak is the kernel's
``VmHWM`` of the child's own address space: ``ru_maxrss`` would also count the memory of the
process that forked it, as Linux carries it across ``exec``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from linkwell.config import ProjectConfig
from tests.seal.conftest import World

ROOT = Path(__file__).resolve().parents[2]
MB = 1024 * 1024

CHILD = textwrap.dedent(
    """
    import json, sys
    from datetime import timedelta
    from pathlib import Path
    from linkwell.config import ProjectConfig
    from linkwell.seal import (
        DatasetRef, PackageKind, ReceiptLedger, SecretIdentity, open_package, seal_package,
    )
    work = Path(sys.argv[1])
    project = ProjectConfig.model_validate_json((work / "project.json").read_text())
    sender = SecretIdentity.from_secret_text((work / "ipsos.txt").read_text())
    recipient = SecretIdentity.from_secret_text((work / "edris.txt").read_text())
    manifest = seal_package(
        work / "payload.parquet", project=project, sender=sender, recipient="edris",
        kind=PackageKind.CONTENT, source="secondary",
        dataset=DatasetRef(id="survey-secondary", version=1), parents=(), log_head=None,
        dest=work / "package.lwpkg",
    )
    with ReceiptLedger(work / "receipts.sqlite") as ledger:
        open_package(
            work / "package.lwpkg", project=project, identities=[recipient], ledger=ledger,
            dest=work / "opened.parquet",
        )
    status = Path("/proc/self/status").read_text().splitlines()
    peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    peak_mb = peak_kb / 1024
    print(json.dumps({"peak_mb": peak_mb, "bytes": manifest.plaintext_size}))
    """
)


def write_big_payload(path: Path, size: int) -> None:
    """An incompressible Parquet file of about ``size`` bytes, written one row group at a time
    (the bytes as the school column: a content package's columns are its dataset's)."""
    rng = np.random.default_rng(3)
    row_bytes, rows_per_group = 4096, 4096  # 16 MiB per row group
    schema = pa.schema([("row_ref", pa.int64()), ("school", pa.binary())])
    written = 0
    with pq.ParquetWriter(path, schema, compression="none") as writer:
        while written < size:
            rows = min(rows_per_group, max(1, (size - written) // row_bytes))
            raw = rng.integers(0, 256, rows * row_bytes, dtype=np.uint8).tobytes()
            offsets = np.arange(0, rows * row_bytes + 1, row_bytes, dtype=np.int32)
            blob = pa.BinaryArray.from_buffers(
                pa.binary(), rows, [None, pa.py_buffer(offsets.tobytes()), pa.py_buffer(raw)]
            )
            refs = pa.array(np.arange(written // row_bytes, written // row_bytes + rows))
            writer.write_table(pa.table({"row_ref": refs, "school": blob}, schema=schema))
            written += rows * row_bytes


def seal_and_open_in_child(world: World, work: Path, size: int) -> dict[str, float]:
    work.mkdir()
    project: ProjectConfig = world.project
    (work / "project.json").write_text(project.model_dump_json())
    (work / "ipsos.txt").write_text(world.me("ipsos").secret_text())
    (work / "edris.txt").write_text(world.me("edris").secret_text())
    write_big_payload(work / "payload.parquet", size)
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(work)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=1800,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (work / "opened.parquet").stat().st_size == (work / "payload.parquet").stat().st_size
    return json.loads(result.stdout)


def test_memory_does_not_grow_with_the_payload(world: World, tmp_path: Path) -> None:
    # 16 MiB already fills every buffer in flight (a few 1 MiB blocks per thread, about 12 MiB
    # at most); 96 MiB more payload may then cost no more than a quarter of it in memory.
    small = seal_and_open_in_child(world, tmp_path / "small", 16 * MB)
    large = seal_and_open_in_child(world, tmp_path / "large", 112 * MB)
    assert large["bytes"] > 6.9 * small["bytes"]
    assert large["peak_mb"] - small["peak_mb"] < 24, (small, large)
    assert large["peak_mb"] < 200, (small, large)


@pytest.mark.slow
def test_two_gigabytes_seal_and_open_under_200_mb(world: World, tmp_path: Path) -> None:
    result = seal_and_open_in_child(world, tmp_path / "huge", 2048 * MB)
    assert result["bytes"] >= 2048 * MB
    assert result["peak_mb"] < 200, result
