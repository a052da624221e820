"""The same release gives the same tables and models in every run, whatever Python's hash seed.

Two suppression patterns of one release, published side by side, could reveal what each one
withholds; and a statistics office re-running a report must get the report it published.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .conftest import make_reduced_release

_DIGEST = """
import hashlib, sys
from pathlib import Path
from linkwell.analysis import analyse
from linkwell.config import DisclosurePolicy
analysis = analyse(Path(sys.argv[1]), DisclosurePolicy())
system = analysis.publication.system
digest = hashlib.sha256(analysis.protection.codes.tobytes())
for matrix in (system.eq, system.le):
    for part in (matrix.indptr, matrix.indices, matrix.data):
        digest.update(part.tobytes())
digest.update(repr([t.rows for t in analysis.tables]).encode())
digest.update(repr(analysis.models).encode())
print(digest.hexdigest())
"""


def _digest(release: Path, seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    done = subprocess.run(
        [sys.executable, "-c", _DIGEST, str(release)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_suppression_and_tables_do_not_depend_on_the_hash_seed(tmp_path: Path) -> None:
    release = make_reduced_release(tmp_path / "release.parquet", 600, seed=21, schools=6)
    digests = {_digest(release, seed) for seed in ("1", "2")}
    assert len(digests) == 1
