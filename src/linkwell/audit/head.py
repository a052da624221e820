"""The signed head of a party's audit log: what others hold as witness to that log.

A head names the log's last entry (sequence number and hash) and is signed with the party's
Ed25519 signing key over a domain-separated canonical encoding. Every sealed package carries its
sender's latest signed head, so each recipient holds evidence of how far the sender's log had
reached; a later log that no longer contains that entry has been truncated or rewritten.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Annotated, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from linkwell.errors import AuditError, ConfigError

__all__ = [
    "LogHead",
    "SignedHead",
    "public_key_from_text",
    "public_key_text",
    "sign_head",
    "verify_head",
]

_DOMAIN: Final = b"linkwell/audit-head/v1\n"
_PREFIX: Final = "ed25519:"

HexDigest = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LogHead(_Model):
    """The last entry of a party's log at some moment."""

    party: str
    sequence: int = Field(ge=0)
    entry_hash: HexDigest
    time: datetime

    def canonical(self) -> bytes:
        """The exact bytes that are signed."""
        body = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return _DOMAIN + body.encode()


class SignedHead(_Model):
    """A :class:`LogHead` with the signer's public key and signature (both text)."""

    head: LogHead
    signer: str
    signature: str


def public_key_text(key: Ed25519PublicKey) -> str:
    """``ed25519:`` and the standard base64 of the raw 32-byte public key."""
    raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return _PREFIX + base64.b64encode(raw).decode()


def public_key_from_text(text: str) -> Ed25519PublicKey:
    """Parse :func:`public_key_text`'s form; a malformed key is a :class:`ConfigError`."""
    if not text.startswith(_PREFIX):
        raise ConfigError("a signing key must start with 'ed25519:'", field="signing_key")
    try:
        raw = base64.b64decode(text[len(_PREFIX) :], validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError) as exc:
        raise ConfigError(
            "a signing key is not a valid Ed25519 public key",
            field="signing_key",
            hint="copy the key again from the party's identity card",
        ) from exc


def sign_head(head: LogHead, key: Ed25519PrivateKey) -> SignedHead:
    """Sign ``head`` with ``key``."""
    signature = base64.b64encode(key.sign(head.canonical())).decode()
    return SignedHead(head=head, signer=public_key_text(key.public_key()), signature=signature)


def verify_head(signed: SignedHead, expected_signer: str) -> None:
    """Check that ``signed`` was signed by ``expected_signer``; raise :class:`AuditError` if not."""
    if signed.signer != expected_signer:
        raise AuditError(
            f"log head of {signed.head.party!r} is signed by an unexpected key",
            hint="the head was not made by the party's registered identity",
        )
    try:
        signature = base64.b64decode(signed.signature, validate=True)
        public_key_from_text(signed.signer).verify(signature, signed.head.canonical())
    except (binascii.Error, InvalidSignature, ConfigError) as exc:
        where = f"{signed.head.party!r} at entry {signed.head.sequence}"
        raise AuditError(
            f"log head of {where} has a bad signature",
            hint="the head was altered after signing",
        ) from exc
