"""Area classifications and their published collapses, as SQL over whole columns.

SIMD deciles run 1 (most deprived 10% of data zones) to 10; quintile q holds deciles 2q-1 and 2q.
The Scottish Government urban/rural 8-fold classification collapses to the 6-, 3- and 2-fold
versions: 6-fold merges remote and very remote small towns (4, 5) and remote and very remote
rural (7, 8); 3-fold is rest of Scotland (1-5), accessible rural (6), remote rural (7, 8); 2-fold
is urban (1-5) against rural (6-8).
"""

from __future__ import annotations

from typing import Final, Literal

__all__ = [
    "URBAN_RURAL_FROM_8",
    "URBAN_RURAL_LABELS",
    "UrbanRuralFold",
    "simd_quintile_sql",
    "urban_rural_sql",
]

UrbanRuralFold = Literal[8, 6, 3, 2]

URBAN_RURAL_FROM_8: Final[dict[int, dict[int, int]]] = {
    8: {c: c for c in range(1, 9)},
    6: {1: 1, 2: 2, 3: 3, 4: 4, 5: 4, 6: 5, 7: 6, 8: 6},
    3: {1: 1, 2: 1, 3: 1, 4: 1, 5: 1, 6: 2, 7: 3, 8: 3},
    2: {1: 1, 2: 1, 3: 1, 4: 1, 5: 1, 6: 2, 7: 2, 8: 2},
}
"""For each fold, the class of every 8-fold class."""

URBAN_RURAL_LABELS: Final[dict[int, dict[int, str]]] = {
    8: {
        1: "Large urban areas",
        2: "Other urban areas",
        3: "Accessible small towns",
        4: "Remote small towns",
        5: "Very remote small towns",
        6: "Accessible rural areas",
        7: "Remote rural areas",
        8: "Very remote rural areas",
    },
    6: {
        1: "Large urban areas",
        2: "Other urban areas",
        3: "Accessible small towns",
        4: "Remote small towns",
        5: "Accessible rural areas",
        6: "Remote rural areas",
    },
    3: {1: "Rest of Scotland", 2: "Accessible rural", 3: "Remote rural"},
    2: {1: "Urban", 2: "Rural"},
}


def simd_quintile_sql(decile_expr: str) -> str:
    """SQL for the SIMD quintile of a decile expression (NULL stays NULL)."""
    return f"CAST(({decile_expr} + 1) // 2 AS TINYINT)"


def urban_rural_sql(eightfold_expr: str, fold: UrbanRuralFold) -> str:
    """SQL collapsing an 8-fold urban/rural expression to ``fold`` classes (NULL stays NULL)."""
    if fold == 8:  # noqa: PLR2004 - the classification's own name
        return f"CAST({eightfold_expr} AS TINYINT)"
    cases = " ".join(f"WHEN {src} THEN {dst}" for src, dst in URBAN_RURAL_FROM_8[fold].items())
    return f"CAST(CASE {eightfold_expr} {cases} END AS TINYINT)"
