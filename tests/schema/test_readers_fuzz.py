"""Whatever bytes arrive, the reader either lands them or raises linkwell's error, cleanly."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkwell.engine import Engine
from linkwell.errors import LinkwellError
from linkwell.schema.readers import read_table

EXAMPLES = int(os.environ.get("LINKWELL_FUZZ_EXAMPLES", "60"))
_counter = itertools.count()

csvish = st.text(
    alphabet=st.sampled_from([*list('ab1,;\t"\n\r é€\x00'), "\u2028", "\ufeff"]),
    max_size=200,
)
rows = st.lists(
    st.lists(st.text(alphabet="xy1 ,;\"\n'", max_size=6), min_size=1, max_size=5),
    min_size=0,
    max_size=8,
)


def _read_once(folder: Path, data: bytes, name: str) -> None:
    folder.mkdir()
    source = folder / name
    source.write_bytes(data)
    dest = folder / "landed.parquet"
    failure = None
    with Engine() as engine:
        try:
            result = read_table(source, engine=engine, dest=dest)
        except LinkwellError as error:
            failure = error
    if failure is not None:
        assert failure.file == str(source)
        assert sorted(p.name for p in folder.iterdir()) == [name]
        return
    table = pq.read_table(dest)
    assert table.num_rows == result.rows > 0
    assert table.column_names == ["_row", *result.columns]
    assert sorted(p.name for p in folder.iterdir()) == sorted([name, "landed.parquet"])


@settings(max_examples=EXAMPLES)
@given(st.binary(max_size=400))
def test_arbitrary_bytes(tmp_path: Path, data: bytes) -> None:
    _read_once(tmp_path / f"b{next(_counter)}", data, "in.csv")


@settings(max_examples=EXAMPLES)
@given(csvish, st.sampled_from(["utf-8", "cp1252", "utf-16"]))
def test_arbitrary_csvish_text(tmp_path: Path, text: str, encoding: str) -> None:
    _read_once(tmp_path / f"t{next(_counter)}", text.encode(encoding, errors="replace"), "in.csv")


@settings(max_examples=EXAMPLES)
@given(rows, st.sampled_from([",", ";", "\t"]), st.sampled_from(["\n", "\r\n"]))
def test_structured_rows(
    tmp_path: Path, cells: list[list[str]], delimiter: str, newline: str
) -> None:
    def quote(cell: str) -> str:
        if any(c in cell for c in (delimiter, '"', "\n", "\r")):
            return '"' + cell.replace('"', '""') + '"'
        return cell

    text = "".join(delimiter.join(quote(c) for c in row) + newline for row in cells)
    _read_once(tmp_path / f"s{next(_counter)}", text.encode(), "in.csv")


@pytest.mark.parametrize("magic", [b"PAR1", b"$FL2", b"PK\x03\x04", b"PK\x05\x06"])
@settings(max_examples=max(10, EXAMPLES // 4))
@given(tail=st.binary(max_size=300))
def test_arbitrary_bytes_behind_a_magic_number(tmp_path: Path, magic: bytes, tail: bytes) -> None:
    _read_once(tmp_path / f"m{next(_counter)}", magic + tail, "in.bin")
