"""The package manifest: what a package is, from whom, for whom, and the digests that bind it.

A manifest has exactly one valid encoding (canonical JSON: sorted keys, no spaces, ASCII, UTC
times), and the sender signs a domain-separated form of those exact bytes with Ed25519. Decoding
is strict: a manifest that does not re-encode to the same bytes is refused, so a signature can
never cover two readings of one manifest. The encoding is pinned by known-answer tests.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Final, Literal, Self

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic import ValidationError as PydanticValidationError

from linkwell.audit import SignedHead, public_key_from_text
from linkwell.config import Slug
from linkwell.errors import ConfigError, PackageFormatError, SignatureError
from linkwell.seal.routes import PackageKind

__all__ = [
    "FORMAT_VERSION",
    "MANIFEST_DOMAIN",
    "MAX_MANIFEST_BYTES",
    "Column",
    "DatasetRef",
    "Manifest",
    "PartyRef",
    "decode_manifest",
    "decode_signature",
    "encode_signature",
    "sign_manifest",
    "verify_manifest_signature",
]

FORMAT_VERSION: Final = 1
"""The package format this release writes and the only one it reads."""
MANIFEST_DOMAIN: Final = b"linkwell/package-manifest/v1\n"
"""Prefix of the signed bytes, so a manifest signature can never pass for another signature."""
MAX_MANIFEST_BYTES: Final = 1024 * 1024
"""Upper bound on a manifest's size, checked before it is parsed."""
SIGNATURE_TEXT_LENGTH: Final = 88
"""Length of the base64 text of a 64-byte Ed25519 signature."""

HexDigest = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
PackageId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
"""128 random bits in hex: unique per package, the key of the receipt ledger."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PartyRef(_Model):
    """A party and the fingerprint of the identity card used (sender's or recipient's)."""

    party: Slug
    fingerprint: HexDigest


class DatasetRef(_Model):
    """The dataset definition (id and version) the payload follows."""

    id: Slug
    version: int = Field(ge=1)


class Column(_Model):
    """One payload column: its name and its Arrow type as Arrow prints it."""

    name: str = Field(min_length=1, max_length=1024)
    type: str = Field(min_length=1, max_length=4096)


class Manifest(_Model):
    """Everything the recipient checks before decrypting; signed by the sender."""

    format: Literal[1] = FORMAT_VERSION
    package_id: PackageId
    project: Slug
    wave: int = Field(ge=1)
    kind: PackageKind
    source: Slug | None = Field(
        description="the project source a provider's package carries; None for derived kinds"
    )
    sender: PartyRef
    recipient: PartyRef
    dataset: DatasetRef
    columns: tuple[Column, ...] = Field(max_length=100_000)
    rows: int = Field(ge=0)
    created: AwareDatetime
    expires: AwareDatetime
    plaintext_sha256: HexDigest
    plaintext_size: int = Field(ge=0)
    ciphertext_sha256: HexDigest
    ciphertext_size: int = Field(ge=0)
    parents: tuple[PackageId, ...] = Field(max_length=100_000)
    config_digest: HexDigest
    sender_log_head: SignedHead | None

    @field_validator("created", "expires")
    @classmethod
    def _in_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.expires <= self.created:
            msg = "a package must expire after it is created"
            raise ValueError(msg)
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            msg = "column names must be unique"
            raise ValueError(msg)
        if len(set(self.parents)) != len(self.parents):
            msg = "a parent package is listed twice"
            raise ValueError(msg)
        return self

    def canonical(self) -> bytes:
        """The manifest's one valid encoding: sorted keys, no spaces, ASCII only."""
        body = json.dumps(
            self.model_dump(mode="json"),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=True,
            allow_nan=False,
        )
        return body.encode("ascii")

    def signing_bytes(self) -> bytes:
        """The exact bytes the sender signs: the domain tag, then :meth:`canonical`."""
        return MANIFEST_DOMAIN + self.canonical()


def decode_manifest(data: bytes, *, file: str | Path | None = None) -> Manifest:
    """Parse manifest bytes strictly; anything but a canonical v1 manifest is a format error."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise _format_error("the manifest is larger than any linkwell writes", file)
    try:
        manifest = Manifest.model_validate_json(data)
    except PydanticValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or None
        raise PackageFormatError(
            f"the manifest is not valid: {first['msg']}",
            file=file,
            field=where,
            hint="the package is damaged or was not made by linkwell; ask the sender to reseal it",
        ) from exc
    if manifest.canonical() != data:
        raise _format_error("the manifest is not in its one canonical encoding", file)
    return manifest


def sign_manifest(manifest: Manifest, key: Ed25519PrivateKey) -> bytes:
    """The sender's 64-byte Ed25519 signature over :meth:`Manifest.signing_bytes`."""
    return key.sign(manifest.signing_bytes())


def encode_signature(signature: bytes) -> bytes:
    """The signature as the 88 bytes of base64 stored in a package."""
    return base64.b64encode(signature)


def decode_signature(text: bytes, *, file: str | Path | None = None) -> bytes:
    """Strict inverse of :func:`encode_signature`: one text per signature, no spare bits."""
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise _format_error("the signature is not valid base64", file) from exc
    # b64decode ignores the unused low bits of the last character: re-encoding refuses them.
    if len(raw) != 64 or base64.b64encode(raw) != text:  # noqa: PLR2004 - Ed25519 size
        raise _format_error("the signature is not a 64-byte Ed25519 signature", file)
    return raw


def verify_manifest_signature(
    manifest_bytes: bytes, signature: bytes, signing_key: str, *, file: str | Path | None = None
) -> None:
    """Check ``signature`` over the domain tag and ``manifest_bytes`` with ``signing_key``."""
    try:
        public_key_from_text(signing_key).verify(signature, MANIFEST_DOMAIN + manifest_bytes)
    except (InvalidSignature, ConfigError) as exc:
        raise SignatureError(
            "the sender's signature does not verify: the package was altered or forged",
            file=file,
            hint="do not use this package; ask the sender to send it again and tell them",
        ) from exc


def _format_error(why: str, file: str | Path | None) -> PackageFormatError:
    return PackageFormatError(
        why,
        file=file,
        hint="the package is damaged or was not made by linkwell; ask the sender to reseal it",
    )
