"""HMAC-SHA256 of survey IDs, computed inside the engine over whole columns.

The vault stores a survey ID only as HMAC-SHA256 under a key that never leaves the indexer's
protected secrets, so a copy of the vault tables alone cannot be brute-forced over the 9-digit ID
space. DuckDB has SHA-256 but no HMAC, so this module applies the standard RFC 2104 construction
— ``H((K ^ opad) || H((K ^ ipad) || m))`` — with the padded key blocks bound as parameters. It is
checked against Python's :mod:`hmac` and the RFC 4231 test vectors; no primitive is new.
"""

from __future__ import annotations

from typing import Final

__all__ = ["HMAC_KEY_BYTES", "hmac_pads", "hmac_sha256_sql"]

HMAC_KEY_BYTES: Final = 32
_BLOCK: Final = 64  # SHA-256 block size in bytes


def hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    """The inner and outer padded key blocks of RFC 2104 for a key of at most one block."""
    if not 0 < len(key) <= _BLOCK:
        msg = "HMAC key must be 1 to 64 bytes"
        raise ValueError(msg)
    block = key.ljust(_BLOCK, b"\x00")
    return bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block)


def hmac_sha256_sql(
    message_expr: str, *, inner: str = "$hmac_inner", outer: str = "$hmac_outer"
) -> str:
    """SQL for the raw 32-byte HMAC (BLOB) of a VARCHAR expression, taken as its UTF-8 bytes.

    ``inner`` and ``outer`` name the bound parameters holding :func:`hmac_pads`' blocks.
    """
    return f"unhex(sha256({outer} || unhex(sha256({inner} || encode({message_expr})))))"
