"""Restoring the indexer's vault from a backup that does not verify changes nothing."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from linkwell.demo import DemoResult
from linkwell.errors import VaultError
from linkwell.roles.indexer import steps
from linkwell.workspace import Workspace


def test_a_backup_that_does_not_verify_is_taken_out_again(
    folder_demo: DemoResult, tmp_path: Path
) -> None:
    """Its digests are not signed: a backup altered with digests to match passed them."""
    shutil.copytree(folder_demo.workspaces["nrs"], tmp_path / "nrs", symlinks=True)
    nrs = Workspace.open(tmp_path / "nrs")
    steps.vault_backup(nrs, tmp_path / "backup")
    database = tmp_path / "backup" / "vault.duckdb"
    data = bytearray(database.read_bytes())
    data[len(data) // 2] ^= 0x01
    database.write_bytes(bytes(data))
    manifest_file = tmp_path / "backup" / "backup.json"
    manifest = json.loads(manifest_file.read_text())
    manifest["sha256"]["vault.duckdb"] = hashlib.sha256(bytes(data)).hexdigest()
    manifest_file.write_text(json.dumps(manifest))
    vault = nrs.folder("vault")
    secrets = (vault / "secrets.age").read_bytes()
    (vault / "vault.duckdb").rename(tmp_path / "lost.duckdb")  # the vault was lost
    with pytest.raises(VaultError, match="does not verify") as refused:
        steps.vault_restore(nrs, tmp_path / "backup")
    assert "another backup" in (refused.value.hint or "")
    assert not (vault / "vault.duckdb").exists()
    assert (vault / "secrets.age").read_bytes() == secrets
    assert sorted(p.name for p in vault.iterdir() if not p.name.endswith(".wal")) == ["secrets.age"]


def test_a_vault_not_made_yet_is_told_apart_from_one_whose_secrets_are_lost(
    folder_demo: DemoResult, tmp_path: Path
) -> None:
    """Before the first link there is nothing to restore; a vault without secrets must be."""
    shutil.copytree(folder_demo.workspaces["nrs"], tmp_path / "nrs", symlinks=True)
    nrs = Workspace.open(tmp_path / "nrs")
    vault = nrs.folder("vault")
    (vault / "secrets.age").rename(tmp_path / "secrets.age")
    with pytest.raises(VaultError, match="secrets file is missing"):
        steps.vault_verify(nrs)
    shutil.rmtree(vault)  # as in a workspace whose indexer has not linked yet
    with pytest.raises(VaultError, match="no vault here yet") as fresh:
        steps.vault_verify(nrs)
    assert "indexer link" in (fresh.value.hint or "")
