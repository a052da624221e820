"""A workspace finishes what a crash interrupted: each package sent, received and opened once.

Each test builds the state a SIGKILL at one instant leaves behind (the fault-injection harness
in ``tests/reliability`` reaches the same states by really killing processes) and checks that the
next run finishes the work, logs each package action exactly once, and trusts nothing partial.
"""

from __future__ import annotations

import hashlib
import shutil
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
import tomli_w
from pydantic import BaseModel

import linkwell.workspace
from linkwell.audit import AuditAction, read_log
from linkwell.errors import (
    AuditError,
    ConfigError,
    IdentityError,
    PackageError,
    PackageFormatError,
    RoleError,
    StorageError,
)
from linkwell.seal import (
    DatasetRef,
    PackageKind,
    SecretIdentity,
    inspect_package,
    new_identity,
    open_package,
)
from linkwell.transport import send_package
from linkwell.workspace import Workspace
from tests.seal.conftest import ROLES, card_dict, project_dict, write_shaped
from tests.seal.forge import reforge

DATASET = DatasetRef(id="survey-secondary", version=1)


@dataclass
class Pair:
    """A survey provider that seals identifiers and the indexer that receives them."""

    sender: Workspace
    receiver: Workspace
    package: Path
    identities: dict[str, SecretIdentity]


@pytest.fixture
def pair(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Pair:
    identities = {name: new_identity(name, role) for name, role in ROLES.items()}
    # Unlocking a keyring costs seconds of scrypt and is not what these tests are about.
    monkeypatch.setattr(
        linkwell.workspace,
        "load_keyring",
        lambda path, _passphrase: (
            identities[path.name if path.name in identities else path.parent.name],
        ),
    )
    project = project_dict({name: [card_dict(i)] for name, i in identities.items()})
    project["transport"]["root"] = str(tmp_path / "exchange")
    project_file = tmp_path / "project.toml"
    project_file.write_text(tomli_w.dumps(project), encoding="utf-8")
    (tmp_path / "passphrase").write_text("not used by the cached keyrings\n", encoding="utf-8")
    (tmp_path / "passphrase").chmod(0o600)

    def workspace(name: str) -> Workspace:
        keys = tmp_path / "keyrings" / name
        keys.mkdir(parents=True)
        return Workspace.create(
            tmp_path / name,
            project_file=project_file,
            party=name,
            keyring=keys,
            passphrase_file=tmp_path / "passphrase",
        )

    sender, receiver = workspace("ipsos"), workspace("nrs")
    identifiers, dataset = write_shaped(tmp_path / "identifiers.parquet", PackageKind.IDENTIFIERS)
    package = sender.seal(
        identifiers,
        to="nrs",
        kind=PackageKind.IDENTIFIERS,
        source="secondary",
        dataset=dataset,
        parents=(),
        dest_dir=sender.folder("outbox"),
    )
    return Pair(sender, receiver, package, identities)


def _logged(ws: Workspace, action: AuditAction, package_id: str) -> int:
    return sum(
        1
        for line in read_log(ws.root / "audit.log")
        if line.entry is not None
        and line.entry.action is action
        and any(ref.id == package_id for ref in line.entry.packages)
    )


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _received(pair: Pair) -> Path:
    pair.sender.send()
    pair.receiver.receive()
    (accepted,) = pair.receiver.inbox_packages()
    return accepted


def test_a_clean_run_logs_each_package_action_once(pair: Pair) -> None:
    accepted = _received(pair)
    (opened,) = pair.receiver.open_inbox({PackageKind.IDENTIFIERS})
    package_id = opened.manifest.package_id
    assert accepted.stem == package_id
    assert _logged(pair.sender, AuditAction.SENT, package_id) == 1
    assert _logged(pair.receiver, AuditAction.RECEIVED, package_id) == 1
    assert _logged(pair.receiver, AuditAction.OPENED, package_id) == 1
    assert _sha256(opened.path) == opened.manifest.plaintext_sha256


def test_a_payload_left_by_an_opening_cut_before_the_ledger_is_opened_again(pair: Pair) -> None:
    """Killed between putting the payload in place and recording it: the rerun used to fail."""
    accepted = _received(pair)
    manifest = inspect_package(accepted, project=pair.receiver.project)
    dest = pair.receiver.folder("opened/identifiers") / f"{manifest.package_id}.parquet"
    dest.write_bytes(b"what a crashed opening left")
    (opened,) = pair.receiver.open_inbox({PackageKind.IDENTIFIERS})
    assert opened.path == dest
    assert _sha256(dest) == manifest.plaintext_sha256
    assert _logged(pair.receiver, AuditAction.OPENED, manifest.package_id) == 1


def _open_without_committing(pair: Pair, accepted: Path) -> Path:
    """What a kill between the ledger's record and the workspace's manifest leaves."""
    ws = pair.receiver
    manifest = inspect_package(accepted, project=ws.project)
    dest = ws.folder("opened/identifiers") / f"{manifest.package_id}.parquet"
    with ws.ledger() as ledger:
        open_package(accepted, project=ws.project, identities=ws.keyring, ledger=ledger, dest=dest)
    return dest


def test_an_opening_cut_after_the_ledger_is_finished_not_lost(pair: Pair) -> None:
    """Killed after the ledger said opened: the package used to vanish from the step's inputs."""
    accepted = _received(pair)
    dest = _open_without_committing(pair, accepted)
    (opened,) = pair.receiver.open_inbox({PackageKind.IDENTIFIERS})
    assert opened.path == dest
    assert opened.manifest.package_id == accepted.stem
    assert _logged(pair.receiver, AuditAction.OPENED, accepted.stem) == 1
    assert pair.receiver.open_inbox({PackageKind.IDENTIFIERS}) == [opened]


def test_an_opening_cut_after_its_audit_entry_is_not_logged_twice(pair: Pair) -> None:
    _received(pair)
    (opened,) = pair.receiver.open_inbox({PackageKind.IDENTIFIERS})
    opened.path.with_suffix(".json").unlink()  # killed after the log, before the manifest
    assert pair.receiver.open_inbox({PackageKind.IDENTIFIERS}) == [opened]
    assert _logged(pair.receiver, AuditAction.OPENED, opened.manifest.package_id) == 1


def test_a_damaged_payload_of_a_cut_opening_is_refused(pair: Pair) -> None:
    accepted = _received(pair)
    dest = _open_without_committing(pair, accepted)
    dest.write_bytes(dest.read_bytes()[:-1])
    with pytest.raises(StorageError, match="missing or damaged") as info:
        pair.receiver.open_inbox({PackageKind.IDENTIFIERS})
    assert info.value.file == str(dest)
    assert not dest.with_suffix(".json").exists()
    assert pair.receiver.opened({PackageKind.IDENTIFIERS}) == []


def test_a_receipt_cut_before_its_audit_entry_is_logged_once(pair: Pair) -> None:
    """Killed after the ledger recorded the receipt: the log used to miss it for good."""
    pair.sender.send()
    (sent,) = pair.sender.folder("sent").glob("*.lwp")
    copy = pair.receiver.folder("incoming-test") / sent.name
    shutil.copy(sent, copy)
    manifest = inspect_package(copy, project=pair.receiver.project)
    with pair.receiver.ledger() as ledger:
        ledger.record_received(manifest, file=copy)
    assert pair.receiver.accept(copy) == manifest.package_id
    assert pair.receiver.accept(copy) == manifest.package_id
    assert _logged(pair.receiver, AuditAction.RECEIVED, manifest.package_id) == 1


def test_a_send_cut_before_moving_to_sent_is_logged_once(pair: Pair) -> None:
    (delivery,) = pair.sender.send()
    sent = pair.sender.folder("sent") / delivery.name
    sent.rename(pair.sender.folder("outbox") / delivery.name)  # killed before the move
    (again,) = pair.sender.send()
    assert again.already_delivered
    assert _logged(pair.sender, AuditAction.SENT, pair.package.stem) == 1
    assert sent.exists()


def test_a_send_cut_before_its_audit_entry_is_logged_once(pair: Pair) -> None:
    ws = pair.sender
    send_package(pair.package, project=ws.project, party="ipsos", to="nrs")  # then killed
    (again,) = ws.send()
    assert again.already_delivered
    assert _logged(ws, AuditAction.SENT, pair.package.stem) == 1


def test_a_package_of_another_providers_source_is_refused_on_receipt(
    pair: Pair, tmp_path: Path
) -> None:
    """Refused at the door, with a reason and in the log, not when a step later opens it."""
    fife = pair.identities["fife"]
    forged = reforge(  # fife, an authority, sends identifiers of ipsos's survey source
        pair.package,
        tmp_path / f"{pair.package.stem}.lwp",
        key=fife.signing_key,
        sender={"party": "fife", "fingerprint": fife.fingerprint},
        sender_log_head=None,  # ipsos's; fife's modified linkwell leaves its own out
    )
    with pytest.raises(RoleError, match="must name a source that party 'fife' provides"):
        pair.receiver.accept(forged)
    assert pair.receiver.inbox_packages() == []
    refused = [
        line.entry
        for line in read_log(pair.receiver.root / "audit.log")
        if line.entry is not None and line.entry.action is AuditAction.REFUSED
    ]
    assert len(refused) == 1


def test_an_outbox_file_not_sealed_here_for_its_route_is_not_sent(
    pair: Pair, tmp_path: Path
) -> None:
    """Put there by hand or damaged there: named to this party, which made the outbox."""
    outbox, genuine = pair.sender.folder("outbox"), pair.package.read_bytes()
    fife = pair.identities["fife"]
    pair.package.unlink()
    reforge_source = tmp_path / "genuine.lwp"
    reforge_source.write_bytes(genuine)
    cases: list[tuple[str, type[Exception], str | None]] = [
        ("link", StorageError, "a link or a folder"),
        ("other sender", RoleError, "sealed by 'fife'"),
        ("renamed", PackageFormatError, "not named for the package"),
        ("cut short", PackageError, None),  # the seal layer's own words
    ]
    for case, error, words in cases:
        if case == "link":
            (outbox / pair.package.name).symlink_to(reforge_source)
        elif case == "other sender":
            reforge(
                reforge_source,
                outbox / pair.package.name,
                key=fife.signing_key,
                sender={"party": "fife", "fingerprint": fife.fingerprint},
                sender_log_head=None,
            )
        elif case == "renamed":
            (outbox / f"{'e' * 32}.lwp").write_bytes(genuine)
        else:
            (outbox / pair.package.name).write_bytes(genuine[: len(genuine) // 2])
        with pytest.raises(error, match=words) as refused:
            pair.sender.send()
        assert "remove it from the outbox" in (refused.value.hint or ""), case  # type: ignore[attr-defined]
        assert list(pair.sender.folder("sent").iterdir()) == [], case
        for leftover in outbox.iterdir():
            leftover.unlink()
    assert not (tmp_path / "exchange" / "nrs" / "inbox").exists() or not list(
        (tmp_path / "exchange" / "nrs" / "inbox").iterdir()
    )


def test_a_workspace_is_private_to_its_owner(pair: Pair) -> None:
    for ws in (pair.sender, pair.receiver):
        assert stat.S_IMODE(ws.root.stat().st_mode) == 0o700  # step outputs hold IDs, answers


def test_a_keyring_is_never_moved_out_of_another_workspace(pair: Pair, tmp_path: Path) -> None:
    keys = pair.sender.root / "keys"
    before = sorted(p.name for p in keys.iterdir())
    with pytest.raises(ConfigError, match="belongs to another workspace"):
        Workspace.create(
            tmp_path / "second-ipsos",
            project_file=tmp_path / "project.toml",
            party="ipsos",
            keyring=keys,
            passphrase_file=tmp_path / "passphrase",
        )
    assert sorted(p.name for p in keys.iterdir()) == before
    assert not (tmp_path / "second-ipsos" / "keys").exists()


@pytest.mark.parametrize(
    ("party", "error"), [("nrs", IdentityError), ("no-such-party", ConfigError)]
)
def test_a_refused_workspace_leaves_the_keyring_where_it_was(
    pair: Pair,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    party: str,
    error: type[Exception],
) -> None:
    """The keyring is a party's only secret identity: a refusal must not strand it elsewhere."""
    keys = tmp_path / "keyrings" / "ipsos-spare"
    keys.mkdir()
    (keys / "identity-1.age").write_text("the ipsos identity, as the patched loader has it\n")
    ipsos = pair.sender.identity()
    monkeypatch.setattr(linkwell.workspace, "load_keyring", lambda _path, _pass: (ipsos,))
    with pytest.raises(error) as info:
        Workspace.create(
            tmp_path / "new",
            project_file=tmp_path / "project.toml",
            party=party,
            keyring=keys,
            passphrase_file=tmp_path / "passphrase",
        )
    assert [p.name for p in keys.iterdir()] == ["identity-1.age"]
    assert not (tmp_path / "new").exists()
    if error is ConfigError:
        assert info.value.file == str(tmp_path / "project.toml")  # type: ignore[attr-defined]


def test_recorded_paths_do_not_depend_on_where_a_command_ran(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(pair.sender.root.parent)
    relative = Workspace.open(Path(pair.sender.root.name))
    assert relative.root == pair.sender.root
    assert relative.step_dir("report").is_absolute()


def test_a_second_command_in_a_busy_workspace_is_refused(pair: Pair) -> None:
    other = Workspace.open(pair.receiver.root)
    with (
        pair.receiver.exclusive(),
        pytest.raises(StorageError, match="another linkwell command"),
        other.exclusive(),
    ):
        pass  # never reached
    with other.exclusive():  # released with its holder
        pass


def test_a_killed_commands_spill_is_cleared_when_the_workspace_is_next_taken(pair: Pair) -> None:
    spill = pair.receiver.folder("tmp")
    other = Workspace.open(pair.receiver.root)
    with pair.receiver.exclusive():
        (spill / "duckdb_temp_storage-4.tmp").write_bytes(b"spilled rows")
        (spill / "block").mkdir()
        (spill / "block" / "more.tmp").write_bytes(b"more rows")
        with pytest.raises(StorageError, match="another linkwell command"), other.exclusive():
            pass  # never reached
        assert len(list(spill.iterdir())) == 2  # a refused command leaves a running one's spill
    with other.exclusive():
        assert not any(spill.iterdir())


def test_an_expired_package_is_quarantined_on_receipt(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Accepted and then stopping the step that opens it, as it was, helps nobody."""
    from datetime import UTC, datetime

    from linkwell.seal import opening

    pair.sender.send()

    class _Later(datetime):
        @classmethod
        def now(cls, tz: object = None) -> _Later:  # type: ignore[override]
            return cls.fromtimestamp(datetime.now(UTC).timestamp() + 400 * 86400, tz=UTC)

    monkeypatch.setattr(opening, "datetime", _Later)
    report = pair.receiver.receive()
    assert report.accepted == ()
    (refused,) = report.quarantined
    assert "ExpiredError" in refused.detail
    assert pair.receiver.inbox_packages() == []


@pytest.mark.parametrize("how", ["deleted", "emptied"])
def test_a_lost_audit_log_is_refused_not_begun_again(pair: Pair, how: str) -> None:
    """A log begun again at entry 0 would verify, hiding everything the lost one recorded."""
    log = pair.sender.root / "audit.log"
    assert log.stat().st_size > 0
    if how == "deleted":
        log.unlink()
    else:
        log.write_bytes(b"")
    with pytest.raises(AuditError, match="missing or empty") as refused:
        Workspace.open(pair.sender.root)
    assert refused.value.file == str(log)
    assert "backup" in (refused.value.hint or "")
    assert (not log.exists()) if how == "deleted" else log.stat().st_size == 0
    with pytest.raises(AuditError, match=r"no audit log|log is empty"):  # the library's own
        pair.sender.audit.append(AuditAction.SENT)
    assert (not log.exists()) if how == "deleted" else log.stat().st_size == 0


def test_a_new_workspace_has_its_log_from_the_start(pair: Pair) -> None:
    assert (pair.receiver.root / "audit.log").stat().st_size > 0


class _Done(BaseModel):
    done: bool = True


def test_every_step_ends_on_a_checkpoint(pair: Pair, tmp_path: Path) -> None:
    """Entries after the last checkpoint can be edited and chained again without the key."""

    def last_action(ws: Workspace) -> AuditAction:
        *_, last = (line.entry for line in read_log(ws.root / "audit.log"))
        assert last is not None
        return last.action

    pair.sender.send()
    assert last_action(pair.sender) is AuditAction.CHECKPOINT
    pair.receiver.receive()
    assert last_action(pair.receiver) is AuditAction.CHECKPOINT
    with pair.receiver.step("a-step") as staging:
        pair.receiver.audit.append(AuditAction.VALIDATED)
        Workspace.record(staging, _Done())
    assert last_action(pair.receiver) is AuditAction.CHECKPOINT
    before = (pair.receiver.root / "audit.log").read_bytes()
    pair.receiver.audit.seal_off()  # nothing new: no second checkpoint
    assert (pair.receiver.root / "audit.log").read_bytes() == before


def test_two_packages_of_one_source_are_refused_not_chosen_by_their_dates(tmp_path: Path) -> None:
    """Creation times are the signers'; a retired key still held could date its package later."""
    from types import SimpleNamespace

    from linkwell.errors import ValidationError
    from linkwell.workspace import Opened, one_per_source

    def opened(source: str, package_id: str) -> Opened:
        manifest = SimpleNamespace(source=source, package_id=package_id)
        return Opened(manifest=manifest, path=tmp_path / package_id)  # type: ignore[arg-type]

    one, other = opened("secondary", "a" * 32), opened("fife", "b" * 32)
    assert one_per_source([one, other]) == {"secondary": one, "fife": other}
    with pytest.raises(ValidationError, match="2 packages of one kind") as refused:
        one_per_source([one, other, opened("secondary", "c" * 32)])
    assert refused.value.field == "secondary"
    assert "a" * 32 in str(refused.value)
    assert "c" * 32 in str(refused.value)


def test_a_missing_passphrase_names_the_workspace_s_own_settings(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workspace commands have no --passphrase-file: the advice names workspace.toml."""
    from linkwell.errors import IdentityError

    monkeypatch.delenv("LW_TEST_PASSPHRASE", raising=False)
    settings = pair.sender.settings.model_copy(
        update={"passphrase_file": None, "passphrase_env": "LW_TEST_PASSPHRASE"}
    )
    ws = Workspace(pair.sender.root, settings, pair.sender.project)
    with pytest.raises(IdentityError, match="no passphrase") as refused:
        _ = ws.keyring
    assert refused.value.file == str(pair.sender.root / "workspace.toml")
    assert "$LW_TEST_PASSPHRASE" in (refused.value.hint or "")
    assert "passphrase_file" in (refused.value.hint or "")


def test_a_card_put_in_the_project_file_later_is_refused_until_trusted(pair: Pair) -> None:
    """Whoever can change this party's project file must not receive what it seals."""
    from click.testing import CliRunner

    from linkwell.cli import main
    from linkwell.seal import format_fingerprint

    project_file = pair.sender.settings.project_file
    project = tomllib.loads(project_file.read_text(encoding="utf-8"))
    intruder = new_identity("nrs", ROLES["nrs"])
    nrs = next(p for p in project["parties"] if p["name"] == "nrs")
    nrs["identities"] = [card_dict(intruder)]  # the indexer's key swapped for another
    project_file.write_text(tomli_w.dumps(project), encoding="utf-8")
    shown = format_fingerprint(intruder.fingerprint)
    with pytest.raises(ConfigError, match="not trusted") as refused:
        Workspace.open(pair.sender.root)
    assert shown in str(refused.value)
    assert refused.value.file == str(project_file)
    runner = CliRunner()
    listed = runner.invoke(main, ["workspace", "trust", "-w", str(pair.sender.root)])
    assert listed.exit_code == 1
    assert f"nrs: {shown}" in listed.output
    with pytest.raises(ConfigError, match="not trusted"):
        Workspace.open(pair.sender.root)  # listing trusts nothing
    trusted = runner.invoke(main, ["workspace", "trust", "-w", str(pair.sender.root), "--yes"])
    assert trusted.exit_code == 0, trusted.output
    assert Workspace.open(pair.sender.root).untrusted_cards() == []


def test_a_workspace_of_an_earlier_linkwell_trusts_what_it_has(pair: Pair) -> None:
    (pair.receiver.root / "trusted-cards.json").unlink()
    ws = Workspace.open(pair.receiver.root)
    assert ws.untrusted_cards() == []
    assert (pair.receiver.root / "trusted-cards.json").is_file()
