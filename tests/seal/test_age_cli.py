"""The emergency recipe in docs/package-format.md, run as written with Debian's ``age`` tool.

The recipe is taken from the document itself, so the document cannot drift from what works. age
reads the identity file's passphrase from the terminal, so the recipe runs on a pseudo-terminal.
"""

from __future__ import annotations

import os
import pty
import re
import select
import shutil
import time
from pathlib import Path

import pytest

from linkwell.seal import save_identity
from tests.seal.conftest import Sealer, World

DOCS = Path(__file__).resolve().parents[2] / "docs" / "package-format.md"
PASSPHRASE = "emergency passphrase for tests"


def recipe(**values: str) -> str:
    """The recipe's shell block with its four settings replaced by ``values``."""
    text = DOCS.read_text(encoding="utf-8")
    block = re.search(r"<!-- recipe:begin -->\n```sh\n(.*?)```\n<!-- recipe:end -->", text, re.S)
    assert block is not None, "the recipe block is missing from docs/package-format.md"
    script = block[1]
    for name, value in values.items():
        script, count = re.subn(rf"^{name}=.*$", f"{name}='{value}'", script, flags=re.M)
        assert count == 1, name
    return script


def run_on_terminal(script: str, cwd: Path, passphrase: str) -> tuple[int, str]:
    """Run ``bash -euo pipefail -c script`` on a pseudo-terminal; type ``passphrase`` when asked."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: never returns
        os.chdir(cwd)
        os.execvp("bash", ["bash", "-euo", "pipefail", "-c", script])  # noqa: S606
    output, answered, deadline = b"", False, time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 1)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the terminal closed: the child has ended
                break
            if not chunk:
                break
            output += chunk
            if not answered and b"passphrase" in output.lower():
                os.write(fd, passphrase.encode() + b"\n")
                answered = True
    finally:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace")


@pytest.fixture
def emergency(world: World, seal: Sealer, tmp_path: Path) -> tuple[Path, Path, str]:
    assert shutil.which("age"), "the age tool is missing: run `make sysdeps`"
    assert shutil.which("openssl"), "openssl is missing"
    package, _ = seal("ipsos", "edris")
    identity = tmp_path / "keyring" / "edris.identity.age"
    identity.parent.mkdir()
    save_identity(world.me("edris"), identity, PASSPHRASE)
    sender_key = world.project.party("ipsos").identities[0].signing_key
    return package, identity, sender_key


def test_recipe_recovers_the_payload_with_age(
    emergency: tuple[Path, Path, str], payload: Path, tmp_path: Path
) -> None:
    package, identity, sender_key = emergency
    work = tmp_path / "emergency"
    work.mkdir()
    script = recipe(
        PKG=str(package), IDENTITY=str(identity), OUT="payload.parquet", SENDER_KEY=sender_key
    )
    code, output = run_on_terminal(script, work, PASSPHRASE)
    assert code == 0, output
    assert "Signature Verified Successfully" in output
    assert "payload.parquet: OK" in output
    assert (work / "payload.parquet").read_bytes() == payload.read_bytes()


def test_recipe_stops_on_a_forged_manifest(
    emergency: tuple[Path, Path, str], tmp_path: Path
) -> None:
    package, identity, sender_key = emergency
    data = bytearray(package.read_bytes())
    at = data.rindex(b'"rows":')
    data[at + 7] ^= 1  # one digit of the row count changes
    forged = tmp_path / "forged.lwpkg"
    forged.write_bytes(bytes(data))
    work = tmp_path / "emergency"
    work.mkdir()
    script = recipe(
        PKG=str(forged), IDENTITY=str(identity), OUT="payload.parquet", SENDER_KEY=sender_key
    )
    code, output = run_on_terminal(script, work, PASSPHRASE)
    assert code != 0
    assert "Signature Verification Failure" in output
    assert not (work / "payload.parquet").exists()
