"""One piece of a stage at a time, each beside the baseline that bounds it, on the flow's own files.

The flow's steps mix work (opening, computing, sealing, sending); these steps take one piece out
on the very bytes the flow produced, so each target has a clean ratio: validation against a
plain copy of the same file, the indexer's key against plain random IDs and a join, the linker's
join against a plain join into the same release, sealing and opening against the raw cipher on
the same payload in memory. Keyrings are unlocked before the clock starts where a step times
itself (scrypt is a per-process cost of the flow's steps, not of sealing).
"""

from __future__ import annotations

import shutil
import tomllib
from datetime import UTC, datetime
from pathlib import Path

from flow_plain import Cipher, Source, bench_engine, index_sql, join_sql
from harness import Stopwatch, Timed
from linkwell.config import ColumnMapping, ReleasePolicy, SourceKind
from linkwell.engine import quote_string
from linkwell.roles.indexer import IdentifierFile, Vault, VaultSecrets, build_linkage_key
from linkwell.roles.linker import ContentFile, join_release
from linkwell.schema import load_dataset, validate_file
from linkwell.seal import DatasetRef, PackageKind, ReceiptLedger, open_package, seal_package
from linkwell.workspace import Workspace


def _mapping(mapping_file: str, source: str) -> ColumnMapping:
    tables = tomllib.loads(Path(mapping_file).read_text(encoding="utf-8"))
    return ColumnMapping.model_validate(tables[source])


def validate(path: str, dataset: str, mapping_file: str, source: str, out: str) -> int:
    """``validate_file`` on one provider file: read, map, check, quarantine, write accepted rows.

    The engine spills beside the output folder, which holds a validation's files only.
    """
    with bench_engine(Path(f"{out}-tmp")) as engine:
        result = validate_file(
            Path(path),
            load_dataset(dataset, 1),
            _mapping(mapping_file, source),
            out_dir=Path(out),
            engine=engine,
        )
    return result.rows_read


def plain_copy(path: str, dest: str) -> int:
    """Validation's bound: DuckDB reads the file (CSV as text) and writes it as Parquet."""
    reader = (
        f"read_csv({quote_string(path)}, all_varchar = true)"
        if path.endswith(".csv")
        else f"read_parquet({quote_string(path)})"
    )
    with bench_engine(Path(dest).parent / "tmp") as engine:
        return engine.copy_to_parquet(f"SELECT * FROM {reader}", Path(dest), purpose="plain copy")


def to_csv(path: str, dest: str) -> int:
    """Preparation: the provider's Parquet file as the CSV a provider would more often send."""
    with bench_engine(Path(dest).parent / "tmp") as engine:
        engine.execute(
            f"COPY (SELECT * FROM read_parquet({quote_string(path)})) TO {quote_string(dest)} "
            "(FORMAT csv, HEADER true)",
            purpose="write csv",
        )
        return int(
            engine.scalar("SELECT count(*) FROM read_parquet(?)", [path], purpose="count rows")
        )


def index_key(files: list[Source], out: str) -> int:
    """The indexer's computation alone: a new vault, HMAC, classification, link IDs, key, report."""
    folder = Path(out)
    shutil.rmtree(folder / "vault", ignore_errors=True)  # a repeat must not find the last vault
    with bench_engine(folder / "tmp") as engine:
        vault = Vault(engine, folder / "vault", VaultSecrets.generate(), create=True)
        result = build_linkage_key(
            engine,
            vault,
            [IdentifierFile(s, SourceKind(k), Path(p)) for s, k, p in files],
            project="bench",
            wave=1,
            longitudinal=False,
            key_dest=folder / "key.parquet",
            report_dest=folder / "match-report.parquet",
        )
    return sum(counts["rows"] for counts in result.counts.values())


def index_plain(files: list[Source], out: str) -> int:
    """The indexer's bound: DuckDB draws random IDs for surveyed children and joins them."""
    with bench_engine(Path(out) / "tmp") as engine:
        index_sql(engine, files, Path(out) / "key.parquet")
        return int(
            engine.scalar(
                "SELECT count(*) FROM read_parquet(?)", [[f[2] for f in files]], purpose="rows"
            )
        )


def join(key: str, contents: list[Source], policy_json: str, out: str) -> int:
    """The linker's join alone: key content, one row per child, release IDs, recoded areas."""
    with bench_engine(Path(out) / "tmp") as engine:
        counts = join_release(
            engine,
            key=Path(key),
            contents=[ContentFile(s, SourceKind(k), Path(p)) for s, k, p in contents],
            policy=ReleasePolicy.model_validate_json(policy_json),
            dest=Path(out) / "release.parquet",
        )
    return sum(counts.received.values())


def join_plain(key: str, contents: list[Source], policy_json: str, out: str) -> int:
    """The linker's bound: the same release from a plain DuckDB join, no checks."""
    policy = ReleasePolicy.model_validate_json(policy_json)
    with bench_engine(Path(out) / "tmp") as engine:
        join_sql(engine, key, contents, policy, Path(out) / "release.parquet")
        return int(
            engine.scalar(
                "SELECT count(*) FROM read_parquet(?)", [[c[2] for c in contents]], purpose="rows"
            )
        )


def seal(sender_ws: str, payload: str, recipient: str, source: str, dest: str) -> Timed:
    """``seal_package`` of one content payload (stream, hash, encrypt, sign) to the linker."""
    ws = Workspace.open(Path(sender_ws))
    identity = ws.identity()
    dataset = ws.project.source(source)
    Path(dest).unlink(missing_ok=True)
    clock = Stopwatch()
    with clock.section():
        manifest = seal_package(
            Path(payload),
            project=ws.project,
            sender=identity,
            recipient=recipient,
            kind=PackageKind.CONTENT,
            source=source,
            dataset=DatasetRef(id=dataset.dataset, version=dataset.dataset_version),
            parents=(),
            log_head=None,
            dest=Path(dest),
            now=datetime.now(UTC),
        )
    return clock.result(manifest.plaintext_size)


def open_sealed(recipient_ws: str, package: str, out: str) -> Timed:
    """``open_package``: every check, then decrypt to a file, hash, check the Parquet shape."""
    ws = Workspace.open(Path(recipient_ws))
    identities = ws.keyring
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in [folder / "opened.parquet", *folder.glob("ledger.sqlite*")]:
        stale.unlink(missing_ok=True)
    clock = Stopwatch()
    with ReceiptLedger(folder / "ledger.sqlite") as ledger, clock.section():
        opened = open_package(
            Path(package),
            project=ws.project,
            identities=identities,
            ledger=ledger,
            dest=folder / "opened.parquet",
        )
    return clock.result(opened.manifest.plaintext_size)


def raw_encrypt(payload: str) -> Timed:
    """The raw cipher: age encrypting the payload's bytes, already in memory."""
    clock = Stopwatch()
    return clock.result(Cipher().encrypt([Path(payload)], clock))


def raw_decrypt(payload: str) -> Timed:
    """The raw cipher: age decrypting the payload's ciphertext, already in memory."""
    clock = Stopwatch()
    return clock.result(Cipher().decrypt([Path(payload)], clock))
