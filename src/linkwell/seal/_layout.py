r"""The byte layout of a package file (format 1), written in one pass and read from both ends.

::

    header      "linkwell-package/v1\n"                              20 bytes
    payload     the age v1 binary ciphertext of the Parquet payload   C bytes
    manifest    canonical JSON (ASCII)                                M bytes
    "\n" signature (base64 of the 64-byte Ed25519 signature) "\n"    90 bytes
    footer      "linkwell-package/v1 payload=<C, 20 digits> manifest=<M, 8 digits>\n"

The manifest follows the ciphertext so that sealing is a single streaming pass (its digest is
known only at the end); the fixed-size footer locates it, and the file's size must be exactly
the sum of the parts, so a missing or an extra byte anywhere is refused before anything else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from linkwell.errors import PackageFormatError
from linkwell.seal._stream import read_exact
from linkwell.seal.manifest import FORMAT_VERSION, MAX_MANIFEST_BYTES, SIGNATURE_TEXT_LENGTH

__all__ = ["FOOTER_LENGTH", "HEADER", "Layout", "footer", "read_layout", "trailer"]

HEADER: Final = b"linkwell-package/v1\n"
_ANY_HEADER: Final = re.compile(rb"linkwell-package/v(\d{1,9})\n")
_FOOTER: Final = re.compile(rb"linkwell-package/v1 payload=(\d{20}) manifest=(\d{8})\n")
_HINT: Final = "the package is damaged or incomplete; fetch it again or ask the sender to resend it"


def footer(ciphertext_size: int, manifest_size: int) -> bytes:
    """The fixed-size last line of a package."""
    return b"linkwell-package/v1 payload=%020d manifest=%08d\n" % (ciphertext_size, manifest_size)


FOOTER_LENGTH: Final = len(footer(0, 0))
_FIXED: Final = len(HEADER) + 1 + SIGNATURE_TEXT_LENGTH + 1 + FOOTER_LENGTH


def trailer(manifest: bytes, signature_text: bytes, ciphertext_size: int) -> bytes:
    """Everything after the ciphertext: manifest, signature and footer."""
    return (
        manifest + b"\n" + signature_text + b"\n" + footer(ciphertext_size, len(manifest))
    )  # fmt: skip


@dataclass(frozen=True)
class Layout:
    """Where each part of a package lies, and the manifest and signature bytes themselves."""

    ciphertext_offset: int
    ciphertext_size: int
    manifest: bytes
    signature_text: bytes


def read_layout(fd: int, size: int, *, file: str | Path) -> Layout:
    """Check the header, footer and exact size of the package open as ``fd``; return its parts."""
    head = read_exact(fd, min(size, 32), 0)
    if not head.startswith(HEADER):
        other = _ANY_HEADER.match(head)
        if other:
            raise PackageFormatError(
                f"the package is of format version {int(other[1])}; "
                f"this release of linkwell reads version {FORMAT_VERSION} only",
                file=file,
                hint="open it with a linkwell release that knows that version",
            )
        raise PackageFormatError(
            "this is not a linkwell package (its first line is wrong)", file=file, hint=_HINT
        )
    if size < _FIXED:
        raise PackageFormatError("the package is too short to be whole", file=file, hint=_HINT)
    match = _FOOTER.fullmatch(read_exact(fd, FOOTER_LENGTH, size - FOOTER_LENGTH))
    if match is None:
        raise PackageFormatError(
            "the package's last line is missing or wrong: it is truncated or has bytes appended",
            file=file,
            hint=_HINT,
        )
    ciphertext_size, manifest_size = int(match[1]), int(match[2])
    if manifest_size > MAX_MANIFEST_BYTES:
        raise PackageFormatError("the manifest is larger than allowed", file=file, hint=_HINT)
    expected = _FIXED + ciphertext_size + manifest_size
    if expected != size:
        what = "bytes are missing" if size < expected else "it has extra bytes"
        raise PackageFormatError(
            f"the package's size does not add up: {what}", file=file, hint=_HINT
        )
    manifest_offset = len(HEADER) + ciphertext_size
    rest = read_exact(fd, manifest_size + 2 + SIGNATURE_TEXT_LENGTH, manifest_offset)
    manifest, separator, signature_text, end = (
        rest[:manifest_size],
        rest[manifest_size : manifest_size + 1],
        rest[manifest_size + 1 : -1],
        rest[-1:],
    )
    if separator != b"\n" or end != b"\n":
        raise PackageFormatError(
            "the package's manifest and signature are not where they belong", file=file, hint=_HINT
        )
    return Layout(len(HEADER), ciphertext_size, manifest, signature_text)
