"""A party's secret identity: an age X25519 key to receive packages and an Ed25519 key to sign.

:func:`new_identity` makes one; :meth:`SecretIdentity.card` gives the public
:class:`~linkwell.config.IdentityCard` that goes into the project file, and :func:`fingerprint`
the SHA-256 that names a card in manifests and is read aloud, in groups, to check a card by phone.
The secret text form (:meth:`SecretIdentity.secret_text`) is itself a valid age identity file, so
the standard ``age`` tool can open packages in an emergency (see ``docs/identities.md``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import pyrage
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from pyrage import x25519

from linkwell.audit import public_key_text
from linkwell.config import IdentityCard, Role
from linkwell.errors import IdentityError

__all__ = [
    "SECRET_TEXT_FIRST_LINE",
    "SecretIdentity",
    "fingerprint",
    "format_fingerprint",
    "new_identity",
]

SECRET_TEXT_FIRST_LINE: Final = "# linkwell secret identity, format 1"  # noqa: S105 - a label
"""First line of every secret identity text; another first line is another format."""

_FINGERPRINT_DOMAIN: Final = b"linkwell/identity-fingerprint/v1\n"
_SEED_PREFIX: Final = "ed25519-secret:"
_PARTY_PATTERN: Final = re.compile(r"[a-z][a-z0-9-]{0,62}")
_FIELD_LINE: Final = re.compile(r"# (party|role|created|signing-key): (\S+)")


def fingerprint(card: IdentityCard) -> str:
    """SHA-256 (hex) over a domain tag and both public keys of ``card``: the card's name.

    The creation time and the retired flag are not part of it, so a card keeps its fingerprint
    when it is retired.
    """
    material = (
        _FINGERPRINT_DOMAIN
        + card.encryption_key.encode("ascii")
        + b"\n"
        + card.signing_key.encode("ascii")
    )
    return hashlib.sha256(material).hexdigest()


def format_fingerprint(value: str) -> str:
    """``value`` in sixteen groups of four characters, for reading aloud and comparing by eye."""
    return " ".join(value[i : i + 4] for i in range(0, len(value), 4))


class SecretIdentity:
    """A party's secret keys, for one role; its :meth:`card` is the public half.

    The secret keys never leave this object except through :meth:`secret_text` (which
    :func:`~linkwell.seal.save_identity` encrypts) and :attr:`signing_key` (for signing audit log
    heads); ``repr`` shows only the party, role and fingerprint.
    """

    __slots__ = ("_age", "_card", "_created", "_party", "_role", "_signing")

    def __init__(
        self,
        *,
        party: str,
        role: Role,
        created: datetime,
        age_identity: x25519.Identity,
        signing_key: Ed25519PrivateKey,
    ) -> None:
        if not _PARTY_PATTERN.fullmatch(party):
            raise IdentityError(
                "a party name must be lower-case letters, digits and '-', starting with a letter",
                field="party",
                hint="use the party's name exactly as in the project file",
            )
        if created.tzinfo is None:
            raise IdentityError(
                "an identity's creation time must carry a time zone",
                field="created",
                hint="give the time in UTC, e.g. datetime.now(UTC)",
            )
        self._party = party
        self._role = Role(role)
        self._created = created.astimezone(UTC)
        self._age = age_identity
        self._signing = signing_key
        self._card = IdentityCard(
            encryption_key=str(age_identity.to_public()),
            signing_key=public_key_text(signing_key.public_key()),
            created=self._created,
        )

    @property
    def party(self) -> str:
        """The party this identity belongs to."""
        return self._party

    @property
    def role(self) -> Role:
        """The role the party acts in with this identity."""
        return self._role

    @property
    def created(self) -> datetime:
        """When the identity was made (UTC)."""
        return self._created

    @property
    def fingerprint(self) -> str:
        """The fingerprint of this identity's card."""
        return fingerprint(self._card)

    @property
    def signing_key(self) -> Ed25519PrivateKey:
        """The Ed25519 signing key, for signing packages and audit log heads."""
        return self._signing

    def card(self) -> IdentityCard:
        """The public card for the project file (never retired when first made)."""
        return self._card

    def decrypt_io(self, reader: object, writer: object) -> None:
        """Decrypt the age stream ``reader`` into ``writer`` with this identity's X25519 key.

        Raises pyrage's own errors; callers translate them, because only they know which file
        and which check is concerned.
        """
        pyrage.decrypt_io(reader, writer, [self._age])

    def secret_text(self) -> str:
        """The identity as text: comments carry linkwell's fields, the last line is age's key.

        Handle with care: this is the secret. It is only ever written encrypted under a
        passphrase (:func:`~linkwell.seal.save_identity`).
        """
        seed = self._signing.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        created = self._created.strftime("%Y-%m-%dT%H:%M:%SZ")
        return (
            f"{SECRET_TEXT_FIRST_LINE}\n"
            "# Keep this secret. It is also an age identity file: `age -d -i FILE` uses it.\n"
            f"# party: {self._party}\n"
            f"# role: {self._role.value}\n"
            f"# created: {created}\n"
            f"# signing-key: {_SEED_PREFIX}{base64.b64encode(seed).decode()}\n"
            f"{self._age}\n"
        )

    @classmethod
    def from_secret_text(cls, text: str, *, file: str | Path | None = None) -> SecretIdentity:
        """Parse :meth:`secret_text`'s form strictly; anything else is an :class:`IdentityError`."""
        lines = text.split("\n")
        if not lines or lines[0] != SECRET_TEXT_FIRST_LINE:
            raise _corrupt(file, "it does not start like a linkwell secret identity of format 1")
        fields: dict[str, str] = {}
        keys: list[str] = []
        for line in lines[1:]:
            if not line:
                continue
            match = _FIELD_LINE.fullmatch(line)
            if match:
                if match[1] in fields:
                    raise _corrupt(file, f"the field {match[1]!r} appears twice")
                fields[match[1]] = match[2]
            elif not line.startswith("#"):
                keys.append(line)
        missing = {"party", "role", "created", "signing-key"} - fields.keys()
        if missing:
            raise _corrupt(file, f"it lacks the field(s) {sorted(missing)}")
        if len(keys) != 1:
            raise _corrupt(file, "it must hold exactly one age secret key")
        if not _PARTY_PATTERN.fullmatch(fields["party"]):
            raise _corrupt(file, "its party name is not a valid party name")
        return cls(
            party=fields["party"],
            role=_parse_role(fields["role"], file),
            created=_parse_created(fields["created"], file),
            age_identity=_parse_age_key(keys[0], file),
            signing_key=_parse_seed(fields["signing-key"], file),
        )

    def __repr__(self) -> str:
        return (
            f"SecretIdentity(party={self._party!r}, role={self._role.value!r}, "
            f"fingerprint={self.fingerprint[:16]!r})"
        )


def new_identity(party: str, role: Role, *, now: datetime | None = None) -> SecretIdentity:
    """Make a fresh identity for ``party`` acting as ``role``, created ``now`` (UTC, whole s)."""
    created = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    return SecretIdentity(
        party=party,
        role=role,
        created=created,
        age_identity=x25519.Identity.generate(),
        signing_key=Ed25519PrivateKey.generate(),
    )


def _corrupt(file: str | Path | None, why: str) -> IdentityError:
    return IdentityError(
        f"the secret identity cannot be read: {why}",
        file=file,
        hint="restore the identity file from your backup, or make a new identity and card",
    )


def _parse_role(text: str, file: str | Path | None) -> Role:
    try:
        return Role(text)
    except ValueError as exc:
        raise _corrupt(file, "its role is not one of linkwell's roles") from exc


def _parse_created(text: str, file: str | Path | None) -> datetime:
    try:
        created = datetime.fromisoformat(text)
    except ValueError as exc:
        raise _corrupt(file, "its creation time is not an ISO 8601 time") from exc
    if created.tzinfo is None:
        raise _corrupt(file, "its creation time has no time zone")
    return created


def _parse_age_key(text: str, file: str | Path | None) -> x25519.Identity:
    if not text.startswith("AGE-SECRET-KEY-1"):
        raise _corrupt(file, "its last line is not an age secret key")
    try:
        return x25519.Identity.from_str(text)
    except pyrage.IdentityError:
        # from None: the foreign message may quote the key it could not parse.
        raise _corrupt(file, "its age secret key is malformed") from None


def _parse_seed(text: str, file: str | Path | None) -> Ed25519PrivateKey:
    if not text.startswith(_SEED_PREFIX):
        raise _corrupt(file, "its signing key is not an Ed25519 secret key")
    encoded = text[len(_SEED_PREFIX) :]
    try:
        seed = base64.b64decode(encoded, validate=True)
    except binascii.Error as exc:
        raise _corrupt(file, "its signing key is not valid base64") from exc
    if len(seed) != 32 or base64.b64encode(seed).decode() != encoded:  # noqa: PLR2004 - seed size
        raise _corrupt(file, "its signing key is not a 32-byte Ed25519 seed")
    return Ed25519PrivateKey.from_private_bytes(seed)
