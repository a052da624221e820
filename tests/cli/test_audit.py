"""``linkwell audit``: show, verify (with exit codes from the error tree) and repair."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from linkwell.audit import AuditLog, public_key_text, sign_head
from linkwell.cli import main
from linkwell.errors import AuditError, ConfigError
from tests.audit import attacker
from tests.audit.attacker import build_log, read, write

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
SIGNER = public_key_text(KEY.public_key())


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    path = tmp_path / "nrs.log"
    build_log(path, KEY, appends=6)
    return path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_show_prints_every_entry(log_path: Path) -> None:
    code, out = run("audit", "show", str(log_path))
    assert code == 0
    for action in ("log-created", "checkpoint", "validated"):
        assert action in out
    assert "rows=5" in out


def test_show_tail_prints_only_the_last_lines(log_path: Path) -> None:
    code, out = run("audit", "show", str(log_path), "--tail", "2")
    assert code == 0
    assert "log-created" not in out
    assert "rows=5" in out


def test_show_marks_lines_that_are_not_entries(log_path: Path) -> None:
    write(log_path, [*read(log_path), b"garbage\n", b'{"torn'])
    code, out = run("audit", "show", str(log_path))
    assert code == 0
    assert "not an entry (not-json)" in out
    assert "incomplete last line" in out


def test_verify_an_intact_log(log_path: Path) -> None:
    code, out = run("audit", "verify", str(log_path), "--signer", SIGNER)
    assert code == 0
    assert "ok" in out
    assert "hash chain only" in out  # the unwitnessed tail is pointed out


def test_verify_with_a_witness_covering_the_end(tmp_path: Path, log_path: Path) -> None:
    witness = tmp_path / "head.json"
    head = AuditLog(log_path, party="nrs", signing_key=None).head()
    witness.write_text(sign_head(head, KEY).model_dump_json(), encoding="utf-8")
    code, out = run("audit", "verify", str(log_path), "--signer", SIGNER, "--witness", str(witness))
    assert code == 0
    assert "1 witness" in out
    assert "hash chain only" not in out


def test_verify_a_tampered_log_lists_the_problem_and_exits_with_the_audit_code(
    log_path: Path,
) -> None:
    write(log_path, attacker.edit_in_place(read(log_path), 4))
    code, out = run("audit", "verify", str(log_path), "--signer", SIGNER)
    assert code == AuditError.exit_code
    assert "edited" in out
    assert "entry 4, line 5" in out


def test_verify_a_truncated_log_against_a_witness(tmp_path: Path, log_path: Path) -> None:
    witness = tmp_path / "head.json"
    head = AuditLog(log_path, party="nrs", signing_key=None).head()
    witness.write_text(sign_head(head, KEY).model_dump_json(), encoding="utf-8")
    write(log_path, read(log_path)[:5])
    code, out = run("audit", "verify", str(log_path), "--signer", SIGNER, "--witness", str(witness))
    assert code == AuditError.exit_code
    assert "truncated" in out


def test_verify_json_output(log_path: Path) -> None:
    write(log_path, attacker.edit_in_place(read(log_path), 3))
    code, out = run("audit", "verify", str(log_path), "--signer", SIGNER, "--json")
    assert code == AuditError.exit_code
    report = json.loads(out[: out.rindex("}") + 1])
    assert report["issues"][0]["kind"] == "edited"
    assert report["issues"][0]["sequence"] == 3


def test_verify_with_a_card_file(tmp_path: Path, log_path: Path) -> None:
    card = tmp_path / "card.toml"
    card.write_text(f'signing_key = "{SIGNER}"\n', encoding="utf-8")
    code, _ = run("audit", "verify", str(log_path), "--signer", str(card))
    assert code == 0


def test_verify_a_log_named_for_another_party_fails(log_path: Path) -> None:
    code, out = run("audit", "verify", str(log_path), "--signer", SIGNER, "--party", "edris")
    assert code == AuditError.exit_code
    assert "wrong-party" in out
    code, _ = run("audit", "verify", str(log_path), "--signer", SIGNER, "--party", "nrs")
    assert code == 0


def test_verify_with_another_partys_key_fails(log_path: Path) -> None:
    other = public_key_text(Ed25519PrivateKey.generate().public_key())
    code, out = run("audit", "verify", str(log_path), "--signer", other)
    assert code == AuditError.exit_code
    assert "forged-checkpoint" in out


@pytest.mark.parametrize("signer", ["ed25519:nope", "absent-card.toml"])
def test_a_bad_signer_is_a_config_error(log_path: Path, signer: str) -> None:
    code, out = run("audit", "verify", str(log_path), "--signer", signer)
    assert code == ConfigError.exit_code
    assert "error:" in out


def test_a_bad_witness_file_is_a_config_error(tmp_path: Path, log_path: Path) -> None:
    witness = tmp_path / "head.json"
    witness.write_text("{}", encoding="utf-8")
    code, _ = run("audit", "verify", str(log_path), "--signer", SIGNER, "--witness", str(witness))
    assert code == ConfigError.exit_code


def test_verify_needs_a_signer(log_path: Path) -> None:
    code, out = run("audit", "verify", str(log_path))
    assert code == 2
    assert "--signer" in out


def test_repair_cuts_a_torn_line_and_says_so(log_path: Path) -> None:
    with log_path.open("ab") as handle:
        handle.write(b'{"act')
    code, out = run("audit", "repair", str(log_path))
    assert code == 0
    assert "cut off 5 torn byte(s)" in out
    code, _ = run("audit", "verify", str(log_path), "--signer", SIGNER)
    assert code == 0
    code, out = run("audit", "repair", str(log_path))
    assert code == 0
    assert "nothing to repair" in out


def test_repair_refuses_other_damage(log_path: Path) -> None:
    write(log_path, [*attacker.edit_in_place(read(log_path), 7), b"{"])
    code, out = run("audit", "repair", str(log_path))
    assert code == AuditError.exit_code
    assert "not repaired" in out


@pytest.mark.parametrize("command", ["show", "verify", "repair"])
def test_every_command_has_help_with_an_example(command: str) -> None:
    code, out = run("audit", command, "--help")
    assert code == 0
    assert "Example" in out
    assert "linkwell audit " + command in out


def test_every_command_and_option_is_documented() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "audit-log.md").read_text("utf-8")
    group = main.commands["audit"]
    assert hasattr(group, "commands")
    for name, command in group.commands.items():
        assert f"linkwell audit {name}" in doc, name
        for param in command.params:
            for option in getattr(param, "opts", []):
                if option.startswith("--"):
                    assert option in doc, f"{name} {option}"
