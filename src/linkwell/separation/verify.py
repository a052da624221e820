"""``verify-separation``: every party's workspace searched for what its role must never hold.

The forbidden combinations come from DESIGN.md's table of parties. The values to look for come
from the run itself: the ground truth's survey IDs, and the link IDs and row references found
anywhere in the run (the indexer's vault, keys, identifiers files). Each workspace is read the
way its owner could read it: plaintext files as they are, packages addressed to the party
decrypted with the party's own keyring (into a scratch folder outside every workspace), the
indexer's vault unlocked with the indexer's identity, spreadsheets and SPSS files landed as
tables. Packages sealed for someone else are counted as unreadable, because to their holder
they are.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from linkwell.config import Role, SourceKind
from linkwell.engine import Engine, quote_ident
from linkwell.errors import ConfigError, LinkwellError, SeparationError
from linkwell.progress import SILENT, Progress
from linkwell.roles.indexer import open_vault
from linkwell.schema import FieldKind, load_dataset, read_table
from linkwell.seal import ReceiptLedger, open_package
from linkwell.separation.scan import FileScan, Forbidden, ValueSets, scan_file, scan_table
from linkwell.transport import PACKAGE_SUFFIX
from linkwell.workspace import Workspace

__all__ = ["FORBIDDEN_BY_ROLE", "PartyFinding", "SeparationReport", "verify_separation"]

FORBIDDEN_BY_ROLE: Final[dict[Role, frozenset[Forbidden]]] = {
    Role.SURVEY_PROVIDER: frozenset({Forbidden.SERVICE_FLAG, Forbidden.LINK_ID}),
    Role.AUTHORITY_PROVIDER: frozenset({Forbidden.SURVEY_ANSWER, Forbidden.LINK_ID}),
    Role.INDEXER: frozenset({Forbidden.SURVEY_ANSWER, Forbidden.SERVICE_FLAG}),
    Role.LINKER: frozenset({Forbidden.SURVEY_ID}),
    Role.ANALYST: frozenset({Forbidden.SURVEY_ID, Forbidden.LINK_ID, Forbidden.ROW_REF}),
}
"""What each role must never hold (DESIGN.md), plus link IDs for providers, who never get any."""

_SERVICE_KINDS: Final = frozenset(
    {FieldKind.SERVICE, FieldKind.SUPPORT_NEED, FieldKind.ENTITLEMENT}
)
_LANDED: Final = frozenset({".xlsx", ".sav", ".zsav"})


@dataclass
class PartyFinding:
    """One party: files read, files it cannot read, and hits per forbidden kind."""

    party: str
    role: Role
    files: int = 0
    unreadable: int = 0
    found: dict[Forbidden, int] = field(default_factory=dict)
    where: dict[Forbidden, list[Path]] = field(default_factory=dict)


@dataclass(frozen=True)
class SeparationReport:
    """The table of party by forbidden kind, with the counts found."""

    parties: tuple[PartyFinding, ...]
    values: dict[Forbidden, int]

    @property
    def ok(self) -> bool:
        """True when no party holds anything its role forbids."""
        return not any(count for p in self.parties for count in p.found.values())

    def rows(self) -> list[list[str]]:
        """The table as text: a row per party, a column per kind (``-`` where not forbidden)."""
        rows = []
        for party in self.parties:
            cells = [party.party, party.role.value, f"{party.files:,}", f"{party.unreadable:,}"]
            for kind in Forbidden:
                count = party.found.get(kind)
                cells.append("-" if count is None else f"{count:,}")
            rows.append(cells)
        return rows

    def looked_for(self) -> str:
        """What was searched for, e.g. ``1,500 survey IDs, 1,093 link IDs, 3,052 row refs``."""
        return ", ".join(f"{count:,} {kind.value}" for kind, count in sorted(self.values.items()))

    def markdown(self) -> str:
        """The table in markdown, with a line on what was looked for."""
        header = ["party", "role", "files read", "sealed for others", *(k.value for k in Forbidden)]
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in self.rows()]
        looked = self.looked_for()
        verdict = "no party holds anything its role forbids" if self.ok else "LEAKS FOUND"
        return "\n".join(
            ["# Separation check", "", f"Values looked for: {looked}.", "", *lines, "", verdict, ""]
        )

    def raise_for_leaks(self) -> None:
        """Raise :class:`SeparationError` naming each party and kind found (never the values)."""
        leaks = [
            f"{p.party} ({p.role.value}) holds {kind.value}"
            for p in self.parties
            for kind, count in p.found.items()
            if count
        ]
        if leaks:
            raise SeparationError(
                "the separation principle is broken: " + "; ".join(leaks),
                hint="see the files listed by `linkwell verify-separation` and remove them",
            )


def _column_sets(ws: Workspace) -> dict[str, Forbidden]:
    """Column names that reveal survey answers or service data, ours and the providers'."""
    columns: dict[str, Forbidden] = {}
    for source in ws.project.sources:
        dataset = load_dataset(source.dataset, source.dataset_version)
        if source.kind is SourceKind.SURVEY:
            wanted = {f.name for f in dataset.fields if f.kind is FieldKind.SURVEY_ITEM}
            kind = Forbidden.SURVEY_ANSWER
        else:
            wanted = {f.name for f in dataset.fields if f.kind in _SERVICE_KINDS}
            kind = Forbidden.SERVICE_FLAG
        columns |= dict.fromkeys((name.lower() for name in wanted), kind)
        columns |= {
            theirs.lower(): kind
            for theirs, ours in source.mapping.columns.items()
            if ours in wanted
        }
    return columns


def _harvest(engine: Engine, workspaces: Mapping[str, Workspace], truth_pupils: Path) -> None:
    """Fill ``forbidden_values`` with every survey ID, link ID and row reference of the run."""
    engine.execute(
        "CREATE OR REPLACE TEMP TABLE forbidden_values AS "
        "SELECT DISTINCT CAST(unique_id AS VARCHAR) AS value, $kind AS kind "
        "FROM read_parquet($truth) WHERE unique_id IS NOT NULL",
        {"truth": str(truth_pupils), "kind": Forbidden.SURVEY_ID.value},
        purpose="collect survey IDs",
    )
    for ws in workspaces.values():
        for parquet in ws.root.rglob("*.parquet"):
            try:
                names = {
                    row[0]
                    for row in engine.fetchall(
                        "SELECT name FROM parquet_schema(?)", [str(parquet)], purpose="columns"
                    )
                }
            except LinkwellError:
                continue
            for column, kind in (("link_id", Forbidden.LINK_ID), ("row_ref", Forbidden.ROW_REF)):
                if column in names:
                    quoted = quote_ident(column)
                    engine.execute(
                        f"INSERT INTO forbidden_values SELECT DISTINCT {quoted}, $kind "
                        f"FROM read_parquet($file) WHERE {quoted} NOT IN "
                        "(SELECT value FROM forbidden_values)",
                        {"file": str(parquet), "kind": kind.value},
                        purpose="collect tokens",
                    )


def _decrypt_inbox(ws: Workspace, scratch: Path) -> tuple[list[Path], int]:
    """Decrypt, with the party's keyring, every package it received; count those it cannot."""
    plaintexts: list[Path] = []
    unreadable = 0
    with ReceiptLedger(scratch / f"{ws.party.name}-ledger.sqlite") as ledger:
        for package in sorted(ws.root.rglob(f"*{PACKAGE_SUFFIX}")):
            dest = scratch / f"{ws.party.name}-{len(plaintexts)}.parquet"
            try:
                open_package(
                    package, project=ws.project, identities=ws.keyring, ledger=ledger, dest=dest
                )
            except LinkwellError:
                unreadable += 1  # sealed for another party, or refused: closed to this holder
                continue
            plaintexts.append(dest)
    return plaintexts, unreadable


def _scan_vault(
    ws: Workspace, engine: Engine, kinds: frozenset[Forbidden], sets: ValueSets
) -> FileScan:
    """The indexer's vault, unlocked with the indexer's identity, table by table."""
    open_vault(ws, engine, create=False)
    hits = dict.fromkeys(kinds, 0)
    for (table,) in engine.fetchall(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = 'vault'",
        purpose="vault tables",
    ):
        for kind, count in scan_table(engine, f"vault.{quote_ident(table)}", kinds, sets).items():
            hits[kind] += count
    return FileScan(ws.root / "vault", hits)


def _as_table(path: Path, engine: Engine, landed: Path) -> Path:
    """A spreadsheet or SPSS file landed as Parquet (as its holder could read it), else itself."""
    if path.suffix.lower() not in _LANDED:
        return path
    try:
        read_table(path, engine=engine, dest=landed)
    except LinkwellError:
        return path  # not readable as a table: its bytes are scanned instead
    return landed


def _scan_workspace(
    ws: Workspace, engine: Engine, sets: ValueSets, scratch: Path, progress: Progress
) -> PartyFinding:
    kinds = FORBIDDEN_BY_ROLE[ws.role]
    finding = PartyFinding(ws.party.name, ws.role, found=dict.fromkeys(kinds, 0))
    plaintexts, finding.unreadable = _decrypt_inbox(ws, scratch)
    files = [p for p in sorted(ws.root.rglob("*")) if p.is_file() and p.suffix != PACKAGE_SUFFIX]
    scans: list[FileScan] = []
    with progress.task(f"scanning {ws.party.name}", total=len(files) + len(plaintexts)) as task:
        for path in [*files, *plaintexts]:
            task.advance()
            if path.parent.name == "vault" and path.name.startswith("vault.duckdb"):
                continue  # read below through the vault itself
            readable = _as_table(path, engine, scratch / f"landed-{len(scans)}.parquet")
            scans.append(scan_file(engine, readable, kinds, sets))
    if (ws.root / "vault" / "vault.duckdb").exists():
        scans.append(_scan_vault(ws, engine, kinds, sets))
    finding.files = len(scans)
    for scan in scans:
        for kind, count in scan.hits.items():
            if count:
                finding.found[kind] += count
                finding.where.setdefault(kind, []).append(scan.path)
    return finding


def verify_separation(
    workspaces: Mapping[str, Path | Workspace], *, truth_pupils: Path, progress: Progress = SILENT
) -> SeparationReport:
    """Search every party's workspace for the values its role must never hold.

    ``workspaces`` maps party names to workspace folders, or to workspaces already open (whose
    keyrings are then not unlocked a second time). The values searched for come from the run
    itself, so a folder without the run's ground truth or workspaces cannot be searched.
    """
    if not truth_pupils.is_file():
        raise ConfigError(
            "the run's ground truth (its pupils' survey IDs) is not there, so there is "
            "nothing to search for",
            file=truth_pupils,
            hint="give a folder that `linkwell demo --out` wrote",
        )
    if not workspaces:
        raise ConfigError(
            "no party's workspace was given to search",
            file=truth_pupils.parent,
            hint="give a folder that `linkwell demo --out` wrote, with its workspaces",
        )
    opened = {
        name: ws if isinstance(ws, Workspace) else Workspace.open(ws)
        for name, ws in workspaces.items()
    }
    scratch = Path(tempfile.mkdtemp(prefix="linkwell-separation-"))
    try:
        with Engine(temp_dir=scratch / "spill") as engine:
            _harvest(engine, opened, truth_pupils)
            values = {
                Forbidden(kind): int(count)
                for kind, count in engine.fetchall(
                    "SELECT kind, count(*) FROM forbidden_values GROUP BY kind",
                    purpose="count values",
                )
            }
            sets = ValueSets(columns=_column_sets(next(iter(opened.values()))))
            findings = tuple(
                _scan_workspace(ws, engine, sets, scratch, progress) for ws in opened.values()
            )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return SeparationReport(findings, values)
