from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from linkwell.errors import ConfigError, TransferError
from linkwell.transport.base import PackageNames, format_digest_file, parse_digest_file

HEX = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)
STEMS = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,40}", fullmatch=True)


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("0f3a9c.lwp", True),
        ("pkg_1-A.lwp", True),
        (".0f3a9c.lwp", False),
        ("0f3a9c.lwp.sha256", False),
        ("0f.3a.lwp", False),
        (".lwp", False),
        ("-x.lwp", False),
        ("x.LWP", False),
        ("../x.lwp", False),
        ("x.lwp.abcdef0123456789.partial", False),
    ],
)
def test_package_names(name: str, ok: bool) -> None:
    assert PackageNames().is_package(name) is ok


def test_suffix_is_configurable_and_checked() -> None:
    names = PackageNames(".pkg")
    assert names.is_package("abc.pkg")
    assert not names.is_package("abc.lwp")
    with pytest.raises(ConfigError):
        PackageNames("pkg")
    with pytest.raises(ConfigError):
        PackageNames("./x")


def test_check_package_and_party_refuse_escapes(tmp_path: Path) -> None:
    with pytest.raises(TransferError, match="not named like a package"):
        PackageNames().check_package(tmp_path / "data.parquet")
    for bad in ("../nrs", "NRS", "", "a/b", ".hidden"):
        with pytest.raises(ConfigError):
            PackageNames.check_party(bad)
    assert PackageNames.check_party("fife-council") == "fife-council"


@given(stem=STEMS, digest=HEX)
def test_digest_file_round_trips_and_is_sha256sum_format(stem: str, digest: str) -> None:
    name = f"{stem}.lwp"
    data = format_digest_file(name, digest)
    assert data == f"{digest}  {name}\n".encode()
    assert parse_digest_file(data, name) == digest
    assert parse_digest_file(data, f"other{name}") is None
    names = PackageNames()
    assert names.package_of_digest(names.digest_name(name)) == name


@given(stem=STEMS, digest=HEX, cut=st.integers(min_value=0, max_value=200), junk=st.binary())
def test_damaged_digest_files_are_rejected(stem: str, digest: str, cut: int, junk: bytes) -> None:
    name = f"{stem}.lwp"
    data = format_digest_file(name, digest)
    damaged = data[:cut] + junk
    parsed = parse_digest_file(damaged, name)
    assert parsed is None or damaged == data


def test_digest_must_be_lower_hex() -> None:
    with pytest.raises(TransferError):
        format_digest_file("a.lwp", "A" * 64)
    assert parse_digest_file(b"A" * 64 + b"  a.lwp\n", "a.lwp") is None
    assert parse_digest_file(b"a" * 64 + b"  a.lwp\n" + b" " * 2000, "a.lwp") is None


def test_partial_name_is_hidden_and_bound_to_the_content() -> None:
    first = PackageNames.partial("x.lwp", "a" * 64)
    second = PackageNames.partial("x.lwp", "b" * 64)
    assert first.startswith(".")
    assert first != second
    assert not PackageNames().is_package(first)
