"""The five-party flow end to end, on a synthetic partnership area: what ``make demo`` runs.

Each party gets its own identity and workspace, exactly as real organisations would; the demo
only plays every part in turn and moves packages through the shared-folder transport. ScotCen
appears twice — as the primary survey's contractor and as the analyst — with two identities
and two workspaces, as the leaflet's arrangement requires. Passphrases are random and kept in
a folder beside the workspaces (a real party keeps its passphrase to itself).
"""

from __future__ import annotations

import secrets
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import tomli_w

from linkwell.config import Role, SourceKind
from linkwell.errors import ConfigError
from linkwell.fileio import write_text_atomic
from linkwell.progress import SILENT, Progress
from linkwell.roles import analyst, indexer, linker, provider
from linkwell.seal import create_identity
from linkwell.separation import SeparationReport, verify_separation
from linkwell.synth import MessRates, SynthResult, synthesise
from linkwell.workspace import Workspace

__all__ = ["DemoParty", "DemoResult", "demo_parties", "run_demo", "write_project_file"]

PROJECT_ID: Final = "rcs-demo"
DEMO_MESS: Final = MessRates(missing_value=0.002)
"""The demo's planted problems: the generator's defaults, but fewer blank cells, because with
about thirty required flags per authority row a 1% blank rate would reject a quarter of a
council's extract — far more than a real management-information extract loses."""
_SURVEY_CONTRACTORS: Final = {
    "secondary": ("ipsos-mori", "Ipsos MORI"),
    "primary": ("scotcen-survey", "ScotCen Social Research"),
}


@dataclass(frozen=True)
class DemoParty:
    """One party of the demo: its name, role and organisation, and the sources it provides."""

    name: str
    role: Role
    organisation: str
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class DemoResult:
    """Where the demo put everything."""

    out: Path
    project_file: Path
    synthetic: SynthResult
    workspaces: dict[str, Path]
    release: Path
    steps: dict[str, object]
    separation: SeparationReport
    separation_table: Path


def demo_parties(synthetic: SynthResult) -> tuple[DemoParty, ...]:
    """The parties for a synthetic area: a contractor per survey, a council per authority."""
    parties: list[DemoParty] = []
    for source in synthetic.sources:
        if source.kind is SourceKind.SURVEY:
            name, organisation = _SURVEY_CONTRACTORS[source.source]
            parties.append(DemoParty(name, Role.SURVEY_PROVIDER, organisation, (source.source,)))
        else:
            code = str(source.authority_code)
            parties.append(
                DemoParty(
                    f"council-{code.lower()}",
                    Role.AUTHORITY_PROVIDER,
                    f"Council {code}",
                    (source.source,),
                )
            )
    parties += [
        DemoParty("nrs", Role.INDEXER, "National Records of Scotland"),
        DemoParty("edris", Role.LINKER, "eDRIS, Public Health Scotland"),
        DemoParty("scotcen-analysis", Role.ANALYST, "ScotCen Social Research"),
    ]
    return tuple(parties)


def write_project_file(
    path: Path,
    *,
    synthetic: SynthResult,
    parties: tuple[DemoParty, ...],
    cards: dict[str, Path],
    exchange: Path,
) -> None:
    """Write the project file from the parties' identity cards and the synthetic mappings."""
    mappings = tomllib.loads(synthetic.mapping.read_text(encoding="utf-8"))
    by_source = {s.source: s for s in synthetic.sources}
    entries = []
    for party in parties:
        card = tomllib.loads(cards[party.name].read_text(encoding="utf-8"))
        entries.append(
            {
                "name": party.name,
                "role": party.role.value,
                "organisation": party.organisation,
                "identities": card["parties"]["identities"],
            }
        )
    sources = []
    for party in parties:
        for name in party.sources:
            made = by_source[name]
            entry: dict[str, object] = {
                "name": name,
                "kind": made.kind.value,
                "dataset": made.dataset,
                "dataset_version": made.dataset_version,
                "provider": party.name,
                "mapping": mappings[name],
            }
            if made.authority_code is not None:
                entry["authority_code"] = made.authority_code
            sources.append(entry)
    project = {
        "format": 1,
        "project": {"id": PROJECT_ID, "wave": 1, "title": "Realigning Children's Services demo"},
        "transport": {"kind": "folder", "root": str(exchange)},
        "parties": entries,
        "sources": sources,
    }
    write_text_atomic(path, tomli_w.dumps(project), mode=0o644)


def run_demo(
    out: Path,
    *,
    children: int = 20_000,
    seed: int = 2026,
    mess: MessRates | None = None,
    progress: Progress = SILENT,
    on_step: Callable[[str], None] | None = None,
) -> DemoResult:
    """Run every step of every party on a synthetic area of ``children`` pupils under ``out``."""
    if out.exists() and any(out.iterdir()):
        raise ConfigError("the demo folder is not empty", file=out, hint="choose a new folder")
    say = on_step or (lambda _message: None)
    say(f"synthesising a partnership area of {children:,} pupils")
    synthetic = synthesise(
        out / "synthetic", children=children, seed=seed, mess=mess, progress=progress
    )
    parties = demo_parties(synthetic)
    workspaces_dir, passphrases = out / "workspaces", out / "passphrases"
    cards: dict[str, Path] = {}
    for party in parties:
        passphrase = secrets.token_urlsafe(24)
        write_text_atomic(passphrases / party.name, passphrase + "\n")
        made = create_identity(
            party.name, party.role, workspaces_dir / party.name / "keys", passphrase
        )
        cards[party.name] = made.card_file
    project_file = out / "project.toml"
    write_project_file(
        project_file, synthetic=synthetic, parties=parties, cards=cards, exchange=out / "exchange"
    )
    ws = {
        p.name: Workspace.create(
            workspaces_dir / p.name,
            project_file=project_file,
            party=p.name,
            keyring=workspaces_dir / p.name / "keys",
            passphrase_file=passphrases / p.name,
        )
        for p in parties
    }
    files = {s.source: s.path for s in synthetic.sources}
    by_role = {role: [p.name for p in parties if p.role is role] for role in Role}
    steps: dict[str, object] = {}

    for name in by_role[Role.SURVEY_PROVIDER]:
        for source in next(p for p in parties if p.name == name).sources:
            say(f"{name}: validating {source} and sending participants lists")
            steps[f"{name}: participants"] = provider.share_participants(
                ws[name], source=source, input_file=files[source], progress=progress
            )
        ws[name].send(progress)
    for name in by_role[Role.AUTHORITY_PROVIDER] + by_role[Role.SURVEY_PROVIDER]:
        ws[name].receive(progress)
        for source in next(p for p in parties if p.name == name).sources:
            say(f"{name}: validating and splitting {source}")
            steps[f"{name}: split"] = provider.split(
                ws[name], source=source, input_file=files[source], progress=progress
            )
        ws[name].send(progress)
    (indexer_name,) = by_role[Role.INDEXER]
    say(f"{indexer_name}: issuing the linkage key")
    ws[indexer_name].receive(progress)
    steps[f"{indexer_name}: link"] = indexer.link(ws[indexer_name], progress=progress)
    ws[indexer_name].send(progress)
    (linker_name,) = by_role[Role.LINKER]
    say(f"{linker_name}: joining content into the release")
    ws[linker_name].receive(progress)
    steps[f"{linker_name}: release"] = linker.release(ws[linker_name], progress=progress)
    ws[linker_name].send(progress)
    (analyst_name,) = by_role[Role.ANALYST]
    say(f"{analyst_name}: opening the release")
    ws[analyst_name].receive(progress)
    intake = analyst.open_release(ws[analyst_name], progress=progress)
    steps[f"{analyst_name}: open"] = intake
    say("verifying separation: every workspace searched for what its role must never hold")
    separation = verify_separation(
        {name: w.root for name, w in ws.items()},
        truth_pupils=synthetic.truth.pupils,
        progress=progress,
    )
    write_text_atomic(out / "separation.md", separation.markdown(), mode=0o644)
    return DemoResult(
        out=out,
        project_file=project_file,
        synthetic=synthetic,
        workspaces={name: w.root for name, w in ws.items()},
        release=intake.release,
        steps=steps,
        separation=separation,
        separation_table=out / "separation.md",
    )
