"""The committed golden package must keep opening, and its manifest encoding must not change.

The package, its project file and the two test-only secret identities were made once by
``tests/seal/golden/make_golden.py``; they pin the byte layout, the manifest encoding, the
signature construction and the fingerprint function across releases.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq

from linkwell.config import load_project
from linkwell.seal import (
    PackageKind,
    ReceiptLedger,
    SecretIdentity,
    fingerprint,
    inspect_package,
    open_package,
)
from linkwell.seal._layout import FOOTER_LENGTH, HEADER
from linkwell.seal.manifest import decode_manifest, decode_signature, sign_manifest
from tests.seal.golden.make_golden import CREATED, PARENT, golden_table

GOLDEN = Path(__file__).resolve().parent / "golden"


def _identity(name: str) -> SecretIdentity:
    return SecretIdentity.from_secret_text((GOLDEN / f"{name}.identity.txt").read_text())


def test_golden_package_opens(tmp_path: Path) -> None:
    project = load_project(GOLDEN / "project.toml")
    with ReceiptLedger(tmp_path / "receipts.sqlite") as ledger:
        opened = open_package(
            GOLDEN / "package.lwpkg",
            project=project,
            identities=[_identity("edris")],
            ledger=ledger,
            dest=tmp_path / "payload.parquet",
            expect_kinds={PackageKind.CONTENT},
            now=CREATED + timedelta(days=1),
        )
    assert pq.read_table(opened.path).equals(golden_table())
    manifest = opened.manifest
    assert (manifest.kind, manifest.source, manifest.parents) == (
        PackageKind.CONTENT,
        "secondary",
        (PARENT,),
    )
    assert manifest.sender_log_head is not None
    assert manifest.sender_log_head.head.sequence == 3
    assert inspect_package(GOLDEN / "package.lwpkg", project=project) == manifest


def test_golden_manifest_bytes_do_not_change() -> None:
    package = (GOLDEN / "package.lwpkg").read_bytes()
    pinned = (GOLDEN / "manifest.json").read_bytes()
    assert package.startswith(HEADER)
    end = len(package) - FOOTER_LENGTH - 90
    assert package[end - len(pinned) : end] == pinned
    manifest = decode_manifest(pinned)
    assert manifest.canonical() == pinned  # re-encoding gives the same bytes
    assert package[-FOOTER_LENGTH:] == (
        b"linkwell-package/v1 payload=%020d manifest=%08d\n"
        % (manifest.ciphertext_size, len(pinned))
    )


def test_golden_signature_and_fingerprints_are_known_answers() -> None:
    package = (GOLDEN / "package.lwpkg").read_bytes()
    manifest = decode_manifest((GOLDEN / "manifest.json").read_bytes())
    signature_text = package[-FOOTER_LENGTH - 89 : -FOOTER_LENGTH - 1]
    # Ed25519 is deterministic: the committed key over the committed manifest gives these bytes.
    assert sign_manifest(manifest, _identity("ipsos").signing_key) == decode_signature(
        signature_text
    )
    project = load_project(GOLDEN / "project.toml")
    assert fingerprint(project.party("ipsos").identities[0]) == manifest.sender.fingerprint
    assert fingerprint(project.party("edris").identities[0]) == manifest.recipient.fingerprint
    assert _identity("edris").fingerprint == manifest.recipient.fingerprint
