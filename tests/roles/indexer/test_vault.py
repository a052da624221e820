from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pytest

from linkwell.config import Role
from linkwell.engine import Engine
from linkwell.errors import IdentityError, VaultError
from linkwell.roles.indexer import AssignCounts, Vault, read_secrets, restore
from linkwell.roles.indexer.hmac_sql import hmac_sha256_sql
from linkwell.roles.indexer.vault import ASSIGNED
from linkwell.schema import issue_ids
from linkwell.seal import SecretIdentity, new_identity


def _assign(
    engine: Engine, vault: Vault, ids: list[str], project: str, wave: int
) -> dict[bytes, str]:
    _counts(engine, vault, ids, project, wave)
    return {
        bytes(h): link
        for h, link in engine.fetchall(f"SELECT id_hmac, link_id FROM {ASSIGNED}", purpose="t")
    }


def test_ids_are_stored_only_as_hmacs(open_vault: tuple[Engine, Vault], vault_dir: Path) -> None:
    engine, vault = open_vault
    ids = issue_ids(200).tolist()
    _assign(engine, vault, ids, "p1", 1)
    engine.execute("CHECKPOINT vault", purpose="t")
    raw = (vault_dir / "vault.duckdb").read_bytes()
    for unique_id in ids[:50]:
        assert unique_id.encode() not in raw
    for column_type in engine.fetchall(
        "SELECT data_type FROM duckdb_columns() WHERE database_name = 'vault' "
        "AND table_name = 'persons'",
        purpose="t",
    ):
        assert column_type[0] in ("BLOB", "VARCHAR", "INTEGER")


def test_rerun_keeps_link_ids_and_new_wave_or_project_gets_new_ones(
    open_vault: tuple[Engine, Vault],
) -> None:
    engine, vault = open_vault
    ids = issue_ids(300).tolist()
    first = _assign(engine, vault, ids, "p1", 1)
    again = _assign(engine, vault, ids, "p1", 1)
    assert first == again
    wave2 = _assign(engine, vault, ids, "p1", 2)
    other = _assign(engine, vault, ids, "p2", 1)
    assert set(wave2) == set(first) == set(other)
    assert not set(wave2.values()) & set(first.values())
    assert not set(other.values()) & set(first.values())
    persons = engine.scalar("SELECT count(*) FROM vault.persons", purpose="t")
    assert persons == 300  # the same children, one internal person each, across waves and projects
    longitudinal = engine.fetchall(
        "SELECT project, count(*) FROM vault.longitudinal_ids GROUP BY ALL ORDER BY 1", purpose="t"
    )
    assert longitudinal == [("p1", 300), ("p2", 300)]
    assert vault.verify().ok


def _counts(
    engine: Engine,
    vault: Vault,
    ids: list[str],
    project: str,
    wave: int,
    *,
    longitudinal: bool = True,
) -> AssignCounts:
    engine.register("incoming", pa.table({"unique_id": ids}))
    engine.execute(
        f"CREATE OR REPLACE TEMP TABLE hashed AS SELECT {hmac_sha256_sql('unique_id')} AS id_hmac "
        "FROM incoming",
        vault.hmac_params,
        purpose="t",
    )
    return vault.assign("hashed", project=project, wave=wave, longitudinal=longitudinal)


def test_counts_describe_the_wave_so_a_rerun_after_a_crash_reports_the_same(
    open_vault: tuple[Engine, Vault],
) -> None:
    """A run killed after the vault committed used to make its rerun report every child known."""
    engine, vault = open_vault
    ids = issue_ids(300).tolist()
    first = _counts(engine, vault, ids[:200], "p1", 1)
    assert first == AssignCounts(200, 0, 200, 200)
    assert _counts(engine, vault, ids[:200], "p1", 1) == first  # the rerun after the crash
    wave2 = _counts(engine, vault, ids[100:], "p1", 2)  # half the children are new this wave
    assert wave2 == AssignCounts(100, 100, 200, 100)
    assert _counts(engine, vault, ids[100:], "p1", 2) == wave2
    assert _counts(engine, vault, ids, "p2", 1) == AssignCounts(0, 300, 300, 300)


def test_a_project_without_longitudinal_ids_looks_none_up(
    open_vault: tuple[Engine, Vault],
) -> None:
    """Not even those an earlier wave of the same project issued, when it asked for them."""
    engine, vault = open_vault
    ids = issue_ids(300).tolist()
    assert _counts(engine, vault, ids[:200], "p1", 1) == AssignCounts(200, 0, 200, 200)
    wave2 = _counts(engine, vault, ids[100:], "p1", 2, longitudinal=False)
    assert wave2 == AssignCounts(100, 100, 200, 0)
    assigned = engine.fetchall(
        f"SELECT count(link_id), count(longitudinal_id) FROM {ASSIGNED}", purpose="t"
    )
    assert assigned == [(200, 0)]
    assert engine.scalar("SELECT count(*) FROM vault.longitudinal_ids", purpose="t") == 200
    assert _counts(engine, vault, ids, "p2", 1, longitudinal=False) == AssignCounts(0, 300, 300, 0)
    assert vault.verify().ok


def test_wrong_identity_cannot_open_secrets(vault_dir: Path) -> None:
    with pytest.raises(IdentityError, match="cannot open the vault"):
        read_secrets(vault_dir / "secrets.age", new_identity("nrs", Role.INDEXER))


def test_missing_vault_is_not_silently_created(vault_dir: Path, identity: SecretIdentity) -> None:
    with Engine() as engine, pytest.raises(VaultError, match="no vault here"):
        Vault(engine, vault_dir, read_secrets(vault_dir / "secrets.age", identity))


def test_corruption_is_detected_by_verify(vault_dir: Path, identity: SecretIdentity) -> None:
    vault_secrets = read_secrets(vault_dir / "secrets.age", identity)
    with Engine() as engine:
        vault = Vault(engine, vault_dir, vault_secrets, create=True)
        _assign(engine, vault, issue_ids(20_000).tolist(), "p1", 1)
    database = vault_dir / "vault.duckdb"
    data = bytearray(database.read_bytes())
    data[len(data) // 2] ^= 0x01
    database.write_bytes(bytes(data))
    with Engine() as engine, pytest.raises(VaultError):
        Vault(engine, vault_dir, vault_secrets).verify()


def test_backup_destroy_restore_gives_the_same_link_ids(
    tmp_path: Path, vault_dir: Path, identity: SecretIdentity
) -> None:
    vault_secrets = read_secrets(vault_dir / "secrets.age", identity)
    ids = issue_ids(500).tolist()
    with Engine() as engine:
        vault = Vault(engine, vault_dir, vault_secrets, create=True)
        before = _assign(engine, vault, ids, "p1", 1)
        manifest = vault.backup(tmp_path / "backup")
    assert manifest["persons"] == 500
    shutil.rmtree(vault_dir)
    restore(tmp_path / "backup", vault_dir)
    with Engine() as engine:
        vault = Vault(engine, vault_dir, read_secrets(vault_dir / "secrets.age", identity))
        assert vault.verify().ok
        after = _assign(engine, vault, ids, "p1", 1)
        assert vault.verify().persons == 500  # every child was found, none added
    assert after == before


def test_damaged_backup_is_refused(tmp_path: Path, open_vault: tuple[Engine, Vault]) -> None:
    engine, vault = open_vault
    _assign(engine, vault, issue_ids(50).tolist(), "p1", 1)
    vault.backup(tmp_path / "backup")
    database = tmp_path / "backup" / "vault.duckdb"
    data = bytearray(database.read_bytes())
    data[-100] ^= 0xFF
    database.write_bytes(bytes(data))
    with pytest.raises(VaultError, match="damaged"):
        restore(tmp_path / "backup", tmp_path / "restored")
    assert not (tmp_path / "restored" / "vault.duckdb").exists()


def test_restore_never_overwrites_a_vault(
    tmp_path: Path, open_vault: tuple[Engine, Vault], vault_dir: Path
) -> None:
    _engine, vault = open_vault
    vault.backup(tmp_path / "backup")
    with pytest.raises(VaultError, match="already exists"):
        restore(tmp_path / "backup", vault_dir)


def test_restore_sets_secrets_aside_and_unrestore_puts_them_back(
    tmp_path: Path, open_vault: tuple[Engine, Vault], vault_dir: Path
) -> None:
    """Secrets without their database are not overwritten: the restore might not verify."""
    from linkwell.roles.indexer.vault import unrestore

    _engine, vault = open_vault
    vault.backup(tmp_path / "backup")
    target = tmp_path / "lost"
    target.mkdir()
    (target / "secrets.age").write_bytes(b"the secrets that were there")
    restore(tmp_path / "backup", target)
    assert (target / "secrets.age").read_bytes() == (
        tmp_path / "backup" / "secrets.age"
    ).read_bytes()
    assert (target / "secrets.age.before-restore").read_bytes() == b"the secrets that were there"
    unrestore(target)
    assert sorted(p.name for p in target.iterdir()) == ["secrets.age"]
    assert (target / "secrets.age").read_bytes() == b"the secrets that were there"


def test_a_vault_cut_short_says_so_and_to_restore_it(
    tmp_path: Path, vault_dir: Path, identity: SecretIdentity
) -> None:
    vault_secrets = read_secrets(vault_dir / "secrets.age", identity)
    with Engine() as engine:
        vault = Vault(engine, vault_dir, vault_secrets, create=True)
        _assign(engine, vault, issue_ids(2_000).tolist(), "p1", 1)
    database = vault_dir / "vault.duckdb"
    database.write_bytes(database.read_bytes()[: database.stat().st_size // 2])
    with Engine() as engine, pytest.raises(VaultError) as refused:
        Vault(engine, vault_dir, vault_secrets)
    assert "restore" in (refused.value.hint or "")
    assert "disk space" not in str(refused.value)
