"""Fuzzing vault backups: a damaged or edited backup is refused and never half restored.

A backup comes back from wherever it was kept (tape, another site), so its manifest and files are
outside bytes. Restoring either puts the backup in place with a manifest that names a digest for
every file, or raises a ``VaultError`` and leaves the vault folder as it was.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from linkwell.engine import Engine
from linkwell.errors import VaultError
from linkwell.roles.indexer import Vault, read_secrets, restore
from linkwell.roles.indexer.vault import BACKUP_MANIFEST, DATABASE_FILE, SECRETS_FILE
from linkwell.schema import issue_ids
from linkwell.seal import SecretIdentity
from tests.fuzzing import BUDGETS, Folders, budget, edited_document, json_bytes, judge, mutated

from .test_vault import _assign


@pytest.fixture
def backup(tmp_path: Path, vault_dir: Path, identity: SecretIdentity) -> Path:
    with Engine() as engine:
        vault = Vault(
            engine, vault_dir, read_secrets(vault_dir / SECRETS_FILE, identity), create=True
        )
        _assign(engine, vault, issue_ids(30).tolist(), "p1", 1)
        vault.backup(tmp_path / "backup")
    return tmp_path / "backup"


def _restore(folder: Path, backup: Path, replaced: dict[str, bytes]) -> None:
    copy = folder / "backup"
    shutil.copytree(backup, copy)
    for name, data in replaced.items():
        (copy / name).write_bytes(data)
    target = folder / "vault"
    results = []
    verdict = judge(lambda: results.append(restore(copy, target)), outputs=target, file=copy)
    if verdict == "accepted":
        digests = results[0]["sha256"]
        assert isinstance(digests, dict)
        assert {DATABASE_FILE, SECRETS_FILE} <= set(digests)
        assert sorted(p.name for p in target.iterdir()) == [SECRETS_FILE, DATABASE_FILE]


@pytest.mark.parametrize("long", BUDGETS)
def test_backup_manifests(backup: Path, tmp_path: Path, long: bool) -> None:
    folders = Folders(tmp_path / "examples")
    text = (backup / BACKUP_MANIFEST).read_bytes()
    document = json.loads(text)

    @budget(60, long=long)
    @given(mutated(text) | edited_document(document).map(json_bytes) | st.binary(max_size=80))
    def run(manifest: bytes) -> None:
        _restore(folders(), backup, {BACKUP_MANIFEST: manifest})

    run()


@pytest.mark.parametrize("long", BUDGETS)
def test_backup_files(backup: Path, tmp_path: Path, long: bool) -> None:
    folders = Folders(tmp_path / "examples")
    secrets = (backup / SECRETS_FILE).read_bytes()

    @budget(20, long=long)
    @given(mutated(secrets))
    def run(data: bytes) -> None:
        _restore(folders(), backup, {SECRETS_FILE: data})

    run()


def test_a_manifest_whose_digests_are_not_a_table_is_refused(backup: Path, tmp_path: Path) -> None:
    """Digests given as [name, digest] pairs passed restore, and `vault restore` then crashed."""
    document = json.loads((backup / BACKUP_MANIFEST).read_text())
    document["sha256"] = [list(pair) for pair in document["sha256"].items()]
    folder = Folders(tmp_path / "examples")()
    shutil.copytree(backup, folder / "backup")
    (folder / "backup" / BACKUP_MANIFEST).write_bytes(json_bytes(document))
    with pytest.raises(VaultError, match="manifest"):
        restore(folder / "backup", folder / "vault")
    assert not (folder / "vault").exists()
