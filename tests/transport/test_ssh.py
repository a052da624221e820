"""Making SSH keys: private to their owner, readable by the transport, never overwritten."""

from __future__ import annotations

import stat
from pathlib import Path

import paramiko
import pytest

from linkwell.errors import ConfigError
from linkwell.transport.ssh import PinnedHostKey, create_ssh_key, load_ssh_key


def test_a_new_key_is_private_and_loads_as_the_public_line_says(tmp_path: Path) -> None:
    path = tmp_path / "ws" / "ssh" / "id_ed25519"
    line = create_ssh_key(path, comment="ipsos mori\nevil")
    kind, blob, *comment = line.split(" ")
    assert kind == "ssh-ed25519"
    assert comment == ["ipsos", "mori", "evil"]  # whitespace, newlines included, never splits
    assert "\n" not in line
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert (tmp_path / "ws" / "ssh" / "id_ed25519.pub").read_text() == line + "\n"
    key = load_ssh_key(path)
    assert isinstance(key, paramiko.Ed25519Key)
    assert key.get_base64() == blob
    assert PinnedHostKey(line).matches(key)  # the line is usable as a pinned host key too


def test_two_keys_differ(tmp_path: Path) -> None:
    first = create_ssh_key(tmp_path / "a")
    second = create_ssh_key(tmp_path / "b")
    assert first.split()[1] != second.split()[1]


@pytest.mark.parametrize("existing", ["id_ed25519", "id_ed25519.pub"])
def test_an_existing_key_is_never_replaced(tmp_path: Path, existing: str) -> None:
    (tmp_path / existing).write_text("keep me")
    with pytest.raises(ConfigError, match="already there") as caught:
        create_ssh_key(tmp_path / "id_ed25519")
    assert caught.value.file == str(tmp_path / existing)
    assert (tmp_path / existing).read_text() == "keep me"
