"""Cross-check with ACRO: on the same tables, ACRO flags no cell that linkwell publishes.

ACRO (the safe-haven output checker) is run on crosstabs rebuilt here from the release file with
pandas, independently of linkwell's aggregation: each breakdown level against need status,
service status, and need x service. ACRO's default settings are linkwell's default policy
(threshold 10, zeros disclosive, dominance 2 / 90%), which the test checks first. Every cell ACRO
flags must be withheld by linkwell (or be the never-published 'no need, no service' cell).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from linkwell.analysis.cells import Pop, PopKey
from linkwell.analysis.groups import OTHER_SEX, GroupKey
from linkwell.analysis.pipeline import Analysis
from linkwell.config import DisclosurePolicy

acro = pytest.importorskip("acro")


def _frame(path: Path) -> pd.DataFrame:
    frame = pd.read_parquet(path)
    girls_boys = frame["sex"].isin(["female", "male"])
    frame["sex"] = frame["sex"].where(girls_boys, OTHER_SEX)
    frame["stage_fm"] = frame["stage"].where(girls_boys)
    frame["simd_quintile"] = (frame["simd_decile"] + 1) // 2
    frame["bullied_weekly"] = (frame["bullied"] == 4).where(frame["bullied"].notna())
    frame["young_carer_need"] = frame["young_carer"].astype("boolean")
    frame["any_service"] = (~frame["not_in_receipt"].astype("boolean")).where(
        frame["authority_linked"]
    )
    frame["cp"] = frame["child_protection"].astype("boolean")
    return frame


def _key(dims: tuple[str, ...], value: object) -> GroupKey:
    values = value if isinstance(value, tuple) else (value,)
    out = []
    for dim, v in zip(dims, values, strict=True):
        v = None if pd.isna(v) else v  # noqa: PLW2901
        if isinstance(v, (np.integer, float)):
            v = int(v)  # noqa: PLW2901
        out.append(("stage" if dim == "stage_fm" else dim, v))
    return tuple(out)


LEVELS = [("sex",), ("stage_fm",), ("sex", "stage_fm"), ("simd_decile",), ("simd_quintile",),
          ("authority",), ("authority", "school")]  # fmt: skip


def _flagged(
    session: object, index: pd.DataFrame, columns: pd.DataFrame
) -> list[tuple[object, tuple]]:
    table = session.crosstab(
        [index[c] for c in index.columns], [columns[c] for c in columns.columns]
    )  # type: ignore[attr-defined]
    record = list(session.results.results.values())[-1]  # type: ignore[attr-defined]
    flagged = []
    for cells in record.sdc["cells"].values():
        for i, j in cells:
            column = table.columns[j]
            flagged.append((table.index[i], column if isinstance(column, tuple) else (column,)))
    return flagged


def test_acro_defaults_are_the_policy_defaults() -> None:
    config = yaml.safe_load((Path(acro.__file__).with_name("default.yaml")).read_text())
    policy = DisclosurePolicy()
    assert config["safe_threshold"] == policy.threshold
    assert config["safe_nk_n"] == policy.dominance_n
    assert config["safe_nk_k"] == policy.dominance_k
    assert config["zeros_are_disclosive"] is policy.suppress_sensitive_zeros


def test_acro_flags_nothing_linkwell_publishes(
    reduced_release_path: Path, reduced_analysis: Analysis
) -> None:
    logging.getLogger("acro").setLevel(logging.WARNING)
    session = acro.ACRO(suppress=False)
    frame = _frame(reduced_release_path)
    system = reduced_analysis.publication.system
    codes = reduced_analysis.protection.codes
    measures = {
        "bullied_weekly": (Pop.NEED_YES, Pop.NEED_NO, {"need": "bullied_weekly"}),
        "young_carer_need": (Pop.NEED_YES, Pop.NEED_NO, {"need": "young_carer"}),
        "any_service": (Pop.SVC_YES, Pop.SVC_NO, {"service": "any_service"}),
        "cp": (Pop.SVC_YES, Pop.SVC_NO, {"service": "child_protection"}),
    }
    checked = published_flags = 0
    for dims in LEVELS:
        for column, (yes, no, names) in measures.items():
            known = frame[frame[column].notna()]
            if "stage_fm" in dims:
                known = known[known["stage_fm"].notna()]
            for value, (status,) in _flagged(session, known[list(dims)], known[[column]]):
                kind = yes if bool(status) else no
                index = system.index.get((PopKey(kind, **names), _key(dims, value)))
                checked += 1
                if index is not None and codes[index] == 0:
                    published_flags += 1
        joint = frame[frame["bullied_weekly"].notna() & frame["any_service"].notna()]
        if "stage_fm" in dims:
            joint = joint[joint["stage_fm"].notna()]
        pairs = {(True, True): Pop.JOINT_A, (True, False): Pop.JOINT_B, (False, True): Pop.JOINT_C}
        for value, (need, service) in _flagged(
            session, joint[list(dims)], joint[["bullied_weekly", "any_service"]]
        ):
            kind = pairs.get((bool(need), bool(service)))
            if kind is None:
                continue  # children without the need and without a service: never published
            key = PopKey(kind, need="bullied_weekly", service="any_service")
            index = system.index.get((key, _key(dims, value)))
            checked += 1
            if index is not None and codes[index] == 0:
                published_flags += 1
    assert checked > 100
    assert published_flags == 0
