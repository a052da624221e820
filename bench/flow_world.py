"""The benchmark's world: a synthetic area, the parties' identities and their workspaces.

The area is synthesised once per run (clean, every provider file as Parquet) and each party's
identity is made once; every repetition of the flow then gets fresh workspaces, a fresh project
file and a fresh exchange folder, so no repetition can reuse another's vault, ledger or outputs.
Everything a measured step needs is passed to it as plain paths: it runs in its own process.
"""

from __future__ import annotations

import json
import secrets
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from harness import Stopwatch, Timed
from linkwell.config import FolderTransport, Role, SourceKind
from linkwell.demo import demo_parties, write_project_file
from linkwell.fileio import write_text_atomic
from linkwell.seal import create_identity
from linkwell.synth import FileFormat, MessRates, SynthFormats, SynthResult, synthesise
from linkwell.workspace import Workspace

SEED = 2026
_CHUNK = 131_072
AREA = "area"
KEYS = "keys"
PASSPHRASES = "passphrases"
SYNTH_RECORD = "synth.json"
WORLD_RECORD = "world.json"


def synthesise_area(size: int, workdir: str, authorities: int) -> int:
    """Stage ``synthesise``: a clean area of ``size`` pupils, every provider file as Parquet."""
    out = Path(workdir) / AREA
    result = synthesise(
        out,
        children=size,
        seed=SEED,
        authorities=authorities,
        mess=MessRates.clean(),
        formats=SynthFormats.every(FileFormat.PARQUET),
    )
    write_text_atomic(Path(workdir) / SYNTH_RECORD, result.model_dump_json(indent=2))
    return size


def uniform_small_cells(size: int, columns: int, dest: str) -> int:
    """Synthesis's bound: as many random cells as the area holds, written as Parquet.

    Drawn as small integers (0-9, one byte), because the area's cells are mostly flags and
    answer codes: random doubles would make a bound ten times the area's size on disk.
    """
    rng = np.random.default_rng(SEED)
    schema = pa.schema([(f"c{i}", pa.int8()) for i in range(columns)])
    with pq.ParquetWriter(dest, schema, compression="zstd") as writer:
        for start in range(0, size, _CHUNK):
            rows = min(_CHUNK, size - start)
            cells = rng.integers(0, 10, (columns, rows), dtype=np.int8)
            writer.write_table(pa.table(list(cells), schema=schema))
    return size


def load_synthetic(workdir: Path) -> SynthResult:
    return SynthResult.model_validate_json((workdir / SYNTH_RECORD).read_text(encoding="utf-8"))


def make_identities(workdir: str) -> int:
    """Setup: one identity per party (scrypt-protected keyring), made once for every repetition."""
    root = Path(workdir)
    parties = demo_parties(load_synthetic(root))
    for party in parties:
        passphrase = secrets.token_urlsafe(24)
        write_text_atomic(root / PASSPHRASES / party.name, passphrase + "\n")
        create_identity(party.name, party.role, root / KEYS / party.name, passphrase)
    return len(parties)


@dataclass(frozen=True)
class PartySteps:
    """One party of the flow: its workspace and the sources (with input files) it provides."""

    name: str
    role: str
    workspace: str
    sources: tuple[tuple[str, str, str], ...]
    """(source, kind, input file) for each source the party provides."""


@dataclass(frozen=True)
class World:
    """One repetition's parties, project file and exchange folder."""

    root: str
    project_file: str
    parties: tuple[PartySteps, ...]

    def of_role(self, role: Role) -> list[PartySteps]:
        return [p for p in self.parties if p.role == role.value]

    def save(self) -> None:
        write_text_atomic(Path(self.root) / WORLD_RECORD, json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, root: Path) -> World:
        data = json.loads((root / WORLD_RECORD).read_text(encoding="utf-8"))
        parties = tuple(
            PartySteps(p["name"], p["role"], p["workspace"], tuple(tuple(s) for s in p["sources"]))
            for p in data["parties"]
        )
        return cls(data["root"], data["project_file"], parties)


def make_world(workdir: str, run_dir: str) -> int:
    """Setup: project file and one workspace per party under ``run_dir``, keys copied in."""
    root, run = Path(workdir), Path(run_dir)
    synthetic = load_synthetic(root)
    parties = demo_parties(synthetic)
    shutil.rmtree(run, ignore_errors=True)
    keyrings = run / "keyrings"
    for party in parties:
        shutil.copytree(root / KEYS / party.name, keyrings / party.name)
    project_file = run / "project.toml"
    cards = {p.name: keyrings / p.name / "card.toml" for p in parties}
    write_project_file(
        project_file,
        synthetic=synthetic,
        parties=parties,
        cards=cards,
        transport=FolderTransport(root=run / "exchange"),
    )
    inputs = {s.source: s for s in synthetic.sources}
    steps = []
    for party in parties:
        workspace = run / "workspaces" / party.name
        Workspace.create(
            workspace,
            project_file=project_file,
            party=party.name,
            keyring=keyrings / party.name,
            passphrase_file=root / PASSPHRASES / party.name,
        )
        sources = tuple(
            (name, inputs[name].kind.value, str(inputs[name].path)) for name in party.sources
        )
        steps.append(PartySteps(party.name, party.role.value, str(workspace), sources))
    World(str(run), str(project_file), tuple(steps)).save()
    return len(parties)


def unlock_keyring(workspace: str) -> Timed:
    """Setup: what every step pays first, unlocking its party's keyring (age scrypt)."""
    ws = Workspace.open(Path(workspace))
    clock = Stopwatch()
    with clock.section():
        ws.identity()
    return clock.result(len(ws.keyring))


def provider_inputs(synthetic: SynthResult) -> list[tuple[str, SourceKind, Path]]:
    """Every provider file of the area: (source, kind, path)."""
    return [(s.source, s.kind, s.path) for s in synthetic.sources]
