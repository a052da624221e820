"""The indexer role: opens identifiers only, keeps the vault, issues the linkage key.

The indexer never sees survey answers or service data. From the providers' identifiers files
it gives each surveyed child an anonymous link ID (random, per project and wave) and sends the
linker the key ``(source, row_ref, link_id)`` with a match-quality report of counts only.
"""

from linkwell.roles.indexer.linkage import IdentifierFile, KeyResult, RowStatus, build_linkage_key
from linkwell.roles.indexer.steps import (
    LinkResult,
    link,
    open_vault,
    vault_backup,
    vault_restore,
    vault_verify,
)
from linkwell.roles.indexer.vault import (
    AssignCounts,
    Vault,
    VaultReport,
    VaultSecrets,
    read_secrets,
    restore,
    write_secrets,
)

__all__ = [
    "AssignCounts",
    "IdentifierFile",
    "KeyResult",
    "LinkResult",
    "RowStatus",
    "Vault",
    "VaultReport",
    "VaultSecrets",
    "build_linkage_key",
    "link",
    "open_vault",
    "read_secrets",
    "restore",
    "vault_backup",
    "vault_restore",
    "vault_verify",
    "write_secrets",
]
