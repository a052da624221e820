from __future__ import annotations

import stat
from pathlib import Path

import pytest

from linkwell.errors import ConfigError
from linkwell.transport.server import ServerAccount, prepare_server_root, sshd_match_blocks

IPSOS = ServerAccount(party="ipsos", user="u-ipsos", uid=61001, gid=61001)
NRS = ServerAccount(party="nrs", user="u-nrs", uid=61002, gid=61002)


def _owner_mode(path: Path) -> tuple[int, int, int]:
    info = path.lstat()
    return info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)


def test_layout_gives_each_party_exactly_its_rights(server_root: Path) -> None:
    layout = prepare_server_root(server_root, [IPSOS, NRS], [("ipsos", "nrs")])
    assert layout.parties == ("ipsos", "nrs")
    assert layout.routes == (("ipsos", "nrs"),)
    assert _owner_mode(server_root / "ipsos") == (0, 0, 0o755)
    assert _owner_mode(server_root / "nrs" / "inbox") == (0, NRS.gid, 0o750)
    assert _owner_mode(server_root / "ipsos" / "outbox") == (0, 0, 0o755)
    assert _owner_mode(server_root / "ipsos" / "outbox" / "nrs") == (IPSOS.uid, IPSOS.gid, 0o700)
    assert _owner_mode(server_root / "nrs" / "acks") == (NRS.uid, NRS.gid, 0o700)
    assert not (server_root / "nrs" / "outbox" / "ipsos").exists()
    assert _owner_mode(server_root / ".quarantine") == (0, 0, 0o700)
    assert f"ChrootDirectory {server_root / 'nrs'}" in layout.sshd_config
    assert layout.sshd_config.count("ForceCommand internal-sftp") == 2


def test_prepare_repairs_owners_and_modes(server_root: Path) -> None:
    prepare_server_root(server_root, [IPSOS, NRS], [("ipsos", "nrs")])
    (server_root / "nrs" / "inbox").chmod(0o777)
    prepare_server_root(server_root, [IPSOS, NRS], [("ipsos", "nrs")])
    assert _owner_mode(server_root / "nrs" / "inbox") == (0, NRS.gid, 0o750)


def test_routes_must_join_two_known_parties(server_root: Path) -> None:
    for route in (("ipsos", "ipsos"), ("ipsos", "edris"), ("../x", "nrs")):
        with pytest.raises(ConfigError):
            prepare_server_root(server_root, [IPSOS, NRS], [route])


def test_a_chroot_under_a_world_writable_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ChrootDirectory") as info:
        prepare_server_root(tmp_path / "root", [IPSOS], [])
    assert info.value.file is not None
    assert not (tmp_path / "root").exists()


def test_match_blocks_lock_every_login_into_sftp() -> None:
    text = sshd_match_blocks(Path("/srv/lw"), [NRS, IPSOS])
    assert text.index("Match User u-ipsos") < text.index("Match User u-nrs")
    for line in ("PermitTTY no", "AllowTcpForwarding no", "X11Forwarding no"):
        assert text.count(line) == 2
