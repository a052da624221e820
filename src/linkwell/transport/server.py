"""The SFTP server's folders: one chroot area per party, made and checked by the server operator.

Each party's login is locked by OpenSSH (``ChrootDirectory`` + ``ForceCommand internal-sftp``) into
``<root>/<party>/``, where it finds ``inbox/`` (owned by root, readable by the party's group only:
it can read what arrives but neither change nor delete it), ``outbox/<recipient>/`` for each party
it may deliver to (its own drop folders; nothing else is writable) and ``acks/`` for receipts.
The :mod:`~linkwell.transport.sweeper` moves committed packages from drop folders into inboxes.
"""

from __future__ import annotations

import os
import pwd
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from linkwell.config import ProjectConfig, SftpEndpoint
from linkwell.errors import ConfigError, StorageError
from linkwell.transport.base import PackageNames
from linkwell.transport.local import local_error

__all__ = [
    "QUARANTINE_DIR",
    "ServerAccount",
    "ServerLayout",
    "check_chroot_path",
    "prepare_server",
    "prepare_server_root",
    "sshd_match_blocks",
]

QUARANTINE_DIR: Final = ".quarantine"
"""Folder under the root where the sweeper keeps refused files (root only)."""

_DEFAULT_ENDPOINT: Final = SftpEndpoint(user="x")


class ServerAccount(BaseModel):
    """The system account a party logs in with."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    party: str
    user: str
    uid: int = Field(ge=1)
    gid: int = Field(ge=1)


class ServerLayout(BaseModel):
    """What :func:`prepare_server_root` set up, with the sshd configuration that goes with it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    root: Path
    parties: tuple[str, ...]
    routes: tuple[tuple[str, str], ...]
    sshd_config: str


def prepare_server(
    root: Path, project: ProjectConfig, routes: Iterable[tuple[str, str]]
) -> ServerLayout:
    """Make or repair the folders for every party in the project, with logins from the system.

    Each party's ``sftp.user`` must exist as a system account, and its folders must be the
    defaults (``/inbox``, ``/outbox/{recipient}``, ``/acks``), which is what this layout offers.
    """
    accounts = []
    for party in project.parties:
        if party.sftp is None:
            raise ConfigError(
                f"party {party.name!r} has no sftp entry", field="parties.sftp", hint="add one"
            )
        endpoint = party.sftp
        if (endpoint.inbox, endpoint.drop, endpoint.acks) != (
            _DEFAULT_ENDPOINT.inbox,
            _DEFAULT_ENDPOINT.drop,
            _DEFAULT_ENDPOINT.acks,
        ):
            raise ConfigError(
                f"party {party.name!r} has custom sftp folders; this server layout offers only "
                "the default ones",
                field="parties.sftp",
                hint="remove inbox, drop and acks from the party's sftp entry",
            )
        try:
            record = pwd.getpwnam(endpoint.user)
        except KeyError as exc:
            raise ConfigError(
                f"the system has no user {endpoint.user!r} for party {party.name!r}",
                field="parties.sftp.user",
                hint="create the account first, e.g. useradd --system --shell /usr/sbin/nologin",
            ) from exc
        accounts.append(
            ServerAccount(
                party=party.name, user=endpoint.user, uid=record.pw_uid, gid=record.pw_gid
            )
        )
    return prepare_server_root(root, accounts, routes)


def prepare_server_root(
    root: Path, accounts: Sequence[ServerAccount], routes: Iterable[tuple[str, str]]
) -> ServerLayout:
    """Create or repair the chroot areas, inboxes, drop folders and quarantine under ``root``.

    Owners and modes of existing folders are set right; nothing is deleted. A drop folder is made
    only for each ``(sender, recipient)`` route given, so a party can deliver to nobody else.
    """
    by_party = {PackageNames.check_party(account.party): account for account in accounts}
    wanted = tuple(sorted(set(routes)))
    for sender, recipient in wanted:
        if sender not in by_party or recipient not in by_party or sender == recipient:
            raise ConfigError(
                f"route {sender}:{recipient} does not join two different parties of the server",
                field="routes",
                hint="name routes as SENDER:RECIPIENT with parties of the project file",
            )
    check_chroot_path(root)
    _ensure_dir(root, uid=0, gid=0, mode=0o755)
    _ensure_dir(root / QUARANTINE_DIR, uid=0, gid=0, mode=0o700)
    for party, account in sorted(by_party.items()):
        area = root / party
        _ensure_dir(area, uid=0, gid=0, mode=0o755)
        _ensure_dir(area / "inbox", uid=0, gid=account.gid, mode=0o750)
        _ensure_dir(area / "outbox", uid=0, gid=0, mode=0o755)
        _ensure_dir(area / "acks", uid=account.uid, gid=account.gid, mode=0o700)
    for sender, recipient in wanted:
        account = by_party[sender]
        drop = root / sender / "outbox" / recipient
        _ensure_dir(drop, uid=account.uid, gid=account.gid, mode=0o700)
    return ServerLayout(
        root=root,
        parties=tuple(sorted(by_party)),
        routes=wanted,
        sshd_config=sshd_match_blocks(root, accounts),
    )


def sshd_match_blocks(root: Path, accounts: Sequence[ServerAccount]) -> str:
    """The ``sshd_config`` lines that lock each party's login into its area, SFTP only."""
    blocks = [
        f"Match User {account.user}\n"
        f"    ChrootDirectory {root / account.party}\n"
        "    ForceCommand internal-sftp -u 0077\n"
        "    AuthenticationMethods publickey\n"
        "    AllowTcpForwarding no\n"
        "    AllowAgentForwarding no\n"
        "    AllowStreamLocalForwarding no\n"
        "    PermitTunnel no\n"
        "    PermitTTY no\n"
        "    X11Forwarding no\n"
        for account in sorted(accounts, key=lambda a: a.party)
    ]
    return "\n".join(blocks)


def check_chroot_path(root: Path) -> None:
    """OpenSSH refuses a chroot below any folder not owned by root or writable by others."""
    for folder in [*reversed(root.absolute().parents), root.absolute()]:
        try:
            info = folder.lstat()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise local_error(exc, folder, doing="inspect the folder") from exc
        if stat.S_ISLNK(info.st_mode):
            raise ConfigError(
                "the server root must not lie under a symbolic link",
                file=folder,
                hint="use the real path",
            )
        if info.st_uid != 0 or info.st_mode & 0o022:
            raise ConfigError(
                "OpenSSH's ChrootDirectory needs every folder above the chroot to be owned by "
                "root and writable by nobody else",
                file=folder,
                hint="put the server root somewhere like /srv/linkwell, not under /tmp or a home",
            )


def _ensure_dir(path: Path, *, uid: int, gid: int, mode: int) -> None:
    """Create ``path`` if missing and give it exactly this owner and mode (never via a link)."""
    try:
        path.mkdir(mode=mode, exist_ok=True)
        info = path.lstat()
        if not stat.S_ISDIR(info.st_mode):
            raise StorageError(
                "expected a folder here", file=path, hint="move the file or link away"
            )
        os.chown(path, uid, gid, follow_symlinks=False)
        path.chmod(mode)  # a folder, checked above: Linux has no lchmod
    except OSError as exc:
        raise local_error(exc, path, doing="prepare the folder") from exc
