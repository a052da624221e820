"""Sending and receiving packages: the steps every party runs, over whichever transport it uses.

Receiving takes each new file in the party's inbox through the same gate: download (resumed if
interrupted) into the workspace's incoming folder, check the digest its sender committed, pass it
to the caller's ``accept`` (the seal layer's receipt check) and only then move it into the
accepted folder. Anything refused is moved into the quarantine folder beside a note of the reason;
nothing is deleted, and the party's receipt book makes sure no file or package is taken twice.
"""

from __future__ import annotations

import json
import logging
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from pydantic import BaseModel, ConfigDict

from linkwell.config import FolderTransport, ProjectConfig, SftpTransport
from linkwell.errors import (
    ConfigError,
    PackageError,
    StorageError,
    TransportError,
    UnknownSenderError,
)
from linkwell.faults import kill_point
from linkwell.fileio import write_text_atomic
from linkwell.progress import SILENT, Progress
from linkwell.transport.base import (
    PACKAGE_SUFFIX,
    Accept,
    Delivery,
    InboxEntry,
    PackageNames,
    Transport,
)
from linkwell.transport.folder import FolderMailbox
from linkwell.transport.local import commit_no_overwrite, local_error, sha256_file
from linkwell.transport.receipts import Receipt, ReceiptBook, ReceiptState, RefusalReason
from linkwell.transport.retry import DEFAULT_RETRY, RetryPolicy
from linkwell.transport.sftp import SftpMailbox
from linkwell.transport.ssh import load_ssh_key

__all__ = [
    "QuarantinedFile",
    "ReceiveDirs",
    "ReceiveReport",
    "ReceivedPackage",
    "open_transport",
    "receive_from",
    "receive_packages",
    "send_package",
]

logger = logging.getLogger(__name__)

REASON_SUFFIX: Final = ".reason.json"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ReceiveDirs(_Model):
    """Where a party's workspace keeps what its transport receives.

    ``incoming`` holds downloads in progress (and must be private to the party), ``accepted``
    the packages its receipt check accepted, ``quarantine`` refused files with a
    ``<name>.reason.json`` note each, and ``receipts`` the receipt book (a DuckDB file).
    """

    incoming: Path
    accepted: Path
    quarantine: Path
    receipts: Path

    @classmethod
    def under(cls, folder: Path) -> ReceiveDirs:
        """The standard layout inside one workspace folder."""
        return cls(
            incoming=folder / "incoming",
            accepted=folder / "accepted",
            quarantine=folder / "quarantine",
            receipts=folder / "receipts.duckdb",
        )


class ReceivedPackage(_Model):
    """A package accepted by the receipt check and now in the accepted folder."""

    name: str
    package_id: str
    path: Path
    size: int
    sha256: str


class QuarantinedFile(_Model):
    """A file refused on receipt, kept in the quarantine folder with its reason."""

    name: str
    reason: RefusalReason
    detail: str
    path: Path


class ReceiveReport(_Model):
    """What one receive run did."""

    accepted: tuple[ReceivedPackage, ...] = ()
    quarantined: tuple[QuarantinedFile, ...] = ()
    already_received: tuple[str, ...] = ()
    unacknowledged: int = 0


def open_transport(
    project: ProjectConfig,
    party: str,
    *,
    key_file: Path | None = None,
    key_passphrase: str | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
    suffix: str = PACKAGE_SUFFIX,
) -> Transport:
    """The transport the project file configures, acting for ``party``.

    ``key_file`` (the workspace's ``sftp_key_file``) is needed for SFTP only.
    """
    settings = project.transport
    member = project.party(party)
    if isinstance(settings, FolderTransport):
        return FolderMailbox(project.resolve(settings.root), member.name, suffix=suffix)
    if not isinstance(settings, SftpTransport):  # pragma: no cover - the union has two kinds
        raise ConfigError("unknown transport kind", field="transport.kind")
    if member.sftp is None:
        raise ConfigError(
            f"party {member.name!r} has no sftp entry in the project file",
            field="parties.sftp",
            hint="add the party's sftp user and folders",
        )
    if key_file is None:
        raise ConfigError(
            "the SFTP transport needs the party's private key",
            field="sftp_key_file",
            hint="set sftp_key_file in the workspace file",
        )
    return SftpMailbox(
        settings,
        member.sftp,
        member.name,
        key=load_ssh_key(key_file, key_passphrase),
        retry=retry,
        suffix=suffix,
    )


def send_package(
    package: Path,
    *,
    project: ProjectConfig,
    party: str,
    to: str,
    key_file: Path | None = None,
    key_passphrase: str | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
    progress: Progress = SILENT,
) -> Delivery:
    """Deliver a sealed package file from ``party`` to party ``to`` over the project's transport."""
    recipient = project.party(to).name
    transport = open_transport(
        project, party, key_file=key_file, key_passphrase=key_passphrase, retry=retry
    )
    try:
        return transport.deliver(package, to=recipient, progress=progress)
    finally:
        transport.close()


def receive_packages(
    *,
    project: ProjectConfig,
    party: str,
    dirs: ReceiveDirs,
    accept: Accept,
    key_file: Path | None = None,
    key_passphrase: str | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
    again: bool = False,
    progress: Progress = SILENT,
) -> ReceiveReport:
    """Receive every new package in ``party``'s inbox over the project's transport."""
    transport = open_transport(
        project, party, key_file=key_file, key_passphrase=key_passphrase, retry=retry
    )
    try:
        return receive_from(transport, dirs=dirs, accept=accept, again=again, progress=progress)
    finally:
        transport.close()


def receive_from(
    transport: Transport,
    *,
    dirs: ReceiveDirs,
    accept: Accept,
    again: bool = False,
    progress: Progress = SILENT,
) -> ReceiveReport:
    """Take every new file in the transport's inbox through download, digest check and ``accept``.

    ``accept`` is called on each downloaded file whose digest matches, before the file is moved
    into ``dirs.accepted``; a :class:`~linkwell.errors.PackageError` from it quarantines the
    file. Any other error stops the run with the file left in ``dirs.incoming``, where the next
    run picks it up again without downloading it twice. ``again`` first judges again every
    file refused because its signing key was on no card, from its quarantined copy: after the
    sender's new card was added to the project file and trusted, it is accepted.
    """
    for folder in (dirs.incoming, dirs.accepted, dirs.quarantine):
        _make_private_dir(folder)
    with ReceiptBook(dirs.receipts) as book:
        _finish_interrupted(book, dirs)
        accepted: list[ReceivedPackage] = []
        quarantined: list[QuarantinedFile] = []
        seen: list[str] = []

        def place(decided: Receipt) -> None:
            _place(book, dirs, decided)
            if decided.state is ReceiptState.ACCEPTED:
                accepted.append(_received(dirs, decided))
            else:
                quarantined.append(_quarantined(dirs, decided))

        for refused in book.unknown_senders() if again else ():
            place(_judge_again(book, dirs, refused, accept))
        for entry in transport.list_inbox():
            expected = transport.read_digest(entry.name)
            receipt = None
            if expected is None or not book.settled(entry.name, expected, committed=expected):
                receipt = _take_in(
                    transport,
                    book,
                    dirs,
                    entry,
                    expected=expected,
                    accept=accept,
                    progress=progress,
                )
            if receipt is None:
                seen.append(entry.name)
                continue
            place(receipt)
        unacknowledged = _acknowledge(transport, book)
    return ReceiveReport(
        accepted=tuple(accepted),
        quarantined=tuple(quarantined),
        already_received=tuple(seen),
        unacknowledged=unacknowledged,
    )


def _take_in(
    transport: Transport,
    book: ReceiptBook,
    dirs: ReceiveDirs,
    entry: InboxEntry,
    *,
    expected: str | None,
    accept: Accept,
    progress: Progress,
) -> Receipt | None:
    """Download, verify and judge one inbox file; the decision is recorded before returning.

    None if these very bytes were decided before under this name (a refused file the server has
    not cleared yet, whose digest file is missing or wrong): the download is removed.
    """
    sha256 = _download(transport, dirs, entry, expected=expected, progress=progress)
    if book.settled(entry.name, sha256, committed=expected):
        _remove(dirs.incoming / entry.name)
        return None
    kill_point("transport.receive.before-accept")
    verdict = _check_bytes(book, sha256, expected) or _check_package(
        book, dirs.incoming / entry.name, accept
    )
    if isinstance(verdict, str):
        receipt = Receipt(
            name=entry.name,
            state=ReceiptState.ACCEPTED,
            sha256=sha256,
            size=entry.size,
            package_id=verdict,
        )
        logger.info("package %s accepted", entry.name)
    else:
        reason, detail = verdict
        receipt = Receipt(
            name=entry.name,
            state=ReceiptState.QUARANTINED,
            sha256=sha256,
            size=entry.size,
            reason=reason,
            detail=detail,
        )
        logger.warning("package %s refused on receipt (%s): %s", entry.name, reason.value, detail)
    decided = book.decide(receipt)
    kill_point("transport.receive.before-place")
    return decided


def _judge_again(book: ReceiptBook, dirs: ReceiveDirs, earlier: Receipt, accept: Accept) -> Receipt:
    """Judge a refused file again from its quarantined copy; the decision replaces the refusal."""
    candidate = dirs.incoming / earlier.name
    try:
        shutil.copyfile(dirs.quarantine / earlier.stored_as, candidate, follow_symlinks=False)
    except OSError as exc:
        raise local_error(exc, dirs.quarantine / earlier.stored_as, doing="copy") from exc
    if sha256_file(candidate)[0] != earlier.sha256:
        candidate.unlink()
        raise StorageError(
            "a quarantined file changed since it was refused, so it is not judged again",
            file=dirs.quarantine / earlier.stored_as,
            hint="ask the sender to seal the data again",
        )
    verdict = _check_package(book, candidate, accept)
    update: dict[str, object] = {"placed": False, "decided_at": datetime.now(UTC)}
    if isinstance(verdict, str):
        update |= {
            "state": ReceiptState.ACCEPTED,
            "package_id": verdict,
            "reason": None,
            "detail": "",
        }
        logger.info("package %s accepted when judged again", earlier.name)
    else:
        update |= {"package_id": None, "reason": verdict[0], "detail": verdict[1]}
    return book.decide(earlier.model_copy(update=update))


def _download(
    transport: Transport,
    dirs: ReceiveDirs,
    entry: InboxEntry,
    *,
    expected: str | None,
    progress: Progress,
) -> str:
    """Bring the file into ``incoming/<name>`` (reusing a complete earlier download); its digest.

    A resumed download whose digest is wrong is fetched once more from the start, in case the
    bytes kept from the interrupted attempt were the wrong ones.
    """
    candidate = dirs.incoming / entry.name
    if candidate.is_file():
        sha256, _ = sha256_file(candidate)
        if sha256 == expected:
            return sha256
        _remove(candidate)
    partial = dirs.incoming / PackageNames.partial(entry.name, expected or "0" * 16)
    fetched = transport.fetch(entry.name, partial, size=entry.size, progress=progress)
    if expected is not None and fetched.sha256 != expected and fetched.resumed_from:
        logger.warning("package %s: wrong digest after a resumed download; again", entry.name)
        partial.unlink(missing_ok=True)
        fetched = transport.fetch(entry.name, partial, size=entry.size, progress=progress)
    _rename(partial, candidate)
    return fetched.sha256


def _check_bytes(
    book: ReceiptBook, sha256: str, expected: str | None
) -> tuple[RefusalReason, str] | None:
    """Refuse a file whose bytes are not what the sender committed, or were accepted before."""
    if expected is None:
        return RefusalReason.NO_DIGEST, "the sender's digest file is missing or malformed"
    if sha256 != expected:
        return (
            RefusalReason.DIGEST_MISMATCH,
            "the file received does not match the digest its sender committed",
        )
    if book.holds_content(sha256):
        return (
            RefusalReason.DUPLICATE_CONTENT,
            "the same file was accepted before under another name",
        )
    return None


def _check_package(
    book: ReceiptBook, candidate: Path, accept: Accept
) -> str | tuple[RefusalReason, str]:
    """The package id if it is new, ``accept`` takes the file, and the id is the file's name.

    The receipt book is asked first, so a package already accepted (under another file name,
    e.g. after the suffix changed) never reaches ``accept`` a second time.
    """
    expected_id = _package_id_of(candidate.name)
    if book.holds_package(expected_id):
        return RefusalReason.REPLAY, "a package with this id was accepted before"
    try:
        package_id = accept(candidate)
    except UnknownSenderError as exc:  # may pass once the sender's new card is in the project
        return RefusalReason.UNKNOWN_SENDER, f"{type(exc).__name__}: {exc.message}"
    except PackageError as exc:
        return RefusalReason.REFUSED, f"{type(exc).__name__}: {exc.message}"
    if package_id != expected_id:
        return RefusalReason.NAME_MISMATCH, "the file name is not the package id found inside it"
    return package_id


def _package_id_of(name: str) -> str:
    """The package id a listed package file name stands for: package ids hold no dots."""
    return name.split(".", 1)[0]


def _place(book: ReceiptBook, dirs: ReceiveDirs, receipt: Receipt) -> None:
    """Move a decided file from incoming into its folder, then record that it is there."""
    source = dirs.incoming / receipt.name
    folder = dirs.accepted if receipt.state is ReceiptState.ACCEPTED else dirs.quarantine
    target = folder / receipt.stored_as
    if receipt.state is ReceiptState.QUARANTINED:
        write_text_atomic(folder / f"{receipt.stored_as}{REASON_SUFFIX}", _reason_note(receipt))
    if source.exists():
        if not commit_no_overwrite(source, target) and not _kept_already(source, target, receipt):
            raise StorageError(
                "another file with this name is already there",
                file=target,
                hint="the receipt book does not know that file: move it aside and receive again",
            )
    elif not target.exists():
        raise StorageError(
            "a received file is missing from both the incoming folder and its destination",
            file=target,
            hint="something outside linkwell removed it; ask the sender to send it again",
        )
    book.mark_placed(receipt)


def _kept_already(source: Path, target: Path, receipt: Receipt) -> bool:
    """Whether ``target`` is the refused copy of these very bytes: then ``source`` goes.

    A refusal judged again and refused again keeps the quarantined copy's name.
    """
    if receipt.state is not ReceiptState.QUARANTINED or sha256_file(target)[0] != receipt.sha256:
        return False
    source.unlink()
    return True


def _finish_interrupted(book: ReceiptBook, dirs: ReceiveDirs) -> None:
    """Place files whose decision was recorded by a run that stopped before moving them."""
    for receipt in book.unplaced():
        logger.info("finishing the interrupted receipt of %s", receipt.name)
        _place(book, dirs, receipt)


def _acknowledge(transport: Transport, book: ReceiptBook) -> int:
    """Tell the server which files were dealt with; return how many could not be told yet."""
    waiting = book.unacknowledged()
    for index, receipt in enumerate(waiting):
        try:
            transport.acknowledge(receipt.name)
        except TransportError as exc:
            logger.warning(
                "could not acknowledge %s yet (%s); will retry next time", receipt.name, exc
            )
            return len(waiting) - index
        book.mark_acknowledged(receipt)
        kill_point("transport.receive.after-acknowledge")
    return 0


def _reason_note(receipt: Receipt) -> str:
    return json.dumps(
        {
            "name": receipt.name,
            "reason": None if receipt.reason is None else receipt.reason.value,
            "detail": receipt.detail,
            "sha256": receipt.sha256,
            "size": receipt.size,
            "decided_at": receipt.decided_at.isoformat(),
        },
        indent=2,
    )


def _received(dirs: ReceiveDirs, receipt: Receipt) -> ReceivedPackage:
    return ReceivedPackage(
        name=receipt.name,
        package_id=receipt.package_id or "",
        path=dirs.accepted / receipt.stored_as,
        size=receipt.size,
        sha256=receipt.sha256,
    )


def _quarantined(dirs: ReceiveDirs, receipt: Receipt) -> QuarantinedFile:
    return QuarantinedFile(
        name=receipt.name,
        reason=receipt.reason or RefusalReason.REFUSED,
        detail=receipt.detail,
        path=dirs.quarantine / receipt.stored_as,
    )


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except OSError as exc:
        raise local_error(exc, path, doing="remove a stale download") from exc


def _rename(source: Path, dest: Path) -> None:
    try:
        source.replace(dest)
    except OSError as exc:
        raise local_error(exc, dest, doing="move the download into place") from exc


def _make_private_dir(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise local_error(exc, folder, doing="create the folder") from exc
