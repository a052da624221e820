"""Baselines: each flow step's data work done plainly, with none of linkwell's logic around it.

A plain step makes the same outputs from the same bytes with the least machinery: DuckDB (through
the same engine settings) with no validation, vault, HMAC, classification, checks or reports;
the same age cipher in memory (no streaming, hashing, signing or manifests); a plain file copy
for the transport. Only those sections are timed (:class:`Stopwatch`): reading a file into memory
and encrypting an input that the plain step then decrypts are preparation, not work. Random IDs
come from DuckDB's ``gen_random_uuid`` (not a CSPRNG: the plain bound is allowed to be cheaper).
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import pyrage

from harness import Stopwatch, Timed
from linkwell.config import ReleasePolicy
from linkwell.engine import Engine, quote_ident
from linkwell.schema import load_dataset
from linkwell.schema.areas import simd_quintile_sql, urban_rural_sql
from linkwell.schema.release import (
    AUTHORITY_LINKED,
    RELEASE_ID,
    SURVEY,
    simd_column,
    urban_rural_column,
)

Source = tuple[str, str, str]
"""(source name, kind, path of a Parquet file)."""

_RANDOM_ID = "replace(gen_random_uuid()::VARCHAR, '-', '')"


def bench_engine(spill: Path) -> Engine:
    """The engine every bench step uses: a workspace's settings (memory bound, spill folder)."""
    return Engine(temp_dir=spill)


class Cipher:
    """age (X25519) to one fresh recipient, whole payloads in memory: the raw cipher."""

    def __init__(self) -> None:
        self._identity = pyrage.x25519.Identity.generate()
        self._recipient = self._identity.to_public()

    def encrypt(self, paths: Sequence[Path], clock: Stopwatch) -> int:
        """Encrypt each file's bytes (read untimed); return the plaintext bytes."""
        total = 0
        for path in paths:
            data = path.read_bytes()
            with clock.section():
                pyrage.encrypt(data, [self._recipient])
            total += len(data)
        return total

    def decrypt(self, paths: Sequence[Path], clock: Stopwatch) -> int:
        """Decrypt each file's ciphertext (made untimed from its bytes); return plaintext bytes."""
        total = 0
        for path in paths:
            sealed = pyrage.encrypt(path.read_bytes(), [self._recipient])
            with clock.section():
                total += len(pyrage.decrypt(sealed, [self._identity]))
        return total


def copy_files(paths: Sequence[Path], dest: Path, clock: Stopwatch) -> None:
    """The transport's bound: a plain copy of each file into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    with clock.section():
        for path in paths:
            shutil.copyfile(path, dest / path.name)


def _rows(engine: Engine, paths: Sequence[str]) -> int:
    """Rows in Parquet files (from their footers): what a step processed, counted untimed."""
    return int(engine.scalar("SELECT count(*) FROM read_parquet(?)", [list(paths)], purpose="rows"))


def _copy(engine: Engine, source: str, dest: Path) -> int:
    return engine.copy_to_parquet(
        "SELECT * FROM read_parquet($p)", dest, {"p": source}, purpose="plain copy"
    )


def participants_sql(engine: Engine, source: Source, codes: Sequence[str], out: Path) -> list[Path]:
    """Copy the survey file (validation's bound), then list each authority's participants."""
    accepted = out / f"accepted-{source[0]}.parquet"
    _copy(engine, source[2], accepted)
    lists = []
    for code in codes:
        dest = out / f"participants-{source[0]}-{code}.parquet"
        engine.copy_to_parquet(
            "SELECT DISTINCT unique_id FROM read_parquet($p) WHERE authority = $code "
            "ORDER BY unique_id",
            dest,
            {"p": str(accepted), "code": code},
            purpose="plain participants",
        )
        lists.append(dest)
    return lists


def split_sql(
    engine: Engine, source: Source, dataset: str, participants: Sequence[Path], out: Path
) -> list[Path]:
    """Copy the file, keep participants' rows (authority), write identifiers and content."""
    accepted = out / f"accepted-{source[0]}.parquet"
    _copy(engine, source[2], accepted)
    keep = ""
    params: dict[str, object] = {"p": str(accepted)}
    if participants:
        keep = "WHERE unique_id IN (SELECT unique_id FROM read_parquet($lists))"
        params["lists"] = [str(p) for p in participants]
    engine.execute(
        f"CREATE OR REPLACE TEMP TABLE shared AS SELECT *, {_RANDOM_ID} AS row_ref "
        f"FROM read_parquet($p) {keep}",
        params,
        purpose="plain split",
    )
    present = {
        row[0]
        for row in engine.fetchall("SELECT column_name FROM (DESCRIBE shared)", purpose="columns")
    }
    fields = [f.name for f in load_dataset(dataset, 1).content_fields if f.name in present]
    content = ", ".join(quote_ident(name) for name in fields)
    identifiers, payload = (
        out / f"identifiers-{source[0]}.parquet",
        out / f"content-{source[0]}.parquet",
    )
    engine.copy_to_parquet(
        "SELECT row_ref, unique_id FROM shared ORDER BY row_ref", identifiers, purpose="plain ids"
    )
    engine.copy_to_parquet(
        f"SELECT row_ref, {content} FROM shared ORDER BY random()", payload, purpose="plain content"
    )
    return [identifiers, payload]


def index_sql(engine: Engine, files: Sequence[Source], dest: Path) -> int:
    """Random link IDs for the surveyed children, joined to every identifiers row: the key."""
    params: dict[str, object] = {}
    selects = []
    for number, (source, kind, path) in enumerate(files):
        params |= {f"s{number}": source, f"k{number}": kind, f"p{number}": path}
        selects.append(
            f"SELECT $s{number} AS source, $k{number} AS kind, row_ref, unique_id "
            f"FROM read_parquet($p{number})"
        )
    return engine.copy_to_parquet(
        f"WITH ids AS ({' UNION ALL '.join(selects)}), "
        f"links AS (SELECT unique_id, {_RANDOM_ID} AS link_id "
        "FROM (SELECT DISTINCT unique_id FROM ids WHERE kind = 'survey')) "
        "SELECT source, row_ref, link_id FROM ids JOIN links USING (unique_id) ORDER BY row_ref",
        dest,
        params,
        purpose="plain key",
    )


def join_sql(
    engine: Engine, key: str, contents: Sequence[Source], policy: ReleasePolicy, dest: Path
) -> int:
    """Survey rows left-joined to authority rows through the key: the same release's columns."""
    params: dict[str, object] = {"key": key}
    surveys: list[str] = []
    authorities: list[str] = []
    for number, (source, kind, path) in enumerate(contents):
        params |= {f"s{number}": source, f"p{number}": path}
        tag = f", $s{number} AS {SURVEY}" if kind == "survey" else ""
        select = (
            f"SELECT k.link_id{tag}, c.* EXCLUDE (row_ref) FROM read_parquet($p{number}) c "
            f"JOIN k ON k.source = $s{number} AND k.row_ref = c.row_ref"
        )
        (surveys if kind == "survey" else authorities).append(select)
    simd = "a.simd_decile" if policy.simd == "decile" else simd_quintile_sql("a.simd_decile")
    fold = policy.urban_rural
    return engine.copy_to_parquet(
        "WITH k AS (SELECT * FROM read_parquet($key)), "
        f"s AS ({' UNION ALL BY NAME '.join(surveys)}), "
        f"a AS ({' UNION ALL BY NAME '.join(authorities)}) "
        f"SELECT {_RANDOM_ID} AS {RELEASE_ID}, s.* EXCLUDE (link_id), "
        f"a.link_id IS NOT NULL AS {AUTHORITY_LINKED}, "
        "a.* EXCLUDE (link_id, school, simd_decile, urban_rural), "
        f"{simd} AS {simd_column(policy.simd)}, "
        f"{urban_rural_sql('a.urban_rural', fold)} AS {urban_rural_column(fold)} "
        f"FROM s LEFT JOIN a USING (link_id) ORDER BY {RELEASE_ID}",
        dest,
        params,
        purpose="plain join",
    )


# -- the plain counterpart of each flow step, as measured steps -----------------------------------


def plain_participants(sources: list[Source], codes: list[str], out: str) -> Timed:
    clock, cipher, folder = Stopwatch(), Cipher(), Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    rows = 0
    with bench_engine(folder / "tmp") as engine:
        for source in sources:
            with clock.section():
                lists = participants_sql(engine, source, codes, folder)
            rows += _rows(engine, [source[2]])
            cipher.encrypt(lists, clock)
            copy_files(lists, folder / "sent", clock)
    return clock.result(rows)


def plain_split(
    sources: list[Source], datasets: list[str], participants: list[str], out: str
) -> Timed:
    clock, cipher, folder = Stopwatch(), Cipher(), Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    lists = [Path(p) for p in participants]
    cipher.decrypt(lists, clock)
    rows = 0
    with bench_engine(folder / "tmp") as engine:
        for source, dataset in zip(sources, datasets, strict=True):
            with clock.section():
                files = split_sql(engine, source, dataset, lists, folder)
            rows += _rows(engine, [source[2]])
            cipher.encrypt(files, clock)
            copy_files(files, folder / "sent", clock)
    return clock.result(rows)


def plain_index(files: list[Source], out: str) -> Timed:
    clock, cipher, folder = Stopwatch(), Cipher(), Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    cipher.decrypt([Path(f[2]) for f in files], clock)
    key = folder / "key.parquet"
    with bench_engine(folder / "tmp") as engine:
        with clock.section():
            index_sql(engine, files, key)
        rows = _rows(engine, [f[2] for f in files])
    cipher.encrypt([key], clock)
    copy_files([key], folder / "sent", clock)
    return clock.result(rows)


def plain_release(key: str, contents: list[Source], policy_json: str, out: str) -> Timed:
    clock, cipher, folder = Stopwatch(), Cipher(), Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    cipher.decrypt([Path(key), *(Path(c[2]) for c in contents)], clock)
    release = folder / "release.parquet"
    policy = ReleasePolicy.model_validate_json(policy_json)
    with bench_engine(folder / "tmp") as engine:
        with clock.section():
            join_sql(engine, key, contents, policy, release)
        rows = _rows(engine, [c[2] for c in contents])
    cipher.encrypt([release], clock)
    copy_files([release], folder / "sent", clock)
    return clock.result(rows)


def plain_open(payloads: list[str], rows: int) -> Timed:
    clock = Stopwatch()
    Cipher().decrypt([Path(p) for p in payloads], clock)
    return clock.result(rows)


def group_bys(release: Path) -> int:
    """The report's tables as plain DuckDB GROUP BYs: no disclosure control, models or rendering."""
    from linkwell.analysis.aggregate import aggregate
    from linkwell.analysis.groups import plan_breakdowns
    from linkwell.analysis.publication import _atoms
    from linkwell.analysis.source import prepare_release
    from linkwell.config import DisclosurePolicy

    policy = DisclosurePolicy()
    with Engine() as engine:
        prepared = prepare_release(engine, release, policy)
        for plan in plan_breakdowns(prepared.simd, prepared.urban_rural):
            aggregate(
                engine,
                plan,
                _atoms(prepared, plan.breakdown),
                weighted=prepared.weighted,
                dominance_n=policy.dominance_n,
            )
        return prepared.children


def plain_report(release: str) -> Timed:
    clock = Stopwatch()
    with clock.section():
        rows = group_bys(Path(release))
    return clock.result(rows)
