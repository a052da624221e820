"""Known answers for every need measure, evaluated by DuckDB on hand-written scored rows."""

from __future__ import annotations

import pyarrow as pa
import pytest

from linkwell.analysis.needs import (
    LOW_CONNECTEDNESS_MAX,
    LOW_LIFE_SATISFACTION_MAX,
    LOW_MOOD_MAX,
    LOW_WEMWBS_MAX,
    NEED_REGISTRY,
    applicable_needs,
)
from linkwell.engine import Engine

BY_NAME = {n.name: n for n in NEED_REGISTRY}


def _evaluate(name: str, column: str, values: list[object], kind: pa.DataType) -> list[object]:
    measure = BY_NAME[name]
    with Engine() as engine:
        engine.register("scored", pa.table({column: pa.array(values, type=kind)}))
        rows = engine.fetchall(f"SELECT {measure.sql} FROM scored", purpose="evaluate")
    return [r[0] for r in rows]


@pytest.mark.parametrize(
    ("name", "column", "values", "expected"),
    [
        ("sdq_total_abnormal", "sdq_total", [19, 20, 40, None], [False, True, True, None]),
        ("sdq_total_very_high", "sdq_total", [19, 20, 0, None], [False, True, False, None]),
        ("sdq_emotional_very_high", "sdq_emotional", [6, 7, 10], [False, True, True]),
        ("sdq_conduct_very_high", "sdq_conduct", [4, 5, 0], [False, True, False]),
        (
            "wemwbs_low",
            "wemwbs_total",
            [LOW_WEMWBS_MAX, LOW_WEMWBS_MAX + 1, 14, None],
            [True, False, True, None],
        ),
        ("mood_low", "mood_score", [LOW_MOOD_MAX, LOW_MOOD_MAX + 1, 5], [True, False, True]),
        (
            "life_satisfaction_low",
            "life_satisfaction",
            [LOW_LIFE_SATISFACTION_MAX, LOW_LIFE_SATISFACTION_MAX + 1, 0, 10],
            [True, False, True, False],
        ),
        ("bullied_weekly", "bullied", [4, 3, 1, None], [True, False, False, None]),
        ("regular_smoker", "smoking", [5, 4, 1], [True, False, False]),
        (
            "family_connectedness_low",
            "family_connectedness",
            [LOW_CONNECTEDNESS_MAX, LOW_CONNECTEDNESS_MAX + 1, 3, 15],
            [True, False, True, False],
        ),
        (
            "school_connectedness_low",
            "school_connectedness",
            [LOW_CONNECTEDNESS_MAX, LOW_CONNECTEDNESS_MAX + 1],
            [True, False],
        ),
    ],
)
def test_integer_measures(name: str, column: str, values: list[object], expected: list[object]):
    assert _evaluate(name, column, values, pa.int16()) == expected


@pytest.mark.parametrize("name", ["young_carer", "drank_last_week", "drugs_last_month"])
def test_yes_no_measures(name: str) -> None:
    column = BY_NAME[name].columns[0]
    assert _evaluate(name, column, [True, False, None], pa.bool_()) == [True, False, None]


def test_sdq_cut_offs_come_from_the_shipped_bands() -> None:
    assert "BETWEEN 20 AND 40" in BY_NAME["sdq_total_abnormal"].sql
    assert "BETWEEN 7 AND 10" in BY_NAME["sdq_emotional_very_high"].sql
    assert "BETWEEN 5 AND 10" in BY_NAME["sdq_conduct_very_high"].sql


def test_coinciding_definitions_are_merged_once() -> None:
    columns = {c for n in NEED_REGISTRY for c in n.columns}
    needs = applicable_needs(columns)
    sqls = [n.sql for n in needs]
    assert len(sqls) == len(set(sqls))
    merged = next(n for n in needs if n.name == "sdq_total_abnormal")
    assert merged.aliases == ("sdq_total_very_high",)
    assert "Identical to" in merged.definition
    assert merged.title == "Abnormal or very high overall difficulties (SDQ total)"
    assert len(needs) == len(NEED_REGISTRY) - 1


def test_needs_without_their_columns_do_not_apply() -> None:
    primary_only = {"mood_score", "life_satisfaction", "bullied", "young_carer"}
    names = {n.name for n in applicable_needs(primary_only)}
    assert names == {"mood_low", "life_satisfaction_low", "bullied_weekly", "young_carer"}


def test_every_measure_has_a_written_definition_and_source() -> None:
    for measure in NEED_REGISTRY:
        assert len(measure.definition) > 30, measure.name
        assert measure.source
        assert measure.title
        assert measure.short
