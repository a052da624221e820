"""A stand-in for the seal layer's receipt check, good enough to catch what transport must not pass.

A fake package is ``MAGIC + package id (32 bytes) + payload + HMAC-SHA256(key, id + payload)``.
:class:`FakeAcceptor` is the ``accept`` callable: it verifies the tag (so any alteration that a
consistent digest file would hide is still refused), refuses replays of an id, and records every
call with what the accepted folder held at that moment.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from linkwell.errors import PackageFormatError, ReplayError, SignatureError

MAGIC = b"LWPFAKE1"
KEY = b"test-only-key-for-the-fake-seal"


def new_package_id() -> str:
    return secrets.token_hex(16)


def make_package(folder: Path, size: int, *, package_id: str | None = None) -> Path:
    """Write a fake sealed package of about ``size`` payload bytes; return its path."""
    package_id = package_id or new_package_id()
    payload = os.urandom(size)
    ident = package_id.encode().ljust(32, b"\0")
    tag = hmac.new(KEY, ident + payload, hashlib.sha256).digest()
    path = folder / f"{package_id}.lwp"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_bytes(MAGIC + ident + payload + tag)
    return path


def read_id(path: Path) -> str:
    data = path.read_bytes()
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + 64:
        raise PackageFormatError("not a package", file=path)
    ident, payload, tag = data[8:40], data[40:-32], data[-32:]
    if not hmac.compare_digest(tag, hmac.new(KEY, ident + payload, hashlib.sha256).digest()):
        raise SignatureError("the signature does not verify", file=path)
    return ident.rstrip(b"\0").decode()


@dataclass
class FakeAcceptor:
    """The ``accept`` callable; ``accepted_dir`` is checked to show accept runs before the move."""

    accepted_dir: Path | None = None
    seen: set[str] = field(default_factory=set)
    calls: list[tuple[Path, bool]] = field(default_factory=list)

    def __call__(self, path: Path) -> str:
        in_accepted = self.accepted_dir is not None and (self.accepted_dir / path.name).exists()
        self.calls.append((path, in_accepted))
        package_id = read_id(path)
        if package_id in self.seen:
            raise ReplayError("already received", file=path)
        self.seen.add(package_id)
        return package_id
