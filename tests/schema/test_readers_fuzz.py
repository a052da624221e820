"""Whatever bytes arrive, the reader either lands them or raises linkwell's error, cleanly.

Provider files come in four formats; each is fuzzed from random bytes and from structured damage to
a valid file of its format (cut short, bytes changed or inserted; for a workbook, also the XML of
its sheet edited inside a sound ZIP archive). A refusal names the file and leaves nothing behind;
a landing holds exactly the rows it reports. ID lists, read by ``linkwell ids check``, likewise.
"""

from __future__ import annotations

import gc
import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pyreadstat
import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import Workbook

from linkwell.engine import Engine
from linkwell.errors import ReadError
from linkwell.schema import issue_ids
from linkwell.schema.idlists import read_id_list
from linkwell.schema.readers import read_table
from tests.fuzzing import BUDGETS, Folders, budget, judge, mutated

csvish = st.text(
    alphabet=st.sampled_from([*list('ab1,;\t"\n\r é€\x00'), "\u2028", "\ufeff"]),
    max_size=200,
)
rows = st.lists(
    st.lists(st.text(alphabet="xy1 ,;\"\n'", max_size=6), min_size=1, max_size=5),
    min_size=0,
    max_size=8,
)
_CELLS = {"unique_id": ["X12345678", None, "Y"], "school": ["a", "b", ""], "simd": [1, 2, 10]}


def _seed_xlsx() -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(list(_CELLS))
    for row in zip(*_CELLS.values(), strict=True):
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _seed_sav(folder: Path) -> bytes:
    frame = pd.DataFrame({"school": ["a", "b", "c"], "simd": [1.0, 2.0, 10.0]})
    path = folder / "seed.sav"
    pyreadstat.write_sav(frame, str(path), variable_value_labels={"simd": {1.0: "most"}})
    return path.read_bytes()


def _seed_parquet() -> bytes:
    out = io.BytesIO()
    pq.write_table(pa.table(_CELLS), out)
    return out.getvalue()


def _rezip(workbook: bytes, member: str, content: bytes) -> bytes:
    """The workbook with one archive member replaced: damage a ZIP check cannot see."""
    source = zipfile.ZipFile(io.BytesIO(workbook))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            data = content if item.filename == member else source.read(item.filename)
            target.writestr(item.filename, data)
    return out.getvalue()


def _read_once(folder: Path, data: bytes, name: str) -> None:
    source = folder / name
    source.write_bytes(data)
    dest = folder / "landed.parquet"
    results = []
    with Engine() as engine:
        verdict = judge(
            lambda: results.append(read_table(source, engine=engine, dest=dest)),
            outputs=folder,
            file=source,
        )
    if verdict == "refused":
        assert sorted(p.name for p in folder.iterdir()) == [name]
        return
    (result,) = results
    table = pq.read_table(dest)
    assert table.num_rows == result.rows > 0
    assert table.column_names == ["_row", *result.columns]
    assert sorted(p.name for p in folder.iterdir()) == sorted([name, "landed.parquet"])


@pytest.mark.parametrize("long", BUDGETS)
def test_arbitrary_bytes(tmp_path: Path, long: bool) -> None:
    folders = Folders(tmp_path)

    @budget(60, long=long)
    @given(st.binary(max_size=400))
    def run(data: bytes) -> None:
        _read_once(folders(), data, "in.csv")

    run()


@pytest.mark.parametrize("long", BUDGETS)
def test_arbitrary_csvish_text(tmp_path: Path, long: bool) -> None:
    folders = Folders(tmp_path)

    @budget(60, long=long)
    @given(csvish, st.sampled_from(["utf-8", "cp1252", "utf-16"]))
    def run(text: str, encoding: str) -> None:
        _read_once(folders(), text.encode(encoding, errors="replace"), "in.csv")

    run()


@pytest.mark.parametrize("long", BUDGETS)
def test_structured_rows(tmp_path: Path, long: bool) -> None:
    folders = Folders(tmp_path)

    @budget(60, long=long)
    @given(rows, st.sampled_from([",", ";", "\t"]), st.sampled_from(["\n", "\r\n"]))
    def run(cells: list[list[str]], delimiter: str, newline: str) -> None:
        def quote(cell: str) -> str:
            if any(c in cell for c in (delimiter, '"', "\n", "\r")):
                return '"' + cell.replace('"', '""') + '"'
            return cell

        text = "".join(delimiter.join(quote(c) for c in row) + newline for row in cells)
        _read_once(folders(), text.encode(), "in.csv")

    run()


@pytest.mark.parametrize("long", BUDGETS)
@pytest.mark.parametrize("magic", [b"PAR1", b"$FL2", b"PK\x03\x04", b"PK\x05\x06"])
def test_arbitrary_bytes_behind_a_magic_number(tmp_path: Path, magic: bytes, long: bool) -> None:
    folders = Folders(tmp_path)

    @budget(15, long=long)
    @given(tail=st.binary(max_size=300))
    def run(tail: bytes) -> None:
        _read_once(folders(), magic + tail, "in.bin")

    run()


@pytest.mark.parametrize("long", BUDGETS)
def test_damaged_workbooks(tmp_path: Path, long: bool) -> None:
    folders = Folders(tmp_path)
    seed = _seed_xlsx()
    sheet = zipfile.ZipFile(io.BytesIO(seed)).read("xl/worksheets/sheet1.xml")
    workbook = zipfile.ZipFile(io.BytesIO(seed)).read("xl/workbook.xml")

    @budget(30, long=long)
    @given(
        mutated(seed)
        | mutated(sheet).map(lambda xml: _rezip(seed, "xl/worksheets/sheet1.xml", xml))
        | mutated(workbook).map(lambda xml: _rezip(seed, "xl/workbook.xml", xml))
    )
    def run(data: bytes) -> None:
        _read_once(folders(), data, "in.xlsx")

    run()


@pytest.mark.parametrize("long", BUDGETS)
def test_damaged_spss_files(tmp_path: Path, long: bool) -> None:
    folders = Folders(tmp_path / "examples")
    seed = _seed_sav(tmp_path)

    @budget(12, long=long)  # each read parses the file in a child process first
    @given(mutated(seed))
    def run(data: bytes) -> None:
        _read_once(folders(), data, "in.sav")

    run()


@pytest.mark.parametrize("long", BUDGETS)
def test_damaged_parquet_files(tmp_path: Path, long: bool) -> None:
    folders = Folders(tmp_path)
    seed = _seed_parquet()

    @budget(30, long=long)
    @given(mutated(seed))
    def run(data: bytes) -> None:
        _read_once(folders(), data, "in.parquet")

    run()


def test_the_seeds_land(tmp_path: Path) -> None:
    folders = Folders(tmp_path / "examples")
    for data, name in (
        (_seed_xlsx(), "in.xlsx"),
        (_seed_sav(tmp_path), "in.sav"),
        (_seed_parquet(), "in.parquet"),
    ):
        folder = folders()
        _read_once(folder, data, name)
        assert (folder / "landed.parquet").exists(), name


@pytest.mark.parametrize("long", BUDGETS)
def test_id_lists(tmp_path: Path, long: bool) -> None:
    folders = Folders(tmp_path)
    seed = ("unique_id\n" + "\n".join(issue_ids(5).tolist()) + "\n").encode()

    @budget(60, long=long)
    @given(mutated(seed) | st.binary(max_size=200))
    def run(data: bytes) -> None:
        folder = folders()
        path = folder / "ids.txt"
        path.write_bytes(data)
        judge(lambda: read_id_list(path), outputs=folder, file=path)

    run()


@pytest.mark.parametrize(
    ("member", "damage"),
    [
        ("xl/worksheets/sheet1.xml", lambda xml: b""),  # XML ParseError
        ("xl/workbook.xml", lambda xml: xml.replace(b"activeTab", b"ctiveTab")),  # TypeError
    ],
)
def test_a_workbook_with_a_damaged_part_is_refused_and_closed(
    tmp_path: Path, member: str, damage: Callable[[bytes], bytes]
) -> None:
    """Found by fuzzing: openpyxl's own errors escaped, and it left the file open."""
    seed = _seed_xlsx()
    data = _rezip(seed, member, damage(zipfile.ZipFile(io.BytesIO(seed)).read(member)))
    source = tmp_path / "in.xlsx"
    source.write_bytes(data)
    with Engine() as engine, pytest.raises(ReadError, match="damaged or truncated") as info:
        read_table(source, engine=engine, dest=tmp_path / "landed.parquet")
    assert info.value.file == str(source)
    gc.collect()  # an unclosed file would warn here, and warnings are errors
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.xlsx"]


def _landing_refused(folder: Path, data: bytes) -> ReadError:
    source = folder / "in.parquet"
    source.write_bytes(data)
    with Engine() as engine, pytest.raises(ReadError) as info:
        read_table(source, engine=engine, dest=folder / "landed.parquet")
    assert info.value.file == str(source)
    assert sorted(p.name for p in folder.iterdir()) == ["in.parquet"]
    return info.value


def test_a_parquet_file_with_a_damaged_footer_is_refused(tmp_path: Path) -> None:
    """Found by fuzzing: DuckDB's plain Error was reported as a bug in linkwell."""
    seed = bytearray(_seed_parquet())
    seed[-9] = 0xFF  # the footer's last byte, its end-of-struct marker, before length and magic
    assert "damaged" in _landing_refused(tmp_path, bytes(seed)).message


def test_a_parquet_column_name_with_a_nul_is_refused(tmp_path: Path) -> None:
    """Found by fuzzing: quoting the name for SQL raised Python's ValueError."""
    out = io.BytesIO()
    pq.write_table(pa.table({"school\x00x": ["a"]}), out)
    assert "control characters" in _landing_refused(tmp_path, out.getvalue()).message


def test_an_spss_file_that_crashes_readstat_is_refused(tmp_path: Path) -> None:
    """Found by fuzzing: one changed byte in a variable record made ReadStat kill the process."""
    data = bytearray(_seed_sav(tmp_path))
    data[272] = 49  # was 2 in the seed that pyreadstat writes
    folder = Folders(tmp_path / "examples")()
    source = folder / "in.sav"
    source.write_bytes(bytes(data))
    with Engine() as engine, pytest.raises(ReadError, match="SPSS") as info:
        read_table(source, engine=engine, dest=folder / "landed.parquet")
    assert info.value.file == str(source)
    assert sorted(p.name for p in folder.iterdir()) == ["in.sav"]
