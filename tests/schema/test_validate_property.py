"""For any generated extract, validation agrees with an independent oracle written in Python.

The oracle re-implements the authority dataset's checks from its definition, row by row, with
none of the SQL: trimming and missing codes, yes/no codes, whole numbers and ranges, the survey
ID's shape, check digit and duplicates, and each dataset rule with three-valued logic.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from linkwell.config import ColumnMapping
from linkwell.engine import Engine
from linkwell.schema.ids import check_digit, is_valid_id
from linkwell.schema.validate import validate_file

from ._authority import ASN, AUTHORITY, FLAGS, SERVICES, SUPPLIED, write_csv

HEADER = (*SUPPLIED, "not_in_receipt", "any_asn")
MAPPING = ColumnMapping()
TRUES = {c.lower() for c in MAPPING.true_codes}
FALSES = {c.lower() for c in MAPPING.false_codes}
MISSING = {c.lower() for c in MAPPING.missing_codes}
_IDS = [p + check_digit(p) for p in ("483920117", "572400000", "100000007", "999999999")]

ids = st.sampled_from([*_IDS, "", " " + _IDS[0], "12345", "0123456789", _IDS[1][:-1] + "9"])
schools = st.sampled_from(["5244439", "", "NA", " Académie "])
deciles = st.sampled_from(["1", "10", "0", "11", "3.0", "x", "", "+5", "2.5"])
classes = st.sampled_from(["1", "8", "9", "", "4"])
flags = st.sampled_from(["N", "N", "N", "no", "0", "Y", "yes", "", "maybe", "n/a"])
derived = st.sampled_from(["", "", "Y", "N", "?"])
bases = st.sampled_from(["", "", "universal", "Means-tested", "weekly"])


@st.composite
def extract_rows(draw: st.DrawFn) -> list[dict[str, str]]:
    count = draw(st.integers(min_value=1, max_value=20))
    rows = []
    for _ in range(count):
        row = {"unique_id": draw(ids), "school": draw(schools), "simd_decile": draw(deciles),
               "urban_rural": draw(classes), "fsm_basis": draw(bases),
               "not_in_receipt": draw(derived), "any_asn": draw(derived)}  # fmt: skip
        row |= {flag: draw(flags) for flag in FLAGS}
        rows.append(row)
    return rows


def _text(cell: str) -> str | None:
    trimmed = cell.strip(" \t\r\n\u00a0")
    return None if trimmed.lower() in MISSING else trimmed


def _bool(text: str | None) -> bool | None:
    if text is None:
        return None
    return True if text.lower() in TRUES else False if text.lower() in FALSES else None


def _any(values: Sequence[bool | None]) -> bool | None:
    if any(v is True for v in values):
        return True
    return None if any(v is None for v in values) else False


def oracle(rows: list[dict[str, str]]) -> Counter[tuple[int, str, str]]:  # noqa: PLR0912 - one branch per check, as the definition lists them
    problems: Counter[tuple[int, str, str]] = Counter()
    texts = [{k: _text(v) for k, v in row.items()} for row in rows]
    seen = Counter(t["unique_id"] for t in texts if t["unique_id"] is not None)
    for number, text in enumerate(texts, start=1):

        def report(field: str, rule: str, n: int = number) -> None:
            problems[(n, field, rule)] += 1

        for field in AUTHORITY.fields:
            if field.required and not field.derived and text.get(field.name) is None:
                report(field.name, "required")
        uid = text["unique_id"]
        if uid is not None:
            if not re.fullmatch(r"[1-9][0-9]{9}", uid):
                report("unique_id", "id-format")
            elif not is_valid_id(uid):
                report("unique_id", "id-check-digit")
            if seen[uid] > 1:
                report("unique_id", "duplicate-id")
        for name, low, high in (("simd_decile", 1, 10), ("urban_rural", 1, 8)):
            value = text[name]
            if value is None:
                continue
            if not re.fullmatch(r"[+-]?[0-9]+(\.0*)?", value):
                report(name, "not-integer")
            elif not low <= float(value) <= high:
                report(name, "out-of-range")
        values: dict[str, bool | None] = {}
        for name in (*FLAGS, "not_in_receipt", "any_asn"):
            values[name] = _bool(text[name])
            if text[name] is not None and values[name] is None:
                report(name, "not-yes-no")
        basis = text["fsm_basis"]
        if basis is not None and basis.lower() not in ("universal", "means-tested"):
            report("fsm_basis", "unknown-code")
        computed_asn = _any([values[a] for a in ASN])
        any_asn = values["any_asn"] if values["any_asn"] is not None else computed_asn
        if any_asn is True and computed_asn is False:
            report("any_asn", "any-of")
        if any_asn is False and computed_asn is True:
            report("any_asn", "any-of")
        values["any_asn"] = any_asn
        computed_nir = _any([values[s] for s in SERVICES])
        computed_nir = None if computed_nir is None else not computed_nir
        nir = values["not_in_receipt"] if values["not_in_receipt"] is not None else computed_nir
        for service in SERVICES:
            if nir is True and values[service] is True:
                report("not_in_receipt", "exclusive")
        if values["free_school_meals"] is True and basis is None:
            report("fsm_basis", "requires")
        if values["free_school_meals"] is False and basis is not None:
            report("fsm_basis", "requires")
    return problems


_counter = iter(range(10**9))


@settings(max_examples=30)
@given(extract_rows())
def test_validation_agrees_with_the_oracle(tmp_path: Path, rows: list[dict[str, str]]) -> None:
    folder = tmp_path / f"case{next(_counter)}"
    folder.mkdir()
    path = write_csv(folder / "extract.csv", rows, HEADER)
    with Engine() as engine:
        result = validate_file(path, AUTHORITY, MAPPING, out_dir=folder / "out", engine=engine)
    expected = oracle(rows)
    found = Counter(
        (r["row"], r["field"], r["rule"]) for r in pq.read_table(result.quarantine).to_pylist()
    )
    assert found == expected
    bad_rows = {row for row, _field, _rule in expected}
    accepted = sorted(r["_row"] for r in pq.read_table(result.accepted).to_pylist())
    assert accepted == [n for n in range(1, len(rows) + 1) if n not in bad_rows]
    assert result.rows_read == len(rows) == result.rows_accepted + result.rows_quarantined
