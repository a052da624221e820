"""A committed log, made with a committed test-only key, pins the on-disk format byte for byte.

Other parties and auditors keep these files for years: a change to the encoding, the hash or the
signing must be a deliberate new format version, never a side effect. To write a new golden
file for a new format version: ``python -m tests.audit.test_golden <path>``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from linkwell.audit import (
    AuditAction,
    AuditDetail,
    AuditLog,
    CountName,
    DigestRef,
    DigestSubject,
    PackageRef,
    public_key_text,
    repair_log,
    verify_log,
)
from linkwell.config import Role
from tests.audit.attacker import FixedClock

GOLDEN = Path(__file__).with_name("golden") / "nrs-format-1.log"
# Test-only key: the 32 bytes 0..31. Never use a key from a test anywhere else.
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
SIGNER = "ed25519:A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="


def make_golden(path: Path) -> None:
    """The same steps, with the same key and clock, always give the same bytes (Ed25519 is
    deterministic)."""
    clock = FixedClock()
    log = AuditLog(path, party="nrs", signing_key=KEY, checkpoint_every=3, clock=clock)
    config = "c0" * 32
    log.append(
        AuditAction.RECEIVED,
        peer_role=Role.SURVEY_PROVIDER,
        packages=[PackageRef(id="11" * 16, sha256="a1" * 32)],
        config_digest=config,
    )
    log.append(
        AuditAction.OPENED,
        peer_role=Role.SURVEY_PROVIDER,
        packages=[PackageRef(id="11" * 16, sha256="a1" * 32)],
        digests=[DigestRef(subject=DigestSubject.PLAINTEXT, sha256="b1" * 32)],
        counts={CountName.ROWS: 25_000, CountName.COLUMNS: 2},
        config_digest=config,
    )
    log.append(
        AuditAction.REFUSED,
        detail=AuditDetail.REPLAY,
        peer_role=Role.AUTHORITY_PROVIDER,
        packages=[PackageRef(id="22" * 16)],
    )
    log.append(
        AuditAction.MATCHED,
        counts={CountName.MATCHED: 19_870, CountName.UNMATCHED: 130, CountName.DUPLICATES: 0},
        config_digest=config,
    )
    log.append(
        AuditAction.VAULT_UPDATED,
        digests=[DigestRef(subject=DigestSubject.VAULT, sha256="d1" * 32)],
        counts={CountName.LINK_IDS_NEW: 19_870, CountName.LINK_IDS_REUSED: 0},
    )
    log.checkpoint()
    with path.open("ab") as handle:
        handle.write(b'{"action":"key-iss')  # an interrupted write ...
    repair_log(path, clock=clock)  # ... cut off, with a record
    log.append(
        AuditAction.KEY_ISSUED,
        peer_role=Role.LINKER,
        packages=[PackageRef(id="33" * 16, sha256="e1" * 32)],
        counts={CountName.ROWS: 39_740},
        config_digest=config,
    )


def test_the_golden_key_is_the_committed_one() -> None:
    assert public_key_text(KEY.public_key()) == SIGNER


def test_the_golden_log_still_verifies() -> None:
    report = verify_log(GOLDEN, signer=SIGNER)
    assert report.ok, report.issues
    assert report.repairs == 1
    assert report.checkpoints == 3


def test_the_same_steps_still_write_the_same_bytes(tmp_path: Path) -> None:
    path = tmp_path / "nrs.log"
    make_golden(path)
    assert path.read_bytes() == GOLDEN.read_bytes()


if __name__ == "__main__":
    make_golden(Path(sys.argv[1]))
