"""Known-answer tests for instrument scoring, hand-computed from the published rules."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from linkwell.engine import Engine
from linkwell.schema import load_dataset
from linkwell.schema.scoring import score_query, scored_columns

SECONDARY = load_dataset("survey-secondary", 1)
PRIMARY = load_dataset("survey-primary", 1)
SDQ_ITEMS = [f"sdq_{i:02d}" for i in range(1, 26)]
WEMWBS_ITEMS = [f"wemwbs_{i:02d}" for i in range(1, 15)]


def _score(rows: list[dict[str, int | None]], dataset=SECONDARY) -> list[dict[str, object]]:
    columns = [f.name for f in dataset.fields if f.type.value == "integer"]
    table = pa.table({c: pa.array([r.get(c) for r in rows], type=pa.int16()) for c in columns})
    with Engine() as engine:
        engine.register("answers", table)
        return engine.arrow(score_query(dataset, "answers"), purpose="score").to_pylist()


def test_all_zero_sdq_scores_only_the_reverse_items() -> None:
    (row,) = _score([dict.fromkeys(SDQ_ITEMS, 0)])
    assert row["sdq_emotional"] == 0
    assert row["sdq_conduct"] == 2  # item 7 reversed
    assert row["sdq_hyperactivity"] == 4  # items 21 and 25 reversed
    assert row["sdq_peer"] == 4  # items 11 and 14 reversed
    assert row["sdq_prosocial"] == 0
    assert row["sdq_total"] == 10
    assert row["sdq_total_band3"] == "normal"
    assert row["sdq_prosocial_band3"] == "abnormal"


def test_all_two_sdq_is_the_maximum_minus_reverse() -> None:
    (row,) = _score([dict.fromkeys(SDQ_ITEMS, 2)])
    scales = ("sdq_emotional", "sdq_conduct", "sdq_hyperactivity", "sdq_peer")
    assert tuple(row[s] for s in scales) == (10, 8, 6, 6)
    assert row["sdq_total"] == 30
    assert row["sdq_total_band3"] == "abnormal"
    assert row["sdq_total_band4"] == "very high"
    assert row["sdq_emotional_band4"] == "very high"


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ({"sdq_03": 1, "sdq_08": 1, "sdq_13": 2}, 7),  # 4/3*5 = 6.67 -> 7
        ({"sdq_03": 1, "sdq_08": 1, "sdq_13": 1}, 5),  # 3/3*5 = 5
        ({"sdq_03": 2, "sdq_08": 2, "sdq_13": 1, "sdq_16": 1}, 8),  # 6/4*5 = 7.5 -> 8 (half up)
        ({"sdq_03": 2, "sdq_08": 1, "sdq_13": 1, "sdq_16": 1}, 6),  # 5/4*5 = 6.25 -> 6
        ({"sdq_03": 2, "sdq_08": 2}, None),  # only 2 of 5 answered
    ],
)
def test_sdq_subscale_prorating(answers: dict[str, int], expected: int | None) -> None:
    (row,) = _score([answers])
    assert row["sdq_emotional"] == expected


def test_total_is_missing_when_a_subscale_is() -> None:
    answers = dict.fromkeys(SDQ_ITEMS, 1)
    for item in ("sdq_06", "sdq_11", "sdq_14"):
        answers[item] = None  # peer: 2 of 5 answered
    (row,) = _score([answers])
    assert row["sdq_peer"] is None
    assert row["sdq_total"] is None
    assert row["sdq_total_band3"] is None


def test_wemwbs_is_never_prorated() -> None:
    full, short = dict.fromkeys(WEMWBS_ITEMS, 3), dict.fromkeys(WEMWBS_ITEMS, 3)
    short["wemwbs_14"] = None
    rows = _score([full, short])
    assert [r["wemwbs_total"] for r in rows] == [42, None]


def test_primary_mood_prorates_from_four_items() -> None:
    rows = _score(
        [
            {"mood_01": 5, "mood_02": 4, "mood_03": 4, "mood_04": 3},  # 16/4*5 = 20
            {"mood_01": 5, "mood_02": 4, "mood_03": 4},  # 3 of 5: missing
            {"family_connect_01": 5, "family_connect_02": 4},  # 9/2*3 = 13.5 -> 14
        ],
        dataset=PRIMARY,
    )
    assert [r["mood_score"] for r in rows] == [20, None, None]
    assert rows[2]["family_connectedness"] == 14


@given(st.lists(st.one_of(st.none(), st.integers(0, 2)), min_size=25, max_size=25))
def test_scores_stay_in_range_and_follow_the_rule(values: list[int | None]) -> None:
    (row,) = _score([dict(zip(SDQ_ITEMS, values, strict=True))])
    for scale in next(i for i in SECONDARY.instruments if i.name == "sdq").scales:
        items = [values[SDQ_ITEMS.index(item)] for item in scale.items]
        pairs = zip(scale.items, items, strict=True)
        answered = [v if item not in scale.reverse else 2 - v for item, v in pairs if v is not None]
        score = row[scale.name]
        if len(answered) < 3:
            assert score is None
        else:
            exact = sum(answered) * 5 / len(answered)
            assert score == int(exact + 0.5)
            assert 0 <= score <= 10


def test_scored_columns_lists_everything_added() -> None:
    (row,) = _score([{}])
    assert set(scored_columns(SECONDARY)) <= set(row)
