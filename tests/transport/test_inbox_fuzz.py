"""Fuzzing what lands in an inbox: digest files and package files, damaged or made up.

Anyone who can write to the transfer folder or server controls these bytes. Whatever they are,
receiving ends in accepting only the genuine package (through the seal layer's check), or in
quarantining with a reason, or in a ``LinkwellError``; never in another exception.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from linkwell.seal import PackageKind, inspect_package, new_identity, seal_package
from linkwell.transport import FolderMailbox, ReceiveDirs, receive_from
from linkwell.transport.base import format_digest_file, parse_digest_file
from tests.fuzzing import BUDGETS, Folders, budget, judge, mutated
from tests.seal.conftest import DATASET, NOW, ROLES, World, write_payload

NAME = "0123456789abcdef0123456789abcdef.lwp"


@pytest.mark.parametrize("long", BUDGETS)
def test_digest_files(long: bool) -> None:
    seed = format_digest_file(NAME, "ab" * 32)

    @budget(300, long=long)
    @given(mutated(seed) | st.binary(max_size=120), st.sampled_from([NAME, "x.lwp", ""]))
    def run(data: bytes, name: str) -> None:
        results = []
        judge(lambda: results.append(parse_digest_file(data, name)))
        (digest,) = results
        assert digest is None or re.fullmatch(r"[0-9a-f]{64}", digest)
        if digest is not None:
            assert data == f"{digest}  {name}\n".encode()

    run()


@pytest.mark.parametrize("long", BUDGETS)
def test_what_lands_in_an_inbox(tmp_path: Path, long: bool) -> None:
    world = World({name: [new_identity(name, role)] for name, role in ROLES.items()})
    payload = write_payload(tmp_path / "payload.parquet", rows=20)
    genuine = tmp_path / "genuine.lwp"
    manifest = seal_package(
        payload,
        project=world.project,
        sender=world.me("ipsos"),
        recipient="edris",
        kind=PackageKind.CONTENT,
        source="secondary",
        dataset=DATASET,
        parents=(),
        log_head=None,
        dest=genuine,
        now=NOW,
    )
    name = f"{manifest.package_id}.lwp"
    package = genuine.read_bytes()
    digest = format_digest_file(name, hashlib.sha256(package).hexdigest())
    folders = Folders(tmp_path / "examples")

    def accept(path: Path) -> str:
        return inspect_package(path, project=world.project).package_id

    @budget(40, long=long)
    @given(
        st.just(package) | mutated(package),
        st.just(digest) | mutated(digest) | st.none(),
        st.booleans(),
    )
    def run(data: bytes, digest_file: bytes | None, own_digest: bool) -> None:
        folder = folders()
        inbox = folder / "shared" / "edris" / "inbox"
        inbox.mkdir(parents=True)
        (inbox / name).write_bytes(data)
        if own_digest:  # an intruder who rewrote the package fixed its digest too
            digest_file = format_digest_file(name, hashlib.sha256(data).hexdigest())
        if digest_file is not None:
            (inbox / f"{name}.sha256").write_bytes(digest_file)
        dirs = ReceiveDirs.under(folder / "workspace")
        reports = []
        mailbox = FolderMailbox(folder / "shared", "edris")
        judge(lambda: reports.append(receive_from(mailbox, dirs=dirs, accept=accept)))
        if not reports:
            return
        accepted = sorted(p.name for p in dirs.accepted.iterdir())
        assert accepted in ([], [name])
        if accepted:  # only ever the genuine package
            assert (dirs.accepted / name).read_bytes() == package
        if data == package and digest_file == digest:  # and the genuine one always
            assert accepted == [name]

    run()
