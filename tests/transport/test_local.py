from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from linkwell.errors import StorageError
from linkwell.transport.local import LocalPartial, commit_no_overwrite, local_error, sha256_file


@given(data=st.binary(max_size=5000), split=st.integers(min_value=0, max_value=5000))
def test_a_resumed_partial_hashes_the_whole_file(tmp_path: Path, data: bytes, split: int) -> None:
    path = tmp_path / f"p{len(data)}-{split}.partial"
    path.unlink(missing_ok=True)
    split = min(split, len(data))
    with LocalPartial(path, expected_size=len(data)) as first:
        first.write(data[:split])
    with LocalPartial(path, expected_size=len(data)) as second:
        assert second.resumed_from == split
        second.write(data[split:])
        digest = second.finish()
    assert digest == hashlib.sha256(data).hexdigest()
    assert path.read_bytes() == data


def test_a_partial_longer_than_expected_starts_afresh(tmp_path: Path) -> None:
    path = tmp_path / "x.partial"
    path.write_bytes(b"x" * 100)
    with LocalPartial(path, expected_size=10) as partial:
        assert partial.resumed_from == 0
        partial.write(b"0123456789")
        assert partial.finish() == hashlib.sha256(b"0123456789").hexdigest()


def test_partial_refuses_a_symlink(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_bytes(b"secret")
    (tmp_path / "x.partial").symlink_to(target)
    with pytest.raises(StorageError):
        LocalPartial(tmp_path / "x.partial", expected_size=10)
    assert target.read_bytes() == b"secret"


def test_commit_never_overwrites(tmp_path: Path) -> None:
    src, dest = tmp_path / "src", tmp_path / "dest"
    src.write_bytes(b"new")
    dest.write_bytes(b"old")
    assert commit_no_overwrite(src, dest) is False
    assert dest.read_bytes() == b"old"
    assert src.exists()
    dest.unlink()
    assert commit_no_overwrite(src, dest) is True
    assert dest.read_bytes() == b"new"
    assert not src.exists()


def test_sha256_file_matches_hashlib(tmp_path: Path) -> None:
    data = os.urandom(3 * (1 << 20) + 17)
    (tmp_path / "f").write_bytes(data)
    seen: list[int] = []
    assert sha256_file(tmp_path / "f", advance=seen.append) == (
        hashlib.sha256(data).hexdigest(),
        len(data),
    )
    assert sum(seen) == len(data)


def test_full_disk_is_named_and_says_resume() -> None:
    error = local_error(OSError(errno.ENOSPC, "No space"), Path("incoming/x"), doing="write")
    assert "disk is full" in error.message
    assert error.file == "incoming/x"
    assert "resumes" in (error.hint or "")
    assert "permission" in local_error(OSError(errno.EACCES, "x"), Path("y"), doing="w").message
