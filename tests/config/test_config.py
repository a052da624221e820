from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from linkwell.config import load_project
from linkwell.errors import ConfigError

CARD = """
[[parties.identities]]
encryption_key = "age1{enc}"
signing_key = "ed25519:{sig}="
created = 2026-01-01T00:00:00Z
"""


def _party(name: str, role: str, n: int) -> str:
    enc = (("q" * 57) + "qpzry9x8gf2tvdw0s3jn54khce6mua7l"[n])[:58]
    sig = ("A" * 42) + "ABCDEFGHIJ"[n]
    return (
        f'[[parties]]\nname = "{name}"\nrole = "{role}"\norganisation = "{name}"\n'
        + CARD.format(enc=enc, sig=sig)
    )


def _project(extra: str = "") -> str:
    parties = [
        ("ipsos", "survey-provider"), ("fife", "authority-provider"), ("nrs", "indexer"),
        ("edris", "linker"), ("scotcen", "analyst"),
    ]  # fmt: skip
    text = '[project]\nid = "rcs-test"\nwave = 1\n\n[transport]\nkind = "folder"\nroot = "x"\n\n'
    text += extra
    text += "".join(_party(n, r, i) for i, (n, r) in enumerate(parties))
    text += (
        '[[sources]]\nname = "secondary"\nkind = "survey"\ndataset = "survey-secondary"\n'
        'dataset_version = 1\nprovider = "ipsos"\n'
        '[[sources]]\nname = "fife"\nkind = "authority"\ndataset = "authority"\n'
        'dataset_version = 1\nprovider = "fife"\nauthority_code = "S12000047"\n'
    )
    return text


def test_valid_project_loads_and_has_stable_digest(tmp_path: Path) -> None:
    path = tmp_path / "project.toml"
    path.write_text(_project())
    config = load_project(path)
    assert config.the(config.parties[2].role).name == "nrs"
    assert config.digest() == load_project(path).digest()


def test_unknown_key_is_rejected_with_its_location(tmp_path: Path) -> None:
    path = tmp_path / "project.toml"
    path.write_text(_project('[release]\nsimd = "decile"\nsecret_extra = 1\n\n'))
    with pytest.raises(ConfigError) as info:
        load_project(path)
    assert info.value.field == "release.secret_extra"
    assert str(path) in str(info.value)


def test_source_provider_must_have_the_right_role(tmp_path: Path) -> None:
    path = tmp_path / "project.toml"
    path.write_text(_project().replace('provider = "fife"', 'provider = "ipsos"'))
    with pytest.raises(ConfigError, match="authority-provider"):
        load_project(path)


def test_bad_toml_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "project.toml"
    path.write_text('[project]\nid = "rcs"\nwave 1\n')
    with pytest.raises(ConfigError, match=r"not valid TOML: .*\(at line 3, column 6\)"):
        load_project(path)
    path.write_bytes(b'[project]\nid = "r\xe9cs"\n')
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        load_project(path)
    with pytest.raises(ConfigError, match="not found"):
        load_project(tmp_path / "missing.toml")


def test_a_byte_order_mark_is_not_part_of_the_toml(tmp_path: Path) -> None:
    """Notepad saves UTF-8 with a byte-order mark, which TOML itself does not allow."""
    path = tmp_path / "project.toml"
    path.write_bytes(b"\xef\xbb\xbf" + _project().encode())
    assert load_project(path).party("nrs").role.value == "indexer"


def test_a_repeated_name_or_shared_key_is_named(tmp_path: Path) -> None:
    path = tmp_path / "project.toml"
    path.write_text(_project() + _party("ipsos", "survey-provider", 6))
    with pytest.raises(ConfigError, match="party names must be unique: 'ipsos' is given twice"):
        load_project(path)
    path.write_text(_project() + _party("ipsos2", "survey-provider", 0))  # ipsos's card again
    with pytest.raises(ConfigError, match="more than one card of ipsos and ipsos2"):
        load_project(path)
    twice = _project().replace('name = "fife"\nkind', 'name = "secondary"\nkind')
    path.write_text(twice)
    with pytest.raises(ConfigError, match="source names must be unique: 'secondary' is given"):
        load_project(path)


def test_several_problems_are_each_named_without_the_value_given(tmp_path: Path) -> None:
    path = tmp_path / "project.toml"
    bad = _project().replace("wave = 1", 'wave = "one"').replace("age1", "age2", 1)
    path.write_text(bad)
    with pytest.raises(ConfigError) as info:
        load_project(path)
    text = str(info.value)
    assert "project.wave: " in text
    assert "parties.0.identities.0.encryption_key: is not in the form expected" in text
    assert "age2" not in text
    assert "^age1" not in text  # the pattern itself is no help to the reader


@pytest.mark.parametrize(
    ("retired", "retired_at"),
    [
        ("true", None),
        ("false", None),
        ("2026-06-01T09:30:00Z", "2026-06-01T09:30:00+00:00"),
        ('"2026-06-01T10:30:00+01:00"', "2026-06-01T09:30:00+00:00"),
    ],
)
def test_a_card_is_retired_by_a_flag_or_better_a_time(
    tmp_path: Path, retired: str, retired_at: str | None
) -> None:
    path = tmp_path / "project.toml"
    text = _project()
    path.write_text(text.replace("Z\n", f"Z\nretired = {retired}\n", 1))
    card = load_project(path).parties[0].identities[0]
    assert card.retired_at == (None if retired_at is None else datetime.fromisoformat(retired_at))
    assert (card.retired is not False) is (retired != "false")


@pytest.mark.parametrize(
    ("retired", "words"),
    [
        ("2025-12-31T00:00:00Z", "retired before it was created"),
        ("2026-06-01T09:30:00", "with its zone"),
        ('"2026-06-01"', "with its zone"),
        ('"yes"', "true, false or the time"),
    ],
)
def test_a_retirement_that_cannot_be_is_refused_naming_the_card(
    tmp_path: Path, retired: str, words: str
) -> None:
    path = tmp_path / "project.toml"
    path.write_text(_project().replace("Z\n", f"Z\nretired = {retired}\n", 1))
    with pytest.raises(ConfigError, match=words) as info:
        load_project(path)
    assert info.value.field is not None
    assert info.value.field.startswith("parties.0.identities.0")


def test_a_relative_path_is_read_from_the_project_file_s_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commands run from anywhere; the shared folder must not move with them."""
    from linkwell.transport import FolderMailbox, open_transport
    from tests.transport.fakeseal import make_package

    one, two = tmp_path / "one", tmp_path / "two"
    for folder in (one, two):
        folder.mkdir()
        (folder / "project.toml").write_text(_project())  # root = "x", relative
    monkeypatch.chdir(tmp_path)
    project = load_project(Path("one/project.toml"))
    assert project.resolve(Path("x")) == one / "x"
    assert project.resolve(tmp_path / "abs") == tmp_path / "abs"
    mailbox = open_transport(project, "nrs")
    assert isinstance(mailbox, FolderMailbox)
    package = make_package(tmp_path / "outgoing", 100)
    mailbox.deliver(package, to="edris")
    assert (one / "x" / "edris" / "inbox" / package.name).is_file()
    assert not (tmp_path / "x").exists()
    assert project.digest() == load_project(two / "project.toml").digest()  # the same settings
