from __future__ import annotations

import hashlib
import os
import pwd
from pathlib import Path

import pytest
import tomli_w
from click.testing import CliRunner

from linkwell.cli import main
from linkwell.transport.base import format_digest_file
from tests.transport.fakeseal import make_package

# Accounts every Debian system has, so that 'prepare' can look them up without creating users.
SYSTEM_USERS = {"ipsos": "daemon", "nrs": "bin", "edris": "sys", "scotcen": "sync"}
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILnH9Dth6dqiBY+Jpy9t7R7+7djQQEVav9czucOB1QdJ"
ROLES = {"ipsos": "survey-provider", "nrs": "indexer", "edris": "linker", "scotcen": "analyst"}


def _project_file(folder: Path) -> Path:
    alphabet = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
    project = {
        "project": {"id": "rcs-test", "wave": 1},
        "transport": {
            "kind": "sftp",
            "host": "sftp.example.org",
            "host_key": HOST_KEY,
        },
        "sources": [],
        "parties": [
            {
                "name": party,
                "role": ROLES[party],
                "organisation": party,
                "sftp": {"user": user},
                "identities": [
                    {
                        "encryption_key": "age1" + "q" * 57 + alphabet[index],
                        "signing_key": "ed25519:" + "A" * 42 + "ABCDEFGHIJ"[index] + "=",
                        "created": "2026-01-01T00:00:00Z",
                    }
                ],
            }
            for index, (party, user) in enumerate(SYSTEM_USERS.items())
        ],
    }
    path = folder / "project.toml"
    path.write_text(tomli_w.dumps(project))
    return path


def test_every_transport_command_has_help_with_an_example() -> None:
    runner = CliRunner()
    group = runner.invoke(main, ["transport", "--help"])
    assert "Example:\n    linkwell transport prepare" in group.output
    for command in ("prepare", "sweep"):
        result = runner.invoke(main, ["transport", command, "--help"])
        assert result.exit_code == 0, result.output
        assert "Example:\n    linkwell transport " + command in result.output


def test_prepare_then_sweep(server_root: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    project = _project_file(tmp_path)
    result = runner.invoke(
        main,
        [
            "transport",
            "prepare",
            "--root",
            str(server_root),
            "--project",
            str(project),
            "--route",
            "ipsos:nrs",
            "--route",
            "nrs:edris",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Match User daemon" in result.output
    assert "ChrootDirectory" in result.output
    drop = server_root / "ipsos" / "outbox" / "nrs"
    assert drop.stat().st_uid == pwd.getpwnam("daemon").pw_uid
    package = make_package(tmp_path / "out", 1000)
    (drop / package.name).write_bytes(package.read_bytes())
    digest = hashlib.sha256(package.read_bytes()).hexdigest()
    (drop / f"{package.name}.sha256").write_bytes(format_digest_file(package.name, digest))
    bad = make_package(tmp_path / "bad", 1000)
    (drop / bad.name).write_bytes(bad.read_bytes())
    (drop / f"{bad.name}.sha256").write_bytes(format_digest_file(bad.name, "0" * 64))
    for entry in drop.iterdir():
        os.chown(entry, pwd.getpwnam("daemon").pw_uid, pwd.getpwnam("daemon").pw_gid)
    result = runner.invoke(main, ["transport", "sweep", "--root", str(server_root)])
    assert result.exit_code == 0, result.output
    assert "1 delivered, 0 duplicate, 1 quarantined, 0 purged, 0 waiting" in result.output
    assert f"quarantined ipsos->nrs {bad.name}: the package does not match" in result.output
    assert (server_root / "nrs" / "inbox" / package.name).exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--route", "ipsos"], "is not SENDER:RECIPIENT"),
        (["--route", "ipsos:nobody"], "does not join two different parties"),
    ],
)
def test_prepare_refuses_bad_routes(
    server_root: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    project = _project_file(tmp_path)
    result = CliRunner().invoke(
        main, ["transport", "prepare", "--root", str(server_root), "--project", str(project), *args]
    )
    assert result.exit_code != 0
    assert message in result.output


def test_prepare_names_a_missing_system_user(server_root: Path, tmp_path: Path) -> None:
    project = _project_file(tmp_path)
    project.write_text(project.read_text().replace('user = "sync"', 'user = "lwt-nobody-here"'))
    result = CliRunner().invoke(
        main,
        ["transport", "prepare", "--root", str(server_root), "--project", str(project),
         "--route", "ipsos:nrs"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "no user 'lwt-nobody-here'" in result.output
    assert "useradd" in result.output


def test_sweep_of_a_missing_root_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["transport", "sweep", "--root", str(tmp_path / "nope")])
    assert result.exit_code == 2
