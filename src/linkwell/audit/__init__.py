"""Tamper-evident audit logs: one hash-chained, append-only log per party, with signed heads."""

from linkwell.audit.head import (
    LogHead,
    SignedHead,
    public_key_from_text,
    public_key_text,
    sign_head,
    verify_head,
)

__all__ = [
    "LogHead",
    "SignedHead",
    "public_key_from_text",
    "public_key_text",
    "sign_head",
    "verify_head",
]
