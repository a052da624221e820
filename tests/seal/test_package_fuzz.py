"""Fuzzing package files: damaged bytes, and packages a registered insider forged and signed.

A received package is outside bytes twice over: the file itself, and the Parquet payload inside
it. Whatever a package holds, opening it ends in the payload or in a ``LinkwellError`` naming the
package, and a refused package leaves no payload and no receipt behind. Forged packages are signed
with the real sender's key, so they pass the signature and reach every later check.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pyrage
import pytest
from hypothesis import given
from hypothesis import strategies as st

from linkwell.seal import (
    Manifest,
    PackageKind,
    ReceiptLedger,
    inspect_package,
    open_package,
    seal_package,
)
from linkwell.seal._layout import HEADER, trailer
from linkwell.seal.manifest import MANIFEST_DOMAIN, decode_manifest, encode_signature
from tests.fuzzing import BUDGETS, Folders, budget, edited_document, json_bytes, judge, mutated
from tests.seal.conftest import DATASET, NOW, World, write_payload
from tests.seal.forge import split

OPEN_AT = NOW + timedelta(hours=1)


class Seed:
    """One genuine package from ipsos to edris, and what a forger needs to make others."""

    def __init__(self, world: World, folder: Path) -> None:
        self.world = world
        self.payload = write_payload(folder / "payload.parquet", rows=40).read_bytes()
        self.path = folder / "seed.lwp"
        (folder / "seed.parquet").write_bytes(self.payload)
        self.manifest = seal_package(
            folder / "seed.parquet",
            project=world.project,
            sender=world.me("ipsos"),
            recipient="edris",
            kind=PackageKind.CONTENT,
            source="secondary",
            dataset=DATASET,
            parents=(),
            log_head=None,
            dest=self.path,
            now=NOW,
        )
        self.bytes = self.path.read_bytes()
        self.ciphertext = split(self.path)[0]
        self.document = json.loads(self.manifest.canonical())

    def forge(self, manifest: bytes, ciphertext: bytes | None = None) -> bytes:
        """A package with these manifest bytes, signed by the sender's real key."""
        body = self.ciphertext if ciphertext is None else ciphertext
        signature = self.world.me("ipsos").signing_key.sign(MANIFEST_DOMAIN + manifest)
        return HEADER + body + trailer(manifest, encode_signature(signature), len(body))

    def with_payload(self, plaintext: bytes) -> bytes:
        """A package whose payload is ``plaintext``, with digests and sizes to match."""
        recipient = pyrage.x25519.Recipient.from_str(self.world.me("edris").card().encryption_key)
        ciphertext = pyrage.encrypt(plaintext, [recipient])
        document = {
            **self.document,
            "plaintext_sha256": hashlib.sha256(plaintext).hexdigest(),
            "plaintext_size": len(plaintext),
            "ciphertext_sha256": hashlib.sha256(ciphertext).hexdigest(),
            "ciphertext_size": len(ciphertext),
        }
        return self.forge(json_bytes(document), ciphertext)


@pytest.fixture
def seed(world: World, tmp_path: Path) -> Seed:
    return Seed(world, tmp_path)


def _open(seed: Seed, folder: Path, data: bytes) -> str:
    """Open ``data`` as a package received by edris; refusals leave no payload, no receipt."""
    path = folder / "received.lwp"
    path.write_bytes(data)
    opened = folder / "opened"
    opened.mkdir()
    with ReceiptLedger(folder / "ledger.sqlite") as ledger:
        verdict = judge(
            lambda: open_package(
                path,
                project=seed.world.project,
                identities=seed.world.identities["edris"],
                ledger=ledger,
                dest=opened / "payload.parquet",
                now=OPEN_AT,
            ),
            outputs=opened,
            file=path,
        )
        if verdict == "refused":
            assert ledger.receipts() == ()
    return verdict


def test_the_seed_opens(seed: Seed, tmp_path: Path) -> None:
    assert _open(seed, Folders(tmp_path)(), seed.bytes) == "accepted"
    assert (
        _open(seed, Folders(tmp_path / "b")(), seed.forge(seed.manifest.canonical())) == "accepted"
    )
    assert _open(seed, Folders(tmp_path / "c")(), seed.with_payload(seed.payload)) == "accepted"


@pytest.mark.parametrize("long", BUDGETS)
def test_damaged_package_files(seed: Seed, tmp_path: Path, long: bool) -> None:
    folders = Folders(tmp_path / "examples")

    @budget(50, long=long)
    @given(mutated(seed.bytes))
    def run(data: bytes) -> None:
        _open(seed, folders(), data)

    run()


@pytest.mark.parametrize("long", BUDGETS)
def test_forged_manifests(seed: Seed, tmp_path: Path, long: bool) -> None:
    """Manifests edited field by field (or byte by byte) and signed again by the sender."""
    folders = Folders(tmp_path / "examples")
    canonical = seed.manifest.canonical()

    @budget(50, long=long)
    @given(edited_document(seed.document).map(json_bytes) | mutated(canonical))
    def run(manifest: bytes) -> None:
        _open(seed, folders(), seed.forge(manifest))

    run()


@pytest.mark.parametrize("long", BUDGETS)
def test_forged_payloads(seed: Seed, tmp_path: Path, long: bool) -> None:
    """Payloads that are not the Parquet file the manifest describes, correctly encrypted."""
    folders = Folders(tmp_path / "examples")
    other = pa.table({"row_ref": ["a", "b"], "extra": [1, 2]})
    other_file = tmp_path / "other.parquet"
    pq.write_table(other, other_file)

    @budget(30, long=long)
    @given(mutated(seed.payload) | st.binary(max_size=64) | st.just(other_file.read_bytes()))
    def run(plaintext: bytes) -> None:
        _open(seed, folders(), seed.with_payload(plaintext))

    run()


@pytest.mark.parametrize("long", BUDGETS)
def test_inspecting_damaged_packages(seed: Seed, tmp_path: Path, long: bool) -> None:
    folders = Folders(tmp_path / "examples")

    @budget(50, long=long)
    @given(mutated(seed.bytes, most=2))
    def run(data: bytes) -> None:
        folder = folders()
        path = folder / "package.lwp"
        path.write_bytes(data)
        judge(lambda: inspect_package(path, project=seed.world.project), outputs=folder, file=path)

    run()


@pytest.mark.parametrize("long", BUDGETS)
def test_manifest_bytes(seed: Seed, long: bool) -> None:
    canonical = seed.manifest.canonical()

    @budget(200, long=long)
    @given(
        edited_document(seed.document).map(json_bytes)
        | mutated(canonical)
        | st.binary(max_size=200)
        | st.text(max_size=100).map(str.encode)
    )
    def run(data: bytes) -> None:
        verdict = judge(lambda: decode_manifest(data, file="package.lwp"), file=Path("package"))
        if verdict == "accepted":
            assert isinstance(decode_manifest(data), Manifest)

    run()


def test_a_payload_whose_column_name_is_not_utf8_is_refused(seed: Seed, tmp_path: Path) -> None:
    """Found by fuzzing: pyarrow's UnicodeDecodeError used to escape from opening."""
    source = tmp_path / "names.parquet"
    pq.write_table(pa.table({"caf\u00e9": [1, 2]}), source)
    damaged = source.read_bytes().replace("caf\u00e9".encode(), b"caf\x80\xa9")
    folder = Folders(tmp_path / "examples")()
    assert _open(seed, folder, seed.with_payload(damaged)) == "refused"
