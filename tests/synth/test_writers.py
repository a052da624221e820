"""Provider files as providers send them, and a mapping file that reads each of them back."""

from __future__ import annotations

import tomllib

import openpyxl
import pyarrow.parquet as pq
import pyreadstat
import pytest

from linkwell.config import ColumnMapping
from linkwell.schema import load_dataset
from linkwell.schema.definitions import FieldType
from linkwell.synth import FileFormat, MessRates, SynthFormats, SynthResult, synthesise
from linkwell.synth.provider import SourceRole, layout_for
from tests.synth.conftest import apply_mapping, dataset_of, mappings, read_back, read_raw


def _source(result: SynthResult, prefix: str):
    return next(s for s in result.sources if s.source.startswith(prefix))


def test_secondary_csv_is_utf8_with_bom_and_crlf(messy_area: SynthResult) -> None:
    info = _source(messy_area, "secondary")
    data = info.path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfPupilID,SchoolCode,LACode,Stage,Sex,SDQ1,")
    assert data.count(b"\r\n") == info.rows + 1
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert b'"' not in data
    text = data.decode("utf-8-sig")
    lines = text.split("\r\n")[1:-1]
    assert {"S01", "S02", "S03", "S04", "-9"} <= {line.split(",")[3] for line in lines}


def test_primary_sav_has_variable_and_value_labels(messy_area: SynthResult) -> None:
    info = _source(messy_area, "primary")
    frame, meta = pyreadstat.read_sav(info.path)
    dataset = dataset_of(messy_area, "primary")
    assert meta.column_names_to_labels["LifeSat"] == dataset.field("life_satisfaction").description
    assert meta.variable_value_labels["Stage"] == {5.0: "P5", 6.0: "P6", 7.0: "P7"}
    assert meta.variable_value_labels["Sex"] == {1.0: "Boy", 2.0: "Girl", 3.0: "Other"}
    assert meta.variable_value_labels["Bullied"][4.0] == "at least once a week"
    assert len(frame) == info.rows
    assert frame["Mood1"].isna().any()  # planted missing values are system-missing
    labelled, _ = pyreadstat.read_sav(info.path, apply_value_formats=True)
    assert set(labelled["Stage"].dropna()) <= {"P5", "P6", "P7", 4.0, 8.0}


def test_the_sav_mapping_reads_labels_as_well_as_codes(messy_area: SynthResult) -> None:
    info = _source(messy_area, "primary")
    mapping = mappings(messy_area)["primary"]
    dataset = dataset_of(messy_area, "primary")
    header, labelled = read_raw(info.path, info.format, labels=True)
    assert "Girl" in {row[header.index("Sex")] for row in labelled}
    from_labels = apply_mapping(header, labelled, mapping, dataset)
    _, from_codes, _ = read_back(messy_area).files["primary"]
    assert from_labels.rows == from_codes.rows


def test_authority_xlsx_has_its_data_sheet_first(messy_area: SynthResult) -> None:
    info = _source(messy_area, "authority-")
    book = openpyxl.load_workbook(info.path, read_only=True)
    assert book.sheetnames == ["Pupils", "Notes"]
    header = read_back(messy_area).headers[info.source]
    assert header[:4] == ["PupilID", "SchoolCode", "SIMD_Decile", "UR8"]
    assert "LAC_Foster" in header
    first_row = next(book["Pupils"].iter_rows(min_row=2, max_row=2, values_only=True))
    assert first_row[header.index("LAC_Foster")] in ("Y", "N", "U", "X", None)
    numbers = [
        r for r in pq.read_table(messy_area.truth.rows).to_pylist() if r["source"] == info.source
    ]
    assert min(r["row"] for r in numbers) == 2  # the spreadsheet row of the first data row


def test_mapping_file_reads_every_file(messy_area: SynthResult) -> None:
    raw = tomllib.loads(messy_area.mapping.read_text(encoding="utf-8"))
    assert set(raw) == {s.source for s in messy_area.sources}
    for info in messy_area.sources:
        mapping = ColumnMapping.model_validate(raw[info.source])
        dataset = dataset_of(messy_area, info.source)
        header = read_back(messy_area).headers[info.source]
        fields = [mapping.columns.get(name, name) for name in header]
        assert len(set(fields)) == len(fields)
        assert all(dataset.field(f) for f in fields)
        required = {f.name for f in dataset.fields if f.required}
        assert required <= set(fields)
        for name, table in mapping.codes.items():
            field = dataset.field(name)
            if field.type is FieldType.CATEGORY:
                assert set(table.values()) <= set(field.codes or ())
        assert (mapping.sheet == "Pupils") == (info.format is FileFormat.XLSX)
    primary = mappings(messy_area)["primary"]
    assert primary.codes["sex"]["Girl"] == "female"  # labels or codes may land from .sav
    assert primary.codes["sex"]["2"] == "female"
    assert "-9" in mappings(messy_area)["secondary"].missing_codes


def test_other_formats_and_missing_codes(tmp_path) -> None:
    formats = SynthFormats(
        secondary=FileFormat.SAV, primary=FileFormat.XLSX, authority=FileFormat.PARQUET
    )
    result = synthesise(tmp_path / "area", children=600, seed=4, formats=formats)
    secondary = _source(result, "secondary")
    _, meta = pyreadstat.read_sav(secondary.path, user_missing=True)
    assert meta.missing_ranges["SDQ1"] == [{"lo": -9.0, "hi": -9.0}]  # -9 is user-missing
    assert "Stage" in meta.column_names
    authority = _source(result, "authority-")
    table = pq.read_table(authority.path)
    assert table.column_names[0] == "PupilID"
    primary = _source(result, "primary")
    book = openpyxl.load_workbook(primary.path, read_only=True)
    assert book.sheetnames[0] == "Pupils"
    assert mappings(result)[primary.source].sheet == "Pupils"
    assert not list(tmp_path.rglob("*.partial"))


def test_a_large_extract_falls_back_to_csv_with_a_note(tmp_path) -> None:
    formats = SynthFormats(xlsx_max_rows=100)
    result = synthesise(tmp_path / "area", children=300, seed=4, formats=formats)
    authority = _source(result, "authority-")
    assert authority.format is FileFormat.CSV
    assert authority.path.suffix == ".csv"
    assert len(result.notes) == 1
    assert "CSV" in result.notes[0]
    assert mappings(result)[authority.source].sheet is None


@pytest.mark.parametrize("role", list(SourceRole))
def test_canonical_layouts_use_the_datasets_own_names(role: SourceRole) -> None:
    dataset = {
        SourceRole.SECONDARY: "survey-secondary",
        SourceRole.PRIMARY: "survey-primary",
        SourceRole.AUTHORITY: "authority",
    }[role]
    definition = load_dataset(dataset, 1)
    layout = layout_for(role, definition, provider_coding=False)
    assert all(c.name == c.field for c in layout.columns)
    assert layout.missing is None
    provider = layout_for(role, definition, provider_coding=True)
    assert len({c.name for c in provider.columns}) == len(provider.columns)
    assert provider.column("unique_id").name != "unique_id"


def test_clean_files_use_canonical_codes(clean_area: SynthResult) -> None:
    info = _source(clean_area, "authority-")
    header, rows = read_raw(info.path, info.format, "Pupils")
    assert header[0] == "unique_id"
    assert {r[header.index("looked_after_home")] for r in rows} == {"true", "false"}
    assert MessRates.clean().provider_coding is False
