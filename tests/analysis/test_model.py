"""The models: aggregated fits equal individual-level fits; small cells withhold a model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import statsmodels.api as sm

from linkwell.analysis.model import ModelStatus, fit_models
from linkwell.analysis.source import prepare_release
from linkwell.config import DisclosurePolicy
from linkwell.engine import Engine

from .conftest import make_release, tiny_release

_FACTORS = {"SIMD quintile": "simd", "sex": "sex", "stage": "stage"}


def _individual(engine: Engine, need_column: str) -> dict[str, np.ndarray]:
    rows = engine.arrow(
        f'SELECT CAST("{need_column}" AS INTEGER) AS need, simd_quintile AS simd, sex, stage, '
        "authority || '/' || school AS school, CAST(svc__any_service AS INTEGER) AS y, weight "
        f'FROM analysis WHERE linked AND "{need_column}" IS NOT NULL '
        "AND sex IN ('female', 'male') AND simd_quintile IS NOT NULL",
        purpose="test",
    ).to_pydict()
    return {k: np.asarray(v) for k, v in rows.items()}


def _design(data: dict[str, np.ndarray], covariates: tuple[str, ...]) -> np.ndarray:
    """Intercept, need and one indicator per covariate name ("sex male"), per child."""
    columns = [np.ones(len(data["y"])), data["need"].astype(float)]
    for name in covariates:
        factor, level = name.rsplit(" ", 1)
        columns.append((data[_FACTORS[factor]].astype(str) == level).astype(float))
    return np.column_stack(columns)


def test_grouped_fit_equals_the_individual_fit(weighted_release_path: Path) -> None:
    policy = DisclosurePolicy()
    with Engine() as engine:
        prepared = prepare_release(engine, weighted_release_path, policy)
        results = {r.need: r for r in fit_models(engine, prepared, policy)}
        result = results["bullied_weekly"]
        data = _individual(engine, prepared.need_column("bullied_weekly"))
    assert result.status is ModelStatus.ESTIMATED
    x = _design(data, result.covariates)
    fit = sm.GLM(data["y"], x, family=sm.families.Binomial(), freq_weights=data["weight"]).fit()
    assert np.isclose(result.odds_ratio, np.exp(fit.params[1]), rtol=1e-6)
    # Per-child sandwich computed here independently (fewer than 20 schools in this release).
    mu = fit.fittedvalues
    w = data["weight"]
    bread = np.linalg.inv((x * (w * mu * (1 - mu))[:, None]).T @ x)
    meat = (x * ((w * (data["y"] - mu)) ** 2)[:, None]).T @ x
    se = np.sqrt((bread @ meat @ bread)[1, 1])
    assert np.isclose(result.lower, np.exp(fit.params[1] - 1.959963984540054 * se), rtol=1e-6)
    assert "per child" in result.variance


def test_small_cells_withhold_the_model(tmp_path: Path) -> None:
    rows: list[dict[str, object]] = []
    for i in range(40):  # every bullied child gets a service: an empty need x service cell
        rows.append({"bullied": 4 if i < 15 else 1, "child_protection": i < 15 or i % 3 == 0})
    path = tiny_release(tmp_path / "r.parquet", rows)
    policy = DisclosurePolicy()
    with Engine() as engine:
        prepared = prepare_release(engine, path, policy)
        results = {r.need: r for r in fit_models(engine, prepared, policy)}
    assert results["bullied_weekly"].status is ModelStatus.WITHHELD
    assert results["bullied_weekly"].odds_ratio is None
    assert results["bullied_weekly"].note == ""  # why would say a count is small


def test_a_published_model_names_its_factors_not_the_levels_kept() -> None:
    """The levels kept would show which ones held fewer than the threshold with a service."""
    from linkwell.analysis.model import ModelResult
    from linkwell.report.workbook import _model_row

    model = ModelResult(
        "bullied_weekly",
        ModelStatus.ESTIMATED,
        120,
        odds_ratio=2.0,
        lower=1.5,
        upper=2.7,
        covariates=(
            "SIMD quintile 1",
            "SIMD quintile 2",
            "SIMD quintile 3",
            "sex male",
            "stage S2",
        ),
    )
    assert model.adjusted_for == ("SIMD quintile", "sex", "stage")
    row = _model_row(model, {}, 5)
    assert "SIMD quintile, sex, stage" in row
    assert not any("quintile 3" in str(value) or "S2" in str(value) for value in row)


def test_many_schools_give_school_clustered_errors(tmp_path: Path) -> None:
    path = make_release(tmp_path / "r.parquet", 3000, seed=3, schools=30)
    policy = DisclosurePolicy()
    with Engine() as engine:
        prepared = prepare_release(engine, path, policy)
        result = {r.need: r for r in fit_models(engine, prepared, policy)}["bullied_weekly"]
        data = _individual(engine, prepared.need_column("bullied_weekly"))
    assert result.status is ModelStatus.ESTIMATED
    x = _design(data, result.covariates)
    schools = np.unique(data["school"], return_inverse=True)[1]
    clusters = int(schools.max()) + 1
    fit = sm.GLM(data["y"], x, family=sm.families.Binomial()).fit(
        cov_type="cluster", cov_kwds={"groups": schools, "use_correction": False}
    )
    se = float(fit.bse[1]) * np.sqrt(clusters / (clusters - 1))
    assert np.isclose(result.odds_ratio, np.exp(fit.params[1]), rtol=1e-6)
    assert np.isclose(result.upper, np.exp(fit.params[1] + 1.959963984540054 * se), rtol=1e-6)
    assert result.variance == f"robust, clustered by school ({clusters} schools)"
