"""Opening: every check on a package before one plaintext byte exists, then decrypt and record.

:func:`open_package` checks, in order: the file's layout and format version, that the sender's
fingerprint is registered in the project file (retired cards included), the sender's signature,
that the package is for this party and one of its identities, the project id and wave, the route
and expected kinds, the validity period, the receipt ledger, the ciphertext digest, and that age
names this one recipient only. Only then does it decrypt, into a private temporary file beside
``dest``, check the plaintext digest and the Parquet shape against the manifest, rename the file
into place and record it in the ledger. Any failure raises its own
:class:`~linkwell.errors.PackageError` and leaves nothing behind.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

import pyrage
from pydantic import BaseModel, ConfigDict

from linkwell.audit import verify_head
from linkwell.config import IdentityCard, Party, ProjectConfig
from linkwell.errors import (
    AuditError,
    DigestError,
    ExpiredError,
    IdentityError,
    MisdirectedError,
    PackageError,
    PackageFormatError,
    SignatureError,
    StorageError,
    UnknownSenderError,
)
from linkwell.faults import kill_point
from linkwell.fileio import atomic_path, check_new
from linkwell.progress import SILENT, Progress
from linkwell.seal._layout import Layout, read_layout
from linkwell.seal._parquet import parquet_shape
from linkwell.seal._stream import (
    HashingWriter,
    RegionReader,
    ShortFileError,
    hash_region,
    read_exact,
)
from linkwell.seal.identity import SecretIdentity, fingerprint
from linkwell.seal.ledger import Receipt, ReceiptLedger
from linkwell.seal.manifest import (
    Manifest,
    decode_manifest,
    decode_signature,
    verify_manifest_signature,
)
from linkwell.seal.routes import PackageKind, check_expected_kind, check_route, check_source
from linkwell.seal.shapes import payload_shape_problem

__all__ = [
    "MAX_CLOCK_SKEW",
    "OpenedPackage",
    "check_package_time",
    "inspect_package",
    "open_package",
]

MAX_CLOCK_SKEW: Final = timedelta(minutes=5)
"""How far in the future a package's creation time may lie (the parties' clocks differ)."""
_RESEND: Final = "do not use this package; ask the sender to send it again and tell them"
_AGE_MAGIC: Final = b"age-encryption.org/v1\n"
_AGE_HEADER_LIMIT: Final = 64 * 1024


class OpenedPackage(BaseModel):
    """A package opened: its manifest, where its payload now is, and its ledger receipt."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    manifest: Manifest
    package: Path
    path: Path
    receipt: Receipt
    config_matches: bool
    """Whether the sender sealed it under exactly this project file (informational: a project
    file that gained a rotated card differs, and the package is still good)."""


@dataclass(frozen=True)
class _Verified:
    manifest: Manifest
    sender: Party
    layout: Layout


@contextmanager
def _package_fd(path: Path) -> Iterator[tuple[int, int]]:
    """The package open read-only, with its size; one descriptor serves every check and read."""
    try:
        # O_NONBLOCK: a FIFO planted as a package must be refused, not wait for a writer.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError as exc:
        raise StorageError(
            "the package file does not exist", file=path, hint="check the path"
        ) from exc
    except OSError as exc:
        raise StorageError(
            f"the package cannot be read ({exc.strerror})",
            file=path,
            hint="check the file's and its folder's permissions",
        ) from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise PackageFormatError(
                "the package is not a regular file", file=path, hint="give the package file"
            )
        yield fd, info.st_size
    except ShortFileError as exc:
        raise PackageFormatError(
            "the package changed or shrank while it was being read",
            file=path,
            hint="wait until the transfer has finished, then open it again",
        ) from exc
    finally:
        os.close(fd)


def _registered_sender(project: ProjectConfig, manifest: Manifest, file: Path) -> Party:
    """The party whose registered card (retired or not) has the manifest's sender fingerprint."""
    for party in project.parties:
        for card in party.identities:
            if fingerprint(card) == manifest.sender.fingerprint:
                if party.name != manifest.sender.party:
                    raise UnknownSenderError(
                        f"the package claims to come from {manifest.sender.party!r} but is signed "
                        f"with a key of party {party.name!r}",
                        file=file,
                        hint=_RESEND,
                    )
                return party
    raise UnknownSenderError(
        f"the package is signed by a key registered for no party in the project file (it claims "
        f"to come from {manifest.sender.party!r})",
        file=file,
        hint="if the sender has a new identity, add its card to the project file, trust it "
        "(`linkwell workspace trust`) and run `linkwell receive --again`; else " + _RESEND,
    )


def _card(party: Party, wanted: str) -> IdentityCard:
    return next(card for card in party.identities if fingerprint(card) == wanted)


def _check_not_after_retirement(manifest: Manifest, card: IdentityCard, file: Path) -> None:
    """A card retired at a known time signs nothing made after it (see ``IdentityCard``)."""
    retired_at = card.retired_at
    if retired_at is not None and manifest.created > retired_at:
        raise SignatureError(
            f"the package is signed with a key of party {manifest.sender.party!r} retired at "
            f"{retired_at:%Y-%m-%d %H:%M} UTC, but was made after it",
            file=file,
            hint=f"ask {manifest.sender.party!r} to seal it again with its current identity; if "
            "the old key may have leaked, remove its card from the project file",
        )


def _check_log_head(manifest: Manifest, sender: Party, file: Path) -> None:
    head = manifest.sender_log_head
    if head is None:
        return
    signers = {card.signing_key for card in sender.identities}
    if head.head.party != sender.name or head.signer not in signers:
        raise SignatureError(
            "the audit log head in the manifest is not the sender's", file=file, hint=_RESEND
        )
    try:
        verify_head(head, head.signer)
    except AuditError as exc:
        raise SignatureError(
            "the sender's audit log head in the manifest does not verify", file=file, hint=_RESEND
        ) from exc


def _verify(fd: int, size: int, file: Path, project: ProjectConfig) -> _Verified:
    """Layout, format, registered sender, signature and log head: what a manifest proves alone."""
    layout = read_layout(fd, size, file=file)
    manifest = decode_manifest(layout.manifest, file=file)
    if manifest.ciphertext_size != layout.ciphertext_size:
        raise PackageFormatError(
            "the payload's size differs from the size the manifest states",
            file=file,
            hint=_RESEND,
        )
    signature = decode_signature(layout.signature_text, file=file)
    sender = _registered_sender(project, manifest, file)
    card = _card(sender, manifest.sender.fingerprint)
    verify_manifest_signature(layout.manifest, signature, card.signing_key, file=file)
    _check_not_after_retirement(manifest, card, file)
    _check_log_head(manifest, sender, file)
    return _Verified(manifest, sender, layout)


def _check_ciphertext(fd: int, verified: _Verified, file: Path, progress: Progress) -> None:
    layout = verified.layout
    with progress.task(f"verifying {file.name}", total=layout.ciphertext_size) as task:
        digest = hash_region(fd, layout.ciphertext_offset, layout.ciphertext_size, task)
    if digest != verified.manifest.ciphertext_sha256:
        raise DigestError(
            "the encrypted payload does not match the digest the sender signed",
            file=file,
            hint=_RESEND,
        )


def _check_single_recipient(fd: int, layout: Layout, file: Path) -> None:
    """The age header must name exactly one recipient, of type X25519 (grease stanzas aside).

    An honest sender seals to one card; a package that others could decrypt too is refused
    before decryption, whoever signed it.
    """
    head = read_exact(fd, min(_AGE_HEADER_LIMIT, layout.ciphertext_size), layout.ciphertext_offset)
    end = head.find(b"\n---")
    if not head.startswith(_AGE_MAGIC) or end < 0:
        raise PackageFormatError(
            "the payload is not an age v1 encrypted file", file=file, hint=_RESEND
        )
    stanzas = [line[3:].split(b" ", 1)[0] for line in head[:end].split(b"\n") if line[:3] == b"-> "]
    recipients = [kind for kind in stanzas if not kind.endswith(b"-grease")]
    if recipients != [b"X25519"]:
        raise MisdirectedError(
            "the payload is encrypted to other recipients than the one it is addressed to",
            file=file,
            hint=_RESEND,
        )


def inspect_package(path: Path, *, project: ProjectConfig, progress: Progress = SILENT) -> Manifest:
    """The manifest of ``path`` once its signature, digest and recipient count check out.

    It never decrypts, and does not check the recipient, project, wave, route, time or ledger:
    use it to see what a package is and that it is intact, and :func:`open_package` to accept it.
    """
    with _package_fd(path) as (fd, size):
        verified = _verify(fd, size, path, project)
        _check_ciphertext(fd, verified, path, progress)
        _check_single_recipient(fd, verified.layout, path)
    return verified.manifest


def _keyring(
    identities: SecretIdentity | Sequence[SecretIdentity], project: ProjectConfig
) -> tuple[Party, tuple[SecretIdentity, ...]]:
    keyring = (identities,) if isinstance(identities, SecretIdentity) else tuple(identities)
    if not keyring:
        raise IdentityError("no secret identity given", hint="load the party's keyring")
    if len({(i.party, i.role) for i in keyring}) != 1:
        raise IdentityError(
            "the identities belong to more than one party or role",
            hint="give the identities of the receiving party only",
        )
    party = project.party(keyring[0].party)
    if party.role is not keyring[0].role:
        raise IdentityError(
            f"these identities are for role {keyring[0].role.value}, but party {party.name!r} "
            f"has role {party.role.value} in the project file",
            hint="use the identities made for this party's role",
        )
    return party, keyring


def _recipient_identity(
    manifest: Manifest, party: Party, keyring: tuple[SecretIdentity, ...], file: Path
) -> SecretIdentity:
    if manifest.recipient.party != party.name:
        raise MisdirectedError(
            f"the package is addressed to party {manifest.recipient.party!r}, not to "
            f"{party.name!r}",
            file=file,
            hint="do not open it; tell the sender it reached the wrong party",
        )
    for identity in keyring:
        if identity.fingerprint == manifest.recipient.fingerprint:
            return identity
    raise MisdirectedError(
        "the package is sealed to an identity of this party that was not loaded",
        file=file,
        hint="load the keyring folder holding all of the party's identities, old ones included",
    )


def _check_project(manifest: Manifest, project: ProjectConfig, file: Path) -> None:
    if manifest.project != project.project.id:
        raise MisdirectedError(
            f"the package belongs to project {manifest.project!r}, not {project.project.id!r}",
            file=file,
            hint="open it with that project's file, or tell the sender it came to the wrong place",
        )
    if manifest.wave != project.project.wave:
        raise MisdirectedError(
            f"the package belongs to wave {manifest.wave}, not {project.project.wave}",
            file=file,
            hint="open it with the project file of that wave",
        )


def _check_shape(manifest: Manifest, project: ProjectConfig, file: Path) -> None:
    """Refuse, undecrypted, a payload its kind may not carry (survey answers to the indexer)."""
    names = [c.name for c in manifest.columns]
    problem = payload_shape_problem(manifest.kind, manifest.dataset, names, project)
    if problem is not None:
        raise PackageFormatError(
            f"the manifest lists a payload a {manifest.kind.value} package may not carry "
            f"({problem}); it was not decrypted",
            file=file,
            hint="do not open it; ask its sender what it sealed, and to send the right file",
        )


def check_package_time(
    manifest: Manifest, project: ProjectConfig, *, file: Path, now: datetime | None = None
) -> None:
    """Refuse a package expired, claiming to be made in the future, or living too long.

    Opening checks it; the transport's receipt check does too, so such a package is quarantined
    on arrival rather than accepted and then stopping the step that opens it.
    """
    now = now or datetime.now(UTC)
    if now >= manifest.expires:
        raise ExpiredError(
            f"the package expired at {manifest.expires:%Y-%m-%d %H:%M} UTC",
            file=file,
            hint="ask the sender to seal the data again",
        )
    if manifest.created > now + MAX_CLOCK_SKEW:
        raise ExpiredError(
            "the package claims to be created in the future",
            file=file,
            hint="check this computer's clock and the sender's; if both are right, " + _RESEND,
        )
    if manifest.expires - manifest.created > timedelta(days=project.project.package_ttl_days):
        raise ExpiredError(
            "the package is valid for longer than the project file allows",
            file=file,
            hint="the sender must use the same package_ttl_days; ask it to reseal the package",
        )


def _decrypt(
    *,
    fd: int,
    verified: _Verified,
    identity: SecretIdentity,
    partial: Path,
    file: Path,
    progress: Progress,
) -> None:
    """Decrypt into the private file ``partial``; check the plaintext digest, size and shape."""
    layout, manifest = verified.layout, verified.manifest
    fd_out = os.open(partial, os.O_WRONLY)
    try:
        with (
            progress.task(f"decrypting {file.name}", total=layout.ciphertext_size) as task,
            HashingWriter(fd_out, 0, block_point="open.block-written", behind=True) as writer,
        ):
            reader = RegionReader(fd, layout.ciphertext_offset, layout.ciphertext_size, task=task)
            try:
                identity.decrypt_io(reader, writer)
                if reader.read():
                    raise DigestError(
                        "the payload has bytes after the end of its age stream",
                        file=file,
                        hint=_RESEND,
                    )
                digest, size, _ = writer.finish()
            except PackageError:
                raise
            except pyrage.DecryptError as exc:
                raise _decrypt_failure(exc, reader, writer, file) from exc
            except OSError as exc:
                raise _decrypt_failure(exc, reader, writer, file) from exc
    finally:
        os.close(fd_out)
    if (digest, size) != (manifest.plaintext_sha256, manifest.plaintext_size):
        raise DigestError(
            "the decrypted payload does not match the digest the sender signed",
            file=file,
            hint=_RESEND,
        )
    columns, rows = parquet_shape(
        partial,
        on_error=lambda why: DigestError(
            f"the decrypted payload is not what the manifest states: {why}", file=file, hint=_RESEND
        ),
    )
    if columns != manifest.columns or rows != manifest.rows:
        raise DigestError(
            "the decrypted payload's columns or row count differ from the manifest",
            file=file,
            hint=_RESEND,
        )


def _decrypt_failure(
    exc: BaseException, reader: RegionReader, writer: HashingWriter, file: Path
) -> PackageError | StorageError:
    if isinstance(reader.error, ShortFileError):
        return PackageFormatError(
            "the package changed or shrank while it was being read",
            file=file,
            hint="wait until the transfer has finished, then open it again",
        )
    if reader.error is not None:
        return StorageError(
            f"the package cannot be read ({reader.error.strerror or 'I/O error'})",
            file=file,
            hint="check the disk holding the package",
        )
    if isinstance(writer.error, OSError):
        return StorageError(
            f"the payload cannot be written ({writer.error.strerror or 'I/O error'})",
            file=file,
            hint="check free disk space and permissions at the destination",
        )
    if "no matching keys" in str(exc).lower():
        return MisdirectedError(
            "the payload is not encrypted to the identity the manifest names",
            file=file,
            hint=_RESEND,
        )
    return DigestError(
        "the payload fails age's authentication: it was altered after sealing",
        file=file,
        hint=_RESEND,
    )


def open_package(
    path: Path,
    *,
    project: ProjectConfig,
    identities: SecretIdentity | Sequence[SecretIdentity],
    ledger: ReceiptLedger,
    dest: Path,
    expect_kinds: Collection[PackageKind] | None = None,
    now: datetime | None = None,
    progress: Progress = SILENT,
) -> OpenedPackage:
    """Check the package ``path`` completely, then decrypt its payload to ``dest`` and record it.

    Args:
        path: the package file (its name does not matter: the manifest says what it is).
        project: this party's project file.
        identities: this party's secret identities (all of its keyring, for rotation).
        ledger: this workspace's receipt ledger; a package is opened once.
        dest: where the Parquet payload goes; must not exist yet.
        expect_kinds: the kinds the calling step accepts (``None``: any its role may receive).
        now: the time to check expiry against (default: now).
        progress: where to report bytes verified and decrypted.
    """
    party, keyring = _keyring(identities, project)
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    check_new(dest)
    with _package_fd(path) as (fd, size):
        verified = _verify(fd, size, path, project)
        manifest = verified.manifest
        identity = _recipient_identity(manifest, party, keyring, path)
        _check_project(manifest, project, path)
        check_route(manifest.kind, verified.sender.role, party.role, file=path)
        check_source(project, manifest.kind, manifest.source, verified.sender, file=path)
        check_expected_kind(manifest.kind, expect_kinds, file=path)
        _check_shape(manifest, project, path)
        check_package_time(manifest, project, file=path, now=moment)
        ledger.check_not_opened(manifest, file=path)
        _check_ciphertext(fd, verified, path, progress)
        _check_single_recipient(fd, verified.layout, path)
        with atomic_path(dest) as partial:
            _decrypt(
                fd=fd,
                verified=verified,
                identity=identity,
                partial=partial,
                file=path,
                progress=progress,
            )
    kill_point("open.before-ledger")
    try:
        receipt = ledger.record_opened(manifest, file=path, dest=dest, now=moment)
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    return OpenedPackage(
        manifest=manifest,
        package=path,
        path=dest,
        receipt=receipt,
        config_matches=manifest.config_digest == project.digest(),
    )
