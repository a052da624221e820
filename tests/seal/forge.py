"""Tools for the adversarial tests: take packages apart and forge new ones with real crypto.

An attacker does not use :func:`~linkwell.seal.seal_package`, so these helpers write packages
directly with the layout and signing functions: a registered insider with a modified linkwell
(any route, any digest), or an outsider with only public keys.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from linkwell.seal import Manifest
from linkwell.seal._layout import FOOTER_LENGTH, HEADER, trailer
from linkwell.seal.manifest import decode_manifest, encode_signature, sign_manifest

SIGNATURE_PART = 90  # "\n" + 88 characters of base64 + "\n"


def split(package: Path) -> tuple[bytes, Manifest, bytes]:
    """The ciphertext, manifest and signature text of a genuine package."""
    data = package.read_bytes()
    footer = data[-FOOTER_LENGTH:]
    ciphertext_size, manifest_size = int(footer[28:48]), int(footer[58:66])
    ciphertext = data[len(HEADER) : len(HEADER) + ciphertext_size]
    manifest_bytes = data[len(HEADER) + ciphertext_size :][:manifest_size]
    signature = data[-FOOTER_LENGTH - SIGNATURE_PART + 1 : -FOOTER_LENGTH - 1]
    return ciphertext, decode_manifest(manifest_bytes), signature


def write_package(dest: Path, ciphertext: bytes, manifest: Manifest, signature_text: bytes) -> Path:
    dest.write_bytes(
        HEADER + ciphertext + trailer(manifest.canonical(), signature_text, len(ciphertext))
    )
    return dest


def forge(
    dest: Path,
    *,
    ciphertext: bytes,
    manifest: Manifest,
    key: Ed25519PrivateKey,
    **updates: Any,
) -> Path:
    """Write ``ciphertext`` with ``manifest`` (updated, digests made to match) signed by ``key``."""
    fields = {
        **manifest.model_dump(),
        "ciphertext_sha256": hashlib.sha256(ciphertext).hexdigest(),
        "ciphertext_size": len(ciphertext),
        **updates,
    }
    forged = Manifest.model_validate(fields)
    return write_package(dest, ciphertext, forged, encode_signature(sign_manifest(forged, key)))


def reforge(package: Path, dest: Path, *, key: Ed25519PrivateKey, **updates: Any) -> Path:
    """Re-sign a genuine package's manifest with ``updates`` applied (``ciphertext=`` too)."""
    ciphertext, manifest, _ = split(package)
    ciphertext = updates.pop("ciphertext", ciphertext)
    return forge(dest, ciphertext=ciphertext, manifest=manifest, key=key, **updates)
