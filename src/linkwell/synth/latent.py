"""Who takes part in the survey, and the latent traits their answers come from.

Participation is a logistic model calibrated to each sector's rate, lower for deprived pupils and
for pupils receiving services. Latent traits are correlated normals (the parameter's correlation
matrix) shifted by deprivation, adversity (looked after or registered), SEBD and autism, plus a
shift per sex and stage group that calibration sets so the scored scales hit their targets.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from linkwell.synth.parameters import DECILES, STAGES
from linkwell.synth.population import Pupils
from linkwell.synth.services import Services
from linkwell.synth.survey_parameters import TRAITS, SurveyParameters, Trait

__all__ = ["GROUPS", "group_index", "latent_traits", "take_part", "trait_column"]

GROUPS: Final = len(STAGES) * 2
"""Sex-by-stage groups: ``stage * 2 + female``."""


def group_index(pupils: Pupils) -> npt.NDArray[np.int16]:
    """Each pupil's sex-by-stage group."""
    return (pupils.stage.astype(np.int16) * 2 + pupils.female).astype(np.int16)


def trait_column(trait: Trait) -> int:
    """Column of ``trait`` in a trait matrix."""
    return TRAITS.index(trait)


def _logit_intercept(
    covariate: npt.NDArray[np.float64], counts: npt.NDArray[np.float64], rate: float
) -> float:
    """Intercept ``a`` with ``sum(counts * sigmoid(a + covariate)) = rate * sum(counts)``."""
    low, high = -30.0, 30.0
    target = rate * counts.sum()
    for _ in range(80):  # bisection over a handful of covariate cells, not over pupils
        mid = (low + high) / 2
        expected = float((counts / (1 + np.exp(-(mid + covariate)))).sum())
        low, high = (mid, high) if expected < target else (low, mid)
    return (low + high) / 2


def take_part(
    pupils: Pupils, services: Services, params: SurveyParameters, rng: np.random.Generator
) -> npt.NDArray[np.bool_]:
    """Whether each pupil takes part, at each sector's expected rate.

    The log-odds fall linearly from SIMD decile 10 to decile 1 by the deprivation odds ratio, and
    by the service odds ratio for pupils receiving any service. The intercept is solved per
    sector over the 20 decile-by-service cells, so the expected rate is the parameter.
    """
    cells = np.arange(2 * DECILES)
    cell_decile, cell_served = cells // 2 + 1, cells % 2 == 1
    cell_covariate = np.log(params.participation_deprivation_odds) * (
        (DECILES - cell_decile) / (DECILES - 1)
    ) + np.where(cell_served, np.log(params.participation_service_odds), 0.0)
    cell = (pupils.simd_decile.astype(np.int64) - 1) * 2 + services.any_service
    chance = np.empty(len(pupils))
    for in_sector, rate in (
        (~pupils.secondary, params.participation_primary),
        (pupils.secondary, params.participation_secondary),
    ):
        counts = np.bincount(cell[in_sector], minlength=len(cells)).astype(np.float64)
        intercept = _logit_intercept(cell_covariate, counts, rate)
        chance[in_sector] = 1 / (1 + np.exp(-(intercept + cell_covariate[cell[in_sector]])))
    return rng.random(len(pupils)) < chance


def latent_traits(
    pupils: Pupils,
    services: Services,
    params: SurveyParameters,
    shifts: npt.NDArray[np.float64],
    rng: np.random.Generator,
) -> npt.NDArray[np.float32]:
    """Latent traits, shape ``(pupils, traits)``, including the group ``shifts`` (groups x traits).

    Deprivation enters on a -1 (decile 10) to +1 (decile 1) scale; effects add up, so a
    looked-after pupil with SEBD carries both shifts.
    """
    chol = np.linalg.cholesky(np.asarray(params.trait_correlations))
    traits = (rng.standard_normal((len(pupils), len(TRAITS)), dtype=np.float32) @ chol.T).astype(
        np.float32
    )
    deprivation = (5.5 - pupils.simd_decile.astype(np.float32)) / 4.5
    adversity = services.looked_after | services.flags["child_protection"]
    for indicator, effect in (
        (deprivation, params.deprivation_effect),
        (adversity.astype(np.float32), params.adversity_effect),
        (services.flags["asn_sebd"].astype(np.float32), params.sebd_effect),
        (services.flags["asn_autism"].astype(np.float32), params.autism_effect),
    ):
        traits += indicator[:, None] * np.asarray(effect.vector(), dtype=np.float32)[None, :]
    carer = trait_column(Trait.CARER)
    traits[:, carer] += params.young_carer_asn_effect * services.flags["asn_young_carer"]
    traits += shifts[group_index(pupils)].astype(np.float32)
    return traits
