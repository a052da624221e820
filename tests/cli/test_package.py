"""``linkwell package seal|open|inspect`` through the command line, with real identity files."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import tomli_w
from click.testing import CliRunner

from linkwell.cli import main
from linkwell.seal import identity_file_name, save_identity
from tests.seal.conftest import World, write_payload

PASSPHRASE = "correct horse battery staple"


@pytest.fixture
def setup(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LINKWELL_PASSPHRASE", PASSPHRASE)
    (tmp_path / "project.toml").write_text(
        tomli_w.dumps(world.project.model_dump(mode="json", exclude_none=True))
    )
    for party in ("ipsos", "edris"):
        identity = world.me(party)
        (tmp_path / party).mkdir()
        save_identity(identity, tmp_path / party / identity_file_name(identity), PASSPHRASE)
    write_payload(tmp_path / "content.parquet")
    return tmp_path


def test_seal_inspect_open_and_replay(setup: Path) -> None:
    runner = CliRunner()
    forbidden = runner.invoke(
        main,
        [
            "package", "seal", "content.parquet", "--project", "project.toml",
            "--identity", "ipsos", "--to", "scotcen", "--kind", "content",
            "--source", "secondary", "--dataset", "survey-secondary", "--out", "outbox/x.lwpkg",
        ],
    )  # fmt: skip
    assert forbidden.exit_code == 5
    assert "content packages may not go from survey-provider to analyst" in forbidden.output
    assert not (setup / "outbox" / "x.lwpkg").exists()
    sealed = runner.invoke(
        main,
        [
            "package",
            "seal",
            "content.parquet",
            "--project",
            "project.toml",
            "--identity",
            "ipsos",
            "--to",
            "edris",
            "--kind",
            "content",
            "--source",
            "secondary",
            "--dataset",
            "survey-secondary",
            "--out",
            "outbox/content.lwpkg",
        ],
    )
    assert sealed.exit_code == 0, sealed.output
    assert "kind       content  source secondary" in sealed.output
    package = (setup / "outbox" / "content.lwpkg").read_bytes()
    (setup / "audit.log").write_text("another party's record\n")
    over = runner.invoke(
        main,
        [
            "package", "seal", "content.parquet", "--project", "project.toml",
            "--identity", "ipsos", "--to", "edris", "--kind", "content", "--source", "secondary",
            "--dataset", "survey-secondary", "--out", "audit.log",
        ],
    )  # fmt: skip
    assert over.exit_code == 7  # never overwritten
    assert "already exists" in over.output
    assert (setup / "audit.log").read_text() == "another party's record\n"
    assert (setup / "outbox" / "content.lwpkg").read_bytes() == package

    inspected = runner.invoke(
        main, ["package", "inspect", "outbox/content.lwpkg", "--project", "project.toml", "--json"]
    )
    assert inspected.exit_code == 0, inspected.output
    manifest = json.loads(inspected.output)
    assert (manifest["sender"]["party"], manifest["recipient"]["party"]) == ("ipsos", "edris")

    args = [
        "package",
        "open",
        "outbox/content.lwpkg",
        "--project",
        "project.toml",
        "--identity",
        "edris",
        "--ledger",
        "receipts.sqlite",
        "--expect",
        "content",
    ]
    opened = runner.invoke(main, [*args, "--out", "inbox/content.parquet"])
    assert opened.exit_code == 0, opened.output
    assert pq.read_table(setup / "inbox" / "content.parquet").equals(
        pq.read_table(setup / "content.parquet")
    )
    again = runner.invoke(main, [*args, "--out", "inbox/again.parquet"])
    assert again.exit_code == 5
    assert "already opened" in again.output
    assert "Traceback" not in again.output
    assert not (setup / "inbox" / "again.parquet").exists()
