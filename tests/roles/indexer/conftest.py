from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from linkwell.config import Role
from linkwell.engine import Engine
from linkwell.engine.tokens import random_tokens
from linkwell.roles.indexer import Vault, VaultSecrets, read_secrets, write_secrets
from linkwell.seal import SecretIdentity, new_identity


@pytest.fixture
def identity() -> SecretIdentity:
    return new_identity("nrs", Role.INDEXER)


@pytest.fixture
def vault_dir(tmp_path: Path, identity: SecretIdentity) -> Path:
    directory = tmp_path / "vault"
    directory.mkdir()
    write_secrets(
        VaultSecrets.generate(), directory / "secrets.age", identity.card().encryption_key
    )
    return directory


@pytest.fixture
def open_vault(vault_dir: Path, identity: SecretIdentity) -> Iterator[tuple[Engine, Vault]]:
    with Engine() as engine:
        vault = Vault(
            engine, vault_dir, read_secrets(vault_dir / "secrets.age", identity), create=True
        )
        yield engine, vault


def write_identifiers(path: Path, ids: list[str | None]) -> Path:
    refs = random_tokens(len(ids))
    pq.write_table(pa.table({"row_ref": refs, "unique_id": pa.array(ids, pa.string())}), path)
    return path
