"""The manifest's one encoding, its signature and strict decoding, pinned by known answers."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from linkwell.audit import LogHead, public_key_text, sign_head
from linkwell.errors import PackageFormatError, SignatureError
from linkwell.seal import Column, DatasetRef, Manifest, PackageKind, PartyRef
from linkwell.seal.manifest import (
    MANIFEST_DOMAIN,
    MAX_MANIFEST_BYTES,
    decode_manifest,
    decode_signature,
    encode_signature,
    sign_manifest,
    verify_manifest_signature,
)

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
HEAD = sign_head(
    LogHead(party="nrs", sequence=7, entry_hash="ab" * 32, time=datetime(2026, 1, 2, tzinfo=UTC)),
    KEY,
)
MANIFEST = Manifest(
    package_id="00" * 16,
    project="rcs-test",
    wave=2,
    kind=PackageKind.LINKAGE_KEY,
    source=None,
    sender=PartyRef(party="nrs", fingerprint="11" * 32),
    recipient=PartyRef(party="edris", fingerprint="22" * 32),
    dataset=DatasetRef(id="linkage-key", version=1),
    columns=(
        Column(name="row_ref", type="string"),
        Column(name="link_id", type="fixed_size_binary[16]"),
        Column(name="caf\u00e9", type="int64"),
    ),
    rows=12345,
    created=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    expires=datetime(2026, 2, 1, 3, 4, 5, tzinfo=UTC),
    plaintext_sha256="33" * 32,
    plaintext_size=1000,
    ciphertext_sha256="44" * 32,
    ciphertext_size=1234,
    parents=("55" * 16, "66" * 16),
    config_digest="77" * 32,
    sender_log_head=HEAD,
)

# Known answers: changing either breaks every package in flight and every witness held.
CANONICAL = (
    b'{"ciphertext_sha256":"' + b"44" * 32 + b'","ciphertext_size":1234,"columns":['
    b'{"name":"row_ref","type":"string"},{"name":"link_id","type":"fixed_size_binary[16]"},{"name":"caf\\u00e9",'
    b'"type":"int64"}],"config_digest":"' + b"77" * 32 + b'","created":"2026-01-02T03:04:05Z",'
    b'"dataset":{"id":"linkage-key","version":1},"expires":"2026-02-01T03:04:05Z","format":1,'
    b'"kind":"linkage-key","package_id":"'
    + b"0" * 32
    + b'","parents":["'
    + b"5" * 32
    + b'","'
    + b"6" * 32
    + b'"],"plaintext_sha256":"'
    + b"33" * 32
    + b'","plaintext_size":1000,'
    b'"project":"rcs-test","recipient":{"fingerprint":"' + b"22" * 32 + b'","party":"edris"},'
    b'"rows":12345,"sender":{"fingerprint":"' + b"11" * 32 + b'","party":"nrs"},'
    b'"sender_log_head":{"head":{"entry_hash":"' + b"ab" * 32 + b'","party":"nrs","sequence":7,'
    b'"time":"2026-01-02T00:00:00Z"},"signature":"tnfZ+7kbN+6pdZskf13/SMGNpbNRuV1ytKhfv51gZBKNOk9r'
    b'l+c6LoZsqcnxahx7RXmCtgwrwA4nfrhq8uroCg==","signer":"ed25519:A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1f'
    b'HdyGZBJVMbg="},"source":null,"wave":2}'
)
SIGNATURE_HEX = (
    "543adcfa78c8ff59f7dfec89ccc41f0989c2c3181fafad0fddb170061f1b8178"
    "05bf40ad80e74436343d88325e2d4700c824e179557062c89eeaece14df9d906"
)


def test_known_answer_encoding_and_signature() -> None:
    assert MANIFEST.canonical() == CANONICAL
    assert MANIFEST.signing_bytes() == b"linkwell/package-manifest/v1\n" + CANONICAL
    assert sign_manifest(MANIFEST, KEY).hex() == SIGNATURE_HEX
    verify_manifest_signature(
        CANONICAL, bytes.fromhex(SIGNATURE_HEX), public_key_text(KEY.public_key())
    )


def test_decode_accepts_exactly_the_canonical_bytes() -> None:
    assert decode_manifest(CANONICAL) == MANIFEST


@pytest.mark.parametrize(
    ("case", "data"),
    [
        ("space", CANONICAL.replace(b'"wave":2', b'"wave": 2')),
        ("newline", CANONICAL + b"\n"),
        (
            "key order",
            CANONICAL.replace(b'"rows":12345,', b"").replace(
                b'"wave":2}', b'"wave":2,"rows":12345}'
            ),
        ),
        ("offset time", CANONICAL.replace(b"2026-01-02T03:04:05Z", b"2026-01-02T03:04:05+00:00")),
        ("other zone", CANONICAL.replace(b"2026-01-02T03:04:05Z", b"2026-01-02T04:04:05+01:00")),
        ("string number", CANONICAL.replace(b'"wave":2', b'"wave":"2"')),
        ("raw unicode", CANONICAL.replace(b"caf\\u00e9", "café".encode())),
        ("duplicate key", CANONICAL.replace(b'"wave":2}', b'"wave":2,"wave":2}')),
        ("extra key", CANONICAL.replace(b'"wave":2}', b'"wave":2,"zzz":1}')),
        ("format 2", CANONICAL.replace(b'"format":1', b'"format":2')),
        ("unknown kind", CANONICAL.replace(b'"kind":"linkage-key"', b'"kind":"secrets"')),
        (
            "bad id",
            CANONICAL.replace(b'"package_id":"' + b"0" * 32, b'"package_id":"' + b"0" * 31 + b"G"),
        ),
        ("not json", b"{" + CANONICAL),
        ("empty", b""),
        ("deep", b"[" * 100_000 + b"]" * 100_000),
        ("huge", b" " * (MAX_MANIFEST_BYTES + 1)),
    ],
)
def test_decode_refuses_anything_else(case: str, data: bytes) -> None:
    with pytest.raises(PackageFormatError) as info:
        decode_manifest(data, file="p.lwpkg")
    assert info.value.file == "p.lwpkg"


def test_model_rules() -> None:
    with pytest.raises(ValueError, match="expire after"):
        MANIFEST.model_copy(update={}).model_validate(
            {**MANIFEST.model_dump(), "expires": MANIFEST.created}
        )
    with pytest.raises(ValueError, match="unique"):
        Manifest.model_validate(
            {**MANIFEST.model_dump(), "columns": [{"name": "a", "type": "x"}] * 2}
        )
    with pytest.raises(ValueError, match="twice"):
        Manifest.model_validate({**MANIFEST.model_dump(), "parents": ["55" * 16] * 2})
    with pytest.raises(ValueError, match="timezone"):
        Manifest.model_validate({**MANIFEST.model_dump(), "created": datetime(2026, 1, 1)})


def test_signature_text_is_strict() -> None:
    raw = bytes.fromhex(SIGNATURE_HEX)
    text = encode_signature(raw)
    assert len(text) == 88
    assert decode_signature(text) == raw
    # The last character before "==" carries 4 unused bits; flipping one decodes to the same
    # bytes in a lenient decoder and must be refused here.
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    loose = text[:85] + alphabet[alphabet.index(text[85]) ^ 1 : alphabet.index(text[85]) ^ 1 + 1]
    loose += b"=="
    assert base64.b64decode(loose) == raw
    for bad in (loose, text[:-4] + b"====", b"!" * 88, base64.b64encode(raw[:63])):
        with pytest.raises(PackageFormatError):
            decode_signature(bad)


def test_signature_needs_the_right_key_and_domain() -> None:
    signature = sign_manifest(MANIFEST, KEY)
    other = public_key_text(Ed25519PrivateKey.generate().public_key())
    with pytest.raises(SignatureError):
        verify_manifest_signature(CANONICAL, signature, other)
    undomained = KEY.sign(CANONICAL)
    with pytest.raises(SignatureError):
        verify_manifest_signature(CANONICAL, undomained, public_key_text(KEY.public_key()))
    assert MANIFEST_DOMAIN.endswith(b"\n")


hex64 = st.text("0123456789abcdef", min_size=64, max_size=64)
hex32 = st.text("0123456789abcdef", min_size=32, max_size=32)
slug = st.from_regex(r"[a-z][a-z0-9-]{0,12}", fullmatch=True)


@st.composite
def manifests(draw: st.DrawFn) -> Manifest:
    created = draw(
        st.datetimes(
            min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
        )
    )
    names = draw(st.lists(st.text(min_size=1, max_size=20), max_size=8, unique=True))
    return Manifest(
        package_id=draw(hex32),
        project=draw(slug),
        wave=draw(st.integers(1, 100)),
        kind=draw(st.sampled_from(list(PackageKind))),
        source=draw(st.none() | slug),
        sender=PartyRef(party=draw(slug), fingerprint=draw(hex64)),
        recipient=PartyRef(party=draw(slug), fingerprint=draw(hex64)),
        dataset=DatasetRef(id=draw(slug), version=draw(st.integers(1, 9))),
        columns=tuple(
            Column(name=n, type=draw(st.sampled_from(["int64", "string", "bool"]))) for n in names
        ),
        rows=draw(st.integers(0, 2**53)),
        created=created,
        expires=created + timedelta(seconds=draw(st.integers(1, 10**8))),
        plaintext_sha256=draw(hex64),
        plaintext_size=draw(st.integers(0, 2**50)),
        ciphertext_sha256=draw(hex64),
        ciphertext_size=draw(st.integers(0, 2**50)),
        parents=tuple(draw(st.lists(hex32, max_size=4, unique=True))),
        config_digest=draw(hex64),
        sender_log_head=draw(st.none() | st.just(HEAD)),
    )


@given(manifests())
def test_every_manifest_round_trips_through_its_one_encoding(manifest: Manifest) -> None:
    data = manifest.canonical()
    assert data.isascii()
    assert decode_manifest(data) == manifest
    assert decode_manifest(data).canonical() == data
