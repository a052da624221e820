"""Wilson intervals against statsmodels' implementation, and Kish's effective sample size."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from statsmodels.stats.proportion import proportion_confint

from linkwell.analysis.intervals import effective_n, wilson


@given(st.integers(1, 5000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_matches_statsmodels(case: tuple[int, int]) -> None:
    count, n = case
    low, high = wilson(np.array([count / n]), np.array([float(n)]))
    ref_low, ref_high = proportion_confint(count, n, alpha=0.05, method="wilson")
    assert np.isclose(low[0], ref_low, atol=1e-12)
    assert np.isclose(high[0], ref_high, atol=1e-12)
    assert low[0] <= count / n <= high[0]


def test_known_answer_and_empty_denominator() -> None:
    low, high = wilson(np.array([0.5, 0.0]), np.array([100.0, 0.0]))
    assert round(low[0], 4) == 0.4038
    assert round(high[0], 4) == 0.5962
    assert np.isnan(low[1])
    assert np.isnan(high[1])


def test_effective_n() -> None:
    weights = np.array([1.0, 1.0, 1.0, 1.0])
    assert effective_n(np.array([weights.sum()]), np.array([(weights**2).sum()]))[0] == 4.0
    uneven = np.array([1.0, 3.0])
    assert effective_n(np.array([uneven.sum()]), np.array([(uneven**2).sum()]))[0] == 16 / 10
    assert effective_n(np.array([0.0]), np.array([0.0]))[0] == 0.0
