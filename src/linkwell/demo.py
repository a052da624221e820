"""The five-party flow end to end, on a synthetic partnership area: what ``make demo`` runs.

Each party gets its own identity and workspace, exactly as real organisations would; the demo
only plays every part in turn. Packages move through a shared folder, or (``transport="sftp"``)
through a real OpenSSH server started for the run, with a chrooted SFTP-only login and SSH key
per party and the operator's sweeper run after every delivery round. ScotCen appears twice — as
the primary survey's contractor and as the analyst — with two identities and two workspaces, as
the leaflet's arrangement requires. Passphrases are random and kept in a folder beside the
workspaces (a real party keeps its passphrase to itself).
"""

from __future__ import annotations

import secrets
import tomllib
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, get_args

import tomli_w

from linkwell.config import (
    FolderTransport,
    ReleasePolicy,
    Role,
    SftpEndpoint,
    SftpTransport,
    SourceKind,
)
from linkwell.errors import ConfigError, TransferError
from linkwell.fileio import write_text_atomic
from linkwell.progress import SILENT, Progress
from linkwell.report import ReportBundle
from linkwell.roles import analyst, indexer, linker, provider
from linkwell.roles.analyst import IntakeResult
from linkwell.seal import ROUTES, create_identity
from linkwell.separation import SeparationReport, verify_separation
from linkwell.synth import MessRates, SynthResult, synthesise
from linkwell.transport import (
    Delivery,
    LocalSftpServer,
    SweepOutcome,
    SweepRound,
    check_server_folder,
    check_server_prerequisites,
    create_ssh_key,
)
from linkwell.workspace import Workspace

__all__ = [
    "DemoParty",
    "DemoResult",
    "DemoTransport",
    "delivery_routes",
    "demo_parties",
    "run_demo",
    "write_project_file",
]

DemoTransport = Literal["folder", "sftp"]
"""How the demo moves packages: the shared folder (``make demo``) or a real local SFTP server."""

PROJECT_ID: Final = "rcs-demo"
SERVER_PARENT: Final = Path("/srv")
"""Where the SFTP demo's server folder goes unless one is given: OpenSSH chroots only below
folders that are root's and writable by root alone all the way up, which ``/tmp`` is not."""
SSH_KEY: Final = Path("ssh") / "id_ed25519"
"""A party's SFTP key, inside its workspace (the workspace file names it relatively)."""
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
    report: Path
    """The partnership's report (HTML), its workbook, CSVs and manifest beside it; the disclosure
    log stays in the analyst's workspace (it is not to be published)."""
    transport: DemoTransport = "folder"
    sweeps: tuple[SweepRound, ...] = ()
    """With SFTP: every sweep of the server, in order, with the inboxes as each left them."""


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


def delivery_routes(parties: tuple[DemoParty, ...]) -> tuple[tuple[str, str], ...]:
    """Every ``(sender, recipient)`` pair of parties some package kind may travel along.

    These are the drop folders the SFTP server makes: one per pair the routes table allows and
    no other, so that on the server a party can deliver to nobody else.
    """
    allowed = {pair for pairs in ROUTES.values() for pair in pairs}
    return tuple(
        sorted(
            (sender.name, recipient.name)
            for sender in parties
            for recipient in parties
            if sender is not recipient and (sender.role, recipient.role) in allowed
        )
    )


def write_project_file(
    path: Path,
    *,
    synthetic: SynthResult,
    parties: tuple[DemoParty, ...],
    cards: dict[str, Path],
    transport: FolderTransport | SftpTransport,
    logins: Mapping[str, SftpEndpoint] | None = None,
    wave: int = 1,
    release: ReleasePolicy | None = None,
) -> None:
    """Write the project file from the parties' identity cards and the synthetic mappings.

    ``logins`` gives each party's ``sftp`` entry when ``transport`` is an SFTP server.
    """
    mappings = tomllib.loads(synthetic.mapping.read_text(encoding="utf-8"))
    by_source = {s.source: s for s in synthetic.sources}
    entries = []
    for party in parties:
        card = tomllib.loads(cards[party.name].read_text(encoding="utf-8"))
        entry: dict[str, object] = {
            "name": party.name,
            "role": party.role.value,
            "organisation": party.organisation,
            "identities": card["parties"]["identities"],
        }
        if logins is not None and party.name in logins:
            entry["sftp"] = logins[party.name].model_dump(mode="json", exclude_defaults=True)
        entries.append(entry)
    sources = []
    for party in parties:
        for name in party.sources:
            made = by_source[name]
            entry = {
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
        "transport": transport.model_dump(mode="json"),
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
    transport: DemoTransport = "folder",
    server_dir: Path | None = None,
    waves: int = 1,
    release: ReleasePolicy | None = None,
    progress: Progress = SILENT,
    on_step: Callable[[str], None] | None = None,
) -> DemoResult:
    """Run every step of every party on a synthetic area of ``children`` pupils under ``out``.

    With ``transport="sftp"`` (root only) packages travel through an OpenSSH server that lives
    in ``server_dir`` (a new folder under ``/srv`` by default) for the length of the run; its
    accounts and folder are removed at the end, its log is kept as ``out/sftp-server.log``.

    With ``waves`` above one, the project moves on to each next wave (the project file's wave
    number changes, nothing else) and every party runs again: the indexer's vault recognises
    the same children, issues new link IDs, and the linker new release IDs. The run ends with
    the separation check, whose table is written to ``out/separation.md``.
    """
    if transport not in get_args(DemoTransport):
        raise ConfigError(
            "unknown demo transport",
            field="transport",
            hint="use 'folder' (the default) or 'sftp'",
        )
    if out.exists() and any(out.iterdir()):
        raise ConfigError("the demo folder is not empty", file=out, hint="choose a new folder")
    if transport == "sftp":  # before minutes of work, not after
        check_server_prerequisites()
        if server_dir is not None:
            check_server_folder(server_dir)
    say = on_step or (lambda _message: None)
    say(f"synthesising a partnership area of {children:,} pupils")
    synthetic = synthesise(
        out / "synthetic", children=children, seed=seed, mess=mess or DEMO_MESS, progress=progress
    )
    parties = demo_parties(synthetic)
    workspaces_dir, passphrases = out / "workspaces", out / "passphrases"
    cards = _make_identities(parties, workspaces_dir, passphrases)
    project_file = out / "project.toml"
    sweeps: list[SweepRound] = []
    releases: list[Path] = []
    steps: dict[str, object] = {}
    with ExitStack() as stack:
        server: LocalSftpServer | None = None
        if transport == "sftp":
            server = stack.enter_context(
                LocalSftpServer(
                    server_dir or SERVER_PARENT / f"linkwell-demo-{secrets.token_hex(4)}",
                    [p.name for p in parties],
                    delivery_routes(parties),
                    log_file=out / "sftp-server.log",
                )
            )
            say(
                f"OpenSSH serving on {server.host}:{server.port}: one chrooted, SFTP-only "
                "login per party, host key pinned in the project file"
            )
            for party in parties:
                key = workspaces_dir / party.name / SSH_KEY
                server.authorize(party.name, create_ssh_key(key, comment=party.name))
        settings: FolderTransport | SftpTransport = (
            # beside the project file, which is where a relative root is read from
            FolderTransport(root=Path("exchange")) if server is None else server.transport
        )
        logins = None if server is None else {p.name: server.endpoint(p.name) for p in parties}

        def write_project(wave: int) -> None:
            write_project_file(
                project_file,
                synthetic=synthetic,
                parties=parties,
                cards=cards,
                transport=settings,
                logins=logins,
                wave=wave,
                release=release,
            )

        write_project(1)
        ws = {
            p.name: Workspace.create(
                workspaces_dir / p.name,
                project_file=project_file,
                party=p.name,
                keyring=workspaces_dir / p.name / "keys",
                passphrase_file=passphrases / p.name,
                sftp_key_file=None if server is None else SSH_KEY,
            )
            for p in parties
        }

        def deliver(name: str) -> None:
            """Send a party's outbox; over SFTP the server's sweeper then delivers it."""
            deliveries = ws[name].send(progress)
            if server is not None:
                sweeps.append(_sweep(server, deliveries))
                say(f"server: swept {len(deliveries)} package(s) into read-only inboxes")

        files = {s.source: s.path for s in synthetic.sources}
        for wave in range(1, waves + 1):
            if wave > 1:
                say(f"moving the project on to wave {wave}")
                write_project(wave)
                ws = {name: Workspace.open(w.root) for name, w in ws.items()}
            played, intake = _play(
                parties,
                ws,
                files=files,
                deliver=deliver,
                say=say,
                progress=progress,
                report_to=out / "report" if wave == waves else None,
            )
            steps |= {k if wave == 1 else f"wave {wave}: {k}": v for k, v in played.items()}
            releases.append(intake.release)
    roots = {name: w.root for name, w in ws.items()}
    say("verifying separation: every workspace searched for what its role must never hold")
    separation = verify_separation(dict(ws), truth_pupils=synthetic.truth.pupils, progress=progress)
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
        report=_report_of(steps),
        transport=transport,
        sweeps=tuple(sweeps),
    )


def _report_of(steps: dict[str, object]) -> Path:
    bundles = [step for step in steps.values() if isinstance(step, ReportBundle)]
    return bundles[-1].html


def _make_identities(
    parties: tuple[DemoParty, ...], workspaces_dir: Path, passphrases: Path
) -> dict[str, Path]:
    """Each party's keyring in its workspace-to-be, under a random passphrase; their cards."""
    cards = {}
    for party in parties:
        passphrase = secrets.token_urlsafe(24)
        write_text_atomic(passphrases / party.name, passphrase + "\n")
        made = create_identity(
            party.name, party.role, workspaces_dir / party.name / "keys", passphrase
        )
        cards[party.name] = made.card_file
    return cards


def _play(
    parties: tuple[DemoParty, ...],
    ws: dict[str, Workspace],
    *,
    files: dict[str, Path],
    deliver: Callable[[str], None],
    say: Callable[[str], None],
    progress: Progress,
    report_to: Path | None,
) -> tuple[dict[str, object], IntakeResult]:
    """Every party's steps in the order of the flow; ``deliver`` sends a party's outbox.

    With ``report_to``, the analyst ends by writing the partnership's report there.
    """
    by_role = {role: [p.name for p in parties if p.role is role] for role in Role}
    steps: dict[str, object] = {}

    for name in by_role[Role.SURVEY_PROVIDER]:
        for source in next(p for p in parties if p.name == name).sources:
            say(f"{name}: validating {source} and sending participants lists")
            steps[f"{name}: participants"] = provider.share_participants(
                ws[name], source=source, input_file=files[source], progress=progress
            )
        deliver(name)
    for name in by_role[Role.AUTHORITY_PROVIDER] + by_role[Role.SURVEY_PROVIDER]:
        ws[name].receive(progress)
        for source in next(p for p in parties if p.name == name).sources:
            say(f"{name}: validating and splitting {source}")
            steps[f"{name}: split"] = provider.split(
                ws[name], source=source, input_file=files[source], progress=progress
            )
        deliver(name)
    (indexer_name,) = by_role[Role.INDEXER]
    say(f"{indexer_name}: issuing the linkage key")
    ws[indexer_name].receive(progress)
    steps[f"{indexer_name}: link"] = indexer.link(ws[indexer_name], progress=progress)
    deliver(indexer_name)
    (linker_name,) = by_role[Role.LINKER]
    say(f"{linker_name}: joining content into the release")
    ws[linker_name].receive(progress)
    steps[f"{linker_name}: release"] = linker.release(ws[linker_name], progress=progress)
    deliver(linker_name)
    (analyst_name,) = by_role[Role.ANALYST]
    say(f"{analyst_name}: opening the release")
    ws[analyst_name].receive(progress)
    intake = analyst.open_release(ws[analyst_name], progress=progress)
    steps[f"{analyst_name}: open"] = intake
    if report_to is not None:
        say(f"{analyst_name}: analysing need against services, with disclosure control")
        steps[f"{analyst_name}: report"] = analyst.report(
            ws[analyst_name], out=report_to, progress=progress
        )
    return steps, intake


def _sweep(server: LocalSftpServer, deliveries: list[Delivery]) -> SweepRound:
    """Sweep the server; refuse unless every package just sent reached its recipient's inbox."""
    swept = server.sweep()
    arrived = {
        (f.recipient, f.name): f
        for f in swept.report.files
        if f.outcome in (SweepOutcome.DELIVERED, SweepOutcome.DUPLICATE)
    }
    refused = {(f.recipient, f.name): f.reason for f in swept.report.files}
    for delivery in deliveries:
        if (delivery.recipient, delivery.name) not in arrived:
            reason = refused.get((delivery.recipient, delivery.name), "it was not found")
            raise TransferError(
                f"a package sent to {delivery.recipient} did not reach its inbox: {reason}",
                file=server.root / delivery.recipient / "inbox" / delivery.name,
                hint="see the server's log beside the demo output, then run the demo again",
            )
    return swept
