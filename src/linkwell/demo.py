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

from linkwell.config import ReleasePolicy, Role, SourceKind
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
    releases: tuple[Path, ...]
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
    wave: int = 1,
    release: ReleasePolicy | None = None,
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
        "project": {"id": PROJECT_ID, "wave": wave, "title": "Realigning Children's Services demo"},
        "release": (release or ReleasePolicy()).model_dump(mode="json"),
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
    waves: int = 1,
    release: ReleasePolicy | None = None,
    progress: Progress = SILENT,
    on_step: Callable[[str], None] | None = None,
) -> DemoResult:
    """Run every step of every party on a synthetic area of ``children`` pupils under ``out``.

    With ``waves`` above one, the project moves on to each next wave (the project file's wave
    number changes, nothing else) and every party runs again: the indexer's vault recognises
    the same children, issues new link IDs, and the linker new release IDs.
    """
    if out.exists() and any(out.iterdir()):
        raise ConfigError("the demo folder is not empty", file=out, hint="choose a new folder")
    say = on_step or (lambda _message: None)
    say(f"synthesising a partnership area of {children:,} pupils")
    synthetic = synthesise(
        out / "synthetic", children=children, seed=seed, mess=mess or DEMO_MESS, progress=progress
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
        project_file,
        synthetic=synthetic,
        parties=parties,
        cards=cards,
        exchange=out / "exchange",
        release=release,
    )
    for party in parties:
        Workspace.create(
            workspaces_dir / party.name,
            project_file=project_file,
            party=party.name,
            keyring=workspaces_dir / party.name / "keys",
            passphrase_file=passphrases / party.name,
        )
    files = {s.source: s.path for s in synthetic.sources}
    roots = {p.name: workspaces_dir / p.name for p in parties}
    steps: dict[str, object] = {}
    releases: list[Path] = []
    for wave in range(1, waves + 1):
        if wave > 1:
            say(f"moving the project on to wave {wave}")
            write_project_file(
                project_file,
                synthetic=synthetic,
                parties=parties,
                cards=cards,
                exchange=out / "exchange",
                wave=wave,
                release=release,
            )
        ws = {name: Workspace.open(root) for name, root in roots.items()}
        wave_steps = _run_wave(ws, parties, files, progress, say)
        steps |= {f"wave {wave}: {k}" if wave > 1 else k: v for k, v in wave_steps.items()}
        intake = wave_steps[f"{_only(parties, Role.ANALYST)}: open"]
        assert isinstance(intake, analyst.IntakeResult)  # noqa: S101 - _run_wave's own record
        releases.append(intake.release)
    say("verifying separation: every workspace searched for what its role must never hold")
    separation = verify_separation(roots, truth_pupils=synthetic.truth.pupils, progress=progress)
    write_text_atomic(out / "separation.md", separation.markdown(), mode=0o644)
    return DemoResult(
        out=out,
        project_file=project_file,
        synthetic=synthetic,
        workspaces=roots,
        release=releases[-1],
        releases=tuple(releases),
        steps=steps,
        separation=separation,
        separation_table=out / "separation.md",
    )


def _only(parties: tuple[DemoParty, ...], role: Role) -> str:
    (name,) = [p.name for p in parties if p.role is role]
    return name


def _run_wave(
    ws: dict[str, Workspace],
    parties: tuple[DemoParty, ...],
    files: dict[str, Path],
    progress: Progress,
    say: Callable[[str], None],
) -> dict[str, object]:
    """Every step of every party for the project's current wave, in the order packages flow."""
    steps: dict[str, object] = {}
    surveys = [p for p in parties if p.role is Role.SURVEY_PROVIDER]
    authorities = [p for p in parties if p.role is Role.AUTHORITY_PROVIDER]
    for party in surveys:
        for source in party.sources:
            say(f"{party.name}: validating {source} and sending participants lists")
            steps[f"{party.name}: participants"] = provider.share_participants(
                ws[party.name], source=source, input_file=files[source], progress=progress
            )
        ws[party.name].send(progress)
    for party in authorities + surveys:
        ws[party.name].receive(progress)
        for source in party.sources:
            say(f"{party.name}: validating and splitting {source}")
            steps[f"{party.name}: split"] = provider.split(
                ws[party.name], source=source, input_file=files[source], progress=progress
            )
        ws[party.name].send(progress)
    name = _only(parties, Role.INDEXER)
    say(f"{name}: issuing the linkage key")
    ws[name].receive(progress)
    steps[f"{name}: link"] = indexer.link(ws[name], progress=progress)
    ws[name].send(progress)
    name = _only(parties, Role.LINKER)
    say(f"{name}: joining content into the release")
    ws[name].receive(progress)
    steps[f"{name}: release"] = linker.release(ws[name], progress=progress)
    ws[name].send(progress)
    name = _only(parties, Role.ANALYST)
    say(f"{name}: opening the release")
    ws[name].receive(progress)
    steps[f"{name}: open"] = analyst.open_release(ws[name], progress=progress)
    return steps
