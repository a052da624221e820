"""Planted problems: each knob plants what it says at about its rate, and the truth lists them all.

The oracle reads every provider file back with the format's reference library and the mapping
file, compares each cell with the ground truth, and requires the set of differing cells to be
exactly the set of listed cell problems — so an unlisted problem or a listed non-problem fails.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkwell.schema.ids import is_valid_id, issue_ids_seeded
from linkwell.synth import MessKind, MessRates, SourceFile, SynthParameters, SynthResult
from linkwell.synth.calibration import calibrate
from linkwell.synth.latent import take_part
from linkwell.synth.mess import _typos, plant
from linkwell.synth.population import generate_population
from linkwell.synth.provider import SourceRole, layout_for
from linkwell.synth.services import draw_services
from linkwell.synth.survey import draw_answers
from linkwell.synth.tables import Area, SourceTable, source_tables
from tests.synth.conftest import INVALID, MESSY_RATES, MappedFile, dataset_of, mappings, read_back

CELL_KINDS = {
    MessKind.MISSING_VALUE,
    MessKind.OUT_OF_RANGE,
    MessKind.CONTRADICTORY_FLAGS,
    MessKind.ID_SUBSTITUTION,
    MessKind.ID_TRANSPOSITION,
}
ROW_KINDS = {
    MessKind.DUPLICATE_ID,
    MessKind.ID_SUBSTITUTION,
    MessKind.ID_TRANSPOSITION,
    MessKind.CONTRADICTORY_FLAGS,
}


def _near(count: int, trials: int, rate: float) -> bool:
    """``count`` is within five binomial standard errors (plus two) of ``trials * rate``."""
    return abs(count - trials * rate) <= 5 * math.sqrt(trials * rate * (1 - rate)) + 2


def _read(result: SynthResult, source: str) -> tuple[SourceFile, MappedFile, int]:
    return read_back(result).files[source]


def _listed(result: SynthResult, source: str) -> list[dict[str, object]]:
    return read_back(result).listed.get(source, [])


def _differences(result: SynthResult, source: str) -> dict[tuple[int, str], object]:
    """Every (row, field) whose value in the provider file is not the truth."""
    back = read_back(result)
    _, mapped, first = back.files[source]
    found: dict[tuple[int, str], object] = {}
    for index, record in enumerate(mapped.rows):
        row = index + first
        pupil = back.truth[back.owners[source][row]]
        for field, value in record.items():
            expected = pupil["reported_sex" if field == "sex" else field]
            if value is INVALID or value != expected:
                found[row, field] = value
    return found


def test_every_difference_from_the_truth_is_a_listed_problem(messy_area: SynthResult) -> None:
    for info in messy_area.sources:
        found = _differences(messy_area, info.source)
        listed = {
            (m["row"], m["field"]): MessKind(m["kind"])
            for m in _listed(messy_area, info.source)
            if m["kind"] in CELL_KINDS
        }
        assert set(found) == set(listed), info.source
        for key, value in found.items():
            kind = listed[key]
            if kind is MessKind.MISSING_VALUE:
                assert value is None
            elif kind is MessKind.OUT_OF_RANGE:
                assert value is INVALID
            elif kind is MessKind.CONTRADICTORY_FLAGS:
                assert isinstance(value, (bool, str))
            else:
                assert key[1] == "unique_id"
                assert not is_valid_id(str(value))


def test_the_clean_preset_plants_nothing(clean_area: SynthResult) -> None:
    assert pq.read_table(clean_area.truth.mess).num_rows == 0
    assert set(clean_area.mess.values()) == {0}
    for info in clean_area.sources:
        assert _differences(clean_area, info.source) == {}
        assert info.rows == pq.read_table(info.canonical).num_rows
        assert mappings(clean_area)[info.source].columns == {}


def test_each_knob_plants_at_about_its_rate(messy_area: SynthResult) -> None:
    rates = MESSY_RATES
    truth = read_back(messy_area).truth
    for info in messy_area.sources:
        listed = _listed(messy_area, info.source)
        kinds = Counter(MessKind(m["kind"]) for m in listed)
        copies = kinds[MessKind.DUPLICATE_ID] // 2
        originals = info.rows - copies
        typos = kinds[MessKind.ID_SUBSTITUTION] + kinds[MessKind.ID_TRANSPOSITION]
        assert _near(copies, originals, rates.duplicate_id), info.source
        assert _near(typos, originals, rates.id_typo), info.source
        assert _near(kinds[MessKind.ID_TRANSPOSITION], typos, rates.id_transposition_share)
        touched = {m["row"] for m in listed if MessKind(m["kind"]) in ROW_KINDS}
        _, mapped, first = _read(messy_area, info.source)
        cells = sum(
            1
            for index, record in enumerate(mapped.rows)
            if index + first not in touched
            for field in record
            if field != "unique_id"
        )
        missing = kinds[MessKind.MISSING_VALUE]
        assert missing <= cells * rates.missing_value + 5 * math.sqrt(cells * rates.missing_value)
        assert missing >= 0.8 * cells * rates.missing_value  # a few cells are blank by nature
        if info.kind.value == "authority":
            assert _near(kinds[MessKind.CONTRADICTORY_FLAGS], originals, rates.contradictory_flags)
            assert kinds[MessKind.NOT_IN_EXTRACT] == 0
        else:
            assert kinds[MessKind.CONTRADICTORY_FLAGS] == 0
            absent = sum(
                1
                for r in mapped.rows
                if not truth.get(r["unique_id"], {"in_authority_extract": True})[
                    "in_authority_extract"
                ]
            )
            assert kinds[MessKind.NOT_IN_EXTRACT] >= absent - typos - copies
            assert _near(kinds[MessKind.NOT_IN_EXTRACT], info.rows, rates.missing_from_extract)
    assert messy_area.mess[MessKind.OUT_OF_RANGE] > 0


def test_one_row_level_problem_per_row(messy_area: SynthResult) -> None:
    for info in messy_area.sources:
        by_row: dict[int, set[MessKind]] = defaultdict(set)
        for m in _listed(messy_area, info.source):
            by_row[m["row"]].add(MessKind(m["kind"]))
        for kinds in by_row.values():
            assert len(kinds & ROW_KINDS) <= 1
            if kinds & ROW_KINDS:
                assert not kinds & {MessKind.MISSING_VALUE, MessKind.OUT_OF_RANGE}


def test_duplicates_are_exactly_the_rows_sharing_an_id(messy_area: SynthResult) -> None:
    for info in messy_area.sources:
        _, mapped, first = _read(messy_area, info.source)
        seen = Counter(r["unique_id"] for r in mapped.rows)
        shared = {i + first for i, r in enumerate(mapped.rows) if seen[r["unique_id"]] > 1}
        listed = {m["row"] for m in _listed(messy_area, info.source) if m["kind"] == "duplicate-id"}
        assert shared == listed
        assert shared


def test_typos_change_one_digit_or_swap_two_neighbours(messy_area: SynthResult) -> None:
    for info in messy_area.sources:
        _, mapped, first = _read(messy_area, info.source)
        for m in _listed(messy_area, info.source):
            if m["kind"] not in ("id-substitution", "id-transposition"):
                continue
            sent, true = str(mapped.rows[m["row"] - first]["unique_id"]), m["unique_id"]
            assert is_valid_id(true)
            assert not is_valid_id(sent)
            diff = [i for i in range(10) if sent[i] != true[i]]
            if m["kind"] == "id-substitution":
                assert len(diff) == 1
            else:
                assert len(diff) == 2
                assert diff[1] == diff[0] + 1
                assert sent[diff[0]] == true[diff[1]]
                assert sent[diff[1]] == true[diff[0]]


def test_extracts_cover_non_respondents(messy_area: SynthResult) -> None:
    back = read_back(messy_area)
    truth = back.truth
    in_extracts = {
        uid for source, rows in back.owners.items() if source.startswith("authority-")
        for uid in rows.values()
    }  # fmt: skip
    expected = {uid for uid, p in truth.items() if p["in_authority_extract"]}
    assert in_extracts == expected
    assert any(not truth[uid]["participated"] for uid in in_extracts)
    missing = {uid for uid, p in truth.items() if not p["in_authority_extract"]}
    assert missing
    assert all(truth[uid]["participated"] for uid in missing)


@given(st.integers(0, 2**32 - 1), st.floats(0, 1))
def test_typos_never_make_a_valid_id(seed: int, share: float) -> None:
    rng = np.random.default_rng(seed)
    ids = issue_ids_seeded(200, rng)
    rows = np.arange(0, 200, 3, dtype=np.intp)
    changed, swapped = _typos(ids, rows, share, rng)
    assert not any(is_valid_id(x) for x in changed[rows].tolist())
    untouched = np.setdiff1d(np.arange(200), rows)
    assert changed[untouched].tolist() == ids[untouched].tolist()
    assert len(swapped) == len(rows)


def test_rates_are_validated() -> None:
    with pytest.raises(ValueError, match="row rates"):
        MessRates(id_typo=0.6, duplicate_id=0.5)
    with pytest.raises(ValueError, match="cell rates"):
        MessRates(missing_value=0.7, out_of_range=0.4)
    with pytest.raises(ValueError, match="extra"):
        MessRates(typos=0.1)  # type: ignore[call-arg]
    clean = MessRates.clean()
    assert not clean.provider_coding
    assert all(
        v == 0
        for k, v in clean.model_dump().items()
        if k not in ("provider_coding", "id_transposition_share")
    )


@pytest.fixture(scope="module")
def extract() -> tuple[SourceTable, np.ndarray]:
    params = SynthParameters()
    rng = np.random.default_rng(1)
    population = generate_population(600, 1, params.structure, rng)
    services = draw_services(population.pupils, params.authority, rng)
    respondents = take_part(population.pupils, services, params.survey, rng)
    answers = draw_answers(
        population.pupils, services, respondents, params=params.survey,
        calibration=calibrate(params), rng=rng,
    )  # fmt: skip
    area = Area(population, services, respondents, answers, issue_ids_seeded(600, rng))
    table = next(t for t in source_tables(area) if t.name.startswith("authority-"))
    return table, population.pupils.school[table.pupils]


rates = st.floats(0, 0.3)


@settings(max_examples=20)
@given(st.integers(0, 2**32 - 1), rates, rates, rates, rates, rates, rates)
def test_planted_cells_are_what_the_records_say(  # noqa: PLR0917 - one argument per rate
    extract, seed, typo, duplicate, contradiction, missing, wrong, swap
) -> None:
    table, school = extract
    mess = MessRates(
        id_typo=typo, duplicate_id=duplicate, contradictory_flags=contradiction,
        missing_value=missing, out_of_range=wrong, id_transposition_share=swap,
    )  # fmt: skip
    layout = layout_for(SourceRole.AUTHORITY, table.dataset, provider_coding=True)
    planted = plant(table, layout, mess, np.random.default_rng(seed), school=school)
    copies = sum(
        len(p) for p, k, d in zip(planted.records.position, planted.records.kind,
                                  planted.records.detail, strict=True)
        if k is MessKind.DUPLICATE_ID and d == "copy"
    )  # fmt: skip
    assert len(planted.table) == len(table) + copies
    assert all(len(cells) == len(planted.table) for cells in planted.cells)
    index = {c.field: i for i, c in enumerate(layout.columns)}
    row_level: set[int] = set()
    for positions, field, kind in zip(
        planted.records.position, planted.records.field, planted.records.kind, strict=True
    ):
        cells = planted.cells[index[field]]
        values = cells.take(positions).to_pylist()
        if kind is MessKind.MISSING_VALUE:
            assert all(v is None for v in values)
        elif kind is MessKind.OUT_OF_RANGE:
            assert set(values) <= set(layout.columns[index[field]].invalid)
        elif kind in (MessKind.ID_SUBSTITUTION, MessKind.ID_TRANSPOSITION):
            assert not any(is_valid_id(v) for v in values)
        if kind in ROW_KINDS:
            assert not row_level & set(positions.tolist())  # one row-level problem per row
            row_level |= set(positions.tolist())


def _violations(record: dict[str, object], dataset) -> set[str]:
    """The definition's rules a mapped authority row breaks, checked independently here."""
    broken = set()
    for rule in dataset.rules:
        others = [record[name] is True for name in rule.others]
        value = record[rule.field]
        if (rule.type == "exclusive" and value is True and any(others)) or (
            rule.type == "any_of" and value is not None and value != any(others)
        ):
            broken.add(rule.name)
        elif rule.type == "requires" and value is not None:
            present = all(record[name] is not None for name in rule.others)
            if value != present:
                broken.add(rule.name)
    return broken


def test_each_contradiction_breaks_exactly_its_rule(messy_area: SynthResult) -> None:
    for info in messy_area.sources:
        if info.kind.value != "authority":
            continue
        _, mapped, first = read_back(messy_area).files[info.source]
        by_row: dict[int, list[dict[str, object]]] = defaultdict(list)
        for m in _listed(messy_area, info.source):
            by_row[m["row"]].append(m)
        dataset = dataset_of(messy_area, info.source)
        checked = 0
        for index, record in enumerate(mapped.rows):
            listed = by_row.get(index + first, [])
            if not listed:
                assert _violations(record, dataset) == set()
            elif listed[0]["kind"] == "contradictory-flags":
                assert _violations(record, dataset) == {listed[0]["detail"]}
                checked += 1
        assert checked > 20
