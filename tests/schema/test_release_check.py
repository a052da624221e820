"""The release check's value scan: every column that could hold an ID, whatever its type."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkwell.engine import Engine
from linkwell.errors import SeparationError
from linkwell.schema import issue_ids
from linkwell.schema.ids import is_valid_id
from linkwell.schema.release_check import check_release


def _release(path: Path, columns: dict[str, pa.Array]) -> Path:
    table = pa.table(
        {
            "release_id": pa.array([f"r{i}" for i in range(len(next(iter(columns.values()))))]),
            **columns,
        }
    )
    pq.write_table(table, path)
    return path


def _check(path: Path) -> dict[str, int]:
    with Engine() as engine:
        return check_release(engine, path, allowed=pq.read_schema(path).names)


def _small_id() -> str:
    """A valid ID that fits a 32-bit integer column (below 2,147,483,648)."""
    return next(x for x in issue_ids(2000).tolist() if int(x) < 2**31)


def test_flags_and_small_answers_pass_and_are_counted(tmp_path: Path) -> None:
    rows = 50
    path = _release(
        tmp_path / "r.parquet",
        {
            "flag": pa.array([i % 2 == 0 for i in range(rows)]),
            "answer": pa.array(np.arange(rows, dtype=np.int16)),
            "code": pa.array(np.arange(rows, dtype=np.int8)),
            "school": pa.array([f"S{i}" for i in range(rows)]),
        },
    )
    assert _check(path) == dict.fromkeys(["release_id", "flag", "answer", "code", "school"], rows)


@pytest.mark.parametrize(
    ("kind", "convert"),
    [
        (pa.string(), str),
        (pa.int64(), int),
        (pa.int32(), int),
        (pa.uint64(), int),
    ],
)
def test_an_id_is_found_in_any_type_wide_enough(
    tmp_path: Path, kind: pa.DataType, convert: type
) -> None:
    leaked = _small_id()
    values = [convert("12"), convert(leaked), convert("7")]
    path = _release(tmp_path / "r.parquet", {"weight_note": pa.array(values, kind)})
    with pytest.raises(SeparationError) as info:
        _check(path)
    assert info.value.field == "weight_note"
    assert leaked not in str(info.value)


def test_an_invalid_check_digit_is_not_an_id(tmp_path: Path) -> None:
    good = _small_id()
    wrong = good[:-1] + str((int(good[-1]) + 1) % 10)
    path = _release(tmp_path / "r.parquet", {"note": pa.array([wrong, "x"])})
    assert _check(path)["note"] == 2


@settings(max_examples=30)
@given(
    st.lists(
        st.one_of(
            st.text(alphabet="0123456789", min_size=9, max_size=11),
            st.sampled_from(issue_ids(20).tolist()),
            st.none(),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_the_scan_refuses_exactly_when_a_value_is_an_id(
    tmp_path_factory: pytest.TempPathFactory, texts: list[str | None]
) -> None:
    path = _release(
        tmp_path_factory.mktemp("release") / "r.parquet",
        {"text": pa.array(texts, pa.string()), "flag": pa.array([True] * len(texts))},
    )
    leaks = any(t is not None and is_valid_id(t) for t in texts)
    if leaks:
        with pytest.raises(SeparationError):
            _check(path)
    else:
        assert _check(path)["text"] == len(texts)


@pytest.mark.parametrize("kind", [pa.float64(), pa.decimal128(14, 2)])
def test_an_id_stored_as_a_fractional_number_is_found(tmp_path: Path, kind: pa.DataType) -> None:
    leaked = _small_id()
    number = float if kind == pa.float64() else Decimal
    values = pa.array([number("1.25"), number(leaked), number("0.5")], kind)
    path = _release(tmp_path / "r.parquet", {"weight": values})
    with pytest.raises(SeparationError) as info:
        _check(path)
    assert info.value.field == "weight"


@pytest.mark.parametrize("wrapped", ["id:{}", "{} ", "({})", "a-{}-b", "{}"])
def test_an_id_standing_alone_in_text_is_found(tmp_path: Path, wrapped: str) -> None:
    path = _release(
        tmp_path / "r.parquet", {"fsm_basis": pa.array(["x", wrapped.format(_small_id())])}
    )
    with pytest.raises(SeparationError):
        _check(path)


def test_digits_inside_a_random_token_are_not_an_id(tmp_path: Path) -> None:
    token = f"ab{_small_id()}cd"  # as a release ID's hex may hold ten digits in a row
    path = _release(tmp_path / "r.parquet", {"token": pa.array([token, "ef"])})
    assert _check(path)["token"] == 2
