"""The read-ahead and write-behind threads: exact bytes and digests, errors surface, no hangs."""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkwell.errors import StorageError
from linkwell.fileio import start_writeback
from linkwell.seal import PackageKind, ReceiptLedger, open_package
from linkwell.seal._stream import (
    BLOCK_SIZE,
    HashingWriter,
    ReadAhead,
    RegionReader,
    ShortFileError,
    hash_region,
)
from tests.seal.conftest import NOW, Sealer, World, listing


class Counter:
    def __init__(self) -> None:
        self.total = 0.0

    def advance(self, amount: float = 1) -> None:
        self.total += amount


DATA = os.urandom(3 * BLOCK_SIZE + 12345)


def _drain(reader: ReadAhead) -> None:
    while reader.read(65536):
        pass


def _fill(writer: HashingWriter, blocks: int) -> None:
    for _ in range(blocks):
        writer.write(b"x" * BLOCK_SIZE)
    writer.finish()


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "source.bin"
    path.write_bytes(DATA)
    return path


@settings(max_examples=25)
@given(
    offset=st.integers(0, 1000),
    length=st.integers(0, len(DATA) - 1000),
    sizes=st.lists(st.sampled_from([-1, 1, 7, 8192, 65536, BLOCK_SIZE + 3]), min_size=1),
)
def test_read_ahead_returns_exactly_the_region(
    source: Path, offset: int, length: int, sizes: list[int]
) -> None:
    fd = os.open(source, os.O_RDONLY)
    try:
        task = Counter()
        with ReadAhead(fd, offset, length, task=task) as reader:
            parts, n = [], 0
            while chunk := reader.read(sizes[n % len(sizes)]):
                parts.append(chunk)
                n += 1
            assert reader.complete
            assert reader.read() == b""
        expected = DATA[offset : offset + length]
        assert b"".join(parts) == expected
        assert reader.hexdigest() == hashlib.sha256(expected).hexdigest()
        assert task.total == length
        assert hash_region(fd, offset, length, Counter()) == reader.hexdigest()
    finally:
        os.close(fd)


def test_read_ahead_reports_a_file_that_ended_early(source: Path) -> None:
    fd = os.open(source, os.O_RDONLY)
    try:
        with ReadAhead(fd, 0, len(DATA) + 10, task=Counter()) as reader:
            with pytest.raises(ShortFileError):
                _drain(reader)
            assert isinstance(reader.error, ShortFileError)
        with pytest.raises(ShortFileError):
            hash_region(fd, 0, len(DATA) + 1, Counter())
    finally:
        os.close(fd)


def test_abandoned_read_ahead_stops(source: Path) -> None:
    fd = os.open(source, os.O_RDONLY)
    try:
        with ReadAhead(fd, 0, len(DATA), task=Counter()) as reader:
            reader.read(10)  # the consumer gives up with blocks still queued
        assert not reader._thread.is_alive()
    finally:
        os.close(fd)


@settings(max_examples=25)
@given(
    offset=st.integers(0, 1000),
    length=st.integers(0, len(DATA) - 1000),
    sizes=st.lists(st.sampled_from([-1, 1, 8192, BLOCK_SIZE + 3]), min_size=1),
)
def test_region_reader_returns_exactly_the_region(
    source: Path, offset: int, length: int, sizes: list[int]
) -> None:
    fd = os.open(source, os.O_RDONLY)
    try:
        task = Counter()
        reader = RegionReader(fd, offset, length, task=task)
        parts, n = [], 0
        while chunk := reader.read(sizes[n % len(sizes)]):
            parts.append(chunk)
            n += 1
        assert b"".join(parts) == DATA[offset : offset + length]
        assert task.total == length
        assert reader.error is None
        short = RegionReader(fd, len(DATA) - 10, 20, task=Counter())
        with pytest.raises(ShortFileError):
            short.read()
        assert isinstance(short.error, ShortFileError)
    finally:
        os.close(fd)


@settings(max_examples=25, deadline=None)
@given(
    offset=st.integers(0, 1000),
    sizes=st.lists(
        st.sampled_from([1, 7, 8192, 65552, BLOCK_SIZE - 1, BLOCK_SIZE + 3]), min_size=1
    ),
    behind=st.booleans(),
)
def test_hashing_writer_writes_and_hashes(
    tmp_path_factory: pytest.TempPathFactory, offset: int, sizes: list[int], behind: bool
) -> None:
    out = tmp_path_factory.mktemp("writer") / "out.bin"
    fd = os.open(out, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with HashingWriter(fd, offset, behind=behind) as writer:
            start, n = 0, 0
            while start < len(DATA):
                writer.write(DATA[start : start + sizes[n % len(sizes)]])
                start += sizes[n % len(sizes)]
                n += 1
            writer.flush()
            digest, size, end = writer.finish()
    finally:
        os.close(fd)
    expected = (hashlib.sha256(DATA).hexdigest(), len(DATA), offset + len(DATA))
    assert (digest, size, end) == expected
    assert out.read_bytes()[offset:] == DATA


@pytest.mark.parametrize("behind", [False, True])
def test_hashing_writer_keeps_its_error(tmp_path: Path, behind: bool) -> None:
    read_only = os.open(tmp_path / "ro.bin", os.O_RDONLY | os.O_CREAT, 0o600)
    try:
        with HashingWriter(read_only, 0, behind=behind) as writer, pytest.raises(OSError) as info:
            _fill(writer, 6)  # on the thread: raised at a later block or at the end, never a hang
        assert info.value.errno == errno.EBADF
        assert writer.error is info.value
    finally:
        os.close(read_only)


def test_an_abandoned_writer_stops_its_thread(tmp_path: Path) -> None:
    fd = os.open(tmp_path / "out.bin", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with HashingWriter(fd, 0, behind=True) as writer:
            writer.write(b"x" * (2 * BLOCK_SIZE + 5))  # the cipher gives up before the end
        assert writer._thread is not None
        assert not writer._thread.is_alive()
    finally:
        os.close(fd)


@pytest.mark.parametrize(
    ("fail_from", "message"),
    [(0, "the disk is full"), (1, r"package cannot be written \(No space left")],
)
def test_disk_full_while_sealing(
    seal: Sealer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail_from: int, message: str
) -> None:
    real = os.pwrite

    def full(fd: int, data: bytes, offset: int) -> int:
        if offset >= fail_from:  # 0: the header already fails; 1: the ciphertext does
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", full)
    (tmp_path / "outbox").mkdir()
    with pytest.raises(StorageError, match=message):
        seal(dest=tmp_path / "outbox" / "p.lwpkg")
    assert listing(tmp_path / "outbox") == []


def test_disk_full_while_opening(
    world: World, seal: Sealer, inbox: Path, ledger: ReceiptLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    package, _ = seal()

    def full(fd: int, data: object, offset: int) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "pwrite", full)
    with pytest.raises(StorageError, match="No space left"):
        open_package(
            package, project=world.project, identities=world.identities["edris"], ledger=ledger,
            dest=inbox / "p.parquet", expect_kinds={PackageKind.CONTENT}, now=NOW,
        )  # fmt: skip
    assert listing(inbox) == []
    assert ledger.receipts() == ()


def test_start_writeback_never_fails(tmp_path: Path) -> None:
    # A head start only: on a file, past its end, and on a pipe (where the kernel refuses) alike.
    out = tmp_path / "out.bin"
    fd = os.open(out, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        os.pwrite(fd, DATA, 0)
        start_writeback(fd, 0, len(DATA))
        start_writeback(fd, len(DATA), BLOCK_SIZE)
    finally:
        os.close(fd)
    read_end, write_end = os.pipe()
    try:
        start_writeback(write_end, 0, 1)
    finally:
        os.close(read_end)
        os.close(write_end)
    assert out.read_bytes() == DATA
