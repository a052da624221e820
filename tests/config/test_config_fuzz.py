"""Fuzzing settings files: project files, workspace files and identity cards, as bytes and as TOML.

Project files and cards travel between organisations and workspace files are edited by hand:
whatever they hold, reading them ends in settings or a ``LinkwellError`` naming the file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import tomli_w
from hypothesis import given
from hypothesis import strategies as st

from linkwell.config import load_project, load_workspace
from linkwell.errors import ConfigError
from linkwell.seal import card_toml, new_identity, read_cards
from linkwell.workspace import Workspace
from tests.fuzzing import BUDGETS, Folders, budget, edited_document, judge, mutated
from tests.seal.conftest import ROLES, card_dict, project_dict

IDENTITIES = {name: new_identity(name, role) for name, role in ROLES.items()}
PROJECT = project_dict({name: [card_dict(i)] for name, i in IDENTITIES.items()})
PROJECT_TEXT = tomli_w.dumps(PROJECT).encode()
CARD_TEXT = card_toml(IDENTITIES["nrs"]).encode()
WORKSPACE = {
    "format": 1,
    "party": "nrs",
    "project_file": "../project.toml",
    "identity_file": "keys",
    "passphrase_env": "LINKWELL_PASSPHRASE",
}


def _toml(document: object) -> bytes:
    return tomli_w.dumps(document).encode()  # type: ignore[arg-type]


def _write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def test_the_seeds_are_valid(tmp_path: Path) -> None:
    project = load_project(_write(tmp_path, "project.toml", PROJECT_TEXT))
    assert len(project.parties) == 5
    (card,) = read_cards(_write(tmp_path, "card.toml", CARD_TEXT))
    assert card.card == IDENTITIES["nrs"].card()
    assert load_workspace(_write(tmp_path, "workspace.toml", _toml(WORKSPACE))).party == "nrs"


@pytest.mark.parametrize("long", BUDGETS)
def test_project_files(tmp_path: Path, long: bool) -> None:
    folders = Folders(tmp_path)

    @budget(60, long=long)
    @given(mutated(PROJECT_TEXT) | edited_document(PROJECT, toml=True).map(_toml))
    def run(data: bytes) -> None:
        folder = folders()
        path = _write(folder, "project.toml", data)
        judge(lambda: load_project(path), outputs=folder, file=path)

    run()


@pytest.mark.parametrize("long", BUDGETS)
def test_identity_cards(tmp_path: Path, long: bool) -> None:
    folders = Folders(tmp_path)
    card = {"parties": {"identities": [card_dict(IDENTITIES["nrs"])]}}

    @budget(60, long=long)
    @given(mutated(CARD_TEXT) | edited_document(card, toml=True).map(_toml))
    def run(data: bytes) -> None:
        folder = folders()
        path = _write(folder, "card.toml", data)
        judge(lambda: read_cards(path), outputs=folder, file=path)

    run()


@pytest.mark.parametrize("long", BUDGETS)
def test_workspace_files(tmp_path: Path, long: bool) -> None:
    """The workspace file, then the project file it points to: both read on every command."""
    folders = Folders(tmp_path)

    @budget(60, long=long)
    @given(
        mutated(_toml(WORKSPACE)) | edited_document(WORKSPACE, toml=True).map(_toml),
        st.booleans(),
    )
    def run(data: bytes, good_project: bool) -> None:
        folder = folders()
        _write(folder, "project.toml", PROJECT_TEXT if good_project else b"[project\n")
        root = folder / "nrs"
        root.mkdir()
        path = _write(root, "workspace.toml", data)
        judge(lambda: Workspace.open(root), outputs=folder, file=path)

    run()


@pytest.mark.parametrize("key", ["project_file", "identity_file", "passphrase_file"])
def test_a_path_with_a_nul_is_refused_by_name(tmp_path: Path, key: str) -> None:
    """A NUL in a workspace file's path used to escape as Python's ValueError."""
    root = tmp_path / "nrs"
    root.mkdir()
    _write(tmp_path, "project.toml", PROJECT_TEXT)
    path = _write(root, "workspace.toml", _toml({**WORKSPACE, key: "keys\x00x"}))
    with pytest.raises(ConfigError) as info:
        Workspace.open(root)
    assert info.value.file == str(path)
    assert info.value.field == key


def test_a_party_missing_from_the_project_is_refused_naming_the_workspace_file(
    tmp_path: Path,
) -> None:
    """Found by fuzzing: the error named neither the workspace file nor its field."""
    root = tmp_path / "nrs"
    root.mkdir()
    _write(tmp_path, "project.toml", PROJECT_TEXT)
    path = _write(root, "workspace.toml", _toml({**WORKSPACE, "party": "ors"}))
    with pytest.raises(ConfigError, match="no party called") as info:
        Workspace.open(root)
    assert (info.value.file, info.value.field) == (str(path), "party")
