"""``linkwell keys new|show`` through the command line."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import tomli_w
from click.testing import CliRunner

from linkwell.cli import main
from linkwell.seal import format_fingerprint
from tests.seal.conftest import World

PASSPHRASE = "correct horse battery staple"


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("LINKWELL_PASSPHRASE", PASSPHRASE)
    return CliRunner()


def test_new_then_show(runner: CliRunner, tmp_path: Path) -> None:
    made = runner.invoke(
        main, ["keys", "new", "--party", "nrs", "--role", "indexer", "--out", "kr"]
    )
    assert made.exit_code == 0, made.output
    (identity,) = (tmp_path / "kr").glob("nrs-*.identity.age")
    assert identity.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "kr" / "card.toml").exists()
    printed = made.output.split("fingerprint:")[1].strip()
    shown = runner.invoke(main, ["keys", "show", "kr/card.toml"])
    assert shown.exit_code == 0, shown.output
    assert printed in shown.output
    assert "active" in shown.output


def test_new_refuses_weak_or_missing_passphrase(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LINKWELL_PASSPHRASE", "short")
    weak = runner.invoke(
        main, ["keys", "new", "--party", "nrs", "--role", "indexer", "--out", "kr"]
    )
    assert weak.exit_code == 4
    assert "shorter than 12" in weak.output
    assert "Traceback" not in weak.output
    monkeypatch.delenv("LINKWELL_PASSPHRASE")
    none = runner.invoke(
        main, ["keys", "new", "--party", "nrs", "--role", "indexer", "--out", "kr"]
    )
    assert none.exit_code == 4
    assert "no passphrase" in none.output
    assert not (tmp_path / "kr").exists() or not list((tmp_path / "kr").iterdir())


def test_a_rotation_keeps_the_keyring_under_its_one_passphrase_and_role(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An identity under another passphrase would leave the keyring opening under neither."""
    new = ["keys", "new", "--party", "nrs", "--role", "indexer", "--out", "kr"]
    assert runner.invoke(main, new).exit_code == 0
    card = (tmp_path / "kr" / "card.toml").read_text()
    monkeypatch.setenv("LINKWELL_PASSPHRASE", "a different long passphrase")
    other = runner.invoke(main, new)
    assert other.exit_code == 4
    assert "under its one passphrase" in other.output
    assert len(list((tmp_path / "kr").glob("*.identity.age"))) == 1
    assert (tmp_path / "kr" / "card.toml").read_text() == card
    monkeypatch.setenv("LINKWELL_PASSPHRASE", PASSPHRASE)
    role = runner.invoke(main, [*new[:5], "linker", *new[6:]])
    assert role.exit_code == 4
    assert "as indexer, not linker" in role.output
    rotated = runner.invoke(main, new)
    assert rotated.exit_code == 0, rotated.output
    assert "rotation:" in rotated.output
    assert "1 earlier identity" in rotated.output
    assert len(list((tmp_path / "kr").glob("*.identity.age"))) == 2


def test_new_with_passphrase_file(runner: CliRunner, tmp_path: Path) -> None:
    secret = tmp_path / "pass.txt"
    secret.write_text("a different long passphrase\n")
    secret.chmod(0o644)
    args = [
        "keys",
        "new",
        "--party",
        "nrs",
        "--role",
        "indexer",
        "--out",
        "kr",
        "--passphrase-file",
        str(secret),
    ]
    refused = runner.invoke(main, args)
    assert refused.exit_code == 4
    assert "chmod 600" in refused.output


def test_show_project_cards(runner: CliRunner, world: World, tmp_path: Path) -> None:
    path = tmp_path / "project.toml"
    path.write_text(tomli_w.dumps(world.project.model_dump(mode="json", exclude_none=True)))
    result = runner.invoke(main, ["keys", "show", str(path), "--party", "nrs"])
    assert result.exit_code == 0, result.output
    assert "nrs (indexer)" in result.output
    assert format_fingerprint(world.me("nrs").fingerprint) in result.output
    assert "ipsos" not in result.output
    unknown = runner.invoke(main, ["keys", "show", str(path), "--party", "nobody"])
    assert unknown.exit_code == 2


def test_show_says_when_a_card_was_retired(runner: CliRunner, world: World, tmp_path: Path) -> None:
    old = world.me("nrs")
    world.rotate("nrs", when=datetime(2026, 6, 1, 9, 0, tzinfo=UTC))
    world.retired_at[old.fingerprint] = datetime(2026, 6, 1, 9, 30, tzinfo=UTC)
    path = tmp_path / "project.toml"
    path.write_text(tomli_w.dumps(world.project.model_dump(mode="json", exclude_none=True)))
    result = runner.invoke(main, ["keys", "show", str(path), "--party", "nrs"])
    assert result.exit_code == 0, result.output
    assert "retired 2026-06-01 09:30 UTC" in result.output
    assert result.output.count("active") == 1


@pytest.mark.parametrize(
    "command",
    [
        ["keys", "new"],
        ["keys", "show"],
        ["package", "seal"],
        ["package", "open"],
        ["package", "inspect"],
    ],
)
def test_every_command_has_help_with_an_example(command: list[str]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.output
    assert "\n    linkwell " in result.output  # the example keeps its own line
