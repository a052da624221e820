from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import openpyxl
import pandas as pd
import pyarrow.parquet as pq
import pyreadstat
import pytest

from linkwell.config import ColumnMapping
from linkwell.engine import Engine
from linkwell.errors import ConfigError, ValidationError
from linkwell.schema import load_dataset
from linkwell.schema.ids import check_digit
from linkwell.schema.rules import Rule
from linkwell.schema.validate import ValidationResult, validate_file

from ._authority import AUTHORITY, FLAGS, SUPPLIED, clean_row, write_csv


def make_id(n: int) -> str:
    payload = str(100_000_000 + n * 7919)
    return payload + check_digit(payload)


def bad_check_digit(good: str) -> str:
    return good[:-1] + str((int(good[-1]) + 1) % 10)


def run(path: Path, mapping: ColumnMapping | None = None, **kw: object) -> ValidationResult:
    with Engine() as engine:
        return validate_file(
            path,
            AUTHORITY,
            mapping or ColumnMapping(),
            out_dir=path.parent / "out",
            engine=engine,
            **kw,
        )  # type: ignore[arg-type]


def quarantine(result: ValidationResult) -> Counter[tuple[int, str, str]]:
    rows = pq.read_table(result.quarantine).to_pylist()
    return Counter((r["row"], r["field"], r["rule"]) for r in rows)


HEADER = ("Pupil ID", *SUPPLIED[1:], "not_in_receipt", "any_asn", "Forename", "Notes")


def _messy(tmp_path: Path) -> tuple[Path, dict[int, str], Counter[tuple[int, str, str]]]:
    """A file with every kind of problem at a known row; returns it, its IDs and the problems."""
    ids = {n: make_id(n) for n in range(1, 23)}
    ids[9] = ids[10]
    planted: list[tuple[dict[str, str], list[tuple[str, str]]]] = [
        ({}, []),
        ({"free_school_meals": "Y", "fsm_basis": "universal"}, []),
        ({"simd_decile": "11"}, [("simd_decile", "out-of-range")]),
        ({"simd_decile": "3.5", "urban_rural": "0"},
         [("simd_decile", "not-integer"), ("urban_rural", "out-of-range")]),
        ({"looked_after_home": "maybe"}, [("looked_after_home", "not-yes-no")]),
        ({"unique_id": ""}, [("unique_id", "required")]),
        ({"unique_id": "12345"}, [("unique_id", "id-format")]),
        ({"unique_id": bad_check_digit(ids[8])}, [("unique_id", "id-check-digit")]),
        ({}, [("unique_id", "duplicate-id")]),
        ({}, [("unique_id", "duplicate-id")]),
        ({"free_school_meals": "Y"}, [("fsm_basis", "requires")]),
        ({"fsm_basis": "universal"}, [("fsm_basis", "requires")]),
        ({"free_school_meals": "Y", "fsm_basis": "weekly"}, [("fsm_basis", "unknown-code")]),
        ({"not_in_receipt": "Y", "child_protection": "Y"}, [("not_in_receipt", "exclusive")]),
        ({"any_asn": "Y"}, [("any_asn", "any-of")]),
        ({"any_asn": "N", "asn_autism": "Y"}, [("any_asn", "any-of")]),
        ({"not_in_receipt": "N"}, []),
        ({"school": " "}, [("school", "required")]),
        ({"unique_id": "0123456789", "simd_decile": "x", "looked_after_foster": ""},
         [("unique_id", "id-format"), ("simd_decile", "not-integer"),
          ("looked_after_foster", "required")]),
        ({"asn_autism": "Y", "not_in_receipt": "Y"}, [("not_in_receipt", "exclusive")]),
    ]  # fmt: skip
    rows: list[dict[str, str]] = []
    expected: Counter[tuple[int, str, str]] = Counter()
    for number, (changes, problems) in enumerate(planted, start=1):
        row = clean_row(ids[number], Forename="Zebedee", Notes="planted note") | changes
        row["Pupil ID"] = row.pop("unique_id")
        rows.append(row)
        expected.update((number, field, rule) for field, rule in problems)
    rows.append({h: "" for h in HEADER})  # row 21: every cell empty
    last = clean_row(ids[22], school="Académie Écossaise") | {"Forename": "Zebedee"}
    last["Pupil ID"] = last.pop("unique_id")
    rows.append(last)
    ids[7], ids[8], ids[19] = "12345", bad_check_digit(ids[8]), "0123456789"
    path = write_csv(tmp_path / "messy.csv", rows, HEADER, encoding="cp1252", newline="\r\n")
    return path, ids, expected


MAPPING = ColumnMapping(columns={"Pupil ID": "unique_id"})


def test_messy_file_gives_exact_quarantine_and_counts_that_add_up(tmp_path: Path) -> None:
    path, _ids, expected = _messy(tmp_path)
    result = run(path, MAPPING)
    assert quarantine(result) == expected
    assert (result.rows_read, result.rows_accepted, result.rows_quarantined) == (21, 4, 17)
    assert result.rows_read == result.rows_accepted + result.rows_quarantined
    assert result.blank_rows == 1
    assert result.problems == sum(expected.values())
    assert result.problems_by_rule[Rule.DUPLICATE_ID] == 2
    assert result.problems_by_field["unique_id"] == 6
    assert result.problems_by_dataset_rule == {
        "any-asn-derived": 2, "fsm-basis": 2, "not-in-receipt-contradiction": 2,
    }  # fmt: skip
    assert result.dropped_columns == ("Forename", "Notes")
    assert result.personal_columns == ("Forename",)
    assert result.computed == ()  # both derived columns are in the file, mostly empty
    summary = json.loads(result.summary.read_text())
    assert summary["rows_read"] == summary["rows_accepted"] + summary["rows_quarantined"] == 21
    assert summary["problems_by_rule"] == {str(k): v for k, v in result.problems_by_rule.items()}
    assert summary["dataset"] == "authority@1"
    assert summary["dropped_personal_columns"] == ["Forename"]
    assert summary["encoding"] == "cp1252"
    assert len(summary["mapping_digest"]) == 64
    csv_rows = result.quarantine_csv.read_text().splitlines()
    assert csv_rows[0] == "file,row,field,rule,dataset_rule,message"
    assert len(csv_rows) == 1 + sum(expected.values())
    assert sorted(p.name for p in result.out_dir.iterdir()) == [
        "accepted.parquet", "quarantine.csv", "quarantine.parquet", "quarantined-ids.parquet",
        "summary.json",
    ]  # fmt: skip


def test_accepted_rows_are_typed_with_derived_fields_filled(tmp_path: Path) -> None:
    path, ids, _ = _messy(tmp_path)
    result = run(path, MAPPING)
    accepted = {r["_row"]: r for r in pq.read_table(result.accepted).to_pylist()}
    assert sorted(accepted) == [1, 2, 17, 22]
    schema = pq.read_schema(result.accepted)
    assert schema.names == [*(f.name for f in AUTHORITY.fields), "_row"]
    assert str(schema.field("simd_decile").type) == "int16"
    assert str(schema.field("looked_after_home").type) == "bool"
    first = accepted[1]
    assert (
        first["unique_id"],
        first["simd_decile"],
        first["not_in_receipt"],
        first["any_asn"],
    ) == (ids[1], 4, True, False)
    assert (accepted[2]["free_school_meals"], accepted[2]["fsm_basis"]) == (True, "universal")
    assert accepted[17]["not_in_receipt"] is False  # supplied "no" stands: checked one way only
    assert accepted[22]["school"] == "Académie Écossaise"


def test_no_output_or_message_holds_a_planted_value(tmp_path: Path) -> None:
    path, ids, _ = _messy(tmp_path)
    result = run(path, MAPPING)
    planted = [*ids.values(), "Zebedee", "planted note", "5244439", "maybe", "weekly", "3.5"]
    for output in (result.quarantine, result.quarantine_csv, result.summary):
        data = output.read_bytes()
        for value in planted:
            assert value.encode() not in data, (output.name, value)
    columns = [c for c in HEADER if c != "simd_decile"]
    broken = write_csv(
        tmp_path / "broken.csv", [clean_row(ids[1], **{"Pupil ID": ids[1]})], columns
    )
    with pytest.raises(ValidationError) as info:
        run(broken, MAPPING)
    text = str(info.value) + repr(info.value.__dict__)
    assert info.value.field == "simd_decile"
    assert not any(v in text for v in planted)


def test_the_landed_copy_never_outlives_validation(tmp_path: Path) -> None:
    path, _, _ = _messy(tmp_path)
    result = run(path, MAPPING)
    hidden = [p.name for p in result.out_dir.iterdir() if p.name.startswith(".")]
    assert hidden == []
    columns = pq.read_schema(result.accepted).names
    assert "Forename" not in columns
    assert "Notes" not in columns


def test_unknown_field_in_mapping_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "not-even-read.csv"
    path.write_bytes(b"\x00\x01")
    with pytest.raises(ConfigError) as info:
        run(path, ColumnMapping(columns={"x": "pupil_weight"}))
    assert info.value.field == "pupil_weight"
    assert not (tmp_path / "out").exists()


def test_xlsx_sheet_from_the_mapping(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    book.active.title = "Cover"
    book.active.append(["linkwell synthetic extract"])
    book.active.append(["prepared for tests"])
    sheet = book.create_sheet("Pupils")
    header = ["Pupil ID", *SUPPLIED[1:]]
    sheet.append(header)
    for n in (1, 2):
        row = clean_row(make_id(n), simd_decile="7")
        sheet.append([row["unique_id"], *(row[h] for h in SUPPLIED[1:])])
    path = tmp_path / "pupils.xlsx"
    book.save(path)
    result = run(path, ColumnMapping(columns={"Pupil ID": "unique_id"}, sheet="Pupils"))
    assert (result.rows_read, result.rows_accepted) == (2, 2)
    assert result.read.sheet == "Pupils"
    assert [r["_row"] for r in pq.read_table(result.accepted).to_pylist()] == [2, 3]


def test_sav_codes_with_value_labels_mapped_by_code(tmp_path: Path) -> None:
    rows = [clean_row(make_id(n)) for n in (1, 2, 3)]
    frame = pd.DataFrame({c: [r[c] for r in rows] for c in ("unique_id", "school")})
    frame["unique_id"] = frame["unique_id"].astype(float)
    for column in ("simd_decile", "urban_rural"):
        frame[column] = [4.0, 5.0, 6.0]
    for flag in FLAGS:
        frame[flag] = [2.0, 2.0, 2.0]  # SPSS style: 1 = Yes, 2 = No
    frame.loc[1, "looked_after_kinship"] = 1.0
    frame["fsm_basis"] = ["", "", ""]
    path = tmp_path / "survey.sav"
    pyreadstat.write_sav(frame, path, variable_value_labels={f: {1: "Yes", 2: "No"} for f in FLAGS})
    result = run(path, ColumnMapping(true_codes=("1",), false_codes=("2",)))
    assert result.read.value_labels["looked_after_home"] == {"1": "Yes", "2": "No"}
    assert (result.rows_read, result.rows_accepted) == (3, 3)
    accepted = {r["_row"]: r for r in pq.read_table(result.accepted).to_pylist()}
    assert accepted[2]["looked_after_kinship"] is True
    assert accepted[2]["not_in_receipt"] is False
    assert accepted[1]["unique_id"] == rows[0]["unique_id"]


def test_numbers_in_many_spellings(tmp_path: Path) -> None:
    spellings = {"3": 3, "+3": 3, "03": 3, "3.0": 3, "3.": 3, " 3 ": 3}
    rows = [clean_row(make_id(n), simd_decile=s) for n, s in enumerate(spellings, start=1)]
    result = run(write_csv(tmp_path / "n.csv", rows))
    assert result.rows_accepted == len(spellings)
    assert {r["simd_decile"] for r in pq.read_table(result.accepted).to_pylist()} == {3}


def test_a_code_a_spreadsheet_would_run_is_quarantined_without_quoting_it(
    tmp_path: Path,
) -> None:
    """School codes become the report's row labels: ``=...`` would be a live formula there."""
    codes = ["5237521", '=HYPERLINK("http://x")', "+4471", "-12", "@SUM(A1)", "S1\tB", "A-1"]
    rows = [clean_row(make_id(n), school=c) for n, c in enumerate(codes, start=1)]
    result = run(write_csv(tmp_path / "c.csv", rows))
    assert quarantine(result) == Counter((n, "school", "code-format") for n in (2, 3, 4, 5, 6))
    accepted = {r["school"] for r in pq.read_table(result.accepted).to_pylist()}
    assert accepted == {"5237521", "A-1"}
    data = result.quarantine.read_bytes() + result.quarantine_csv.read_bytes()
    assert b"HYPERLINK" not in data
    assert b"4471" not in data


def test_a_code_with_a_separator_a_mark_or_an_invisible_character_is_quarantined(
    tmp_path: Path,
) -> None:
    """Each would make one school two in the report: its label is the code as sent."""
    codes = ["1349343", "1,349,343", "1349343!", "1349343,", "1349343\u200b", "ABC/12-3", "S 12"]
    rows = [clean_row(make_id(n), school=c) for n, c in enumerate(codes, start=1)]
    result = run(write_csv(tmp_path / "c.csv", rows))
    assert quarantine(result) == Counter((n, "school", "code-format") for n in (2, 3, 4, 5))
    accepted = {r["school"] for r in pq.read_table(result.accepted).to_pylist()}
    assert accepted == {"1349343", "ABC/12-3", "S 12"}
    assert b"349" not in result.quarantine_csv.read_bytes()


def test_a_school_code_a_spreadsheet_shortened_is_quarantined_and_a_float_one_read(
    tmp_path: Path,
) -> None:
    """Exported from a spreadsheet or a float column, one school must not count as two."""
    codes = ["9346726", "9346726.0", "9.35E+06", "9.346726e6", "5237521"]
    rows = [clean_row(make_id(n), school=c) for n, c in enumerate(codes, start=1)]
    result = run(write_csv(tmp_path / "c.csv", rows))
    assert quarantine(result) == Counter((n, "school", "code-format") for n in (3, 4))
    accepted = [r["school"] for r in pq.read_table(result.accepted).to_pylist()]
    assert sorted(accepted) == ["5237521", "9346726", "9346726"]


def test_every_row_quarantined_still_writes_outputs(tmp_path: Path) -> None:
    rows = [clean_row("12345"), clean_row("67890")]
    result = run(write_csv(tmp_path / "bad.csv", rows))
    assert (result.rows_accepted, result.rows_quarantined) == (0, 2)
    assert pq.read_table(result.accepted).num_rows == 0
    assert pq.read_schema(result.accepted).names[-1] == "_row"


def test_a_failed_run_leaves_no_stale_outputs(tmp_path: Path) -> None:
    good = write_csv(tmp_path / "good.csv", [clean_row(make_id(1))])
    result = run(good)
    assert result.summary.exists()
    broken = tmp_path / "broken.csv"
    broken.write_bytes(b"unique_id,school\n")
    with pytest.raises(ValidationError):
        run(broken)
    assert list(result.out_dir.iterdir()) == []


def test_survey_dataset_numbers_categories_and_items(tmp_path: Path) -> None:
    survey = load_dataset("survey-secondary", 1)
    header = ["unique_id", "school", "Authority", "Stage", "sex", "weight", "sdq_01", "wemwbs_01"]
    values = [
        ["s2", "female", "1.5", "2", "5"],
        ["S4", "", "2e0", "", ""],
        ["S5", "boy", "0", "3", "6"],
        ["s1", "other", "heavy", "1.0", "1"],
    ]
    rows = [
        dict(zip(header, [make_id(n), "5244439", "S12000015", *v], strict=True))
        for n, v in enumerate(values, start=1)
    ]
    path = write_csv(tmp_path / "survey.csv", rows, header)
    with Engine() as engine:
        result = validate_file(
            path, survey, ColumnMapping(), out_dir=tmp_path / "out", engine=engine
        )
    assert quarantine(result) == Counter(
        {(3, "stage", "unknown-code"): 1, (3, "sex", "unknown-code"): 1,
         (3, "weight", "out-of-range"): 1, (3, "sdq_01", "out-of-range"): 1,
         (3, "wemwbs_01", "out-of-range"): 1, (4, "weight", "not-number"): 1}
    )  # fmt: skip
    accepted = {r["_row"]: r for r in pq.read_table(result.accepted).to_pylist()}
    assert sorted(accepted) == [1, 2]
    assert (accepted[1]["stage"], accepted[1]["sex"], accepted[1]["weight"]) == (
        "S2",
        "female",
        1.5,
    )
    assert (accepted[2]["weight"], accepted[2]["sdq_01"]) == (2.0, None)
    assert str(pq.read_schema(result.accepted).field("weight").type) == "double"
