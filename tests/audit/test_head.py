from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from linkwell.audit import LogHead, public_key_from_text, public_key_text, sign_head, verify_head
from linkwell.errors import AuditError, ConfigError

HEAD = LogHead(party="nrs", sequence=7, entry_hash="ab" * 32, time=datetime(2026, 1, 2, tzinfo=UTC))


def test_sign_and_verify_round_trip() -> None:
    key = Ed25519PrivateKey.generate()
    signed = sign_head(HEAD, key)
    verify_head(signed, public_key_text(key.public_key()))
    assert public_key_text(public_key_from_text(signed.signer)) == signed.signer


def test_altered_head_or_wrong_signer_is_refused() -> None:
    key = Ed25519PrivateKey.generate()
    signed = sign_head(HEAD, key)
    altered = signed.model_copy(update={"head": HEAD.model_copy(update={"sequence": 6})})
    with pytest.raises(AuditError, match="bad signature"):
        verify_head(altered, signed.signer)
    other = public_key_text(Ed25519PrivateKey.generate().public_key())
    with pytest.raises(AuditError, match="unexpected key"):
        verify_head(signed, other)


def test_known_answer_for_the_signed_bytes() -> None:
    # Pins the canonical encoding: a change here breaks every witness other parties hold.
    assert HEAD.canonical() == (
        b'linkwell/audit-head/v1\n{"entry_hash":"' + b"ab" * 32
        + b'","party":"nrs","sequence":7,"time":"2026-01-02T00:00:00Z"}'
    )  # fmt: skip


@pytest.mark.parametrize("text", ["ed25519:", "rsa:AAAA", "ed25519:@@@@"])
def test_malformed_public_key_is_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError):
        public_key_from_text(text)
