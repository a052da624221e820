"""Secret identities on disk: passphrase-encrypted files, the keyring folder, passphrases, cards.

An identity file is the identity's secret text encrypted with age's scrypt passphrase mode, mode
0600, written atomically and never overwritten; like ssh, linkwell refuses to use one that group
or others may read. A party keeps every identity it ever made in one folder (its keyring), one
``*.identity.age`` file each, all under one passphrase, so packages sealed before a rotation still
open. ``docs/identities.md`` describes the files and the rotation procedure.
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

import pyrage
import tomli_w
from pydantic import ValidationError as PydanticValidationError
from pyrage import passphrase as age_passphrase

from linkwell.config import IdentityCard, ProjectConfig, Role, load_project
from linkwell.errors import ConfigError, IdentityError
from linkwell.fileio import write_bytes_atomic, write_text_atomic
from linkwell.seal.identity import SecretIdentity, fingerprint, format_fingerprint, new_identity

__all__ = [
    "CARD_FILE_NAME",
    "DEFAULT_PASSPHRASE_ENV",
    "IDENTITY_SUFFIX",
    "MIN_PASSPHRASE_LENGTH",
    "CardInfo",
    "NewIdentity",
    "card_toml",
    "create_identity",
    "identity_file_name",
    "load_identity",
    "load_keyring",
    "read_cards",
    "read_passphrase",
    "save_identity",
    "sealing_identity",
]

IDENTITY_SUFFIX: Final = ".identity.age"
"""Every identity file in a keyring folder ends with this."""
CARD_FILE_NAME: Final = "card.toml"
"""The public card of the newest identity, written beside the keyring files."""
DEFAULT_PASSPHRASE_ENV: Final = "LINKWELL_PASSPHRASE"  # noqa: S105 - a variable's name
MIN_PASSPHRASE_LENGTH: Final = 12
"""Shortest passphrase accepted for a new identity file (three random words pass easily)."""
_MAX_IDENTITY_BYTES: Final = 64 * 1024
_AGE_MAGIC: Final = b"age-encryption.org/v1\n"


@dataclass(frozen=True)
class NewIdentity:
    """What :func:`create_identity` wrote: the secret identity file and the public card file."""

    identity_file: Path
    card_file: Path
    card: IdentityCard
    fingerprint: str
    earlier: int
    """How many of the party's identities the keyring held before: more than 0 is a rotation."""


@dataclass(frozen=True)
class CardInfo:
    """One card found by :func:`read_cards`, with its party and role when the file names them."""

    card: IdentityCard
    fingerprint: str
    party: str | None = None
    role: Role | None = None


def _check_private(path: Path, what: str) -> None:
    """Refuse a file that is not a regular file of ours readable by nobody else (like ssh)."""
    try:
        info = path.stat()
    except FileNotFoundError as exc:
        raise IdentityError(f"{what} not found", file=path, hint="check the path") from exc
    except OSError as exc:
        raise IdentityError(
            f"{what} cannot be read ({exc.strerror})",
            file=path,
            hint="check the file's and its folder's permissions",
        ) from exc
    if not stat.S_ISREG(info.st_mode):
        raise IdentityError(f"{what} is not a regular file", file=path, hint="check the path")
    if info.st_mode & 0o077:
        raise IdentityError(
            f"{what} may be read or changed by other users, so it is not used",
            file=path,
            hint=f"run: chmod 600 '{path}'",
        )
    if info.st_uid not in (os.geteuid(), 0):
        raise IdentityError(
            f"{what} belongs to another user, so it is not used",
            file=path,
            hint="the file must belong to the user running linkwell",
        )


def read_passphrase(*, env: str | None = DEFAULT_PASSPHRASE_ENV, file: Path | None = None) -> str:
    """The passphrase from ``file`` (first line, private file) if given, else from ``$env``."""
    if file is not None:
        _check_private(file, "the passphrase file")
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            # from None: the decoder's message would quote a byte of the passphrase.
            raise IdentityError(
                "the passphrase file cannot be read as UTF-8 text",
                file=file,
                hint="write the passphrase as the file's first line",
            ) from None
        value = text.split("\n", 1)[0].removesuffix("\r")
        source = f"the passphrase file {file}"
    elif env is not None and os.environ.get(env):
        value, source = os.environ[env], f"${env}"
    else:
        raise IdentityError(
            "no passphrase given",
            hint=f"set ${env or DEFAULT_PASSPHRASE_ENV} or pass --passphrase-file",
        )
    if not value:
        raise IdentityError(f"the passphrase in {source} is empty", hint="give a passphrase")
    return value


def identity_file_name(identity: SecretIdentity) -> str:
    """``<party>-<created, compact UTC>.identity.age``: sorts oldest first within a keyring."""
    return f"{identity.party}-{identity.created:%Y%m%dT%H%M%SZ}{IDENTITY_SUFFIX}"


def save_identity(identity: SecretIdentity, path: Path, passphrase: str) -> None:
    """Encrypt ``identity`` under ``passphrase`` (age scrypt) into a new 0600 file ``path``.

    An existing file is never replaced: losing an old identity loses every package sealed to it.
    """
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        raise IdentityError(
            f"the passphrase is shorter than {MIN_PASSPHRASE_LENGTH} characters",
            hint="use a longer passphrase, e.g. three or four random words",
        )
    if path.exists() or path.is_symlink():
        raise IdentityError(
            "an identity file already exists here and is never replaced",
            file=path,
            hint="choose another file name, or move the old identity into your keyring folder",
        )
    sealed = age_passphrase.encrypt(identity.secret_text().encode("utf-8"), passphrase)
    write_bytes_atomic(path, sealed, mode=0o600)


def load_identity(path: Path, passphrase: str) -> SecretIdentity:
    """Read the identity file ``path``; refuse one others may read, or a wrong passphrase."""
    _check_private(path, "the identity file")
    try:
        with path.open("rb") as handle:
            data = handle.read(_MAX_IDENTITY_BYTES + 1)
    except OSError as exc:
        raise IdentityError(
            f"the identity file cannot be read ({exc.strerror})",
            file=path,
            hint="check the file's and its folder's permissions",
        ) from exc
    if len(data) > _MAX_IDENTITY_BYTES or not data.startswith(_AGE_MAGIC):
        raise IdentityError(
            "this is not a linkwell identity file (not passphrase-encrypted age)",
            file=path,
            hint="give the file written by 'linkwell keys new'",
        )
    try:
        text = age_passphrase.decrypt(data, passphrase).decode("utf-8")
    except pyrage.DecryptError as exc:
        raise IdentityError(
            "the identity file cannot be unlocked: wrong passphrase, or the file is damaged",
            file=path,
            hint="check the passphrase; if it is right, restore the file from your backup",
        ) from exc
    except UnicodeDecodeError:
        # from None: the decoder's message quotes a byte of the secret.
        raise IdentityError(
            "the identity file does not hold a linkwell identity",
            file=path,
            hint="give the file written by 'linkwell keys new', or restore it from backup",
        ) from None
    return SecretIdentity.from_secret_text(text, file=path)


def load_keyring(path: Path, passphrase: str) -> tuple[SecretIdentity, ...]:
    """Every identity in ``path``: one identity file, or a folder of ``*.identity.age`` files.

    All must belong to one party and role (a keyring is one party's), oldest first.
    """
    if path.is_dir():
        files = sorted(path.glob(f"*{IDENTITY_SUFFIX}"))
        if not files:
            raise IdentityError(
                f"the keyring folder holds no *{IDENTITY_SUFFIX} file",
                file=path,
                hint="make an identity with 'linkwell keys new --out FOLDER'",
            )
    else:
        files = [path]
    identities = tuple(load_identity(file, passphrase) for file in files)
    owners = {(i.party, i.role) for i in identities}
    if len(owners) > 1:
        raise IdentityError(
            "the keyring holds identities of more than one party or role",
            file=path,
            hint="keep one keyring folder per party and role",
        )
    return tuple(sorted(identities, key=lambda i: i.created))


def card_toml(identity: SecretIdentity) -> str:
    """The card as a TOML block to paste under the party's ``[[parties]]`` entry."""
    card = identity.card()
    body = tomli_w.dumps(card.model_dump(mode="python", exclude={"retired"}))
    return (
        f"# Identity card of party {identity.party!r} ({identity.role.value}).\n"
        f"# Fingerprint: {format_fingerprint(fingerprint(card))}\n"
        "# Paste this block under the party's [[parties]] entry in the project file; when it\n"
        "# replaces an older card, keep the older one there with retired = <the time now>,\n"
        "# e.g. retired = 2026-06-01T09:30:00Z: it opens older packages, none made later.\n"
        "[[parties.identities]]\n" + body
    )


def create_identity(
    party: str, role: Role, out: Path, passphrase: str, *, now: datetime | None = None
) -> NewIdentity:
    """Make a new identity for ``party``, save it into keyring folder ``out``, write its card.

    Into a keyring that already holds the party's identities (a rotation) only under their
    passphrase and role: a keyring is unlocked with one passphrase, so an identity under another
    would leave it opening under neither. ``earlier`` of the result counts the identities
    already there.
    """
    if out.exists() and not out.is_dir():
        raise IdentityError("the output must be a folder", file=out, hint="give a folder")
    others = sorted(out.glob(f"*{IDENTITY_SUFFIX}")) if out.is_dir() else []
    foreign = [f for f in others if not f.name.startswith(f"{party}-")]
    if foreign:
        raise IdentityError(
            "this folder is another party's keyring",
            file=foreign[0],
            hint="keep one keyring folder per party and role",
        )
    if others:
        _check_rotation(others[-1], role, passphrase)
    identity = new_identity(party, role, now=now)
    identity_file = out / identity_file_name(identity)
    card_file = out / CARD_FILE_NAME
    save_identity(identity, identity_file, passphrase)
    write_text_atomic(card_file, card_toml(identity), mode=0o644)
    return NewIdentity(
        identity_file, card_file, identity.card(), identity.fingerprint, earlier=len(others)
    )


def _check_rotation(newest: Path, role: Role, passphrase: str) -> None:
    """Refuse a new identity the keyring's newest one says does not belong with it."""
    try:
        current = load_identity(newest, passphrase)
    except IdentityError as exc:
        raise IdentityError(
            f"this keyring already holds the party's identity, and {exc.message}; every "
            "identity in a keyring is under its one passphrase",
            file=newest,
            hint="give the keyring's passphrase to rotate, or make the new identity in a new "
            "folder",
        ) from exc
    if current.role is not role:
        raise IdentityError(
            f"this keyring holds the party's identity as {current.role.value}, not {role.value}",
            file=newest,
            hint="keep one keyring folder per party and role",
        )


def read_cards(path: Path, *, party: str | None = None) -> tuple[CardInfo, ...]:
    """The cards in a ``card.toml`` or a project file, with fingerprints; or one party's only."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError("file not found", file=path, hint="check the path") from exc
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError("not a readable TOML file", file=path, hint="check the file") from exc
    if "project" in data:
        project: ProjectConfig = load_project(path)
        parties = [p for p in project.parties if party is None or p.name == party]
        if not parties:
            raise ConfigError(
                "no party of that name in the project file",
                file=path,
                field="parties",
                hint="use one of: " + ", ".join(p.name for p in project.parties),
            )
        return tuple(
            CardInfo(card, fingerprint(card), p.name, p.role)
            for p in parties
            for card in p.identities
        )
    if party is not None:
        raise ConfigError("--party applies to a project file only", file=path, hint="drop --party")
    parties_table = data.get("parties")
    raw = parties_table.get("identities") if isinstance(parties_table, dict) else None
    if not isinstance(raw, list) or not raw:
        raise ConfigError(
            "no [[parties.identities]] card in this file",
            file=path,
            hint="give a card.toml written by 'linkwell keys new', or a project file",
        )
    try:
        cards = [IdentityCard.model_validate(entry) for entry in raw]
    except PydanticValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        # from None: pydantic's own text quotes the rejected key.
        raise ConfigError(
            f"the card is invalid: {first['msg']}",
            file=path,
            field=".".join(str(p) for p in first["loc"]) or None,
            hint="copy the card again from the party's card.toml",
        ) from None
    return tuple(CardInfo(card, fingerprint(card)) for card in cards)


def sealing_identity(keyring: Sequence[SecretIdentity], project: ProjectConfig) -> SecretIdentity:
    """The identity in ``keyring`` whose card is its party's active card in the project file."""
    if not keyring:
        raise IdentityError("no secret identity given", hint="load the party's keyring")
    active = project.party(keyring[0].party).active_identity
    for identity in keyring:
        if identity.fingerprint == fingerprint(active):
            return identity
    raise IdentityError(
        "none of these identities is the party's current card in the project file",
        hint="add the newest card.toml to the project file, or load the keyring that holds it",
    )
