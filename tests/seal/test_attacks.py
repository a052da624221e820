"""Every attack on a package is refused with its own error, and not one plaintext byte is left.

Each attempt opens the package as the recipient into an inbox folder and checks afterwards that
the folder is exactly as before and the ledger recorded nothing. Bit flips are exhaustive over
the header, manifest, signature and footer, and sampled over the ciphertext.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import random
import shutil
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pyrage
import pytest

from linkwell.config import ProjectConfig, Role
from linkwell.errors import (
    DigestError,
    ExpiredError,
    MisdirectedError,
    PackageError,
    PackageFormatError,
    ReplayError,
    RoleError,
    SignatureError,
    UnknownSenderError,
)
from linkwell.seal import PackageKind, ReceiptLedger, SecretIdentity, new_identity, open_package
from linkwell.seal._layout import FOOTER_LENGTH, HEADER, Layout
from linkwell.seal.routes import PROVIDER_KINDS, ROUTES
from tests.seal.conftest import NOW, ROLES, SOURCES, Sealer, World, listing, write_payload
from tests.seal.forge import SIGNATURE_PART, forge, reforge, split, write_package

LATER = NOW + timedelta(hours=1)
Attempt = Callable[..., PackageError]


@pytest.fixture
def attempt(world: World, inbox: Path, ledger: ReceiptLedger) -> Attempt:
    """Open ``package`` as ``party``; assert it is refused and the inbox and ledger unchanged."""

    def _attempt(
        package: Path,
        party: str = "edris",
        *,
        project: ProjectConfig | None = None,
        identities: list[SecretIdentity] | None = None,
        now: datetime = LATER,
        expect_kinds: set[PackageKind] | None = None,
    ) -> PackageError:
        before = listing(inbox)
        receipts = ledger.receipts()
        with pytest.raises(PackageError) as info:
            open_package(
                package,
                project=project or world.project,
                identities=identities or world.identities[party],
                ledger=ledger,
                dest=inbox / "payload.parquet",
                now=now,
                expect_kinds=expect_kinds,
            )
        assert listing(inbox) == before, "a refused package left a file behind"
        assert ledger.receipts() == receipts
        error = info.value
        assert error.file == str(package)
        assert error.hint
        return error

    return _attempt


@pytest.fixture
def sample(world: World, seal: Sealer, tmp_path: Path) -> tuple[Path, int]:
    """A package whose ciphertext spans several 64 KiB age chunks, and its ciphertext size."""
    payload = write_payload(tmp_path / "sample.parquet", rows=1200, blob_bytes=200)
    package, manifest = seal(source_file=payload)
    return package, manifest.ciphertext_size


def _flip(fd: int, position: int, bit: int) -> None:
    byte = os.pread(fd, 1, position)[0]
    os.pwrite(fd, bytes([byte ^ (1 << bit)]), position)


def test_every_bit_flip_in_header_manifest_signature_and_footer(
    sample: tuple[Path, int], attempt: Attempt
) -> None:
    package, ciphertext_size = sample
    size = package.stat().st_size
    trailer_start = len(HEADER) + ciphertext_size
    signature_start = size - FOOTER_LENGTH - SIGNATURE_PART
    regions = [
        (range(len(HEADER)), {PackageFormatError}),
        (
            range(trailer_start, signature_start),
            {PackageFormatError, SignatureError, UnknownSenderError},
        ),
        (range(signature_start, size - FOOTER_LENGTH), {PackageFormatError, SignatureError}),
        (range(size - FOOTER_LENGTH, size), {PackageFormatError}),
    ]
    fd = os.open(package, os.O_RDWR)
    try:
        flips = 0
        for positions, allowed in regions:
            for position, bit in itertools.product(positions, range(8)):
                _flip(fd, position, bit)
                error = attempt(package)
                assert type(error) in allowed, (position, bit, type(error), str(error))
                _flip(fd, position, bit)
                flips += 1
    finally:
        os.close(fd)
    assert flips > 8 * (20 + 900 + 90 + 67)


def test_sampled_bit_flips_in_the_ciphertext(sample: tuple[Path, int], attempt: Attempt) -> None:
    package, ciphertext_size = sample
    rng = random.Random(20260302)
    start = len(HEADER)
    positions = [start, start + 1, start + 100, start + ciphertext_size - 1]
    positions += [start + rng.randrange(ciphertext_size) for _ in range(300)]
    fd = os.open(package, os.O_RDWR)
    try:
        for position in positions:
            bit = rng.randrange(8)
            _flip(fd, position, bit)
            assert type(attempt(package)) is DigestError
            _flip(fd, position, bit)
    finally:
        os.close(fd)


def _chunk_boundaries(package: Path, ciphertext_size: int) -> list[int]:
    """File offsets where age's 64 KiB payload chunks start, and the ciphertext's end."""
    data = package.read_bytes()
    header_end = data.index(b"\n", data.index(b"\n--- ", len(HEADER)) + 1) + 1
    first = header_end + 16  # the payload nonce
    end = len(HEADER) + ciphertext_size
    return [*range(first, end, 64 * 1024 + 16), end]


def test_truncation_at_chunk_boundaries_and_random_points(
    sample: tuple[Path, int], attempt: Attempt, tmp_path: Path
) -> None:
    package, ciphertext_size = sample
    data = package.read_bytes()
    boundaries = _chunk_boundaries(package, ciphertext_size)
    assert len(boundaries) >= 5
    rng = random.Random(7)
    points = {p + d for p in boundaries for d in (-1, 0, 1)}
    points |= {rng.randrange(len(data)) for _ in range(40)} | {0, 1, 19, 20, len(data) - 1}
    cut = tmp_path / "cut.lwpkg"
    for point in sorted(points):
        cut.write_bytes(data[:point])
        assert type(attempt(cut)) is PackageFormatError, point


def test_truncated_ciphertext_with_trailer_kept_or_patched(
    sample: tuple[Path, int], attempt: Attempt, tmp_path: Path
) -> None:
    package, ciphertext_size = sample
    ciphertext, manifest, signature = split(package)
    boundary = _chunk_boundaries(package, ciphertext_size)[2] - len(HEADER)
    kept = tmp_path / "kept.lwpkg"
    kept.write_bytes(
        package.read_bytes()[: len(HEADER) + boundary]
        + package.read_bytes()[len(HEADER) + ciphertext_size :]
    )
    assert type(attempt(kept)) is PackageFormatError  # the footer's sizes no longer add up
    patched = write_package(tmp_path / "patched.lwpkg", ciphertext[:boundary], manifest, signature)
    error = attempt(patched)
    assert type(error) is PackageFormatError
    assert "size" in str(error)


@pytest.mark.parametrize(
    "extra",
    [b"\x00", b"\n", b"linkwell-package/v1 payload=00000000000000000000 manifest=00000000\n"],
)
def test_appended_or_prepended_bytes(
    sample: tuple[Path, int], attempt: Attempt, tmp_path: Path, extra: bytes
) -> None:
    package, _ = sample
    data = package.read_bytes()
    longer = tmp_path / "longer.lwpkg"
    longer.write_bytes(data + extra)
    assert type(attempt(longer)) is PackageFormatError
    longer.write_bytes(extra + data)
    assert type(attempt(longer)) is PackageFormatError


def test_unknown_format_version_is_named(
    sample: tuple[Path, int], attempt: Attempt, tmp_path: Path
) -> None:
    package, _ = sample
    v2 = tmp_path / "v2.lwpkg"
    v2.write_bytes(
        package.read_bytes().replace(b"linkwell-package/v1\n", b"linkwell-package/v2\n", 1)
    )
    error = attempt(v2)
    assert type(error) is PackageFormatError
    assert "format version 2" in str(error)


def test_swapped_signature_and_spliced_trailer(
    seal: Sealer, attempt: Attempt, tmp_path: Path
) -> None:
    first, _ = seal()
    second, _ = seal()
    ct1, manifest1, _ = split(first)
    ct2, manifest2, signature2 = split(second)
    swapped = write_package(tmp_path / "swapped.lwpkg", ct1, manifest1, signature2)
    assert type(attempt(swapped)) is SignatureError
    spliced = write_package(tmp_path / "spliced.lwpkg", ct1, manifest2, signature2)
    assert type(attempt(spliced)) is (DigestError if len(ct1) == len(ct2) else PackageFormatError)
    # Made the signed size (age adds random "grease" stanzas, so sizes vary): only the digest
    # can tell now.
    fitted = ct1[: len(ct2)].ljust(len(ct2), b"\0")
    spliced = write_package(tmp_path / "fitted.lwpkg", fitted, manifest2, signature2)
    assert type(attempt(spliced)) is DigestError


def test_package_for_another_recipient(seal: Sealer, attempt: Attempt, world: World) -> None:
    package, _ = seal("ipsos", "edris")
    error = attempt(package, party="nrs")
    assert type(error) is MisdirectedError
    assert "addressed to party 'edris'" in str(error)


def test_recipient_fingerprint_of_an_identity_not_held(
    seal: Sealer, attempt: Attempt, world: World, tmp_path: Path
) -> None:
    package, _ = seal()
    stranger = new_identity("edris", Role.LINKER)
    error = attempt(package, identities=[stranger])
    assert type(error) is MisdirectedError


def _disallowed_routes() -> list[tuple[PackageKind, str, str]]:
    parties = list(ROLES)
    return [
        (kind, sender, receiver)
        for kind in PackageKind
        for sender, receiver in itertools.permutations(parties, 2)
        if (ROLES[sender], ROLES[receiver]) not in ROUTES[kind]
    ]


def test_every_disallowed_route_is_refused(
    world: World, seal: Sealer, attempt: Attempt, tmp_path: Path
) -> None:
    genuine, _ = seal()
    routes = _disallowed_routes()
    assert len(routes) == 6 * 20 - 9
    for n, (kind, sender, receiver) in enumerate(routes):
        source = SOURCES.get(sender) if kind in PROVIDER_KINDS else None
        forged = reforge(
            genuine,
            tmp_path / f"route-{n}.lwpkg",
            key=world.me(sender).signing_key,
            kind=kind,
            source=source,
            sender={"party": sender, "fingerprint": world.me(sender).fingerprint},
            recipient={"party": receiver, "fingerprint": world.me(receiver).fingerprint},
        )
        error = attempt(forged, party=receiver)
        assert type(error) is RoleError, (kind, sender, receiver, str(error))


def test_unexpected_kind_and_foreign_source(
    world: World, seal: Sealer, attempt: Attempt, tmp_path: Path
) -> None:
    package, _ = seal()
    assert type(attempt(package, expect_kinds={PackageKind.LINKAGE_KEY})) is RoleError
    fife = world.me("fife")
    claims_survey = reforge(
        package,
        tmp_path / "claims.lwpkg",
        key=fife.signing_key,
        sender={"party": "fife", "fingerprint": fife.fingerprint},
    )  # fife sends content of ipsos's source "secondary"
    error = attempt(claims_survey)
    assert type(error) is RoleError
    assert "source" in str(error)


def test_other_project_and_other_wave(world: World, seal: Sealer, attempt: Attempt) -> None:
    world.project_id = "another-project"
    other_project, _ = seal(project=world.project)
    world.project_id, world.wave = "rcs-test", 2
    other_wave, _ = seal(project=world.project)
    world.wave = 1
    assert "project 'another-project'" in str(attempt(other_project))
    assert type(attempt(other_project)) is MisdirectedError
    error = attempt(other_wave)
    assert type(error) is MisdirectedError
    assert "wave 2" in str(error)


def test_replay_by_copy_rename_and_relabel(
    world: World, seal: Sealer, attempt: Attempt, ledger: ReceiptLedger, tmp_path: Path
) -> None:
    package, _ = seal()
    open_package(
        package,
        project=world.project,
        identities=world.identities["edris"],
        ledger=ledger,
        dest=tmp_path / "first.parquet",
        now=LATER,
    )
    assert type(attempt(package)) is ReplayError
    renamed = shutil.copy(package, tmp_path / "fresh-looking-name.lwpkg")
    assert type(attempt(Path(renamed))) is ReplayError
    # The sender (or anyone with its key) re-signs the same ciphertext under a new package id.
    relabelled = reforge(
        package,
        tmp_path / "relabelled.lwpkg",
        key=world.me("ipsos").signing_key,
        package_id="ab" * 16,
    )
    error = attempt(relabelled)
    assert type(error) is ReplayError
    assert "another package id" in str(error)


def test_expired_future_and_overlong_packages(world: World, seal: Sealer, attempt: Attempt) -> None:
    package, manifest = seal()
    assert type(attempt(package, now=manifest.expires)) is ExpiredError
    assert type(attempt(package, now=manifest.expires + timedelta(days=400))) is ExpiredError
    assert "future" in str(attempt(package, now=NOW - timedelta(minutes=6)))
    world.ttl_days = 60
    long_lived, _ = seal(project=world.project)
    world.ttl_days = 30
    error = attempt(long_lived)
    assert type(error) is ExpiredError
    assert "longer than the project" in str(error)


def test_clock_skew_within_five_minutes_is_accepted(
    world: World, seal: Sealer, ledger: ReceiptLedger, inbox: Path
) -> None:
    package, _ = seal()
    open_package(
        package,
        project=world.project,
        identities=world.identities["edris"],
        ledger=ledger,
        dest=inbox / "p.parquet",
        now=NOW - timedelta(minutes=4),
    )


def test_unknown_sender_and_impersonation(
    world: World, seal: Sealer, attempt: Attempt, tmp_path: Path
) -> None:
    outsider = new_identity("ipsos", Role.SURVEY_PROVIDER)
    genuine, _ = seal()
    own_name = reforge(
        genuine,
        tmp_path / "own.lwpkg",
        key=outsider.signing_key,
        sender={"party": "ipsos", "fingerprint": outsider.fingerprint},
    )
    assert type(attempt(own_name)) is UnknownSenderError
    # Claims ipsos's registered fingerprint but cannot sign with ipsos's key.
    impersonated = reforge(genuine, tmp_path / "imp.lwpkg", key=outsider.signing_key)
    assert type(attempt(impersonated)) is SignatureError
    # A registered party's key, but the manifest names another party as sender.
    nrs = world.me("nrs")
    mislabelled = reforge(
        genuine,
        tmp_path / "mis.lwpkg",
        key=nrs.signing_key,
        sender={"party": "ipsos", "fingerprint": nrs.fingerprint},
    )
    error = attempt(mislabelled)
    assert type(error) is UnknownSenderError
    assert "party 'nrs'" in str(error)


def test_outsider_age_files(world: World, seal: Sealer, attempt: Attempt, tmp_path: Path) -> None:
    payload = write_payload(tmp_path / "evil.parquet", rows=50)
    recipient = pyrage.x25519.Recipient.from_str(world.me("edris").card().encryption_key)
    evil_ciphertext = pyrage.encrypt(payload.read_bytes(), [recipient])
    bare = tmp_path / "bare.age"
    bare.write_bytes(evil_ciphertext)
    assert type(attempt(bare)) is PackageFormatError
    genuine, _ = seal()
    ciphertext, manifest, signature = split(genuine)
    # Keep the genuine signed trailer, swap in the outsider's ciphertext.
    swapped = write_package(tmp_path / "swapped.lwpkg", evil_ciphertext, manifest, signature)
    assert type(attempt(swapped)) is PackageFormatError  # sizes differ from the signed ones
    same_size = evil_ciphertext[: len(ciphertext)].ljust(len(ciphertext), b"\0")
    swapped = write_package(tmp_path / "swapped2.lwpkg", same_size, manifest, signature)
    assert type(attempt(swapped)) is DigestError
    # Wrap it properly but sign with the outsider's own key.
    outsider = new_identity("ipsos", Role.SURVEY_PROVIDER)
    wrapped = forge(
        tmp_path / "wrapped.lwpkg",
        ciphertext=evil_ciphertext,
        manifest=manifest,
        key=outsider.signing_key,
    )
    assert type(attempt(wrapped)) is SignatureError


def test_insider_lies_after_the_signature(
    world: World, seal: Sealer, attempt: Attempt, tmp_path: Path
) -> None:
    """A registered sender's modified linkwell: signed, but the payload is not what it says."""
    genuine, manifest = seal()
    ciphertext, _, _ = split(genuine)
    key = world.me("ipsos").signing_key
    cases: dict[str, tuple[dict[str, object], type[PackageError]]] = {
        "plaintext digest": ({"plaintext_sha256": "00" * 32}, DigestError),
        "plaintext size": ({"plaintext_size": manifest.plaintext_size + 1}, DigestError),
        "row count": ({"rows": manifest.rows + 1}, DigestError),
        "columns": ({"columns": [{"name": "row_ref", "type": "string"}]}, DigestError),
        "column type": (
            {"columns": [{**c.model_dump(), "type": "large_string"} for c in manifest.columns]},
            DigestError,
        ),
    }
    for n, (updates, error_type) in enumerate(cases.values()):
        forged = reforge(genuine, tmp_path / f"lie-{n}.lwpkg", key=key, **updates)
        assert type(attempt(forged)) is error_type, updates
    # Truncated age stream, signed: decryption yields plaintext, then fails; none may remain.
    cut = _chunk_boundaries(genuine, len(ciphertext))
    truncated_ct = (
        ciphertext[: cut[0] + 64 * 1024 + 16 - len(HEADER)] if len(cut) > 2 else ciphertext[:-20]
    )
    truncated = reforge(genuine, tmp_path / "trunc.lwpkg", key=key, ciphertext=truncated_ct)
    assert type(attempt(truncated)) is DigestError
    # Trailing garbage after the age stream, signed.
    trailing = reforge(genuine, tmp_path / "trail.lwpkg", key=key, ciphertext=ciphertext + b"junk")
    assert type(attempt(trailing)) is DigestError
    # Not age at all, signed.
    garbage = reforge(genuine, tmp_path / "garbage.lwpkg", key=key, ciphertext=os.urandom(5000))
    assert type(attempt(garbage)) is PackageFormatError
    # Age header intact, every chunk after it garbage, signed.
    header_end = ciphertext.index(b"\n", ciphertext.index(b"\n--- ") + 1) + 1
    body = ciphertext[:header_end] + os.urandom(len(ciphertext) - header_end)
    scrambled = reforge(genuine, tmp_path / "scrambled.lwpkg", key=key, ciphertext=body)
    assert type(attempt(scrambled)) is DigestError
    # Encrypted to edris and to an outsider too (or by passphrase), signed.
    recipient = pyrage.x25519.Recipient.from_str(world.me("edris").card().encryption_key)
    outsider = pyrage.x25519.Identity.generate().to_public()
    plaintext = write_payload(tmp_path / "y.parquet").read_bytes()
    for n, shared in enumerate(
        [
            pyrage.encrypt(plaintext, [recipient, outsider]),
            pyrage.passphrase.encrypt(plaintext, "pw"),
        ]
    ):
        leaky = reforge(
            genuine, tmp_path / f"leaky-{n}.lwpkg", key=key, ciphertext=shared,
            plaintext_sha256=hashlib.sha256(plaintext).hexdigest(), plaintext_size=len(plaintext),
        )  # fmt: skip
        error = attempt(leaky)
        assert type(error) is MisdirectedError
        assert "other recipients" in str(error)
    # Encrypted to someone else while naming edris's card.
    other = pyrage.x25519.Identity.generate().to_public()
    elsewhere = pyrage.encrypt(write_payload(tmp_path / "x.parquet").read_bytes(), [other])
    misdirected = reforge(genuine, tmp_path / "else.lwpkg", key=key, ciphertext=elsewhere)
    assert type(attempt(misdirected)) is MisdirectedError
    # Not a Parquet file, signed with matching digests.
    text = b"not parquet at all" * 100
    recipient = pyrage.x25519.Recipient.from_str(world.me("edris").card().encryption_key)
    not_parquet = reforge(
        genuine,
        tmp_path / "np.lwpkg",
        key=key,
        ciphertext=pyrage.encrypt(text, [recipient]),
        plaintext_sha256=hashlib.sha256(text).hexdigest(),
        plaintext_size=len(text),
    )
    error = attempt(not_parquet)
    assert type(error) is DigestError
    assert "Parquet" in str(error)


def test_forged_log_heads(world: World, seal: Sealer, attempt: Attempt, tmp_path: Path) -> None:
    from linkwell.audit import LogHead, sign_head

    genuine, _ = seal()
    key = world.me("ipsos").signing_key
    head = sign_head(LogHead(party="ipsos", sequence=4, entry_hash="ef" * 32, time=NOW), key)
    broken = head.model_copy(update={"head": head.head.model_copy(update={"sequence": 5})})
    forged = reforge(
        genuine, tmp_path / "broken.lwpkg", key=key, sender_log_head=broken.model_dump()
    )
    assert type(attempt(forged)) is SignatureError
    nrs_head = sign_head(
        LogHead(party="nrs", sequence=4, entry_hash="ef" * 32, time=NOW),
        world.me("nrs").signing_key,
    )
    foreign = reforge(
        genuine, tmp_path / "foreign.lwpkg", key=key, sender_log_head=nrs_head.model_dump()
    )
    assert type(attempt(foreign)) is SignatureError
    good = reforge(genuine, tmp_path / "good.lwpkg", key=key, sender_log_head=head.model_dump())
    with ReceiptLedger(tmp_path / "other.sqlite") as ledger:
        open_package(
            good,
            project=world.project,
            identities=world.identities["edris"],
            ledger=ledger,
            dest=tmp_path / "good.parquet",
            now=LATER,
        )


def test_not_a_regular_file(attempt: Attempt, tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.lwpkg"
    os.mkfifo(fifo)
    assert type(attempt(fifo)) is PackageFormatError  # refused at once, does not wait
    assert type(attempt(Path("/dev/zero"))) is PackageFormatError


@pytest.mark.parametrize("change", ["shrink", "overwrite", "swap"])
def test_package_changed_between_checks_and_decryption(
    seal: Sealer,
    attempt: Attempt,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    change: str,
) -> None:
    """Someone with write access to the inbox changes the file after it passed every check."""
    from linkwell.seal import opening

    package, manifest = seal(source_file=write_payload(tmp_path / "p.parquet", 600, blob_bytes=300))
    other, _ = seal(source_file=write_payload(tmp_path / "q.parquet", 600, blob_bytes=300, seed=9))
    checked = opening._check_single_recipient

    def then_change(fd: int, layout: Layout, file: Path) -> None:
        checked(fd, layout, file)
        start = len(HEADER)
        if change == "shrink":
            os.truncate(package, start + manifest.ciphertext_size // 2)
        elif change == "overwrite":  # a later chunk replaced by the outsider's bytes
            os.pwrite(fd_w, os.urandom(1000), start + manifest.ciphertext_size - 2000)
        else:  # the whole ciphertext replaced by another genuine one for the same recipient
            donor = split(other)[0]
            os.pwrite(fd_w, donor[: manifest.ciphertext_size], start)

    fd_w = os.open(package, os.O_WRONLY)
    monkeypatch.setattr(opening, "_check_single_recipient", then_change)
    try:
        error = attempt(package)
    finally:
        os.close(fd_w)
    expected = {"shrink": PackageFormatError, "overwrite": DigestError, "swap": DigestError}
    assert type(error) is expected[change], str(error)
