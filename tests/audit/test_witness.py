"""Signers and witnesses as the command line gives them: keys, cards, project files, JSON heads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tomli_w
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from linkwell.audit import (
    AuditAction,
    AuditLog,
    IssueKind,
    load_witnesses,
    public_key_text,
    signing_keys,
    verify_log_files,
)
from linkwell.audit.witness import log_party
from linkwell.errors import AuditError, ConfigError
from tests.audit.attacker import build_log

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
RETIRED = Ed25519PrivateKey.from_private_bytes(bytes(range(2, 34)))
SIGNER = public_key_text(KEY.public_key())


def card(key: Ed25519PrivateKey, letter: str, *, retired: bool = False) -> dict[str, object]:
    return {
        "encryption_key": "age1" + letter * 58,
        "signing_key": public_key_text(key.public_key()),
        "created": "2026-01-01T00:00:00Z",
        "retired": retired,
    }


def project_file(path: Path, *, edris: Ed25519PrivateKey | None = None) -> Path:
    parties = [
        {"name": "nrs", "role": "indexer", "organisation": "NRS",
         "identities": [card(RETIRED, "q", retired=True), card(KEY, "p")]},
        {"name": "edris", "role": "linker", "organisation": "eDRIS",
         "identities": [card(edris or Ed25519PrivateKey.generate(), "z")]},
        {"name": "scotcen", "role": "analyst", "organisation": "ScotCen",
         "identities": [card(Ed25519PrivateKey.generate(), "y")]},
    ]  # fmt: skip
    document = {
        "project": {"id": "rcs-fife", "wave": 1},
        "parties": parties,
        "sources": [],
        "transport": {"kind": "folder", "root": "exchange"},
    }
    path.write_text(tomli_w.dumps(document), encoding="utf-8")
    return path


def test_a_key_stands_for_itself() -> None:
    assert signing_keys(SIGNER, party=None) == (SIGNER,)
    with pytest.raises(ConfigError):
        signing_keys("ed25519:AAAA", party=None)


def test_a_file_with_just_the_key(tmp_path: Path) -> None:
    path = tmp_path / "nrs.pub"
    path.write_text(SIGNER + "\n", encoding="utf-8")
    assert signing_keys(str(path), party=None) == (SIGNER,)


@pytest.mark.parametrize(
    "document",
    [
        card(KEY, "p"),
        {"identity": card(KEY, "p")},
        {"parties": [{"name": "nrs", "identities": [card(KEY, "p")]}]},
    ],
)
def test_an_identity_card_in_any_of_its_printed_shapes(
    tmp_path: Path, document: dict[str, object]
) -> None:
    path = tmp_path / "card.toml"
    path.write_text(tomli_w.dumps(document), encoding="utf-8")
    assert signing_keys(str(path), party="nrs") == (SIGNER,)


def test_a_project_file_gives_every_key_of_the_logs_party(tmp_path: Path) -> None:
    path = project_file(tmp_path / "project.toml")
    keys = signing_keys(str(path), party="nrs")
    assert keys == (public_key_text(RETIRED.public_key()), SIGNER)
    with pytest.raises(ConfigError, match="no party called"):
        signing_keys(str(path), party="ipsos")
    with pytest.raises(ConfigError, match="whose log"):
        signing_keys(str(path), party=None)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "no signing key"),
        (b"[identity]\nname = 'x'\n", "no signing key"),
        (b"signing_key = 'ed25519:bad'\n", "not a valid Ed25519"),
        (b"not = toml = at all", "neither a key"),
        (b"\xff\xfe", "UTF-8"),
    ],
)
def test_a_bad_signer_file_is_a_config_error(tmp_path: Path, content: bytes, match: str) -> None:
    path = tmp_path / "signer"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=match) as caught:
        signing_keys(str(path), party="nrs")
    assert caught.value.file == str(path)


def test_a_missing_signer_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        signing_keys(str(tmp_path / "absent.toml"), party="nrs")


def test_witness_files_hold_one_head_or_a_list(tmp_path: Path) -> None:
    log = build_log(tmp_path / "nrs.log", KEY, appends=2)
    first = log.checkpoint()
    second = log.checkpoint()
    one = tmp_path / "one.json"
    one.write_text(first.model_dump_json(), encoding="utf-8")
    many = tmp_path / "many.json"
    many.write_text(json.dumps([first.model_dump(mode="json"), second.model_dump(mode="json")]))
    assert load_witnesses(one) == (first,)
    assert load_witnesses(many) == (first, second)


@pytest.mark.parametrize("content", ["", "{}", "[1]", '{"head": 3}', "1234567890"])
def test_a_bad_witness_file_is_a_config_error_that_quotes_nothing(
    tmp_path: Path, content: str
) -> None:
    path = tmp_path / "w.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match="not a signed log head") as caught:
        load_witnesses(path)
    assert caught.value.file == str(path)
    assert "1234567890" not in str(caught.value)


def test_verify_log_files_resolves_the_party_from_the_log(tmp_path: Path) -> None:
    path = tmp_path / "nrs.log"
    old = AuditLog(path, party="nrs", signing_key=RETIRED)
    old.append(AuditAction.SENT)
    rotated = AuditLog(
        path, party="nrs", signing_key=KEY, earlier_keys=[public_key_text(RETIRED.public_key())]
    )
    witness = rotated.checkpoint()
    (tmp_path / "w.json").write_text(witness.model_dump_json(), encoding="utf-8")
    project = project_file(tmp_path / "project.toml")
    report = verify_log_files(path, signers=[str(project)], witness_files=[tmp_path / "w.json"])
    assert report.ok, report.issues
    assert report.witnessed_through == witness.head.sequence


def test_the_logs_party_is_read_from_its_first_readable_entry(tmp_path: Path) -> None:
    path = tmp_path / "nrs.log"
    build_log(path, KEY, appends=1)
    assert log_party(path) == "nrs"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"damaged\n" + b"".join(lines[1:]))
    assert log_party(path) == "nrs"
    path.write_bytes(b"")
    assert log_party(path) is None


def test_a_log_of_another_party_than_expected_fails(tmp_path: Path) -> None:
    # Handed the linker's genuine log as the indexer's, with the project file as signer: it
    # verifies as the linker's log unless the party it must be is said.
    linker = Ed25519PrivateKey.generate()
    project = project_file(tmp_path / "project.toml", edris=linker)
    path = tmp_path / "nrs.log"
    build_log(path, linker, appends=5, party="edris")
    assert verify_log_files(path, signers=[str(project)]).ok
    report = verify_log_files(path, signers=[str(project)], party="nrs")
    assert not report.ok
    first = report.issues[0]
    assert first.kind is IssueKind.WRONG_PARTY
    assert "'nrs'" in first.message
    assert "'edris'" in first.message
    assert {issue.kind for issue in report.issues} >= {IssueKind.FORGED_CHECKPOINT}
    with pytest.raises(AuditError) as refused:  # a problem of the whole log: no position
        report.raise_for_issues()
    assert "wrong-party: the log was to be the log of 'nrs'" in str(refused.value)
    own = tmp_path / "own.log"
    build_log(own, KEY, appends=5)
    assert verify_log_files(own, signers=[str(project)], party="nrs").ok
