"""A party's workspace: its private settings, keys, audit log, receipt ledger and folders.

Every role runs inside one workspace, and one workspace serves one party (an organisation that
holds two roles keeps two). The workspace owns the conventions the roles share: where received
packages wait, where opened payloads live, where a step's outputs are staged and committed in one
atomic rename, and how each sealed package carries the party's latest signed audit-log head.

Layout::

    workspace.toml   the private settings (party, project file, keyring, passphrase source)
    keys/            the party's keyring: every identity it ever had, passphrase-encrypted
    audit.log        the party's hash-chained audit log
    trusted-cards.json  every party's identity card (by fingerprint) this party has trusted
    ledger.sqlite    receipt ledger: every package received or opened, once
    transfer/        what the transport received: incoming/ (partial downloads), accepted/
                     (verified on receipt, still sealed: the inbox), quarantine/ (refused, with
                     the reason) and the transport's receipt book
    opened/KIND/     opened payloads (<package-id>.parquet) and their manifests (.json)
    steps/PROJECT/wave-N/NAME/  committed outputs of a step, with step.json; staged as .NAME.partial
    outbox/          sealed packages waiting to be sent; sent/ once delivered
    quarantine/      packages refused when opened, with the reason
    vault/           the indexer's vault
    tmp/             the engine's spill folder (emptied when a command takes the workspace)
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Final, TypeVar

import tomli_w
from pydantic import BaseModel

from linkwell.audit import (
    AuditAction,
    AuditDetail,
    AuditLog,
    CountName,
    PackageRef,
    public_key_text,
)
from linkwell.config import (
    Party,
    ProjectConfig,
    Role,
    WorkspaceConfig,
    load_project,
    load_workspace,
)
from linkwell.engine import Engine
from linkwell.errors import (
    AuditError,
    ConfigError,
    IdentityError,
    LinkwellError,
    MisdirectedError,
    PackageError,
    PackageFormatError,
    ReplayError,
    RoleError,
    StorageError,
    ValidationError,
)
from linkwell.faults import kill_point
from linkwell.fileio import fsync_dir, write_text_atomic
from linkwell.progress import SILENT, Progress
from linkwell.seal import (
    DatasetRef,
    Manifest,
    PackageKind,
    ReceiptLedger,
    ReceiptState,
    SecretIdentity,
    check_package_time,
    fingerprint,
    format_fingerprint,
    inspect_package,
    load_keyring,
    open_package,
    read_passphrase,
    seal_package,
)
from linkwell.seal.routes import check_route, check_source
from linkwell.transport import (
    PACKAGE_SUFFIX,
    Delivery,
    ReceiveDirs,
    ReceiveReport,
    load_ssh_key,
    receive_packages,
    send_package,
)

__all__ = ["TRUSTED_CARDS", "WORKSPACE_FILE", "Opened", "Workspace", "one_per_source"]

WORKSPACE_FILE: Final = "workspace.toml"
TRUSTED_CARDS: Final = "trusted-cards.json"
STEP_RECORD: Final = "step.json"
R = TypeVar("R", bound=BaseModel)

_REFUSAL_DETAIL: Final = {
    "PackageFormatError": AuditDetail.FORMAT,
    "SignatureError": AuditDetail.SIGNATURE,
    "UnknownSenderError": AuditDetail.UNKNOWN_SENDER,
    "MisdirectedError": AuditDetail.MISDIRECTED,
    "RoleError": AuditDetail.ROLE,
    "ExpiredError": AuditDetail.EXPIRED,
    "ReplayError": AuditDetail.REPLAY,
    "DigestError": AuditDetail.DIGEST,
}


@dataclass(frozen=True)
class Opened:
    """An opened payload in the workspace, with the manifest it came with."""

    manifest: Manifest
    path: Path


def _beside(root: Path, path: Path) -> Path:
    """A path the workspace file gives: relative ones are taken from the workspace's folder."""
    return path if path.is_absolute() else root / path


def _clear_folder(folder: Path) -> None:
    """Empty the spill folder of what a command killed mid-query left there.

    Called with the workspace held, so no other command's engine is using it; a finished
    command's engine leaves nothing there.
    """
    if not folder.is_dir() or folder.is_symlink():
        return
    for entry in folder.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def one_per_source(opened: Iterable[Opened]) -> dict[str, Opened]:
    """The opened payloads by source, refusing a source that sent more than one.

    A provider sends one package of a kind per source and wave. Two would leave the choice to
    the manifests' creation times, which their signers set: a package made with a key still
    held after it was retired could be dated to win. Which one is right is for the provider to
    say.
    """
    found: dict[str, list[Opened]] = defaultdict(list)
    for item in opened:
        found[str(item.manifest.source)].append(item)
    for source, items in found.items():
        if len(items) > 1:
            ids = ", ".join(sorted(item.manifest.package_id for item in items))
            raise ValidationError(
                f"source {source!r} sent {len(items)} packages of one kind for this wave "
                f"({ids}); which to use is not guessed",
                field=source,
                hint="ask the provider which package is right, and move the other's two files "
                "(<package id>.parquet and .json) out of the workspace's opened/ folder",
            )
    return {source: items[0] for source, items in found.items()}


class Workspace:
    """One party's workspace: :meth:`open` an existing one, or :meth:`create` one."""

    def __init__(self, root: Path, settings: WorkspaceConfig, project: ProjectConfig) -> None:
        self.root = root.resolve()  # recorded paths must not depend on where a command ran
        self.settings = settings
        self.project = project
        try:
            self.party: Party = project.party(settings.party)
        except ConfigError as exc:
            raise ConfigError(
                exc.message, file=root / WORKSPACE_FILE, field="party", hint=exc.hint
            ) from exc

    # -- making and opening -------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        root: Path,
        *,
        project_file: Path,
        party: str,
        keyring: Path,
        passphrase_env: str = "LINKWELL_PASSPHRASE",  # noqa: S107 - a variable's name
        passphrase_file: Path | None = None,
        sftp_key_file: Path | None = None,
    ) -> Workspace:
        """Write ``workspace.toml`` for ``party`` and check its keyring matches its project card.

        ``keyring`` is the folder ``linkwell keys new`` wrote; it is moved into the workspace if
        it is elsewhere, so that the workspace holds everything the party needs (never out of
        another workspace). Everything is checked before the keyring moves (the project file,
        the party, the passphrase, the card, the SSH key), so a refusal leaves the party's only
        secret identity where it was. The workspace folder is made private to its owner (mode
        0700): step outputs inside it hold identifiers or answers.
        ``sftp_key_file`` (relative to the workspace, or absolute) is the party's SSH key for
        the SFTP transport; it is checked now, so that a missing or readable key fails here.
        """
        if (root / WORKSPACE_FILE).exists():
            raise ConfigError(
                "a workspace already exists here",
                file=root / WORKSPACE_FILE,
                hint="use another folder",
            )
        keys = root.resolve() / "keys"
        moving = keyring.resolve() != keys
        if moving and (keyring.resolve().parent / WORKSPACE_FILE).exists():
            raise ConfigError(
                "this keyring belongs to another workspace and would be moved out of it",
                file=keyring,
                hint="give the folder 'linkwell keys new' wrote for this party",
            )
        project = load_project(project_file)
        try:
            project.party(party)
        except ConfigError as exc:
            raise ConfigError(
                exc.message, file=project_file, field="parties", hint=exc.hint
            ) from exc
        settings = WorkspaceConfig(
            party=party,
            project_file=project_file.resolve(),
            identity_file=keyring.resolve(),  # until it is moved in, below
            passphrase_env=passphrase_env,
            passphrase_file=None if passphrase_file is None else passphrase_file.resolve(),
            sftp_key_file=sftp_key_file,
        )
        workspace = cls(root, settings, project)
        workspace.identity()  # refuse now if the keyring does not belong to this party
        key_file = workspace._key_file()
        if key_file is not None:
            load_ssh_key(key_file)
        root.mkdir(parents=True, exist_ok=True)
        if moving:
            shutil.move(str(keyring), keys)
        root.chmod(0o700)
        workspace.settings = settings.model_copy(update={"identity_file": Path("keys")})
        body = tomli_w.dumps(workspace.settings.model_dump(mode="json", exclude_none=True))
        write_text_atomic(root / WORKSPACE_FILE, body)
        workspace._log(create=True).start()
        workspace.trust_cards()
        return workspace

    @classmethod
    def open(cls, root: Path, *, check_cards: bool = True) -> Workspace:
        """The workspace at ``root``.

        Refused if the project file names an identity card this workspace has not trusted (see
        :meth:`untrusted_cards`), unless ``check_cards`` is false: only to look at them and
        trust them.
        """
        settings = load_workspace(root / WORKSPACE_FILE)
        workspace = cls(root, settings, load_project(_beside(root, settings.project_file)))
        workspace._check_log()
        if check_cards:
            workspace._check_cards()
        return workspace

    def untrusted_cards(self) -> list[tuple[str, str]]:
        """``(party, fingerprint)`` of every card in the project file this party has not trusted.

        A party trusts the cards its project file held when its workspace was made, and any it
        trusts later, having checked them with their party. Whoever can change this party's
        copy of the project file could otherwise put their own key on another party's card and
        receive, decrypted, what this party seals to it.
        """
        trusted = self._trusted()
        if trusted is None:  # a workspace of an earlier linkwell: what it has now is trusted
            self.trust_cards()
            return []
        return [card for card in self._cards() if card not in trusted]

    def trust_cards(self) -> list[tuple[str, str]]:
        """Trust every card the project file holds now; returns those newly trusted."""
        trusted = self._trusted() or set()
        new = [card for card in self._cards() if card not in trusted]
        cards = sorted(trusted | set(self._cards()))
        body = {"format": 1, "cards": [{"party": p, "fingerprint": f} for p, f in cards]}
        write_text_atomic(self.root / TRUSTED_CARDS, json.dumps(body, indent=2) + "\n")
        return new

    @property
    def _project_file(self) -> Path:
        return _beside(self.root, self.settings.project_file)

    def _cards(self) -> list[tuple[str, str]]:
        return [(p.name, fingerprint(card)) for p in self.project.parties for card in p.identities]

    def _trusted(self) -> set[tuple[str, str]] | None:
        path = self.root / TRUSTED_CARDS
        if not path.exists():
            return None
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
            return {(str(c["party"]), str(c["fingerprint"])) for c in body["cards"]}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                "the workspace's list of trusted identity cards is damaged",
                file=path,
                hint="restore it from a backup, or remove it to trust the project file's cards "
                "as they are now (check every fingerprint with its party first)",
            ) from exc

    def _check_cards(self) -> None:
        untrusted = self.untrusted_cards()
        if untrusted:
            named = "; ".join(f"{party} {format_fingerprint(fp)}" for party, fp in untrusted)
            raise ConfigError(
                f"the project file names identity cards this workspace has not trusted: {named}",
                file=self._project_file,
                hint="check each fingerprint with its party (read it aloud), then run "
                f"`linkwell workspace trust -w {self.root}`",
            )

    def _check_log(self) -> None:
        """Refuse, before anything is done, a workspace whose audit log was lost or emptied."""
        log = self.root / "audit.log"
        if self._has_history() and (not log.is_file() or log.stat().st_size == 0):
            raise AuditError(
                "the workspace's audit log is missing or empty, though the workspace has "
                "received, sent or run steps",
                file=log,
                hint="restore the log from a backup; a new log would hide what it recorded",
            )

    # -- folders ---------------------------------------------------------------------------------

    def folder(self, name: str) -> Path:
        """A workspace folder (created on first use), e.g. ``inbox`` or ``outbox``."""
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def role(self) -> Role:
        """This party's role."""
        return self.party.role

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold this workspace for one command: a second one at the same time is refused.

        Two commands interleaving their steps, sends or receives in one workspace trip over
        each other's files; the lock (``flock`` on ``.lock``, released when its holder ends,
        however it ends) makes the second say so instead.
        """
        try:
            fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        except OSError as exc:
            raise StorageError(
                f"the workspace's lock cannot be taken ({exc.strerror})",
                file=self.root / ".lock",
                hint="check the workspace folder's permissions",
            ) from exc
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StorageError(
                    "another linkwell command is working in this workspace",
                    file=self.root,
                    hint="wait for it to finish, then run this one again",
                ) from None
            _clear_folder(self.root / "tmp")
            yield
        finally:
            os.close(fd)

    def require(self, *roles: Role, step: str) -> None:
        """Refuse, before anything is made, a step that is not this party's role's."""
        if self.role not in roles:
            wanted = " or ".join(r.value for r in roles)
            raise ConfigError(
                f"this is the workspace of {self.party.name}, the {self.role.value}; "
                f"{step!r} is a step of the {wanted}",
                file=self.root / WORKSPACE_FILE,
                hint=f"run it in the {wanted}'s workspace",
            )

    # -- keys, audit, ledger ---------------------------------------------------------------------

    @cached_property
    def keyring(self) -> tuple[SecretIdentity, ...]:
        """Every identity this party has had, unlocked with its passphrase (asked once)."""
        try:
            passphrase = read_passphrase(
                env=self.settings.passphrase_env, file=self.settings.passphrase_file
            )
        except IdentityError as exc:
            if self.settings.passphrase_file is not None:
                raise
            raise IdentityError(
                "no passphrase given for this workspace's keyring",
                file=self.root / WORKSPACE_FILE,
                hint=f"set ${self.settings.passphrase_env}, or name a passphrase file (mode 0600): "
                "--passphrase-file when the workspace is made, passphrase_file in its "
                "workspace.toml after",
            ) from exc
        path = self.settings.identity_file
        return load_keyring(path if path.is_absolute() else self.root / path, passphrase)

    def identity(self) -> SecretIdentity:
        """The identity matching the party's active card in the project file."""
        wanted = fingerprint(self.party.active_identity)
        for identity in self.keyring:
            if identity.fingerprint == wanted and identity.party == self.party.name:
                return identity
        raise IdentityError(
            f"this workspace's keyring has no identity matching party {self.party.name!r}'s "
            "active card in the project file",
            file=self.root / self.settings.identity_file,
            hint="check the workspace's party name, or add the new card to the project file",
        )

    @cached_property
    def audit(self) -> AuditLog:
        """The party's audit log, writable with its active signing key.

        It is never begun again: only a workspace of an earlier linkwell that has done nothing
        yet may still make its log on its first entry.
        """
        log = self.root / "audit.log"
        return self._log(create=not log.exists() and not self._has_history())

    def _log(self, *, create: bool) -> AuditLog:
        active = self.identity()
        earlier = [
            c.signing_key
            for c in self.party.identities
            if c.signing_key != active.card().signing_key
        ]
        return AuditLog(
            self.root / "audit.log",
            party=self.party.name,
            signing_key=active.signing_key,
            earlier_keys=earlier,
            create=create,
        )

    def _has_history(self) -> bool:
        """Whether the workspace has done anything its log must have recorded.

        A workspace makes its log when it is made; one of an earlier linkwell made it on its
        first step. A log missing where packages were received, sent or steps run was lost or
        removed, and beginning a new one would hide what it recorded.
        """
        traces = ("ledger.sqlite", "steps", "sent", "outbox", "transfer", "opened", "vault")
        return any((self.root / trace).exists() for trace in traces)

    @contextmanager
    def ledger(self) -> Iterator[ReceiptLedger]:
        """The workspace's receipt ledger, open for the duration of the block."""
        with ReceiptLedger(self.root / "ledger.sqlite") as ledger:
            yield ledger

    def signer_text(self) -> str:
        """The party's active public signing key (``ed25519:…``)."""
        return public_key_text(self.identity().signing_key.public_key())

    # -- steps -----------------------------------------------------------------------------------

    def step_dir(self, name: str) -> Path:
        """Where step ``name`` of this project and wave commits its outputs."""
        project = self.project.project
        return self.root / "steps" / project.id / f"wave-{project.wave}" / name

    def completed(self, name: str, result: type[R]) -> R | None:
        """The recorded result of step ``name`` if it was committed, else ``None``."""
        record = self.step_dir(name) / STEP_RECORD
        if not record.is_file():
            return None
        return result.model_validate_json(record.read_text(encoding="utf-8"))

    @contextmanager
    def step(self, name: str) -> Iterator[Path]:
        """Stage a step's outputs in a private folder; commit them together or not at all.

        The caller writes into the yielded folder and commits by calling :meth:`record` last. A
        crash or error leaves only the staging folder, which the next run of the step discards,
        so no later step can ever accept a partial output.
        """
        final = self.step_dir(name)
        if final.exists():
            raise StorageError(
                f"step {name!r} is already complete",
                file=final,
                hint="its outputs are in this folder",
            )
        final.parent.mkdir(parents=True, exist_ok=True)
        staging = final.with_name(f".{name}.partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        yield staging
        if not (staging / STEP_RECORD).is_file():
            raise StorageError(f"step {name!r} finished without recording its result", file=staging)
        for path in staging.rglob("*"):
            if path.is_file():
                with path.open("rb") as handle:
                    os.fsync(handle.fileno())
        kill_point("workspace.step.before-commit")
        staging.rename(final)
        fsync_dir(final.parent)
        kill_point("workspace.step.after-commit")
        self.audit.seal_off()

    @staticmethod
    def record(staging: Path, result: BaseModel) -> None:
        """Write a step's result as its ``step.json``: the step's commit marker."""
        write_text_atomic(staging / STEP_RECORD, result.model_dump_json(indent=2), mode=0o644)

    # -- packages --------------------------------------------------------------------------------

    def seal(
        self,
        payload: Path,
        *,
        to: str,
        kind: PackageKind,
        source: str | None,
        dataset: DatasetRef,
        parents: Collection[str],
        dest_dir: Path,
        progress: Progress = SILENT,
    ) -> Path:
        """Seal ``payload`` for party ``to`` into ``dest_dir``, carrying a fresh signed log head."""
        head = self.audit.checkpoint()
        staging = dest_dir / f".sealing-{kind.value}-{to}{PACKAGE_SUFFIX}"
        staging.unlink(missing_ok=True)  # left by a run cut short: sealing never overwrites
        manifest = seal_package(
            payload,
            project=self.project,
            sender=self.identity(),
            recipient=to,
            kind=kind,
            source=source,
            dataset=dataset,
            parents=tuple(parents),
            log_head=head,
            dest=staging,
            progress=progress,
        )
        final = dest_dir / f"{manifest.package_id}{PACKAGE_SUFFIX}"
        kill_point("workspace.seal.before-rename")
        staging.rename(final)
        kill_point("workspace.seal.before-audit")
        self.audit.append(
            AuditAction.SEALED,
            peer_role=self.project.party(to).role,
            packages=[_package_ref(manifest)],
            counts={CountName.ROWS: manifest.rows},
            config_digest=self.project.digest(),
        )
        return final

    def publish(self, step_dir: Path) -> list[Path]:
        """Move a committed step's sealed packages into the outbox (idempotent after a crash)."""
        outbox = self.folder("outbox")
        moved = []
        for package in sorted((step_dir / "packages").glob(f"*{PACKAGE_SUFFIX}")):
            target = outbox / package.name
            if not (target.exists() or (self.folder("sent") / package.name).exists()):
                shutil.copy2(package, target.with_suffix(".copying"))
                kill_point("workspace.publish.before-rename")
                target.with_suffix(".copying").rename(target)
                kill_point("workspace.publish.after-rename")
            moved.append(target)
        fsync_dir(outbox)
        return moved

    def engine(self) -> Engine:
        """An engine that spills into this workspace (never into a shared temporary folder).

        DuckDB holds at most the workspace's ``memory_limit`` (default: half the machine's
        memory, at most 4 GiB) and spills the rest to ``tmp/``, so a step's memory stays bounded
        however large the extract: without a limit DuckDB would take up to 80% of the machine.
        """
        return Engine(temp_dir=self.folder("tmp"), memory_limit=self.settings.memory_limit)

    @property
    def receive_dirs(self) -> ReceiveDirs:
        """Where the transport puts what it receives; ``accepted`` is the inbox."""
        return ReceiveDirs.under(self.folder("transfer"))

    def inbox_packages(self) -> list[Path]:
        """Every package received and verified, waiting to be opened (or opened already)."""
        inbox = self.receive_dirs.accepted
        return sorted(inbox.glob(f"*{PACKAGE_SUFFIX}")) if inbox.is_dir() else []

    def accept(self, path: Path) -> str:
        """The receipt check the transport runs on every downloaded file; returns its id.

        Verifies the signature and ciphertext (never decrypting), that the package is for this
        party, project and wave along an allowed route, of a source its sender provides (for a
        provider's kinds), and that it was not received or opened
        before; records it as received. Receiving the same package again after a crash in
        between is answered with its id, so the transport can finish what it started, and the
        audit log gets the one ``received`` entry the crashed run may not have written.
        """
        try:
            manifest = inspect_package(path, project=self.project)
            if manifest.recipient.party != self.party.name:
                raise MisdirectedError(
                    "the package is for another party",
                    file=path,
                    field="recipient",
                    hint="it was delivered to the wrong inbox; tell the sender",
                )
            here = (self.project.project.id, self.project.project.wave)
            if (manifest.project, manifest.wave) != here:
                raise MisdirectedError(
                    "the package belongs to another project or wave",
                    file=path,
                    field="project",
                    hint="check that sender and receiver use the same project file",
                )
            sender = self.project.party(manifest.sender.party)
            check_route(manifest.kind, sender.role, self.role, file=path)
            check_source(self.project, manifest.kind, manifest.source, sender, file=path)
            check_package_time(manifest, self.project, file=path)
            with self.ledger() as ledger:
                state = ledger.state(manifest.package_id)
                if state is ReceiptState.RECEIVED and self.audit.recorded(
                    AuditAction.RECEIVED, manifest.package_id
                ):
                    return manifest.package_id
                if state is ReceiptState.OPENED:
                    raise ReplayError(
                        "this package was already opened here",
                        file=path,
                        hint="a package is accepted once; the copy can be deleted",
                    )
                if state is None:
                    ledger.record_received(manifest, file=path)
            kill_point("workspace.accept.before-audit")
        except PackageError as exc:
            self.audit.append(AuditAction.REFUSED, detail=_detail(exc))
            raise
        self.audit.append(
            AuditAction.RECEIVED,
            peer_role=sender.role,
            packages=[_package_ref(manifest)],
            counts={CountName.ROWS: manifest.rows},
        )
        return manifest.package_id

    def receive(self, progress: Progress = SILENT, *, again: bool = False) -> ReceiveReport:
        """Fetch every package waiting for this party, each checked by :meth:`accept`.

        ``again`` first judges again the files refused because their signing key was on no
        card (see :func:`~linkwell.transport.exchange.receive_from`).
        """
        report = receive_packages(
            project=self.project,
            party=self.party.name,
            dirs=self.receive_dirs,
            accept=self.accept,
            key_file=self._key_file(),
            again=again,
            progress=progress,
        )
        if report.accepted or report.quarantined:
            self.audit.seal_off()
        return report

    def send(self, progress: Progress = SILENT) -> list[Delivery]:
        """Deliver every package in the outbox to its recipient; move each to ``sent/``.

        Delivering again after a crash is harmless: the transport recognises a package already
        delivered (and the audit log keeps its one ``sent`` entry), and the recipient's ledger
        would refuse a second copy.
        """
        deliveries = []
        sent = self.folder("sent")
        for package in sorted(self.folder("outbox").glob(f"*{PACKAGE_SUFFIX}")):
            manifest = self._outgoing(package)
            delivery = send_package(
                package,
                project=self.project,
                party=self.party.name,
                to=manifest.recipient.party,
                key_file=self._key_file(),
                progress=progress,
            )
            kill_point("workspace.send.before-audit")
            if not (
                delivery.already_delivered
                and self.audit.recorded(AuditAction.SENT, manifest.package_id)
            ):
                self.audit.append(
                    AuditAction.SENT,
                    peer_role=self.project.party(manifest.recipient.party).role,
                    packages=[_package_ref(manifest)],
                    counts={CountName.BYTES: delivery.size},
                )
            kill_point("workspace.send.before-move")
            package.rename(sent / package.name)
            kill_point("workspace.send.after-move")
            deliveries.append(delivery)
        if deliveries:
            self.audit.seal_off()
        return deliveries

    def _outgoing(self, package: Path) -> Manifest:
        """An outbox file checked before it leaves: sealed here, named for its id, routed right.

        Anything else was put there by hand (or damaged there); delivered, its recipient would
        only refuse it, so it is named here, to this party, which made the outbox's packages.
        """
        remove = "remove it from the outbox; if it is this party's, run the step that made it again"
        if package.is_symlink() or not package.is_file():
            raise StorageError(
                "the outbox holds a link or a folder where a package should be",
                file=package,
                hint=remove,
            )
        try:
            manifest = inspect_package(package, project=self.project)
        except PackageError as exc:
            raise type(exc)(exc.message, file=package, field=exc.field, hint=remove) from exc
        if manifest.sender.party != self.party.name:
            raise RoleError(
                f"the outbox holds a package sealed by {manifest.sender.party!r}, not by this "
                "party",
                file=package,
                field="sender",
                hint=remove,
            )
        if package.name != f"{manifest.package_id}{PACKAGE_SUFFIX}":
            raise PackageFormatError(
                "the outbox file is not named for the package it holds",
                file=package,
                hint=remove,
            )
        recipient = self.project.party(manifest.recipient.party)
        check_route(manifest.kind, self.role, recipient.role, file=package)
        return manifest

    def _key_file(self) -> Path | None:
        key = self.settings.sftp_key_file
        if key is None or key.is_absolute():
            return key
        return self.root / key

    def open_inbox(
        self, kinds: Collection[PackageKind], progress: Progress = SILENT
    ) -> list[Opened]:
        """Open every inbox package of ``kinds`` not opened yet; return all opened of those kinds.

        A refused package is logged with the check that failed and moved to the quarantine, and
        the refusal is raised: a step never goes on with part of its inputs. An opening is
        complete once its manifest lies beside its payload; one a crash interrupted is finished
        (the ledger says opened: the payload is checked and its manifest written) or done again
        from the start (the ledger does not: whatever lies at the destination is discarded).
        """
        with self.ledger() as ledger:
            for package in self.inbox_packages():
                manifest = inspect_package(package, project=self.project)
                if manifest.kind not in kinds:
                    continue
                folder = self.folder(f"opened/{manifest.kind.value}")
                dest = folder / f"{manifest.package_id}.parquet"
                if ledger.state(manifest.package_id) is ReceiptState.OPENED:
                    if not dest.with_suffix(".json").is_file():
                        self._finish_opening(manifest, dest, progress)
                    continue
                # Never recorded as opened: a payload here is a crashed opening's, not trusted.
                dest.unlink(missing_ok=True)
                try:
                    opened = open_package(
                        package,
                        project=self.project,
                        identities=self.keyring,
                        ledger=ledger,
                        dest=dest,
                        expect_kinds=kinds,
                        progress=progress,
                    )
                except PackageError as exc:
                    self._refuse(package, exc)
                    raise
                kill_point("workspace.open.before-audit")
                self._remember(opened.manifest, opened.path, logged=False)
        return self.opened(kinds)

    def _remember(self, manifest: Manifest, payload: Path, *, logged: bool) -> None:
        """Log the opening (unless ``logged``), then write the manifest: the opening's commit."""
        if not logged:
            self.audit.append(
                AuditAction.OPENED,
                peer_role=self.project.party(manifest.sender.party).role,
                packages=[_package_ref(manifest)],
                counts={CountName.ROWS: manifest.rows},
                config_digest=self.project.digest(),
            )
        kill_point("workspace.open.before-commit")
        write_text_atomic(payload.with_suffix(".json"), manifest.model_dump_json(indent=2))

    def _finish_opening(self, manifest: Manifest, payload: Path, progress: Progress) -> None:
        """Complete an opening that was recorded in the ledger but cut short before its commit.

        The payload was put in place before the ledger recorded the opening, so it is there and
        whole unless something outside linkwell touched it; its digest is checked to be sure.
        """
        with progress.task(f"checking {payload.name}", total=None):
            digest = _sha256_file(payload) if payload.is_file() else None
        if digest != manifest.plaintext_sha256:
            raise StorageError(
                "an opened package's payload is missing or damaged",
                file=payload,
                hint="the package was opened here once and cannot be opened again: ask its sender "
                "to seal and send it again",
            )
        self._remember(
            manifest, payload, logged=self.audit.recorded(AuditAction.OPENED, manifest.package_id)
        )

    def _refuse(self, package: Path, exc: PackageError) -> None:
        self.audit.append(AuditAction.REFUSED, detail=_detail(exc))
        self._set_aside(package, exc)

    def _set_aside(self, package: Path, why: LinkwellError) -> None:
        """Move a refused package into the quarantine, with a note of why."""
        quarantine = self.folder("quarantine")
        package.rename(quarantine / package.name)
        write_text_atomic(
            quarantine / f"{package.name}.reason.txt", f"{type(why).__name__}: {why}\n"
        )

    def discard(self, opened: Opened, why: LinkwellError) -> None:
        """Refuse a payload after opening it: delete its plaintext and record, quarantine it.

        For what only the plaintext shows (a release with identifiers in its values). The
        package goes to the quarantine with the reason, so it is never opened again, and the
        ledger still knows it as opened: its sender must send a corrected one.
        """
        self.audit.append(AuditAction.REFUSED, detail=AuditDetail.FORMAT)
        opened.path.unlink(missing_ok=True)
        opened.path.with_suffix(".json").unlink(missing_ok=True)
        fsync_dir(opened.path.parent)
        for package in self.inbox_packages():
            if package.name == f"{opened.manifest.package_id}{PACKAGE_SUFFIX}":
                self._set_aside(package, why)

    def opened(self, kinds: Collection[PackageKind]) -> list[Opened]:
        """Every opened payload of ``kinds`` in this workspace, for this project and wave."""
        found = []
        for kind in kinds:
            for meta in sorted(self.folder(f"opened/{kind.value}").glob("*.json")):
                manifest = Manifest.model_validate_json(meta.read_text(encoding="utf-8"))
                if (manifest.project, manifest.wave) == (
                    self.project.project.id,
                    self.project.project.wave,
                ):
                    found.append(Opened(manifest, meta.with_suffix(".parquet")))
        return found


def _detail(exc: PackageError) -> AuditDetail:
    """The audit vocabulary's name for the check a package failed."""
    return _REFUSAL_DETAIL.get(type(exc).__name__, AuditDetail.FORMAT)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _package_ref(manifest: Manifest) -> PackageRef:
    return PackageRef(id=manifest.package_id, sha256=manifest.ciphertext_sha256)
