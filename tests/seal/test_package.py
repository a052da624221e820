"""Sealing and opening as intended: round trips, the manifest, rotation, refusals at sealing."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from linkwell.audit import LogHead, sign_head
from linkwell.config import Role
from linkwell.errors import (
    AuditError,
    ConfigError,
    IdentityError,
    MisdirectedError,
    ReadError,
    ReplayError,
    RoleError,
    SignatureError,
    StorageError,
    UnknownSenderError,
)
from linkwell.progress import SILENT, Progress
from linkwell.seal import (
    OpenedPackage,
    PackageKind,
    ReceiptLedger,
    ReceiptState,
    SecretIdentity,
    inspect_package,
    new_identity,
    open_package,
    seal_package,
)
from linkwell.seal._layout import FOOTER_LENGTH, HEADER
from tests.seal.conftest import DATASET, NOW, Sealer, World, listing, write_payload, write_shaped


def _open(
    world: World,
    package: Path,
    ledger: ReceiptLedger,
    dest: Path,
    party: str = "edris",
    *,
    identities: list[SecretIdentity] | None = None,
    now: datetime = NOW + timedelta(hours=1),
    expect_kinds: set[PackageKind] | None = None,
    progress: Progress = SILENT,
) -> OpenedPackage:
    return open_package(
        package,
        project=world.project,
        identities=identities or world.identities[party],
        ledger=ledger,
        dest=dest,
        now=now,
        expect_kinds=expect_kinds,
        progress=progress,
    )


def test_round_trip_and_what_the_manifest_says(
    world: World, seal: Sealer, payload: Path, inbox: Path, ledger: ReceiptLedger
) -> None:
    package, manifest = seal()
    opened = _open(world, package, ledger, inbox / "content.parquet")
    assert opened.path.read_bytes() == payload.read_bytes()
    assert opened.path.stat().st_mode & 0o777 == 0o600
    assert opened.manifest == manifest
    assert opened.config_matches
    assert opened.receipt.state is ReceiptState.OPENED
    assert ledger.receipts() == (opened.receipt,)

    project, table = world.project, pq.read_table(payload)
    assert (manifest.project, manifest.wave) == (project.project.id, project.project.wave)
    assert (manifest.kind, manifest.source, manifest.dataset) == (
        PackageKind.CONTENT,
        "secondary",
        DATASET,
    )
    assert manifest.sender.fingerprint == world.me("ipsos").fingerprint
    assert manifest.recipient.fingerprint == world.me("edris").fingerprint
    assert [(c.name, c.type) for c in manifest.columns] == [
        (f.name, str(f.type)) for f in table.schema
    ]
    assert manifest.rows == table.num_rows
    assert manifest.created == NOW
    assert manifest.expires == NOW + timedelta(days=project.project.package_ttl_days)
    assert manifest.plaintext_sha256 == hashlib.sha256(payload.read_bytes()).hexdigest()
    assert manifest.plaintext_size == payload.stat().st_size
    data = package.read_bytes()
    ciphertext = data[len(HEADER) : len(HEADER) + manifest.ciphertext_size]
    assert ciphertext.startswith(b"age-encryption.org/v1\n")
    assert manifest.ciphertext_sha256 == hashlib.sha256(ciphertext).hexdigest()
    assert manifest.config_digest == project.digest()
    assert len({manifest.package_id, seal()[1].package_id}) == 2  # random per package


def test_multi_block_payload_streams_through(
    world: World, seal: Sealer, tmp_path: Path, inbox: Path, ledger: ReceiptLedger
) -> None:
    big = write_payload(tmp_path / "big.parquet", rows=3000, blob_bytes=1500)  # ~4.5 MiB
    package, manifest = seal(source_file=big)
    opened = _open(world, package, ledger, inbox / "big.parquet")
    assert opened.path.read_bytes() == big.read_bytes()
    assert manifest.ciphertext_size > 4 * 1024 * 1024


def test_empty_payload(
    world: World, seal: Sealer, tmp_path: Path, inbox: Path, ledger: ReceiptLedger
) -> None:
    empty = tmp_path / "empty.parquet"
    pq.write_table(pa.table({"row_ref": pa.array([], pa.string())}), empty)
    package, manifest = seal(source_file=empty)
    assert manifest.rows == 0
    assert (
        _open(world, package, ledger, inbox / "e.parquet").path.read_bytes() == empty.read_bytes()
    )


def test_every_allowed_route_opens(
    world: World, seal: Sealer, inbox: Path, ledger: ReceiptLedger
) -> None:
    routes = [
        ("ipsos", "fife", PackageKind.PARTICIPANTS, "secondary"),
        ("ipsos", "nrs", PackageKind.IDENTIFIERS, "secondary"),
        ("fife", "nrs", PackageKind.IDENTIFIERS, "fife"),
        ("ipsos", "edris", PackageKind.CONTENT, "secondary"),
        ("fife", "edris", PackageKind.CONTENT, "fife"),
        ("nrs", "edris", PackageKind.LINKAGE_KEY, None),
        ("nrs", "edris", PackageKind.REPORT, None),
        ("edris", "scotcen", PackageKind.RELEASE, None),
        ("edris", "scotcen", PackageKind.REPORT, None),
    ]
    for n, (sender, recipient, kind, source) in enumerate(routes):
        package, _ = seal(sender, recipient, kind, source=source)
        opened = _open(
            world, package, ledger, inbox / f"{n}.parquet", party=recipient, expect_kinds={kind}
        )
        assert opened.manifest.kind is kind


def test_inspect_verifies_without_decrypting(world: World, seal: Sealer, tmp_path: Path) -> None:
    package, manifest = seal()
    before = listing(tmp_path)
    assert inspect_package(package, project=world.project) == manifest
    assert listing(tmp_path) == before


def test_name_does_not_matter(
    world: World, seal: Sealer, inbox: Path, ledger: ReceiptLedger
) -> None:
    package, manifest = seal()
    renamed = package.rename(package.with_name("whatever name.bin"))
    assert _open(world, renamed, ledger, inbox / "x.parquet").manifest == manifest


def test_parents_and_log_head_travel(
    world: World, payload: Path, tmp_path: Path, inbox: Path, ledger: ReceiptLedger
) -> None:
    head = sign_head(
        LogHead(party="nrs", sequence=12, entry_hash="cd" * 32, time=NOW),
        world.me("nrs").signing_key,
    )
    key, dataset = write_shaped(tmp_path / "key.parquet", PackageKind.LINKAGE_KEY)
    manifest = seal_package(
        key,
        project=world.project,
        sender=world.me("nrs"),
        recipient="edris",
        kind=PackageKind.LINKAGE_KEY,
        source=None,
        dataset=dataset,
        parents=("ab" * 16, "cd" * 16),
        log_head=head,
        dest=tmp_path / "key.lwpkg",
        now=NOW,
    )
    opened = _open(world, tmp_path / "key.lwpkg", ledger, inbox / "key.parquet")
    assert opened.manifest == manifest
    assert opened.manifest.parents == ("ab" * 16, "cd" * 16)
    assert opened.manifest.sender_log_head == head


@contextmanager
def _nothing_written(directory: Path) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    before = listing(directory)
    yield
    assert listing(directory) == before


def test_seal_refusals_write_nothing(world: World, seal: Sealer, tmp_path: Path) -> None:
    out = tmp_path / "outbox"
    with _nothing_written(out):
        with pytest.raises(RoleError):
            seal("ipsos", "scotcen", PackageKind.CONTENT)
        with pytest.raises(RoleError, match="must name a source"):
            seal("fife", "edris", PackageKind.CONTENT, source="secondary")
        with pytest.raises(RoleError, match="name no source"):
            seal("nrs", "edris", PackageKind.LINKAGE_KEY, source="secondary")
        with pytest.raises(ConfigError, match="no party called"):
            seal("ipsos", "nobody")
        with pytest.raises(IdentityError, match="not in the project file"):
            seal(identity=new_identity("ipsos", Role.SURVEY_PROVIDER))
        with pytest.raises(IdentityError, match="has role survey-provider"):
            seal(identity=new_identity("ipsos", Role.LINKER))
        with pytest.raises(ConfigError, match="parent package id"):
            seal(parents=["not-an-id"])
        (tmp_path / "not.parquet").write_bytes(b"PAR1 but not really")
        with pytest.raises(ReadError, match="not a readable Parquet") as info:
            seal(source_file=tmp_path / "not.parquet")
        assert info.value.file == str(tmp_path / "not.parquet")
        with pytest.raises(ReadError):
            seal(source_file=tmp_path / "missing.parquet")
        other_head = sign_head(
            LogHead(party="nrs", sequence=1, entry_hash="00" * 32, time=NOW),
            world.me("nrs").signing_key,
        )
        with pytest.raises(AuditError, match="not this party's"):
            seal_package(
                tmp_path / "content.parquet",
                project=world.project,
                sender=world.me("ipsos"),
                recipient="edris",
                kind=PackageKind.CONTENT,
                source="secondary",
                dataset=DATASET,
                parents=(),
                log_head=other_head,
                dest=out / "x.lwpkg",
                now=NOW,
            )


def test_retired_identity_may_not_seal(world: World, seal: Sealer) -> None:
    old = world.me("ipsos")
    world.rotate("ipsos", when=NOW - timedelta(days=1))
    with pytest.raises(IdentityError, match="retired"):
        seal(identity=old)
    seal()  # the new identity seals


def test_recipient_rotation(world: World, seal: Sealer, inbox: Path, ledger: ReceiptLedger) -> None:
    before_rotation, old_manifest = seal()
    world.rotate("edris", when=NOW)
    after_rotation, new_manifest = seal()
    assert old_manifest.recipient.fingerprint == world.identities["edris"][0].fingerprint
    assert new_manifest.recipient.fingerprint == world.identities["edris"][1].fingerprint
    # The keyring with both identities opens both; the new identity alone cannot open the old.
    with pytest.raises(MisdirectedError, match="not loaded"):
        _open(world, before_rotation, ledger, inbox / "a.parquet", identities=[world.me("edris")])
    assert not (inbox / "a.parquet").exists()
    _open(world, before_rotation, ledger, inbox / "a.parquet")
    _open(world, after_rotation, ledger, inbox / "b.parquet")


def test_sender_rotation_retired_allowed_removed_refused(
    world: World, seal: Sealer, inbox: Path, ledger: ReceiptLedger
) -> None:
    signed_before, _ = seal()
    signed_before_too, _ = seal()
    old = world.me("ipsos")
    world.rotate("ipsos", when=NOW + timedelta(minutes=1))
    opened = _open(world, signed_before, ledger, inbox / "a.parquet")  # retired, still registered
    assert not opened.config_matches  # the project file gained a card since sealing
    world.removed.add(old.fingerprint)  # revoked: removed from the project file
    with pytest.raises(UnknownSenderError):
        _open(world, signed_before_too, ledger, inbox / "b.parquet")
    assert not (inbox / "b.parquet").exists()


def test_a_card_retired_at_a_time_signs_nothing_made_after_it(
    world: World, seal: Sealer, inbox: Path, ledger: ReceiptLedger
) -> None:
    """The old key kept in use after rotation: what it made before opens, nothing later."""
    old = world.me("ipsos")
    before, _ = seal(now=NOW)
    after, after_manifest = seal(now=NOW + timedelta(minutes=20))
    world.retired_at[old.fingerprint] = NOW + timedelta(minutes=10)
    assert world.project.party("ipsos").identities[0].retired_at == NOW + timedelta(minutes=10)
    _open(world, before, ledger, inbox / "a.parquet")
    with pytest.raises(SignatureError, match="retired at") as refused:
        _open(world, after, ledger, inbox / "b.parquet")
    assert refused.value.hint is not None
    assert "current identity" in refused.value.hint
    assert not (inbox / "b.parquet").exists()
    assert ledger.state(after_manifest.package_id) is None


def test_existing_destination_is_never_overwritten(
    world: World, seal: Sealer, inbox: Path, ledger: ReceiptLedger
) -> None:
    package, _ = seal()
    (inbox / "taken.parquet").write_bytes(b"precious")
    with pytest.raises(StorageError, match="already exists"):
        _open(world, package, ledger, inbox / "taken.parquet")
    assert (inbox / "taken.parquet").read_bytes() == b"precious"
    assert ledger.receipts() == ()


def test_progress_is_reported_in_bytes(
    world: World, payload: Path, tmp_path: Path, inbox: Path, ledger: ReceiptLedger
) -> None:
    seen: dict[str, list[float]] = {}

    class Recorder:
        @contextmanager
        def task(self, description: str, *, total: float | None = None) -> Iterator[object]:
            record = seen.setdefault(description.split(maxsplit=1)[0], [total or 0, 0])

            class Task:
                def advance(self, amount: float = 1) -> None:
                    record[1] += amount

            yield Task()

    manifest = seal_package(
        payload,
        project=world.project,
        sender=world.me("ipsos"),
        recipient="edris",
        kind=PackageKind.CONTENT,
        source="secondary",
        dataset=DATASET,
        parents=(),
        log_head=None,
        dest=tmp_path / "p.lwpkg",
        now=NOW,
        progress=Recorder(),
    )
    _open(world, tmp_path / "p.lwpkg", ledger, inbox / "p.parquet", progress=Recorder())
    assert seen["sealing"] == [manifest.plaintext_size] * 2
    assert seen["verifying"] == [manifest.ciphertext_size] * 2
    assert seen["decrypting"] == [manifest.ciphertext_size] * 2


def test_package_file_layout(seal: Sealer) -> None:
    package, manifest = seal()
    data = package.read_bytes()
    assert data.startswith(b"linkwell-package/v1\n")
    assert data[-FOOTER_LENGTH:].startswith(b"linkwell-package/v1 payload=")
    manifest_bytes = manifest.canonical()
    assert len(data) == 20 + manifest.ciphertext_size + len(manifest_bytes) + 90 + 67


def test_payload_is_removed_if_the_ledger_refuses_at_the_end(
    world: World, seal: Sealer, inbox: Path, ledger: ReceiptLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes opening one package at once: the loser's payload does not stay."""
    package, _ = seal()

    def lost_race(*args: object, **kwargs: object) -> None:
        raise ReplayError("this package was opened here meanwhile, by another process")

    monkeypatch.setattr(ledger, "record_opened", lost_race)
    with pytest.raises(ReplayError):
        _open(world, package, ledger, inbox / "p.parquet")
    assert listing(inbox) == []
