from __future__ import annotations

import io
import os
import re
import zipfile
from pathlib import Path

import duckdb
import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pyreadstat
import pytest

from linkwell.engine import Engine
from linkwell.errors import ConfigError, LinkwellError, ReadError, StorageError, ValidationError
from linkwell.schema import _csv, _spss
from linkwell.schema.readers import CELL_LIMIT, ReadResult, SourceFormat, detect_format, read_table


def land(path: Path, *, sheet: str | None = None) -> tuple[ReadResult, list[dict[str, object]]]:
    with Engine() as engine:
        result = read_table(path, engine=engine, dest=path.parent / "landed.parquet", sheet=sheet)
    table = pq.read_table(result.dest)
    assert table.column_names == ["_row", *result.columns]
    assert all(pa.types.is_string(t) for t in table.schema.types[1:])
    # the landed rows stream in any order (parallel row groups); ``_row`` keeps the provider's
    return result, sorted(table.to_pylist(), key=lambda row: int(row["_row"]))


def refuse(path: Path, error: type[LinkwellError] = ReadError, **kw: str) -> LinkwellError:
    with pytest.raises(error) as info:
        land(path, **kw)
    assert info.value.file == str(path)
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name], "output left behind"
    return info.value


# --- CSV -------------------------------------------------------------------------------------


def test_csv_lands_cells_exactly_as_sent_with_data_row_numbers(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(b'Pupil ID,School Name , flag\n1, padded ,"Y"\n2,"two\nlines",\n3,,N\n')
    result, rows = land(path)
    assert result.format is SourceFormat.CSV
    assert result.columns == ("Pupil ID", "School Name ", " flag")
    assert (result.encoding, result.delimiter, result.rows, result.blank_rows) == (
        "utf-8",
        ",",
        3,
        0,
    )
    assert rows == [
        {"_row": 1, "Pupil ID": "1", "School Name ": " padded ", " flag": "Y"},
        {"_row": 2, "Pupil ID": "2", "School Name ": "two\nlines", " flag": None},
        {"_row": 3, "Pupil ID": "3", "School Name ": None, " flag": "N"},
    ]


def test_semicolon_crlf_and_bom(tmp_path: Path) -> None:
    path = tmp_path / "semi.csv"
    path.write_bytes(b'\xef\xbb\xbfid;school\r\n1;"A; B"\r\n2;"x\r\ny"\r\n')
    result, rows = land(path)
    assert (result.encoding, result.delimiter, result.columns) == (
        "utf-8-sig",
        ";",
        ("id", "school"),
    )
    assert [r["school"] for r in rows] == ["A; B", "x\r\ny"]


def test_tab_delimited(tmp_path: Path) -> None:
    path = tmp_path / "tab.txt"
    path.write_bytes(b"id\tschool\tsimd\n1\tSt Mary's, Leith\t3\n")
    result, rows = land(path)
    assert result.delimiter == "\t"
    assert rows == [{"_row": 1, "id": "1", "school": "St Mary's, Leith", "simd": "3"}]


def test_cp1252_with_non_ascii_school_names(tmp_path: Path) -> None:
    names = ["Académie Écossaise", "St Brigid’s — Primary", "Café €5 Club", "Åsgard"]  # noqa: RUF001
    path = tmp_path / "win.csv"
    path.write_bytes(
        ("id,school\r\n" + "".join(f"{i},{n}\r\n" for i, n in enumerate(names))).encode("cp1252")
    )
    result, rows = land(path)
    assert result.encoding == "cp1252"
    assert [r["school"] for r in rows] == names
    assert not [p for p in tmp_path.iterdir() if "utf8" in p.name], "transcoded copy left behind"


def test_single_column_file(tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    path.write_bytes(b"unique_id\n5724000000\n\n1234567890\n")
    result, rows = land(path)
    assert result.columns == ("unique_id",)
    assert [(r["_row"], r["unique_id"]) for r in rows] == [(1, "5724000000"), (3, "1234567890")]
    assert result.blank_rows == 1


def test_rows_with_every_cell_empty_are_skipped_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "blank.csv"
    path.write_bytes(b"a,b\n1,2\n,\n,\n3,4\n,\n")
    result, rows = land(path)
    assert [r["_row"] for r in rows] == [1, 4]
    assert (result.rows, result.blank_rows) == (2, 2)  # the trailing one ends the table


def test_row_numbers_follow_file_order_on_a_large_file(tmp_path: Path) -> None:
    count = 60_000
    path = tmp_path / "big.csv"
    body = "".join(f'{i},"multi\nline {i}"\n' for i in range(1, count + 1))
    path.write_text("n,text\n" + body, encoding="utf-8")
    result, rows = land(path)
    assert result.rows == count
    assert all(r["_row"] == int(str(r["n"])) for r in rows)


def test_header_names_with_unnamed_columns(tmp_path: Path) -> None:
    path = tmp_path / "u.csv"
    path.write_bytes(b"id,,school\n1,x,y\n")
    result, _ = land(path)
    assert result.columns == ("id", "(unnamed column 2)", "school")


# --- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"\xff\xfei\x00d\x00\n\x00", "UTF-16"),
        (b"\xfe\xff\x00i\x00d", "UTF-16"),
        ("id,school\n1,x\n".encode("utf-16-le"), "NUL"),
        (b"id,school\n1,\x81\xc3\x28\n", "no supported text encoding"),
        (bytes(range(256)) * 4, "NUL"),
        (b"id,school\n1,\x07bell\n", "control characters"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old Excel"),
        (b"\x1f\x8b\x08\x00junk", "gzip"),
        (b"%PDF-1.4\n", "PDF"),
    ],
)
def test_unreadable_content_is_refused_by_name(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(content)
    assert message in str(refuse(path))


@pytest.mark.parametrize(
    ("content", "line"),
    [
        (b"id,school\n1,a\n2,\x81b\n3,c\n", 3),  # in no encoding: 0x81 is not Windows-1252
        (b"id,school\n1,\xe9\n2,b\n3,\x9d\n", 4),  # not UTF-8 (line 2), nor 1252 (line 4)
        (b"id,school\n1,a\n2,\x07bell\n", 3),
    ],
)
def test_a_byte_that_is_not_text_is_refused_naming_its_line(
    tmp_path: Path, content: bytes, line: int
) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(content)
    assert refuse(path).row == line


def test_a_line_is_counted_across_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_csv, "BLOCK", 16)  # many blocks over a small file
    path = tmp_path / "in.csv"
    path.write_bytes(b"id,school\n" + b"".join(b"%d,abcdef\n" % i for i in range(30)) + b"9,\x81\n")
    assert refuse(path).row == 32


def test_header_only_is_a_validation_error(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_bytes(b"unique_id,school\n")
    assert "no data rows" in str(refuse(path, ValidationError))


@pytest.mark.parametrize(
    ("content", "line", "reason"),
    [
        (b"a,b\n1,2\n3,4,5\n6,7\n", 3, "more cells"),
        (b"a,b,c\n1,2,3\n4,5\n", 3, "fewer cells"),
        (b'a,b\n1,2\n3,"open\n4,5\n', 3, "quote mark"),
    ],
)
def test_ragged_rows_are_refused_naming_the_line(
    tmp_path: Path, content: bytes, line: int, reason: str
) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes(content)
    error = refuse(path)
    assert f"line {line} " in str(error)
    assert reason in str(error)


def test_duplicate_header_names_are_refused_by_position(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes(b"id,school,id\n1,2,3\n")
    assert "columns 1 and 3 have the same name" in str(refuse(path))


@pytest.mark.parametrize("first", [b"4839201175,Y,N", b"Smith,14/03/2009,N"])
def test_a_file_without_header_is_refused_without_echoing_it(tmp_path: Path, first: bytes) -> None:
    path = tmp_path / "nohead.csv"
    path.write_bytes(first + b"\n1,2,3\n")
    error = refuse(path)
    assert "looks like data" in str(error)
    assert "4839201175" not in str(error)
    assert "2009" not in str(error)


def test_reserved_row_column_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes(b"_row,b\n1,2\n")
    assert "reserves" in str(refuse(path))


def test_a_huge_cell_is_refused_naming_row_and_column_not_value(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_bytes(b"id,notes\n1,ok\n2," + b"Q" * 1_000_000 + b"\n3,ok\n")
    error = refuse(path)
    assert (error.row, error.field) == (2, "notes")
    assert "QQQ" not in str(error)
    assert f"{CELL_LIMIT:,}" in str(error)


def test_a_cell_at_the_limit_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "edge.csv"
    path.write_bytes(b"id,notes\n1," + b"Q" * CELL_LIMIT + b"\n")
    assert land(path)[0].rows == 1


def test_a_line_beyond_the_engine_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    path.write_bytes(b"id,notes\n1," + b"Q" * (17 << 20) + b"\n")
    assert "line 2 " in str(refuse(path))


def test_folder_missing_and_unreadable_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "dir.csv"
    folder.mkdir()
    with Engine() as engine:
        with pytest.raises(ReadError, match="folder"):
            read_table(folder, engine=engine, dest=tmp_path / "o.parquet")
        with pytest.raises(ReadError, match="does not exist"):
            read_table(tmp_path / "none.csv", engine=engine, dest=tmp_path / "o.parquet")
        locked = tmp_path / "locked.csv"
        locked.write_bytes(b"a,b\n1,2\n")
        real_open = Path.open

        def deny(self: Path, *args: object, **kwargs: object) -> object:
            if self == locked:
                raise PermissionError(13, "Permission denied")
            return real_open(self, *args, **kwargs)  # type: ignore[call-overload]

        monkeypatch.setattr(Path, "open", deny)
        with pytest.raises(ReadError, match="permission") as info:
            read_table(locked, engine=engine, dest=tmp_path / "o.parquet")
    assert info.value.file == str(locked)
    assert not (tmp_path / "o.parquet").exists()


def test_a_sheet_for_a_csv_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(b"a,b\n1,2\n")
    refuse(path, ConfigError, sheet="Pupils")


# --- Excel -----------------------------------------------------------------------------------


def _workbook(path: Path) -> Path:
    book = openpyxl.Workbook()
    first = book.active
    first.title = "Notes"
    first.append(["note"])
    first.append(["this workbook is synthetic"])
    pupils = book.create_sheet("Pupils")
    pupils["B3"], pupils["C3"], pupils["D3"] = "Pupil ID", "School", "FSM"
    pupils.append([])
    pupils["B4"], pupils["C4"], pupils["D4"] = 4839201175, "  Académie ", True
    pupils["B6"], pupils["C6"], pupils["D6"] = "0123", None, "n"
    pupils["B7"], pupils["C7"], pupils["D7"] = 7, "=junk", 0.5
    book.save(path)
    return path


def test_xlsx_sheet_choice_and_spreadsheet_row_numbers(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "pupils.xlsx")
    result, rows = land(path, sheet="Pupils")
    assert (result.format, result.sheet, result.columns) == (
        SourceFormat.XLSX,
        "Pupils",
        ("Pupil ID", "School", "FSM"),
    )
    assert [r["_row"] for r in rows] == [4, 6, 7]
    assert rows[0] == {"_row": 4, "Pupil ID": "4839201175", "School": "  Académie ", "FSM": "1"}
    assert rows[1]["Pupil ID"] == "0123"
    assert rows[2]["FSM"] == "0.5"
    assert result.blank_rows == 1


def test_xlsx_default_is_the_first_sheet_and_unknown_sheet_lists_them(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "pupils.xlsx")
    assert land(path)[0].sheet == "Notes"
    (tmp_path / "landed.parquet").unlink()
    error = refuse(path, ConfigError, sheet="Nope")
    assert "'Pupils'" in str(error)


def test_xlsx_without_a_recorded_dimension_is_measured(tmp_path: Path) -> None:
    source = _workbook(tmp_path / "src.xlsx")
    path = tmp_path / "nodim.xlsx"
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(path, "w") as new:
        for item in old.infolist():
            data = old.read(item.filename)
            if item.filename.startswith("xl/worksheets/"):
                data = re.sub(rb"<dimension[^>]*/>", b"", data)
            new.writestr(item, data)
    source.unlink()
    result, rows = land(path, sheet="Pupils")
    assert [r["_row"] for r in rows] == [4, 6, 7]
    assert result.columns == ("Pupil ID", "School", "FSM")


def test_truncated_and_foreign_zip_files(tmp_path: Path) -> None:
    data = _workbook(tmp_path / "w.xlsx").read_bytes()
    (tmp_path / "w.xlsx").unlink()
    cut = tmp_path / "cut.xlsx"
    cut.write_bytes(data[: len(data) // 2])
    assert "damaged or truncated" in str(refuse(cut))
    cut.unlink()
    ods = tmp_path / "sheet.ods"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", "<x/>")
    ods.write_bytes(buffer.getvalue())
    assert "OpenDocument" in str(refuse(ods))


def test_header_only_workbook(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    book.active.append(["unique_id", "school"])
    path = tmp_path / "h.xlsx"
    book.save(path)
    refuse(path, ValidationError)


# --- SPSS ------------------------------------------------------------------------------------


def _sav(path: Path, cases: int = 4, *, compress: bool = False) -> Path:
    frame = pd.DataFrame(
        {
            "pupil": [4839201175.0, 2.0, float("nan"), 13797302400.0][:cases] * (cases // 4 or 1),
            "school": ["Académie", "", "St Mary", "x"][:cases] * (cases // 4 or 1),
            "fsm": [1.0, 2.0, 9.0, 1.5][:cases] * (cases // 4 or 1),
        }
    )
    pyreadstat.write_sav(
        frame,
        path,
        variable_value_labels={"fsm": {1: "Yes", 2: "No", 9: "Not known"}},
        missing_ranges={"fsm": [9]},
        compress=compress,
    )
    return path


def test_sav_lands_codes_with_labels_beside_them(tmp_path: Path) -> None:
    result, rows = land(_sav(tmp_path / "s.sav"))
    assert result.format is SourceFormat.SAV
    assert result.value_labels == {"fsm": {"1": "Yes", "2": "No", "9": "Not known"}}
    assert rows == [
        {"_row": 1, "pupil": "4839201175", "school": "Académie", "fsm": "1"},
        {"_row": 2, "pupil": "2", "school": None, "fsm": "2"},
        {"_row": 3, "pupil": None, "school": "St Mary", "fsm": None},  # 9 is user-missing
        {"_row": 4, "pupil": "13797302400", "school": "x", "fsm": "1.5"},
    ]


def test_zsav_is_read_too(tmp_path: Path) -> None:
    path = _sav(tmp_path / "s.zsav", compress=True)
    assert path.read_bytes()[:4] == b"$FL3"
    result, rows = land(path)
    assert result.format is SourceFormat.SAV
    assert [r["pupil"] for r in rows] == ["4839201175", "2", None, "13797302400"]


def test_sav_is_read_in_chunks_keeping_case_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_spss, "CHUNK_CASES", 3)
    result, rows = land(_sav(tmp_path / "s.sav", cases=40))
    assert result.rows == 40
    assert sorted(r["_row"] for r in rows) == list(range(1, 41))
    assert [r["school"] for r in sorted(rows, key=lambda r: r["_row"])][:4] == [
        "Académie",
        None,
        "St Mary",
        "x",
    ]


def test_truncated_sav(tmp_path: Path) -> None:
    data = _sav(tmp_path / "s.sav").read_bytes()
    (tmp_path / "s.sav").unlink()
    for size in (200, len(data) - 20):
        path = tmp_path / f"cut{size}.sav"
        path.write_bytes(data[:size])
        assert "SPSS" in str(refuse(path))
        path.unlink()


# --- Parquet ---------------------------------------------------------------------------------


def test_parquet_columns_land_as_text(tmp_path: Path) -> None:
    path = tmp_path / "p.parquet"
    pq.write_table(
        pa.table(
            {
                "id": pa.array([4839201175, 2], pa.int64()),
                "simd": [3.0, 2.5],
                "flag": [True, None],
                "school": ["A ", ""],
            }
        ),
        path,
        row_group_size=1,
    )
    result, rows = land(path)
    assert result.format is SourceFormat.PARQUET
    assert rows == [
        {"_row": 1, "id": "4839201175", "simd": "3", "flag": "true", "school": "A "},
        {"_row": 2, "id": "2", "simd": "2.5", "flag": None, "school": None},
    ]


def test_a_named_pipe_is_refused_not_waited_on(tmp_path: Path) -> None:
    path = tmp_path / "extract.csv"
    os.mkfifo(path)  # no writer: opening it to read would block for ever
    assert "not a regular file" in str(refuse(path))


def test_a_file_with_too_many_columns_is_refused_before_it_is_landed(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    header = ",".join(f"c{i}" for i in range(4097))
    path.write_text(f"{header}\n" + ",".join("1" for _ in range(4097)) + "\n")
    error = refuse(path)  # 5,000 columns of a few hundred rows ran DuckDB out of 4 GiB
    assert "4,097 columns, more than 4,096" in str(error)


def test_parquet_names_are_the_files_own(tmp_path: Path) -> None:
    repeated = tmp_path / "repeated.parquet"
    pq.write_table(pa.table([pa.array([1]), pa.array([2])], names=["sdq1", "sdq1"]), repeated)
    assert "columns 1 and 2 have the same name" in str(refuse(repeated))  # not sdq1 and sdq1_1
    unnamed = tmp_path / "unnamed.parquet"
    pq.write_table(pa.table([pa.array([1]), pa.array([2])], names=["id", ""]), unnamed)
    result, rows = land(unnamed)
    assert result.columns == ("id", "(unnamed column 2)")  # as a CSV's would be, not DuckDB's C1
    assert rows == [{"_row": 1, "id": "1", "(unnamed column 2)": "2"}]


def test_a_32_bit_float_column_too_large_to_be_exact_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ids.parquet"
    small = pa.array([1.5, 16_777_216.0, -3.0], pa.float32())
    pq.write_table(pa.table({"score": small, "n": [1, 2, 3]}), path)
    _result, rows = land(path)  # every whole number up to 2**24 is exact: it lands as sent
    assert [row["score"] for row in rows] == ["1.5", "16777216", "-3"]
    path.unlink()
    (tmp_path / "landed.parquet").unlink()
    ids = pa.array([4839201175.0, 2.0, 5716209871.0], pa.float32())  # rounded when written
    pq.write_table(pa.table({"n": [1, 2, 3], "PupilID": ids}), path, row_group_size=1)
    error = refuse(path)
    assert (error.row, error.field) == (1, "PupilID")
    assert "32-bit floating point" in str(error)
    assert "4839" not in str(error)
    assert "5716" not in str(error)


def test_a_64_bit_float_id_lands_exactly(tmp_path: Path) -> None:
    path = tmp_path / "ids.parquet"
    pq.write_table(pa.table({"PupilID": pa.array([4839201175.0, 5716209871.0])}), path)
    _result, rows = land(path)
    assert [row["PupilID"] for row in rows] == ["4839201175", "5716209871"]


def test_truncated_parquet(tmp_path: Path) -> None:
    source = tmp_path / "p.parquet"
    pq.write_table(pa.table({"a": list(range(1000))}), source)
    data = source.read_bytes()
    source.unlink()
    path = tmp_path / "cut.parquet"
    path.write_bytes(data[: len(data) - 30])
    assert "Parquet" in str(refuse(path))


def test_format_is_detected_by_content_not_extension(tmp_path: Path) -> None:
    disguised = tmp_path / "data.xlsx"
    disguised.write_bytes(b"a,b\n1,2\n")
    assert detect_format(disguised) is SourceFormat.CSV
    book = _workbook(tmp_path / "book.csv")
    assert detect_format(book) is SourceFormat.XLSX


def test_excel_sep_line_names_the_delimiter(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(b"sep=;\r\nid;school\r\n1;A, B\r\n2;C\r\n")
    result, rows = land(path)
    assert (result.delimiter, result.columns) == (";", ("id", "school"))
    assert rows == [{"_row": 1, "id": "1", "school": "A, B"}, {"_row": 2, "id": "2", "school": "C"}]


def test_a_write_failure_is_a_storage_error_not_a_bad_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(b"a,b\n1,2\n")
    real = Engine.execute

    def failing(self: Engine, sql: str, *args: object, **kwargs: object) -> object:
        if sql.startswith("COPY"):
            target = sql.rsplit(" TO ", 1)[1].split("'")[1]
            cause = duckdb.IOException(f"IO Error: could not write {target}: No space left")
            raise StorageError("land failed") from cause
        return real(self, sql, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Engine, "execute", failing)
    with pytest.raises(StorageError), Engine() as engine:
        read_table(path, engine=engine, dest=tmp_path / "o.parquet")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv"]
