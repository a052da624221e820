from __future__ import annotations

import hashlib
import hmac

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from linkwell.engine import Engine
from linkwell.roles.indexer.hmac_sql import hmac_pads, hmac_sha256_sql


def _sql_hmac(key: bytes, messages: list[str]) -> list[bytes]:
    inner, outer = hmac_pads(key)
    with Engine() as engine:
        engine.register("m", pa.table({"x": messages}))
        rows = engine.fetchall(
            f"SELECT {hmac_sha256_sql('x')} FROM m",
            {"hmac_inner": inner, "hmac_outer": outer},
            purpose="hmac",
        )
    return [bytes(r[0]) for r in rows]


@pytest.mark.parametrize(
    ("key", "data", "expected"),
    [  # RFC 4231, test cases 1 and 2
        (
            b"\x0b" * 20,
            "Hi There",
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        ),
        (
            b"Jefe",
            "what do ya want for nothing?",
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        ),
    ],
)
def test_rfc4231_known_answers(key: bytes, data: str, expected: str) -> None:
    assert _sql_hmac(key, [data])[0].hex() == expected


@given(st.binary(min_size=1, max_size=64), st.lists(st.text(max_size=40), min_size=1, max_size=8))
def test_matches_python_hmac(key: bytes, messages: list[str]) -> None:
    got = _sql_hmac(key, messages)
    want = [hmac.new(key, m.encode(), hashlib.sha256).digest() for m in messages]
    assert got == want


def test_key_length_is_checked() -> None:
    with pytest.raises(ValueError, match="1 to 64 bytes"):
        hmac_pads(b"")
    with pytest.raises(ValueError, match="1 to 64 bytes"):
        hmac_pads(b"x" * 65)
