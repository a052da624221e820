"""One audit-log entry: a typed record that can hold counts, ids and digests and nothing else.

An entry says what a party did (an :class:`AuditAction` from a closed vocabulary), to which
packages (random package ids and SHA-256 digests), with which counts (named by the closed
:class:`CountName`) and under which project settings (the config digest). There is no free-text
field, so a child's identifier or a row's value cannot be written into a log by mistake: every
string is either a member of a closed vocabulary or a fixed-shape hex digest or id. Each entry is
chained to its predecessor by hash; the hash is SHA-256 over a domain-separated canonical encoding
that this module alone defines (and pins with a known-answer test).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Final, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    ValidationInfo,
    model_validator,
)
from pydantic import ValidationError as PydanticValidationError

from linkwell.audit.head import LogHead, SignedHead
from linkwell.config import Role

__all__ = [
    "ENTRY_FORMAT",
    "MAX_LINE_BYTES",
    "ZERO_HASH",
    "AuditAction",
    "AuditDetail",
    "AuditEntry",
    "CountName",
    "DigestRef",
    "DigestSubject",
    "HexDigest",
    "Malformed",
    "MalformedReason",
    "PackageId",
    "PackageRef",
    "ReadEntry",
    "canonical_json",
    "counts_toward_checkpoint",
    "entry_hash",
    "new_entry",
    "parse_line",
    "read_line",
]

ENTRY_FORMAT: Final = 1
"""Version of the entry encoding; a reader refuses entries of any other version."""

ZERO_HASH: Final = "0" * 64
"""The ``prev_hash`` of entry 0, which has no predecessor."""

MAX_LINE_BYTES: Final = 16 * 1024
"""No valid entry comes near this; a longer line is refused unread rather than parsed."""

_DOMAIN: Final = b"linkwell/audit-entry/v1\n"
_MAX_COUNT: Final = 2**53 - 1  # the largest integer every JSON reader keeps exact
_SIGNER_PATTERN: Final = re.compile(r"^ed25519:[A-Za-z0-9+/]{43}=$")
_SIGNATURE_PATTERN: Final = re.compile(r"^[A-Za-z0-9+/]{86}==$")

HexDigest = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
"""A SHA-256 digest as 64 lower-case hex characters."""

PackageId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
"""A package's random id: 128 bits as 32 lower-case hex characters (``secrets.token_hex(16)``).

The fixed shape is deliberate: a survey ID (ten digits) or any other value cannot pass for one.
"""

PartyName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,62}$")]


def _utc(value: datetime) -> datetime:
    offset = value.utcoffset()
    if offset is None or offset.total_seconds() != 0:
        msg = "audit times must be UTC"
        raise ValueError(msg)
    return value.replace(tzinfo=UTC)


UtcTime = Annotated[
    datetime,
    AfterValidator(_utc),
    PlainSerializer(
        lambda value: value.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        return_type=str,
    ),
]
"""A UTC time, always written with microseconds and ``Z`` so its encoding never varies."""

Count = Annotated[int, Field(ge=0, le=_MAX_COUNT)]


class AuditAction(StrEnum):
    """What a party did. Closed: a new action is a new member here, reviewed like any format change.

    A log written by a newer linkwell with an action this release does not know fails to parse
    and is reported as malformed, rather than being misread.
    """

    LOG_CREATED = "log-created"
    CHECKPOINT = "checkpoint"
    REPAIRED = "repaired"
    IDENTITY_CREATED = "identity-created"
    VALIDATED = "validated"
    FILTERED = "filtered"
    SPLIT = "split"
    SEALED = "sealed"
    SENT = "sent"
    RECEIVED = "received"
    OPENED = "opened"
    REFUSED = "refused"
    MATCHED = "matched"
    VAULT_UPDATED = "vault-updated"
    KEY_ISSUED = "key-issued"
    LINKED = "linked"
    RELEASED = "released"
    ANALYSED = "analysed"
    DISCLOSURE_CHECKED = "disclosure-checked"
    REPORT_WRITTEN = "report-written"
    BACKUP = "backup"
    RESTORE = "restore"
    PURGED = "purged"


def counts_toward_checkpoint(action: AuditAction) -> bool:
    """Whether an entry uses up the checkpoint interval: checkpoints and repairs do not."""
    return action not in (AuditAction.CHECKPOINT, AuditAction.REPAIRED)


class AuditDetail(StrEnum):
    """The only qualifier an entry may carry: why a package was refused, or why a checkpoint."""

    FORMAT = "format"
    SIGNATURE = "signature"
    UNKNOWN_SENDER = "unknown-sender"
    MISDIRECTED = "misdirected"
    ROLE = "role"
    EXPIRED = "expired"
    REPLAY = "replay"
    DIGEST = "digest"
    CREATED = "created"
    PERIODIC = "periodic"
    REQUESTED = "requested"


class CountName(StrEnum):
    """The names a count may have. Values are non-negative integers and nothing else."""

    ROWS = "rows"
    ROWS_IN = "rows-in"
    ROWS_OUT = "rows-out"
    ROWS_VALID = "rows-valid"
    ROWS_REJECTED = "rows-rejected"
    ROWS_QUARANTINED = "rows-quarantined"
    ROWS_WITHHELD = "rows-withheld"
    COLUMNS = "columns"
    PARTICIPANTS = "participants"
    MATCHED = "matched"
    UNMATCHED = "unmatched"
    DUPLICATES = "duplicates"
    LINK_IDS_NEW = "link-ids-new"
    LINK_IDS_REUSED = "link-ids-reused"
    RELEASE_IDS = "release-ids"
    TABLES = "tables"
    CELLS = "cells"
    CELLS_SUPPRESSED = "cells-suppressed"
    CELLS_ROUNDED = "cells-rounded"
    FILES = "files"
    PACKAGES = "packages"
    BYTES = "bytes"
    BYTES_REMOVED = "bytes-removed"


_COUNT_NAMES: Final = frozenset(name.value for name in CountName)


def _count_names(value: object, info: ValidationInfo) -> object:
    """Check count names before pydantic does, because pydantic names a bad key in its error.

    In Python a name must be a :class:`CountName` member; in JSON, the text of one.
    """
    if not isinstance(value, dict):
        return value
    names = {}
    for key, count in value.items():
        if isinstance(key, CountName):
            names[key] = count
        elif info.mode == "json" and isinstance(key, str) and key in _COUNT_NAMES:
            names[CountName(key)] = count
        else:
            msg = "a count must be named by a CountName member"
            raise ValueError(msg)
    return names


Counts = Annotated[dict[CountName, Count], BeforeValidator(_count_names)]


class DigestSubject(StrEnum):
    """What a recorded digest is the digest of."""

    INPUT = "input"
    OUTPUT = "output"
    PLAINTEXT = "plaintext"
    CIPHERTEXT = "ciphertext"
    MANIFEST = "manifest"
    QUARANTINE = "quarantine"
    VAULT = "vault"
    LINKAGE_KEY = "linkage-key"
    REPORT = "report"
    BACKUP = "backup"
    IDENTITY = "identity"
    TORN_TAIL = "torn-tail"


class _Record(BaseModel):
    # strict: no coercion ("5" is not 5, a plain str is not an enum member); inputs are never
    # echoed in validation errors, because the value being refused may be exactly what must not
    # be written down.
    # ``revalidate_instances``: a nested record made with ``model_construct`` (which skips
    # validation) is checked again here, so it cannot smuggle a value in.
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        strict=True,
        hide_input_in_errors=True,
        revalidate_instances="always",
    )


class PackageRef(_Record):
    """A sealed package an entry is about: its random id and, if known, its ciphertext digest."""

    id: PackageId
    sha256: HexDigest | None = None


class DigestRef(_Record):
    """The SHA-256 of a file or store an entry is about, and what that file is."""

    subject: DigestSubject
    sha256: HexDigest


class AuditEntry(_Record):
    """One line of a party's audit log.

    ``entry_hash`` is stored, not trusted: :meth:`computed_hash` recomputes it from the other
    fields, and a verifier compares the two. Build entries through
    :class:`~linkwell.audit.log.AuditLog`, which fills in sequence, time, chain and hash.
    """

    format: Literal[1] = ENTRY_FORMAT
    sequence: Count
    time: UtcTime
    party: PartyName
    action: AuditAction
    detail: AuditDetail | None = None
    peer_role: Role | None = None
    packages: tuple[PackageRef, ...] = ()
    digests: tuple[DigestRef, ...] = ()
    counts: Counts = Field(default_factory=dict)
    config_digest: HexDigest | None = None
    checkpoint_every: Annotated[int, Field(ge=1, le=10_000)] | None = None
    checkpoint: SignedHead | None = None
    prev_hash: HexDigest
    entry_hash: HexDigest

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        genesis = self.action is AuditAction.LOG_CREATED
        if genesis != (self.sequence == 0):
            msg = "entry 0, and only entry 0, records the log's creation"
            raise ValueError(msg)
        if (self.prev_hash == ZERO_HASH) != (self.sequence == 0):
            msg = "only entry 0 has no predecessor"
            raise ValueError(msg)
        if genesis != (self.checkpoint_every is not None):
            msg = "the checkpoint interval is fixed once, at the log's creation"
            raise ValueError(msg)
        if (self.action is AuditAction.CHECKPOINT) != (self.checkpoint is not None):
            msg = "a checkpoint entry, and only one, carries a signed head"
            raise ValueError(msg)
        if self.checkpoint is not None:
            self._check_signed_head(self.checkpoint)
        return self

    def _check_signed_head(self, signed: SignedHead) -> None:
        # SignedHead's text fields are free strings in its own model; inside a log entry they
        # must have exactly the shape of a key, a signature and this log's party name.
        if signed.head.party != self.party:
            msg = "a checkpoint signs a head of its own log only"
            raise ValueError(msg)
        if not _SIGNER_PATTERN.fullmatch(signed.signer):
            msg = "a checkpoint's signer must be an ed25519 public key"
            raise ValueError(msg)
        if not _SIGNATURE_PATTERN.fullmatch(signed.signature):
            msg = "a checkpoint's signature must be 64 bytes of base64"
            raise ValueError(msg)

    def body(self) -> dict[str, object]:
        """Every field except ``entry_hash``, in JSON form: what the hash covers."""
        return self.model_dump(mode="json", exclude={"entry_hash"})

    def computed_hash(self) -> str:
        """The hash this entry must have, recomputed from its content."""
        return entry_hash(self.body())

    def to_line(self) -> bytes:
        """The entry as one canonical JSON line, newline included: exactly what the log holds."""
        return canonical_json(self.model_dump(mode="json")) + b"\n"

    def as_head(self) -> LogHead:
        """This entry as a log head (what a checkpoint or a witness signs)."""
        return LogHead(
            party=self.party, sequence=self.sequence, entry_hash=self.entry_hash, time=self.time
        )


def canonical_json(value: object) -> bytes:
    """Sorted keys, no whitespace, ASCII only: one byte string per value."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def entry_hash(body: dict[str, object]) -> str:
    """SHA-256 over the domain tag and the canonical JSON of an entry's body."""
    return hashlib.sha256(_DOMAIN + canonical_json(body)).hexdigest()


def new_entry(
    *,
    sequence: int,
    time: datetime,
    party: str,
    action: AuditAction,
    prev_hash: str,
    detail: AuditDetail | None = None,
    peer_role: Role | None = None,
    packages: tuple[PackageRef, ...] = (),
    digests: tuple[DigestRef, ...] = (),
    counts: dict[CountName, int] | None = None,
    config_digest: str | None = None,
    checkpoint_every: int | None = None,
    checkpoint: SignedHead | None = None,
) -> AuditEntry:
    """Build an entry and fill in its hash; bad content raises pydantic's ``ValidationError``."""
    draft = AuditEntry(
        sequence=sequence,
        time=time,
        party=party,
        action=action,
        detail=detail,
        peer_role=peer_role,
        packages=packages,
        digests=digests,
        counts={} if counts is None else counts,
        config_digest=config_digest,
        checkpoint_every=checkpoint_every,
        checkpoint=checkpoint,
        prev_hash=prev_hash,
        entry_hash=ZERO_HASH,
    )
    return draft.model_copy(update={"entry_hash": draft.computed_hash()})


class MalformedReason(StrEnum):
    """Why a line of a log is not an entry at all."""

    TOO_LONG = "too-long"
    NOT_JSON = "not-json"
    UNKNOWN_FORMAT = "unknown-format"
    INVALID = "invalid"
    NOT_CANONICAL = "not-canonical"


@dataclass(frozen=True)
class Malformed:
    """A line that does not parse as an entry; ``field`` names the top-level field at fault."""

    reason: MalformedReason
    field: str | None = None


@dataclass(frozen=True)
class ReadEntry:
    """An entry as read from a line, with the hash its content actually has."""

    entry: AuditEntry
    computed_hash: str

    @property
    def hash_ok(self) -> bool:
        """Whether the stored hash is the one the content has."""
        return self.computed_hash == self.entry.entry_hash


def read_line(raw: bytes) -> ReadEntry | Malformed:
    """Parse one line (without its newline); it must be an entry in exactly canonical form.

    Requiring the canonical bytes, not just equal content, means that no edit at all goes
    unnoticed, including ones that do not change the parsed value (spacing, duplicated keys,
    escapes), and that a line is never read differently by two JSON parsers. The line is parsed
    once and dumped once; the canonical check and the hash both come from that one dump.
    """
    if len(raw) > MAX_LINE_BYTES:
        return Malformed(MalformedReason.TOO_LONG)
    try:
        entry = AuditEntry.model_validate_json(raw)
    except PydanticValidationError as exc:
        return _envelope_problem(raw) or Malformed(MalformedReason.INVALID, _top_level_field(exc))
    data = entry.model_dump(mode="json")
    if canonical_json(data) != raw:
        return Malformed(MalformedReason.NOT_CANONICAL)
    del data["entry_hash"]
    return ReadEntry(entry, entry_hash(data))


def parse_line(raw: bytes) -> AuditEntry | Malformed:
    """:func:`read_line`, for when only the entry is wanted (its hash is not checked)."""
    read = read_line(raw)
    return read if isinstance(read, Malformed) else read.entry


def _envelope_problem(raw: bytes) -> Malformed | None:
    """Not JSON, not an object, or an entry format this release does not know."""
    try:
        data = json.loads(raw)
    except ValueError:  # includes UnicodeDecodeError
        return Malformed(MalformedReason.NOT_JSON)
    if not isinstance(data, dict):
        return Malformed(MalformedReason.NOT_JSON)
    if data.get("format") != ENTRY_FORMAT:
        return Malformed(MalformedReason.UNKNOWN_FORMAT, "format")
    return None


def _top_level_field(exc: PydanticValidationError) -> str | None:
    # Only a known field name is repeated; anything deeper (a dict key, say) came from the line
    # itself and may be arbitrary text.
    for error in exc.errors(include_input=False, include_url=False):
        if error["loc"] and error["loc"][0] in AuditEntry.model_fields:
            return str(error["loc"][0])
    return None
