"""The entry model holds counts, ids, digests and closed vocabularies, and nothing else."""

from __future__ import annotations

import hashlib
import types
import typing
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError as PydanticValidationError

from linkwell.audit import (
    AuditAction,
    AuditDetail,
    AuditEntry,
    CountName,
    DigestRef,
    DigestSubject,
    LogHead,
    PackageRef,
    SignedHead,
    sign_head,
)
from linkwell.audit.entry import (
    MAX_LINE_BYTES,
    ZERO_HASH,
    Malformed,
    MalformedReason,
    new_entry,
    parse_line,
)
from linkwell.config import Role
from linkwell.schema import issue_ids

TIME = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
PREV = "ab" * 32
PACKAGE = "0123456789abcdef" * 2


def sealed(**update: object) -> AuditEntry:
    fields: dict[str, object] = {
        "sequence": 5,
        "time": TIME,
        "party": "ipsos",
        "action": AuditAction.SEALED,
        "prev_hash": PREV,
        "peer_role": Role.INDEXER,
        "packages": (PackageRef(id=PACKAGE, sha256="cd" * 32),),
        "digests": (DigestRef(subject=DigestSubject.PLAINTEXT, sha256="ef" * 32),),
        "counts": {CountName.ROWS: 1200, CountName.COLUMNS: 2},
        "config_digest": "12" * 32,
    }
    fields.update(update)
    return new_entry(**fields)  # type: ignore[arg-type]


def test_known_answer_for_the_line_and_hash() -> None:
    # Pins the encoding: a change here breaks every log already written, so it must be a
    # deliberate new format version, never an accident.
    entry = sealed()
    assert entry.to_line() == (
        b'{"action":"sealed","checkpoint":null,"checkpoint_every":null,'
        b'"config_digest":"' + b"12" * 32 + b'","counts":{"columns":2,"rows":1200},'
        b'"detail":null,"digests":[{"sha256":"' + b"ef" * 32 + b'","subject":"plaintext"}],'
        b'"entry_hash":"' + entry.entry_hash.encode() + b'","format":1,'
        b'"packages":[{"id":"' + PACKAGE.encode() + b'","sha256":"' + b"cd" * 32 + b'"}],'
        b'"party":"ipsos","peer_role":"indexer","prev_hash":"' + PREV.encode() + b'",'
        b'"sequence":5,"time":"2026-01-02T03:04:05.678901Z"}\n'
    )
    # The hash, derived independently: SHA-256 over the domain tag and the line without its hash.
    body = entry.to_line()[:-1].replace(b'"entry_hash":"' + entry.entry_hash.encode() + b'",', b"")
    assert entry.entry_hash == hashlib.sha256(b"linkwell/audit-entry/v1\n" + body).hexdigest()
    assert entry.entry_hash == "b176cbef28270a78acf2102696376b4764718c4516bb92425a15948869b8235f"


def test_the_hash_covers_every_field() -> None:
    base = sealed()
    variants = [
        sealed(sequence=6),
        sealed(time=TIME + timedelta(microseconds=1)),
        sealed(party="ipsos-2"),
        sealed(action=AuditAction.SENT),
        sealed(detail=AuditDetail.REPLAY),
        sealed(peer_role=Role.LINKER),
        sealed(packages=()),
        sealed(digests=()),
        sealed(counts={CountName.ROWS: 1201, CountName.COLUMNS: 2}),
        sealed(config_digest=None),
        sealed(prev_hash="ac" * 32),
    ]
    hashes = {base.entry_hash} | {variant.entry_hash for variant in variants}
    assert len(hashes) == len(variants) + 1
    # Every field an ordinary entry sets was varied above (the rest are fixed or checkpoint-only).
    not_varied = {"entry_hash", "format", "checkpoint", "checkpoint_every"}
    assert len(set(AuditEntry.model_fields) - not_varied) == len(variants)


# -- nothing but counts, ids, digests and closed vocabularies can be stored ---------------------

# The reviewed list of every field and the only kinds of value it may hold. Adding a field
# (say, a free-text note) must change this test, and with it the review.
ALLOWED_FIELDS = {
    "format": "literal 1",
    "sequence": "count",
    "time": "UTC time",
    "party": "slug (the log owner, set by the log)",
    "action": "closed vocabulary",
    "detail": "closed vocabulary",
    "peer_role": "closed vocabulary",
    "packages": "128-bit random id + digest",
    "digests": "closed vocabulary + digest",
    "counts": "closed vocabulary -> count",
    "config_digest": "digest",
    "checkpoint_every": "count",
    "checkpoint": "signed head (shape-checked)",
    "prev_hash": "digest",
    "entry_hash": "digest",
}


def test_the_fields_are_exactly_the_reviewed_list() -> None:
    assert set(AuditEntry.model_fields) == set(ALLOWED_FIELDS)
    assert set(PackageRef.model_fields) == {"id", "sha256"}
    assert set(DigestRef.model_fields) == {"subject", "sha256"}


def _free_string(annotation: object, metadata: tuple[object, ...] = ()) -> bool:
    """Whether a type admits a string without a pattern, anywhere inside it."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        base, *more = typing.get_args(annotation)
        return _free_string(base, (*metadata, *more))
    if origin in (typing.Union, types.UnionType, tuple, dict):
        return any(_free_string(arg) for arg in typing.get_args(annotation) if arg is not Ellipsis)
    if annotation is str:
        return not any(getattr(meta, "pattern", None) for meta in metadata)
    return False


def test_no_field_is_an_unconstrained_string() -> None:
    assert _free_string(str | None)
    assert _free_string(tuple[str, ...])
    free_strings = [
        f"{model.__name__}.{name}"
        for model in (AuditEntry, PackageRef, DigestRef)
        for name, info in model.model_fields.items()
        if _free_string(info.annotation, tuple(info.metadata))
    ]
    assert free_strings == []


@pytest.mark.parametrize(
    "update",
    [
        {"note": "child is 1234567890"},
        {"counts": {"rows": 3}},  # a plain string, not a CountName
        {"counts": {CountName.ROWS: "3"}},
        {"counts": {CountName.ROWS: -1}},
        {"counts": {CountName.ROWS: 2**53}},
        {"counts": {CountName.ROWS: True}},
        {"counts": {CountName.ROWS: 3.0}},
        {"detail": "another reason"},
        {"action": "sealed"},
        {"peer_role": "indexer"},
        {"config_digest": "not a digest"},
        {"config_digest": "AB" * 32},
        {"packages": (PackageRef.model_construct(id="1234567890", sha256=None),)},
        {"time": datetime(2026, 1, 2)},
        {"time": datetime(2026, 1, 2, tzinfo=timezone(timedelta(hours=1)))},
        {"sequence": -1},
        {"party": "Fife Council"},
    ],
)
def test_anything_but_a_count_id_or_digest_cannot_be_built(update: dict[str, object]) -> None:
    fields = dict(sealed()) | update
    with pytest.raises(PydanticValidationError):
        AuditEntry(**fields)  # type: ignore[arg-type]
    with pytest.raises(PydanticValidationError):
        AuditEntry.model_validate(fields)


@given(st.text(max_size=80))
def test_no_text_is_a_package_id_or_digest_unless_it_is_hex_of_the_right_length(text: str) -> None:
    for build, length in (
        (lambda value: PackageRef(id=value), 32),
        (lambda value: DigestRef(subject=DigestSubject.INPUT, sha256=value), 64),
    ):
        try:
            build(text)
        except PydanticValidationError:
            continue
        assert len(text) == length
        assert set(text) <= set("0123456789abcdef")


def test_a_survey_id_fits_nowhere_and_is_never_echoed() -> None:
    (survey_id,) = issue_ids(1)
    for attempt in (
        lambda: PackageRef(id=survey_id),
        lambda: PackageRef(id=PACKAGE, sha256=survey_id),
        lambda: DigestRef(subject=DigestSubject.INPUT, sha256=survey_id),
        lambda: sealed(config_digest=survey_id),
        lambda: sealed(counts={survey_id: 1}),
        lambda: sealed(counts={CountName.ROWS: survey_id}),
        lambda: sealed(detail=survey_id),
        lambda: sealed(party=survey_id),
    ):
        with pytest.raises(PydanticValidationError) as caught:
            attempt()
        assert survey_id not in str(caught.value)


@pytest.mark.parametrize(
    ("update", "fragment"),
    [
        ({"sequence": 0}, "entry 0"),
        ({"action": AuditAction.LOG_CREATED}, "entry 0"),
        ({"prev_hash": ZERO_HASH}, "predecessor"),
        ({"checkpoint_every": 4}, "interval"),
        ({"action": AuditAction.CHECKPOINT}, "signed head"),
    ],
)
def test_structural_rules_hold(update: dict[str, object], fragment: str) -> None:
    with pytest.raises(PydanticValidationError, match=fragment):
        sealed(**update)


def _signed(party: str = "ipsos", **update: str) -> SignedHead:
    key = Ed25519PrivateKey.from_private_bytes(bytes(32))
    head = LogHead(party=party, sequence=4, entry_hash=PREV, time=TIME)
    return sign_head(head, key).model_copy(update=update)


def test_a_checkpoint_carries_a_well_formed_head_of_its_own_log() -> None:
    entry = sealed(action=AuditAction.CHECKPOINT, checkpoint=_signed(), packages=(), counts={})
    assert parse_line(entry.to_line()[:-1]) == entry
    for bad in (
        _signed(party="edris"),
        _signed(signer="ed25519:1234567890"),
        _signed(signature="1234567890"),
    ):
        with pytest.raises(PydanticValidationError):
            sealed(action=AuditAction.CHECKPOINT, checkpoint=bad)


# -- parsing lines ---------------------------------------------------------------------------


_entries = st.builds(
    sealed,
    sequence=st.integers(1, 2**53 - 1),
    time=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
    ),
    action=st.sampled_from(
        [a for a in AuditAction if a not in (AuditAction.LOG_CREATED, AuditAction.CHECKPOINT)]
    ),
    detail=st.none() | st.sampled_from(AuditDetail),
    peer_role=st.none() | st.sampled_from(Role),
    counts=st.dictionaries(st.sampled_from(CountName), st.integers(0, 2**53 - 1)),
    packages=st.lists(
        st.builds(PackageRef, id=st.text("0123456789abcdef", min_size=32, max_size=32)),
        max_size=3,
    ).map(tuple),
)


@given(_entries)
def test_every_entry_survives_a_round_trip_through_its_line(entry: AuditEntry) -> None:
    line = entry.to_line()
    assert line.endswith(b"\n")
    assert b"\n" not in line[:-1]
    assert line.isascii()
    parsed = parse_line(line[:-1])
    assert parsed == entry
    assert isinstance(parsed, AuditEntry)
    assert parsed.computed_hash() == entry.entry_hash


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", MalformedReason.NOT_JSON),
        (b"{", MalformedReason.NOT_JSON),
        (b"\xff", MalformedReason.NOT_JSON),
        (b"[]", MalformedReason.NOT_JSON),
        (b'{"format":2}', MalformedReason.UNKNOWN_FORMAT),
        (b'{"format":"1"}', MalformedReason.UNKNOWN_FORMAT),
        (b'{"format":1}', MalformedReason.INVALID),
        (b"x" * (MAX_LINE_BYTES + 1), MalformedReason.TOO_LONG),
    ],
)
def test_lines_that_are_not_entries(raw: bytes, reason: MalformedReason) -> None:
    parsed = parse_line(raw)
    assert isinstance(parsed, Malformed)
    assert parsed.reason is reason


@pytest.mark.parametrize(
    "change",
    [
        lambda line: line.replace(b'"action":', b'"action": '),
        lambda line: line.replace(b'{"action":"sealed",', b'{"action":"sent","action":"sealed",'),
        lambda line: line.replace(b'"party":"ipsos"', b'"party":"\\u0069psos"'),
        lambda line: line.replace(b'"sequence":5', b'"sequence":5.0'),
        lambda line: line.replace(
            b'"time":"2026-01-02T03:04:05.678901Z"', b'"time":"2026-01-02T03:04:05.678901+00:00"'
        ),
    ],
)
def test_a_line_must_be_in_canonical_form(change: typing.Callable[[bytes], bytes]) -> None:
    line = sealed().to_line()[:-1]
    changed = change(line)
    assert changed != line
    parsed = parse_line(changed)
    assert isinstance(parsed, Malformed)
    assert parsed.reason in (MalformedReason.NOT_CANONICAL, MalformedReason.INVALID)


def test_an_invalid_line_names_the_field_but_not_its_value() -> None:
    line = sealed().to_line()[:-1].replace(b'"rows":1200', b'"rows":"1234567890"')
    parsed = parse_line(line)
    assert parsed == Malformed(MalformedReason.INVALID, "counts")
