"""Fuzzing audit logs and the files a verifier is given: damaged bytes, edited entries, heads.

An audit log is read by its own party (to append), by verifiers who received it from elsewhere,
and by ``repair``; witness and signer files come from other parties. Whatever they hold, every
reader ends in its answer or in a ``LinkwellError``, a refused append or repair leaves the log as
it was, and a log that was changed never verifies as intact.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from linkwell.audit import (
    AuditAction,
    AuditLog,
    CountName,
    LogHead,
    PackageRef,
    load_witnesses,
    public_key_text,
    read_log,
    repair_log,
    sign_head,
    signing_keys,
    verify_log,
)
from linkwell.config import Role
from tests.audit.attacker import FixedClock
from tests.fuzzing import BUDGETS, Folders, budget, edited_document, json_bytes, judge, mutated

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
SIGNER = public_key_text(KEY.public_key())


def _seed(folder: Path) -> tuple[bytes, str]:
    """A genuine log with entries of every shape, and the JSON of its last signed head."""
    log = AuditLog(
        folder / "seed.log", party="nrs", signing_key=KEY, checkpoint_every=3, clock=FixedClock()
    )
    log.append(AuditAction.VALIDATED, counts={CountName.ROWS_IN: 10, CountName.ROWS_VALID: 9})
    log.append(
        AuditAction.RECEIVED,
        peer_role=Role.SURVEY_PROVIDER,
        packages=[PackageRef(id="ab" * 16, sha256="cd" * 32)],
    )
    head = log.checkpoint()
    log.append(AuditAction.OPENED, packages=[PackageRef(id="ab" * 16)], config_digest="ef" * 32)
    return (folder / "seed.log").read_bytes(), head.model_dump_json()


@pytest.fixture
def seed(tmp_path: Path) -> tuple[bytes, str]:
    return _seed(tmp_path)


def _edited_lines(data: bytes) -> st.SearchStrategy[bytes]:
    """The log with one entry's JSON edited (the hash chain is not redone: a clumsy forger)."""
    lines = data.splitlines(keepends=True)

    @st.composite
    def edit(draw: st.DrawFn) -> bytes:
        index = draw(st.integers(0, len(lines) - 1))
        document = json.loads(lines[index])
        changed = json_bytes(draw(edited_document(document))) + b"\n"
        return b"".join([*lines[:index], changed, *lines[index + 1 :]])

    return edit()


def _log_inputs(seed: bytes) -> st.SearchStrategy[bytes]:
    return mutated(seed) | _edited_lines(seed) | st.binary(max_size=300)


@pytest.mark.parametrize("long", BUDGETS)
def test_verifying_and_reading_damaged_logs(
    seed: tuple[bytes, str], tmp_path: Path, long: bool
) -> None:
    data, head = seed
    witness = sign_head(read_log_head(tmp_path), KEY)
    folders = Folders(tmp_path / "examples")

    @budget(80, long=long)
    @given(_log_inputs(data))
    def run(log_bytes: bytes) -> None:
        folder = folders()
        path = folder / "nrs.log"
        path.write_bytes(log_bytes)
        reports = []
        judge(
            lambda: reports.append(verify_log(path, signer=SIGNER, witnessed=[witness])),
            outputs=folder,
        )
        judge(lambda: read_log(path), outputs=folder)
        if reports and reports[0].ok:
            assert log_bytes == data, "a changed log verified as intact"

    run()
    assert head


def read_log_head(folder: Path) -> LogHead:
    """The seed log's last entry as a head (what a recipient of its last package holds)."""
    return AuditLog(folder / "seed.log", party="nrs", signing_key=KEY).head()


@pytest.mark.parametrize("long", BUDGETS)
def test_writing_to_and_repairing_damaged_logs(
    seed: tuple[bytes, str], tmp_path: Path, long: bool
) -> None:
    """The party's own writes: refused on a damaged log without changing a byte of it."""
    data, _head = seed
    folders = Folders(tmp_path / "examples")

    @budget(60, long=long)
    @given(_log_inputs(data), st.sampled_from(["append", "checkpoint", "recorded", "repair"]))
    def run(log_bytes: bytes, action: str) -> None:
        folder = folders()
        path = folder / "nrs.log"
        path.write_bytes(log_bytes)
        log = AuditLog(path, party="nrs", signing_key=KEY, clock=FixedClock())
        calls = {
            "append": lambda: log.append(AuditAction.SENT, packages=[PackageRef(id="ef" * 16)]),
            "checkpoint": log.checkpoint,
            "recorded": lambda: log.recorded(AuditAction.OPENED, "ab" * 16),
            "repair": lambda: repair_log(path, clock=FixedClock()),
        }
        judge(calls[action], outputs=folder)

    run()


@pytest.mark.parametrize("long", BUDGETS)
def test_witness_files(seed: tuple[bytes, str], tmp_path: Path, long: bool) -> None:
    _data, head = seed
    folders = Folders(tmp_path / "examples")
    document = json.loads(head)

    @budget(60, long=long)
    @given(
        mutated(head.encode())
        | edited_document(document).map(json_bytes)
        | edited_document([document, document]).map(json_bytes)
    )
    def run(data: bytes) -> None:
        folder = folders()
        path = folder / "witness.json"
        path.write_bytes(data)
        judge(lambda: load_witnesses(path), outputs=folder, file=path)

    run()


@pytest.mark.parametrize("long", BUDGETS)
def test_signer_files(tmp_path: Path, long: bool) -> None:
    folders = Folders(tmp_path / "examples")
    card = f'[[parties.identities]]\nsigning_key = "{SIGNER}"\n'.encode()

    @budget(60, long=long)
    @given(mutated(card) | mutated(SIGNER.encode()) | st.binary(max_size=100), st.booleans())
    def run(data: bytes, named: bool) -> None:
        folder = folders()
        path = folder / "signer.toml"
        path.write_bytes(data)
        judge(lambda: signing_keys(str(path), party="nrs" if named else None), outputs=folder)

    run()
