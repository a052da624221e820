"""The demo's five-party flow as a list of role steps, each runnable alone on a prepared tree.

A *tree* is one self-contained partnership: synthetic provider files and their ground truth, a
project file, one workspace per party and the shared exchange folder, with every path inside it
relative so that a copy of the tree is a second, independent partnership. Each role step is what
one party runs as one command would: receive what is waiting, do its step, send what it made.
Every function here is meant to run in a fresh (forked) process whose working directory is the
tree.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from linkwell.audit import AuditAction, read_log, verify_log
from linkwell.config import FolderTransport, Role
from linkwell.demo import DemoParty, demo_parties, write_project_file
from linkwell.engine import Engine, quote_ident
from linkwell.fileio import write_text_atomic
from linkwell.roles import analyst, indexer, linker, provider
from linkwell.seal import Manifest, ReceiptLedger, ReceiptState, SecretIdentity, card_toml
from linkwell.synth import MessRates, SynthResult, synthesise
from linkwell.transport import ReceiptBook
from linkwell.transport import ReceiptState as BookState
from linkwell.workspace import Workspace

SYNTH_RESULT = "synthetic.json"
RESULTS = "results"
WORKSPACES = Path("workspaces")


# -- preparing a tree -----------------------------------------------------------------------------


def synthesise_area(*, children: int, seed: int) -> SynthResult:
    """Write the synthetic area into ``synthetic/`` of the current tree and describe it."""
    result = synthesise(Path("synthetic"), children=children, seed=seed, mess=MessRates.clean())
    write_text_atomic(Path(SYNTH_RESULT), result.model_dump_json(indent=2))
    return result


def load_area() -> SynthResult:
    return SynthResult.model_validate_json(Path(SYNTH_RESULT).read_text(encoding="utf-8"))


def parties(area: SynthResult) -> tuple[DemoParty, ...]:
    return demo_parties(area)


def create_workspaces(area: SynthResult, identities: dict[str, SecretIdentity]) -> None:
    """Project file, cards and one workspace per party, every path relative to the tree."""
    cards: dict[str, Path] = {}
    for party in parties(area):
        card = Path("cards") / f"{party.name}.toml"
        write_text_atomic(card, card_toml(identities[party.name]), mode=0o644)
        cards[party.name] = card
        write_text_atomic(Path("passphrases") / party.name, "unused: keyrings are cached\n")
    project = Path("project.toml")
    write_project_file(
        project,
        synthetic=area,
        parties=parties(area),
        cards=cards,
        transport=FolderTransport(root=Path("exchange")),
    )
    for party in parties(area):
        root = WORKSPACES / party.name
        (root / "keys").mkdir(parents=True)
        Workspace.create(
            root,
            project_file=project,
            party=party.name,
            keyring=root / "keys",
            passphrase_file=Path("passphrases") / party.name,
        )
        settings = tomllib.loads((root / "workspace.toml").read_text(encoding="utf-8"))
        settings["project_file"] = "../../project.toml"
        settings["passphrase_file"] = f"passphrases/{party.name}"
        write_text_atomic(root / "workspace.toml", tomli_w.dumps(settings))


# -- the role steps ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoleStep:
    """One party's turn: a label for reports and the function that plays it."""

    label: str
    party: str
    run: Callable[[], dict[str, Any]]


def _inputs(area: SynthResult) -> dict[str, Path]:
    return {s.source: s.path for s in area.sources}


def _sources_of(area: SynthResult, name: str) -> tuple[str, ...]:
    return next(p for p in parties(area) if p.name == name).sources


def _dump(results: list[Any]) -> dict[str, Any]:
    return {"results": [r.model_dump(mode="json") for r in results]}


def role_steps(area: SynthResult) -> list[RoleStep]:
    """The flow in the demo's order, as role steps."""
    files = _inputs(area)
    by_role = {role: [p.name for p in parties(area) if p.role is role] for role in Role}

    def participants(name: str) -> Callable[[], dict[str, Any]]:
        def run() -> dict[str, Any]:
            ws = Workspace.open(WORKSPACES / name)
            done = [
                provider.share_participants(ws, source=source, input_file=files[source])
                for source in _sources_of(area, name)
            ]
            ws.send()
            return _dump(done)

        return run

    def split(name: str) -> Callable[[], dict[str, Any]]:
        def run() -> dict[str, Any]:
            ws = Workspace.open(WORKSPACES / name)
            ws.receive()
            done = [
                provider.split(ws, source=source, input_file=files[source])
                for source in _sources_of(area, name)
            ]
            ws.send()
            return _dump(done)

        return run

    def link(name: str) -> Callable[[], dict[str, Any]]:
        def run() -> dict[str, Any]:
            ws = Workspace.open(WORKSPACES / name)
            ws.receive()
            done = indexer.link(ws)
            ws.send()
            return _dump([done])

        return run

    def release(name: str) -> Callable[[], dict[str, Any]]:
        def run() -> dict[str, Any]:
            ws = Workspace.open(WORKSPACES / name)
            ws.receive()
            done = linker.release(ws)
            ws.send()
            return _dump([done])

        return run

    def intake(name: str) -> Callable[[], dict[str, Any]]:
        def run() -> dict[str, Any]:
            ws = Workspace.open(WORKSPACES / name)
            ws.receive()
            return _dump([analyst.open_release(ws)])

        return run

    steps = [
        RoleStep(f"{n}: participants", n, participants(n)) for n in by_role[Role.SURVEY_PROVIDER]
    ]
    steps += [
        RoleStep(f"{n}: split", n, split(n))
        for n in by_role[Role.AUTHORITY_PROVIDER] + by_role[Role.SURVEY_PROVIDER]
    ]
    steps += [RoleStep(f"{n}: link", n, link(n)) for n in by_role[Role.INDEXER]]
    steps += [RoleStep(f"{n}: release", n, release(n)) for n in by_role[Role.LINKER]]
    steps += [RoleStep(f"{n}: open", n, intake(n)) for n in by_role[Role.ANALYST]]
    return steps


def run_step(index: int) -> None:
    """Play role step ``index`` and keep its result (what a user would see) in ``results/``."""
    area = load_area()
    step = role_steps(area)[index]
    outcome = step.run()
    write_text_atomic(Path(RESULTS) / f"{index}.json", json.dumps(outcome, indent=2, default=str))


# -- what a finished tree must show ----------------------------------------------------------------


_RENAMED = {
    "sex": "reported_sex",
    "urban_rural_8": "urban_rural",
    "authority_linked": "in_authority_extract",
}


def _release_against_truth(area: SynthResult, release: Path) -> dict[str, int]:
    """Rows of the release missing from the truth's, extra or doubled, by whole-row multiset."""
    with Engine() as engine:
        names = [
            str(r[0])
            for r in engine.fetchall(
                "DESCRIBE SELECT * FROM read_parquet($p)", {"p": str(release)}, purpose="t"
            )
        ]
        columns = [c for c in names if c not in ("release_id", "weight")]
        got = ", ".join(f"CAST({quote_ident(c)} AS VARCHAR) AS {quote_ident(c)}" for c in columns)
        want = ", ".join(
            f"CAST({quote_ident(_RENAMED.get(c, c))} AS VARCHAR) AS {quote_ident(c)}"
            for c in columns
        )
        engine.execute(
            f"CREATE TEMP TABLE got AS SELECT {got} FROM read_parquet($p)",
            {"p": str(release)},
            purpose="t",
        )
        engine.execute(
            f"CREATE TEMP TABLE want AS SELECT {want} FROM read_parquet($p) WHERE participated",
            {"p": str(area.truth.pupils)},
            purpose="t",
        )
        missing = engine.scalar(
            "SELECT count(*) FROM (SELECT * FROM want EXCEPT ALL SELECT * FROM got)", purpose="t"
        )
        extra = engine.scalar(
            "SELECT count(*) FROM (SELECT * FROM got EXCEPT ALL SELECT * FROM want)", purpose="t"
        )
        rows = engine.scalar("SELECT count(*) FROM got", purpose="t")
        ids = engine.scalar(
            "SELECT count(DISTINCT release_id) FROM read_parquet($p)",
            {"p": str(release)},
            purpose="t",
        )
    return {
        "rows": int(rows),
        "expected_rows": area.respondents,
        "missing": int(missing),
        "extra": int(extra),
        "distinct_release_ids": int(ids),
    }


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


_HIDDEN_WORK = (".partial", ".copying")


def _leftovers(root: Path) -> list[str]:
    """Work files a crash left behind (hidden partial names): ignored by every reader."""
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.name.endswith(_HIDDEN_WORK) or p.name.startswith(".sealing-")
    )


def _party_summary(name: str) -> dict[str, Any]:
    root = WORKSPACES / name
    ws = Workspace.open(root)
    summary: dict[str, Any] = {}
    # The receipt ledger: how often each kind was received and opened.
    with ReceiptLedger(root / "ledger.sqlite") as ledger:
        receipts = ledger.receipts()
    summary["opened"] = _count(r.kind.value for r in receipts if r.state is ReceiptState.OPENED)
    summary["received_not_opened"] = _count(
        r.kind.value for r in receipts if r.state is ReceiptState.RECEIVED
    )
    # Every opened payload is whole: its manifest is there and its digest matches.
    damaged = []
    for receipt in receipts:
        if receipt.state is not ReceiptState.OPENED:
            continue
        payload = Path(str(receipt.opened_to))
        meta = payload.with_suffix(".json")
        if not payload.is_file() or not meta.is_file():
            damaged.append(receipt.package_id)
            continue
        manifest = Manifest.model_validate_json(meta.read_text(encoding="utf-8"))
        if _sha256(payload) != manifest.plaintext_sha256:
            damaged.append(receipt.package_id)
    summary["opened_damaged"] = len(damaged)
    # The transport's receipt book: accepted once each, nothing refused.
    book_path = ws.receive_dirs.receipts
    if book_path.exists():
        with ReceiptBook(book_path) as book:
            decisions = book.all()
        summary["accepted"] = sum(d.state is BookState.ACCEPTED for d in decisions)
        summary["quarantined"] = sum(d.state is BookState.QUARANTINED for d in decisions)
    else:
        summary["accepted"] = summary["quarantined"] = 0
    summary["refused_on_open"] = len(list((root / "quarantine").glob("*.lwp")))
    summary["outbox"] = len(list((root / "outbox").glob("*.lwp")))
    summary["sent"] = len(list((root / "sent").glob("*.lwp")))
    # The audit log: intact, and each package sent, received and opened logged exactly once.
    signer = [c.signing_key for c in ws.party.identities]
    report = verify_log(root / "audit.log", signer=signer)
    summary["audit_ok"] = report.ok
    summary["audit_issues"] = [issue.kind.value for issue in report.issues]
    per_package: dict[tuple[str, str], int] = {}
    for line in read_log(root / "audit.log"):
        if line.entry is not None and line.entry.action in _ONCE_PER_PACKAGE:
            for ref in line.entry.packages:
                key = (line.entry.action.value, ref.id)
                per_package[key] = per_package.get(key, 0) + 1
    summary["audit_packages"] = _count(action for action, _ in per_package)
    summary["audit_repeats"] = sum(times - 1 for times in per_package.values())
    return summary


_ONCE_PER_PACKAGE = (AuditAction.SENT, AuditAction.RECEIVED, AuditAction.OPENED)


def _attempts(name: str) -> dict[str, int]:
    """Every action in a party's log: more after crashes, as each attempt logs what it did."""
    return _count(
        line.entry.action.value
        for line in read_log(WORKSPACES / name / "audit.log")
        if line.entry is not None
        and line.entry.action not in (AuditAction.CHECKPOINT, AuditAction.LOG_CREATED)
    )


def _count(items: Any) -> dict[str, int]:
    counted: dict[str, int] = {}
    for item in items:
        counted[item] = counted.get(item, 0) + 1
    return dict(sorted(counted.items()))


_VOLATILE = ("package", "packages", "release", "reports", "quarantine_file")


def _stable(value: Any) -> Any:
    """A step result without what differs between any two runs: package ids and paths."""
    if isinstance(value, dict):
        return {
            k: _stable(v)
            for k, v in value.items()
            if not any(k == v_ or k.endswith(f"_{v_}") for v_ in _VOLATILE)
        }
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def summarise() -> dict[str, Any]:
    """Everything a finished tree is judged by, as plain data (compared with a clean run)."""
    area = load_area()
    steps = role_steps(area)
    results = []
    for index in range(len(steps)):
        path = Path(RESULTS) / f"{index}.json"
        results.append(
            _stable(json.loads(path.read_text(encoding="utf-8"))) if path.exists() else None
        )
    last = json.loads((Path(RESULTS) / f"{len(steps) - 1}.json").read_text(encoding="utf-8"))
    release = Path(last["results"][0]["release"])
    return {
        "release": _release_against_truth(area, release),
        "parties": {p.name: _party_summary(p.name) for p in parties(area)},
        "attempts": {p.name: _attempts(p.name) for p in parties(area)},
        "results": results,
        "leftovers": _leftovers(Path()),
        "exchange_left": sorted(str(p) for p in Path("exchange").rglob("*") if p.is_file()),
    }
