"""Two processes of one party appending at once produce one valid chain, every entry kept."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from linkwell.audit import AuditAction, CountName, public_key_text, read_log, verify_log
from linkwell.config import Role

SEED = bytes(range(32))
PER_WRITER = 60

WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from linkwell.audit import AuditAction, AuditLog, CountName
    from linkwell.config import Role

    path, go = Path(sys.argv[1]), Path(sys.argv[2])
    role, count = Role(sys.argv[3]), int(sys.argv[4])
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    log = AuditLog(path, party="nrs", signing_key=key, checkpoint_every=5)
    while not go.exists():  # start both writers at the same moment
        time.sleep(0.001)
    for number in range(count):
        log.append(AuditAction.SENT, peer_role=role, counts={CountName.ROWS: number})
        if number % 17 == 0:
            log.checkpoint()
    """
)


def test_two_processes_appending_at_once_keep_one_valid_chain(tmp_path: Path) -> None:
    path = tmp_path / "nrs.log"
    go = tmp_path / "go"
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(go), role.value, str(PER_WRITER)],
            stderr=subprocess.PIPE,
        )
        for role in (Role.INDEXER, Role.LINKER)
    ]
    go.touch()
    for writer in writers:
        _, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err.decode()

    signer = public_key_text(Ed25519PrivateKey.from_private_bytes(SEED).public_key())
    report = verify_log(path, signer=signer)
    assert report.ok, report.issues

    entries = [line.entry for line in read_log(path) if line.entry is not None]
    assert [entry.sequence for entry in entries] == list(range(len(entries)))
    for role in (Role.INDEXER, Role.LINKER):
        mine = [e.counts[CountName.ROWS] for e in entries if e.peer_role is role]
        assert mine == list(range(PER_WRITER)), f"{role} lost or reordered entries"
    sent = sum(entry.action is AuditAction.SENT for entry in entries)
    assert sent == 2 * PER_WRITER
