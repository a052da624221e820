"""Opening an SSH connection the project can trust: modern algorithms and a pinned host key.

The client offers only modern ciphers, MACs and key exchanges (paramiko would otherwise offer
CBC, 3DES and SHA-1 MACs) and only the signature algorithms of the host key pinned in the project
file, so a server that cannot present that very key is refused before any login is attempted.
Nothing is learnt on first use and nothing is written to ``known_hosts``.
"""

from __future__ import annotations

import base64
import binascii
import socket
from pathlib import Path
from typing import Final

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paramiko.ssh_exception import AuthenticationException, IncompatiblePeer

from linkwell.config import SftpEndpoint, SftpTransport
from linkwell.errors import ConfigError, HostKeyError, TransferError, TransportError
from linkwell.fileio import write_bytes_atomic
from linkwell.transport.sftp_client import PipelinedSftpClient

__all__ = [
    "MODERN_CIPHERS",
    "MODERN_KEX",
    "MODERN_MACS",
    "PinnedHostKey",
    "SshSession",
    "create_ssh_key",
    "load_ssh_key",
    "open_session",
]

MODERN_CIPHERS: Final = (
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "aes128-ctr",
    "aes192-ctr",
    "aes256-ctr",
)
"""Authenticated or counter-mode AES only: no CBC (padding-oracle history), no 3DES."""

MODERN_MACS: Final = (
    "hmac-sha2-256-etm@openssh.com",
    "hmac-sha2-512-etm@openssh.com",
    "hmac-sha2-256",
    "hmac-sha2-512",
)
"""SHA-2 MACs only, encrypt-then-MAC first: no SHA-1, no MD5, no truncated MACs."""

MODERN_KEX: Final = (
    "mlkem768x25519-sha256",
    "curve25519-sha256@libssh.org",
    "ecdh-sha2-nistp256",
    "ecdh-sha2-nistp384",
    "ecdh-sha2-nistp521",
    "diffie-hellman-group16-sha512",
)
"""Elliptic-curve or hybrid post-quantum exchange, or a 4096-bit fixed group: no SHA-1 groups,
no group exchange (paramiko accepts 1024-bit moduli there)."""

_HOST_KEY_ALGORITHMS: Final = {
    "ssh-ed25519": ("ssh-ed25519",),
    "ecdsa-sha2-nistp256": ("ecdsa-sha2-nistp256",),
    "ecdsa-sha2-nistp384": ("ecdsa-sha2-nistp384",),
    "ecdsa-sha2-nistp521": ("ecdsa-sha2-nistp521",),
    "ssh-rsa": ("rsa-sha2-512", "rsa-sha2-256"),
}
"""Signature algorithms we accept for each pinned key type (RSA only with SHA-2 signatures)."""

_WINDOW: Final = 8 * 1024 * 1024
"""SSH channel window: enough requests in flight to keep a fast link busy."""


def create_ssh_key(path: Path, *, comment: str = "linkwell") -> str:
    """Make an Ed25519 SSH key at ``path`` (0600) and ``path.pub``; return the public line.

    For a party's SFTP login the public line is what it gives the server operator to authorize;
    for a server it is the host key every project file pins. The private key is not
    passphrase-protected (transfers run unattended), so it must stay with its owner (a party's
    workspace). An existing key is never replaced.
    """
    public_file = path.with_name(path.name + ".pub")
    for existing in (path, public_file):
        if existing.exists():
            raise ConfigError(
                "an SSH key is already there",
                file=existing,
                hint="use that key, or move it away first: a key is never overwritten",
            )
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    line = " ".join([public.decode("ascii"), *comment.split()])
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_bytes_atomic(path, private, mode=0o600)
    write_bytes_atomic(public_file, (line + "\n").encode("ascii"), mode=0o644)
    return line


def load_ssh_key(path: Path, passphrase: str | None = None) -> paramiko.PKey:
    """Read a party's SFTP private key (OpenSSH or PEM format), refusing one others can read."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError as exc:
        raise ConfigError(
            "the SFTP key file does not exist",
            file=path,
            field="sftp_key_file",
            hint="set sftp_key_file in the workspace file to the party's private key",
        ) from exc
    if mode & 0o077:
        raise ConfigError(
            "the SFTP key file can be read by other users",
            file=path,
            field="sftp_key_file",
            hint=f"make it private: chmod 600 {path}",
        )
    try:
        return paramiko.PKey.from_path(path, passphrase)
    except paramiko.PasswordRequiredException as exc:
        raise ConfigError(
            "the SFTP key file is encrypted and no passphrase was given",
            file=path,
            field="sftp_key_file",
            hint="give the key's passphrase",
        ) from exc
    except (paramiko.SSHException, ValueError, OSError) as exc:
        raise ConfigError(
            "the SFTP key file cannot be read as a private key (or its passphrase is wrong)",
            file=path,
            field="sftp_key_file",
            hint="use an OpenSSH private key, e.g. made by 'ssh-keygen -t ed25519'",
        ) from exc


class PinnedHostKey:
    """The host key from the project file, parsed once."""

    def __init__(self, text: str) -> None:
        kind, _, rest = text.strip().partition(" ")
        blob_text = rest.split(" ", 1)[0]
        try:
            self.blob = base64.b64decode(blob_text, validate=True)
        except binascii.Error as exc:
            raise ConfigError(
                "the pinned host key is not valid base64",
                field="transport.host_key",
                hint="copy the server's public host key line, e.g. from ssh_host_ed25519_key.pub",
            ) from exc
        if kind not in _HOST_KEY_ALGORITHMS:
            raise ConfigError("unsupported host key type", field="transport.host_key")
        self.kind = kind
        self.algorithms = _HOST_KEY_ALGORITHMS[kind]

    def matches(self, key: paramiko.PKey) -> bool:
        """Whether ``key`` is exactly the pinned key (type and public key bytes)."""
        return key.get_name() == self.kind and key.asbytes() == self.blob


class SshSession:
    """One authenticated connection with its SFTP channel and the server's read size."""

    def __init__(self, transport: paramiko.Transport, sftp: PipelinedSftpClient) -> None:
        self.transport = transport
        self.sftp = sftp
        self.read_size = sftp.max_read_size()

    def alive(self) -> bool:
        """Whether the connection and its SFTP channel are both still open."""
        channel = self.sftp.get_channel()
        return self.transport.is_active() and channel is not None and not channel.closed

    def close(self) -> None:
        """Close the channel and the connection."""
        try:
            self.sftp.close()
        finally:
            self.transport.close()


def open_session(
    server: SftpTransport, endpoint: SftpEndpoint, key: paramiko.PKey, *, timeout: float
) -> SshSession:
    """Connect, check the host key against the pin, log in and open the SFTP channel.

    Failures that no retry can mend (host key, algorithms, login, unknown host name) raise
    linkwell errors; a refused or dropped connection raises the socket or paramiko error, which
    the caller may retry.
    """
    pin = PinnedHostKey(server.host_key)
    try:
        sock = socket.create_connection((server.host, server.port), timeout=timeout)
    except socket.gaierror as exc:
        raise TransferError(
            "the SFTP server's name cannot be resolved",
            field="transport.host",
            hint="check the host name in the project file and the network",
        ) from exc
    transport = paramiko.Transport(sock, default_window_size=_WINDOW)
    try:
        _restrict(transport, pin)
        transport.start_client(timeout=timeout)
        _check_host_key(transport, pin)
        transport.auth_publickey(endpoint.user, key)
        sftp = _open_sftp(transport, timeout)
    except IncompatiblePeer as exc:
        transport.close()
        raise _incompatible(exc, pin) from exc
    except AuthenticationException as exc:
        transport.close()
        raise TransferError(
            "the SFTP server refused the login",
            field="parties.sftp.user",
            hint="check the party's sftp user in the project file and the workspace's "
            "sftp_key_file; the server operator must hold the key's public half",
        ) from exc
    except BaseException:
        transport.close()
        raise
    return SshSession(transport, sftp)


def _restrict(transport: paramiko.Transport, pin: PinnedHostKey) -> None:
    """Offer modern algorithms only, and only the pinned host key's signature algorithms."""
    options = transport.get_security_options()
    options.ciphers = tuple(c for c in MODERN_CIPHERS if c in options.ciphers)
    options.digests = tuple(m for m in MODERN_MACS if m in options.digests)
    options.kex = tuple(k for k in MODERN_KEX if k in options.kex)
    options.key_types = pin.algorithms
    options.compression = ("none",)


def _check_host_key(transport: paramiko.Transport, pin: PinnedHostKey) -> None:
    if not pin.matches(transport.get_remote_server_key()):
        raise HostKeyError(
            "the SFTP server's host key is not the one pinned in the project file",
            field="transport.host_key",
            hint="do not connect: this may be another machine. If the server's key really "
            "changed, confirm the new key with its operator and update the project file",
        )


def _incompatible(exc: IncompatiblePeer, pin: PinnedHostKey) -> TransportError:
    if "host key" in str(exc):
        return HostKeyError(
            f"the SFTP server does not offer a {pin.kind} host key, as pinned",
            field="transport.host_key",
            hint="the server's host key changed or this is another machine; confirm the key "
            "with the server operator before updating the project file",
        )
    return TransferError(
        "the SFTP server offers no modern algorithm this client accepts "
        "(AES-GCM/CTR, SHA-2 MACs, curve25519/ECDH key exchange)",
        field="transport",
        hint="ask the server operator to enable modern SSH algorithms",
    )


def _open_sftp(transport: paramiko.Transport, timeout: float) -> PipelinedSftpClient:
    """Open the SFTP channel on an authenticated connection, with a read timeout."""
    sftp = PipelinedSftpClient.from_transport(transport, window_size=_WINDOW)
    channel = None if sftp is None else sftp.get_channel()
    if sftp is None or channel is None:
        raise paramiko.SSHException("the server opened no SFTP channel")
    channel.settimeout(timeout)
    return sftp
