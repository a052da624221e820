"""Confidence intervals for percentages: Wilson score intervals (effective sample size if weighted).

Unweighted: the Wilson score interval for ``x`` children out of ``n`` (it stays inside 0-100% and
behaves well for small counts and proportions near 0 or 1, unlike the Wald interval). Weighted:
the proportion is the weighted one, ``sum(w * y) / sum(w)``, and ``n`` is Kish's effective
sample size ``(sum w)^2 / sum(w^2)``, which widens the interval by the weights' design effect.
Neither accounts for clustering of pupils within schools, so intervals for areas with few
schools are too narrow; the report says so.
"""

from __future__ import annotations

from typing import Final

import numpy as np
from numpy.typing import NDArray

__all__ = ["Z_95", "effective_n", "wilson"]

Z_95: Final = 1.959963984540054
"""Standard normal quantile for a two-sided 95% interval."""


def effective_n(
    weight_sum: NDArray[np.float64], weight_sq_sum: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Kish's effective sample size ``(sum w)^2 / sum(w^2)``; 0 where there are no weights."""
    with np.errstate(divide="ignore", invalid="ignore"):
        result = np.where(weight_sq_sum > 0, weight_sum**2 / weight_sq_sum, 0.0)
    return np.asarray(result, dtype=np.float64)


def wilson(
    proportion: NDArray[np.float64], n: NDArray[np.float64], z: float = Z_95
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Lower and upper Wilson score bounds (proportions) for ``proportion`` out of ``n``.

    Where ``n`` is 0 the bounds are NaN: there is no estimate to bound.
    """
    p = np.asarray(proportion, dtype=np.float64)
    size = np.asarray(n, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        z2n = z * z / size
        centre = (p + z2n / 2) / (1 + z2n)
        half = z * np.sqrt(p * (1 - p) / size + z2n / (4 * size)) / (1 + z2n)
        # At 0 and 1 the bounds are exactly 0 and 1; computing them leaves rounding residue.
        low = np.where(p <= 0, 0.0, np.clip(centre - half, 0.0, 1.0))
        high = np.where(p >= 1, 1.0, np.clip(centre + half, 0.0, 1.0))
        low = np.where(size > 0, low, np.nan)
        high = np.where(size > 0, high, np.nan)
    return low, high
