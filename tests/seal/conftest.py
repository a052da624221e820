"""Fixtures for the seal tests: five parties with fresh in-memory identities and small payloads.

Identities are made in memory (no passphrase, no scrypt), so most tests cost milliseconds; only
the key-file tests pay for age's scrypt work factor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from linkwell.config import ProjectConfig, Role
from linkwell.seal import (
    DatasetRef,
    Manifest,
    PackageKind,
    ReceiptLedger,
    SecretIdentity,
    new_identity,
    payloads,
    seal_package,
)

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
ROLES: Mapping[str, Role] = {
    "ipsos": Role.SURVEY_PROVIDER,
    "fife": Role.AUTHORITY_PROVIDER,
    "nrs": Role.INDEXER,
    "edris": Role.LINKER,
    "scotcen": Role.ANALYST,
}
SOURCES: Mapping[str, str] = {"ipsos": "secondary", "fife": "fife"}
DATASET = DatasetRef(id="survey-secondary", version=1)


def project_dict(
    cards: Mapping[str, Sequence[dict[str, Any]]],
    *,
    project_id: str = "rcs-test",
    wave: int = 1,
    ttl_days: int = 30,
) -> dict[str, Any]:
    """A project file as a dict, with each party's cards as given."""
    return {
        "project": {"id": project_id, "wave": wave, "package_ttl_days": ttl_days},
        "parties": [
            {
                "name": name,
                "role": role.value,
                "organisation": name,
                "identities": list(cards[name]),
            }
            for name, role in ROLES.items()
            if name in cards
        ],
        "sources": [
            {
                "name": "secondary",
                "kind": "survey",
                "dataset": "survey-secondary",
                "dataset_version": 1,
                "provider": "ipsos",
            },
            {
                "name": "fife",
                "kind": "authority",
                "dataset": "authority",
                "dataset_version": 1,
                "provider": "fife",
                "authority_code": "S12000047",
            },
        ],
        "transport": {"kind": "folder", "root": "exchange"},
    }


def card_dict(identity: SecretIdentity, *, retired: bool | datetime = False) -> dict[str, Any]:
    return {**identity.card().model_dump(), "retired": retired}


@dataclass
class World:
    """Five parties, their identities (newest last) and the project file that lists them."""

    identities: dict[str, list[SecretIdentity]]
    retired: set[str] = field(default_factory=set)  # fingerprints retired in the project file
    retired_at: dict[str, datetime] = field(default_factory=dict)  # ... with the time written
    removed: set[str] = field(default_factory=set)  # fingerprints left out of the project file
    project_id: str = "rcs-test"
    wave: int = 1
    ttl_days: int = 30

    def me(self, party: str) -> SecretIdentity:
        return self.identities[party][-1]

    @property
    def project(self) -> ProjectConfig:
        cards = {
            name: [
                card_dict(
                    i, retired=self.retired_at.get(i.fingerprint, i.fingerprint in self.retired)
                )
                for i in ids
                if i.fingerprint not in self.removed
            ]
            for name, ids in self.identities.items()
        }
        return ProjectConfig.model_validate(
            project_dict(cards, project_id=self.project_id, wave=self.wave, ttl_days=self.ttl_days)
        )

    def rotate(self, party: str, *, when: datetime) -> SecretIdentity:
        """Give ``party`` a new identity; its previous one is retired but stays registered."""
        self.retired.add(self.me(party).fingerprint)
        fresh = new_identity(party, ROLES[party], now=when)
        self.identities[party].append(fresh)
        return fresh


@pytest.fixture
def world() -> World:
    return World(
        {
            name: [new_identity(name, role, now=NOW - timedelta(days=60))]
            for name, role in ROLES.items()
        }
    )


def write_payload(path: Path, rows: int = 200, *, seed: int = 7, blob_bytes: int = 0) -> Path:
    """A synthetic content Parquet file of the secondary survey (its columns are content fields of
    ``survey-secondary@1``, as a content package must carry); ``blob_bytes`` adds incompressible
    bytes per row (as the school column: a package's shape is judged by its column names)."""
    rng = np.random.default_rng(seed)
    columns: dict[str, pa.Array] = {
        "row_ref": pa.array([f"r{n:08x}" for n in rng.permutation(rows)]),
        "young_carer": pa.array(rng.random(rows) < 0.02),
        "sdq_01": pa.array(rng.integers(1, 11, rows), type=pa.int8()),
    }
    if blob_bytes:
        raw = rng.integers(0, 256, rows * blob_bytes, dtype=np.uint8).tobytes()
        offsets = pa.array(np.arange(0, rows * blob_bytes + 1, blob_bytes, dtype=np.int32))
        columns["school"] = pa.BinaryArray.from_buffers(
            pa.binary(), rows, [None, offsets.buffers()[1], pa.py_buffer(raw)]
        )
    pq.write_table(pa.table(columns), path, compression="none")
    return path


_SHAPES: Mapping[PackageKind, tuple[DatasetRef, Mapping[str, list[Any]]]] = {
    PackageKind.PARTICIPANTS: (payloads.PARTICIPANTS, {"unique_id": ["4839201175"]}),
    PackageKind.IDENTIFIERS: (
        DATASET,
        {"row_ref": ["r1", "r2"], "unique_id": ["4839201175", None]},
    ),
    PackageKind.LINKAGE_KEY: (
        payloads.LINKAGE_KEY,
        {"source": ["secondary"], "row_ref": ["r1"], "link_id": ["l1"]},
    ),
    PackageKind.REPORT: (
        payloads.MATCH_REPORT,
        {"source": ["secondary"], "kind": ["survey"], "measure": ["rows"], "count": [2]},
    ),
    PackageKind.RELEASE: (payloads.RELEASE, {"release_id": ["x1"], "survey": ["secondary"]}),
}


def write_shaped(path: Path, kind: PackageKind) -> tuple[Path, DatasetRef]:
    """A small payload of the columns a ``kind`` package carries, and the dataset it is of."""
    if kind is PackageKind.CONTENT:
        return write_payload(path, rows=20), DATASET
    dataset, columns = _SHAPES[kind]
    pq.write_table(pa.table(dict(columns)), path)
    return path, dataset


Sealer = Callable[..., tuple[Path, Manifest]]


@pytest.fixture
def payload(tmp_path: Path) -> Path:
    return write_payload(tmp_path / "content.parquet")


@pytest.fixture
def seal(world: World, payload: Path, tmp_path: Path) -> Sealer:
    """Seal ``payload`` from ``sender`` to ``recipient`` with sensible defaults."""
    counter = iter(range(10_000))

    def _seal(
        sender: str = "ipsos",
        recipient: str = "edris",
        kind: PackageKind = PackageKind.CONTENT,
        *,
        source: str | None = "secondary",
        project: ProjectConfig | None = None,
        identity: SecretIdentity | None = None,
        now: datetime = NOW,
        parents: Iterable[str] = (),
        source_file: Path | None = None,
        dest: Path | None = None,
    ) -> tuple[Path, Manifest]:
        number = next(counter)
        out = dest or tmp_path / "outbox" / f"package-{number}.lwpkg"
        dataset = _SHAPES[kind][0] if kind in _SHAPES else DATASET
        if source_file is None and kind is not PackageKind.CONTENT:
            source_file, dataset = write_shaped(tmp_path / f"{kind.value}-{number}.parquet", kind)
        manifest = seal_package(
            source_file or payload,
            project=project or world.project,
            sender=identity or world.me(sender),
            recipient=recipient,
            kind=kind,
            source=source,
            dataset=dataset,
            parents=tuple(parents),
            log_head=None,
            dest=out,
            now=now,
        )
        return out, manifest

    return _seal


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    path = tmp_path / "inbox"
    path.mkdir()
    return path


@pytest.fixture
def ledger(tmp_path: Path) -> Iterable[ReceiptLedger]:
    with ReceiptLedger(tmp_path / "workspace" / "receipts.sqlite") as opened:
        yield opened


def listing(directory: Path) -> list[tuple[str, int]]:
    """Every file under ``directory`` with its size: compared before and after a refusal."""
    return sorted(
        (str(p.relative_to(directory)), p.stat().st_size)
        for p in directory.rglob("*")
        if p.is_file()
    )
