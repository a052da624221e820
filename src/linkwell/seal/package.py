"""Sealing: a Parquet payload becomes one package file, encrypted to one party and signed.

:func:`seal_package` checks that the sender may send this kind to the recipient, encrypts the
payload with age to the recipient's active identity card in one streaming pass (hashing plaintext
and ciphertext on the way), then appends the signed manifest. The file appears atomically at
``dest`` only once complete. The format is described in ``docs/package-format.md``.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyrage
from pydantic import ValidationError as PydanticValidationError
from pyrage import x25519

from linkwell.audit import SignedHead, verify_head
from linkwell.config import IdentityCard, Party, ProjectConfig
from linkwell.errors import (
    AuditError,
    ConfigError,
    IdentityError,
    InternalError,
    LinkwellError,
    ReadError,
    SchemaError,
    StorageError,
)
from linkwell.faults import kill_point
from linkwell.fileio import atomic_path, check_new
from linkwell.progress import SILENT, Progress, ProgressTask
from linkwell.seal._layout import HEADER, trailer
from linkwell.seal._parquet import parquet_shape
from linkwell.seal._stream import HashingWriter, ReadAhead, ShortFileError
from linkwell.seal.identity import SecretIdentity, fingerprint
from linkwell.seal.manifest import (
    DatasetRef,
    Manifest,
    PartyRef,
    encode_signature,
    sign_manifest,
)
from linkwell.seal.routes import PackageKind, check_route, check_source
from linkwell.seal.shapes import payload_shape_problem

__all__ = ["seal_package"]

_PACKAGE_ID = re.compile(r"[0-9a-f]{32}")


def _sender_party(project: ProjectConfig, sender: SecretIdentity) -> Party:
    """The sender's party; ``sender``'s card must be registered there and not retired."""
    party = project.party(sender.party)
    if party.role is not sender.role:
        raise IdentityError(
            f"this identity is for role {sender.role.value}, but party {party.name!r} has "
            f"role {party.role.value} in the project file",
            hint="use the identity made for this party's role",
        )
    for card in party.identities:
        if fingerprint(card) == sender.fingerprint:
            if card.retired:
                raise IdentityError(
                    "this identity is retired in the project file and may not seal new packages",
                    hint="seal with the party's current identity",
                )
            return party
    raise IdentityError(
        f"this identity's card is not in the project file under party {party.name!r}",
        hint="add the card from 'linkwell keys new' (card.toml) to the project file",
    )


def _check_own_head(head: SignedHead, party: Party) -> None:
    """The log head a package carries must be the sender's own, signed by one of its cards."""
    signers = {card.signing_key for card in party.identities}
    if head.head.party != party.name or head.signer not in signers:
        raise AuditError(
            "the audit log head given to seal is not this party's",
            hint="pass the head of the sending party's own audit log",
        )
    verify_head(head, head.signer)


def _recipient_key(card: IdentityCard, party: Party) -> x25519.Recipient:
    try:
        return x25519.Recipient.from_str(card.encryption_key)
    except pyrage.RecipientError:
        raise ConfigError(
            f"party {party.name!r} has an encryption key that is not a valid age recipient",
            field="parties.identities.encryption_key",
            hint="copy the party's card again from its card.toml",
        ) from None


def _seal_failure(
    exc: BaseException, reader: ReadAhead, writer: HashingWriter, payload: Path, dest: Path
) -> LinkwellError:
    cause = reader.error or writer.error or exc
    if isinstance(cause, ShortFileError):
        return StorageError(
            "the payload changed while it was being sealed",
            file=payload,
            hint="make sure nothing writes the payload file, then seal again",
        )
    if cause is writer.error and isinstance(cause, OSError):
        return StorageError(
            f"the package cannot be written ({cause.strerror or 'I/O error'})",
            file=dest,
            hint="check free disk space and permissions",
        )
    if cause is reader.error and isinstance(cause, OSError):
        return StorageError("the payload cannot be read", file=payload, hint="check the file")
    return InternalError(f"encryption failed ({type(cause).__name__})", file=dest)


def seal_package(
    payload: Path,
    *,
    project: ProjectConfig,
    sender: SecretIdentity,
    recipient: str,
    kind: PackageKind,
    source: str | None,
    dataset: DatasetRef,
    parents: Sequence[str],
    log_head: SignedHead | None,
    dest: Path,
    now: datetime | None = None,
    progress: Progress = SILENT,
) -> Manifest:
    """Seal the Parquet file ``payload`` for party ``recipient`` into the package file ``dest``.

    Args:
        payload: the Parquet file to send.
        project: the project file; binds project id, wave, parties and the package lifetime.
        sender: the sending party's secret identity (registered, not retired).
        recipient: the receiving party's name; the package is encrypted to its active card.
        kind: what the package holds; the route sender role -> recipient role must allow it.
        source: the project source a provider's package carries; ``None`` for derived kinds.
        dataset: the dataset definition the payload follows.
        parents: ids of the packages this payload was made from.
        log_head: the sender's latest signed audit log head, if it keeps a log.
        dest: the package file to write (atomically); it must not exist yet.
        now: the creation time (default: now); the package expires the project's TTL later.
        progress: where to report bytes sealed.

    Returns:
        The signed manifest, as written into the package.
    """
    kind = PackageKind(kind)
    check_new(dest)
    sender_party = _sender_party(project, sender)
    recipient_party = project.party(recipient)
    check_route(kind, sender_party.role, recipient_party.role, file=dest)
    check_source(project, kind, source, sender_party, file=dest)
    recipient_card = recipient_party.active_identity
    recipient_key = _recipient_key(recipient_card, recipient_party)
    if log_head is not None:
        _check_own_head(log_head, sender_party)
    columns, rows = parquet_shape(
        payload,
        on_error=lambda why: ReadError(
            f"the payload cannot be sealed: {why}",
            file=payload,
            hint="seal the Parquet file written by the previous step",
        ),
    )
    problem = payload_shape_problem(kind, dataset, [c.name for c in columns], project)
    if problem is not None:
        raise SchemaError(
            f"the payload cannot be sealed as a {kind.value} package: {problem}",
            file=payload,
            hint="seal the file the step for this kind wrote; nothing was sealed",
        )
    if any(not _PACKAGE_ID.fullmatch(parent) for parent in parents):
        raise ConfigError(
            "a parent package id is not 32 lower-case hex digits",
            field="parents",
            hint="give the package_id of each package the payload was made from",
        )
    created = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    try:
        fd_in = os.open(payload, os.O_RDONLY)
    except OSError as exc:
        raise ReadError("the payload cannot be read", file=payload, hint="check the file") from exc
    try:
        before = os.fstat(fd_in)
        with (
            atomic_path(dest) as partial,
            progress.task(f"sealing {payload.name}", total=before.st_size) as task,
        ):
            fd_out = os.open(partial, os.O_WRONLY)
            try:
                plaintext_sha256, ciphertext_sha256, ciphertext_size = _encrypt(
                    fd_in=fd_in,
                    size=before.st_size,
                    fd_out=fd_out,
                    recipient_key=recipient_key,
                    task=task,
                    payload=payload,
                    dest=dest,
                )
                after = os.fstat(fd_in)
                if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
                    raise StorageError(
                        "the payload changed while it was being sealed",
                        file=payload,
                        hint="make sure nothing writes the payload file, then seal again",
                    )
                try:
                    manifest = Manifest(
                        package_id=secrets.token_hex(16),
                        project=project.project.id,
                        wave=project.project.wave,
                        kind=kind,
                        source=source,
                        sender=PartyRef(party=sender_party.name, fingerprint=sender.fingerprint),
                        recipient=PartyRef(
                            party=recipient_party.name, fingerprint=fingerprint(recipient_card)
                        ),
                        dataset=dataset,
                        columns=columns,
                        rows=rows,
                        created=created,
                        expires=created + timedelta(days=project.project.package_ttl_days),
                        plaintext_sha256=plaintext_sha256,
                        plaintext_size=before.st_size,
                        ciphertext_sha256=ciphertext_sha256,
                        ciphertext_size=ciphertext_size,
                        parents=tuple(parents),
                        config_digest=project.digest(),
                        sender_log_head=log_head,
                    )
                except PydanticValidationError as exc:
                    first = exc.errors(include_input=False, include_url=False)[0]
                    raise ReadError(
                        f"the payload cannot be described by a manifest: {first['msg']}",
                        file=payload,
                        field=".".join(str(part) for part in first["loc"]) or None,
                        hint="the payload has too many columns or a column name is too long",
                    ) from None
                signature = encode_signature(sign_manifest(manifest, sender.signing_key))
                tail = trailer(manifest.canonical(), signature, ciphertext_size)
                kill_point("seal.before-trailer")
                _write_all(fd_out, tail, len(HEADER) + ciphertext_size)
                kill_point("seal.before-rename")
            finally:
                os.close(fd_out)
    finally:
        os.close(fd_in)
    return manifest


def _write_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        offset += written
        view = view[written:]


def _encrypt(
    *,
    fd_in: int,
    size: int,
    fd_out: int,
    recipient_key: x25519.Recipient,
    task: ProgressTask,
    payload: Path,
    dest: Path,
) -> tuple[str, str, int]:
    """Header and age ciphertext into ``fd_out``; (plaintext SHA-256, ciphertext SHA-256, size)."""
    _write_all(fd_out, HEADER, 0)
    with (
        ReadAhead(fd_in, 0, size, task=task) as reader,
        HashingWriter(fd_out, len(HEADER), block_point="seal.block-written") as writer,
    ):
        try:
            pyrage.encrypt_io(reader, writer, [recipient_key])
            ciphertext_sha256, ciphertext_size, _ = writer.finish()
        except Exception as exc:
            raise _seal_failure(exc, reader, writer, payload, dest) from exc
        if not reader.complete:
            raise InternalError("the cipher stopped before the end of the payload", file=payload)
        return reader.hexdigest(), ciphertext_sha256, ciphertext_size
