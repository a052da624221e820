"""Identity files on disk: scrypt-encrypted, private, never overwritten; keyrings; passphrases.

age's scrypt costs about two seconds per file here, so the files are made once per module.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest
import tomli_w

from linkwell.config import IdentityCard, Role, load_project
from linkwell.errors import ConfigError, IdentityError
from linkwell.seal import (
    CARD_FILE_NAME,
    card_toml,
    create_identity,
    fingerprint,
    identity_file_name,
    keyfile,
    load_identity,
    load_keyring,
    new_identity,
    read_cards,
    read_passphrase,
    save_identity,
)
from tests.seal.conftest import NOW, World, project_dict

PASSPHRASE = "correct horse battery staple"


@pytest.fixture(scope="module")
def keyring(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    """A keyring folder with two identities of nrs (the older first), saved once."""
    folder = tmp_path_factory.mktemp("keyring")
    made = [
        new_identity("nrs", Role.INDEXER, now=NOW.replace(year=2025)),
        new_identity("nrs", Role.INDEXER, now=NOW),
    ]
    for identity in reversed(made):
        save_identity(identity, folder / identity_file_name(identity), PASSPHRASE)
    return folder, made


def test_identity_file_is_private_and_round_trips(keyring: tuple[Path, list]) -> None:
    folder, made = keyring
    files = sorted(folder.glob("*.identity.age"))
    assert [f.name for f in files] == [identity_file_name(i) for i in made]
    for file in files:
        assert file.stat().st_mode & 0o777 == 0o600
        assert file.read_bytes().startswith(b"age-encryption.org/v1\n-> scrypt ")
    loaded = load_keyring(folder, PASSPHRASE)
    assert [i.card() for i in loaded] == [i.card() for i in made]
    assert [i.fingerprint for i in loaded] == [i.fingerprint for i in made]


def test_wrong_passphrase_is_refused(keyring: tuple[Path, list]) -> None:
    folder, _ = keyring
    file = next(folder.glob("*.identity.age"))
    with pytest.raises(IdentityError, match="wrong passphrase") as info:
        load_identity(file, PASSPHRASE + "!")
    assert info.value.file == str(file)
    assert info.value.hint


def test_existing_identity_is_never_overwritten(keyring: tuple[Path, list]) -> None:
    folder, made = keyring
    file = folder / identity_file_name(made[0])
    before = file.read_bytes()
    with pytest.raises(IdentityError, match="never replaced"):
        save_identity(new_identity("nrs", Role.INDEXER), file, PASSPHRASE)
    assert file.read_bytes() == before


def test_short_passphrase_is_refused(tmp_path: Path) -> None:
    with pytest.raises(IdentityError, match="shorter than 12"):
        save_identity(new_identity("nrs", Role.INDEXER), tmp_path / "x.identity.age", "short")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644, 0o700])
def test_identity_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    file = tmp_path / "id.identity.age"
    file.write_bytes(b"age-encryption.org/v1\n")
    file.chmod(mode)
    if mode & 0o077:
        with pytest.raises(IdentityError, match="other users") as info:
            load_identity(file, PASSPHRASE)
        assert "chmod 600" in (info.value.hint or "")
    else:
        with pytest.raises(IdentityError, match=r"cannot be unlocked|not a linkwell"):
            load_identity(file, PASSPHRASE)


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_identity_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "id.identity.age"
    file.write_bytes(b"age-encryption.org/v1\n")
    file.chmod(0o600)
    os.chown(file, 4321, 4321)
    with pytest.raises(IdentityError, match="another user"):
        load_identity(file, PASSPHRASE)


@pytest.mark.parametrize(
    "content", [b"", b"not age at all", b"age-encryption.org/v1\n-> scrypt", b"x" * 70_000]
)
def test_corrupt_identity_file_is_refused(tmp_path: Path, content: bytes) -> None:
    file = tmp_path / "id.identity.age"
    file.write_bytes(content)
    file.chmod(0o600)
    with pytest.raises(IdentityError) as info:
        load_identity(file, PASSPHRASE)
    assert info.value.file == str(file)


def test_missing_identity_and_empty_keyring(tmp_path: Path) -> None:
    with pytest.raises(IdentityError, match="not found"):
        load_identity(tmp_path / "missing.identity.age", PASSPHRASE)
    with pytest.raises(IdentityError, match="holds no"):
        load_keyring(tmp_path, PASSPHRASE)
    (tmp_path / "dir.identity.age").mkdir()
    with pytest.raises(IdentityError, match="not a regular file"):
        load_identity(tmp_path / "dir.identity.age", PASSPHRASE)


def test_keyring_of_two_parties_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The mixing check does not depend on scrypt: load in-memory identities by file name.
    people = {
        "a.identity.age": new_identity("nrs", Role.INDEXER),
        "b.identity.age": new_identity("edris", Role.LINKER),
    }
    for name in people:
        (tmp_path / name).touch()
    monkeypatch.setattr(keyfile, "load_identity", lambda path, _: people[path.name])
    with pytest.raises(IdentityError, match="more than one party"):
        load_keyring(tmp_path, PASSPHRASE)
    (tmp_path / "b.identity.age").unlink()
    assert load_keyring(tmp_path, PASSPHRASE) == (people["a.identity.age"],)


def test_passphrase_from_env_and_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINKWELL_PASSPHRASE", "from the environment")
    assert read_passphrase() == "from the environment"
    file = tmp_path / "pass.txt"
    file.write_text("from the file\r\nsecond line ignored\n")
    file.chmod(0o600)
    assert read_passphrase(file=file) == "from the file"  # the file wins over the variable
    file.chmod(0o644)
    with pytest.raises(IdentityError, match="other users"):
        read_passphrase(file=file)
    monkeypatch.delenv("LINKWELL_PASSPHRASE")
    with pytest.raises(IdentityError, match="no passphrase"):
        read_passphrase()
    monkeypatch.setenv("OTHER", "")
    with pytest.raises(IdentityError, match="no passphrase"):
        read_passphrase(env="OTHER")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    empty.chmod(0o600)
    with pytest.raises(IdentityError, match="empty"):
        read_passphrase(file=empty)


def test_card_toml_pastes_into_a_project_file(world: World, tmp_path: Path) -> None:
    identity = world.me("nrs")
    text = card_toml(identity)
    parsed = tomllib.loads(text)["parties"]["identities"][0]
    assert IdentityCard.model_validate(parsed) == identity.card()
    # Paste under the party's entry of a project file written as TOML.
    data = project_dict({n: [] for n in ("ipsos", "fife", "nrs", "edris", "scotcen")})
    project_text = ""
    for party in data.pop("parties"):
        project_text += "[[parties]]\n" + tomli_w.dumps(
            {k: v for k, v in party.items() if k != "identities"}
        )
        ident = world.me(party["name"])
        project_text += card_toml(ident)
    path = tmp_path / "project.toml"
    path.write_text(tomli_w.dumps(data) + project_text)
    loaded = load_project(path)
    assert loaded.party("nrs").active_identity == identity.card()


def test_create_identity_writes_secret_and_card(tmp_path: Path) -> None:
    out = tmp_path / "keyring"
    made = create_identity("nrs", Role.INDEXER, out, PASSPHRASE, now=NOW)
    assert made.identity_file.parent == out
    assert made.identity_file.stat().st_mode & 0o777 == 0o600
    assert made.card_file == out / CARD_FILE_NAME
    assert made.fingerprint == fingerprint(made.card)
    (info,) = read_cards(made.card_file)
    assert (info.card, info.fingerprint) == (made.card, made.fingerprint)
    with pytest.raises(IdentityError, match="another party's keyring"):
        create_identity("edris", Role.LINKER, out, PASSPHRASE)
    (tmp_path / "file").touch()
    with pytest.raises(IdentityError, match="must be a folder"):
        create_identity("nrs", Role.INDEXER, tmp_path / "file", PASSPHRASE)


def test_read_cards_from_a_project_file(world: World, tmp_path: Path) -> None:
    path = tmp_path / "project.toml"
    path.write_text(tomli_w.dumps(world.project.model_dump(mode="json", exclude_none=True)))
    cards = read_cards(path)
    assert {c.party for c in cards} == {"ipsos", "fife", "nrs", "edris", "scotcen"}
    (nrs,) = read_cards(path, party="nrs")
    assert (nrs.role, nrs.fingerprint) == (Role.INDEXER, world.me("nrs").fingerprint)
    with pytest.raises(ConfigError, match="no party of that name"):
        read_cards(path, party="nobody")
    card = tmp_path / "card.toml"
    card.write_text(card_toml(world.me("nrs")))
    with pytest.raises(ConfigError, match="project file only"):
        read_cards(card, party="nrs")
    card.write_text(card_toml(world.me("nrs")).replace("ed25519:", "ed25519:!"))
    with pytest.raises(ConfigError, match="card is invalid") as info:
        read_cards(card)
    assert "ed25519:!" not in str(info.value)
    assert info.value.__cause__ is None
    card.write_text("[other]\nx = 1\n")
    with pytest.raises(ConfigError, match=r"no \[\[parties\.identities\]\]"):
        read_cards(card)
    card.write_text("[broken\n")
    with pytest.raises(ConfigError, match="not a readable TOML"):
        read_cards(card)
