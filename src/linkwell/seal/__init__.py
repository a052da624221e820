"""Sealed packages between parties: identities, manifests, sealing, opening and the receipt ledger.

Every file that leaves a party is a package (``docs/package-format.md``): a Parquet payload
encrypted with age to exactly one recipient identity, with a manifest signed by the sender that
binds project, wave, kind, route, validity period and digests. Opening checks all of it before a
single plaintext byte is written, and the receipt ledger refuses a package seen before.
"""

from linkwell.seal.identity import SecretIdentity, fingerprint, format_fingerprint, new_identity
from linkwell.seal.keyfile import (
    CARD_FILE_NAME,
    DEFAULT_PASSPHRASE_ENV,
    IDENTITY_SUFFIX,
    CardInfo,
    NewIdentity,
    card_toml,
    create_identity,
    identity_file_name,
    load_identity,
    load_keyring,
    read_cards,
    read_passphrase,
    save_identity,
    sealing_identity,
)
from linkwell.seal.ledger import Receipt, ReceiptLedger, ReceiptState
from linkwell.seal.manifest import FORMAT_VERSION, Column, DatasetRef, Manifest, PartyRef
from linkwell.seal.opening import (
    OpenedPackage,
    check_package_time,
    inspect_package,
    open_package,
)
from linkwell.seal.package import seal_package
from linkwell.seal.routes import ROUTES, PackageKind, check_route, routes_markdown

__all__ = [
    "CARD_FILE_NAME",
    "DEFAULT_PASSPHRASE_ENV",
    "FORMAT_VERSION",
    "IDENTITY_SUFFIX",
    "ROUTES",
    "CardInfo",
    "Column",
    "DatasetRef",
    "Manifest",
    "NewIdentity",
    "OpenedPackage",
    "PackageKind",
    "PartyRef",
    "Receipt",
    "ReceiptLedger",
    "ReceiptState",
    "SecretIdentity",
    "card_toml",
    "check_package_time",
    "check_route",
    "create_identity",
    "fingerprint",
    "format_fingerprint",
    "identity_file_name",
    "inspect_package",
    "load_identity",
    "load_keyring",
    "new_identity",
    "open_package",
    "read_cards",
    "read_passphrase",
    "routes_markdown",
    "save_identity",
    "seal_package",
    "sealing_identity",
]
