"""How each questionnaire item is answered from a latent trait: an ordered-probit item model.

A multi-item scale's item *j* is answered by cutting ``loading_j * trait + noise`` (noise standard
normal, independent per item) at increasing thresholds; the category reached is the item's
*scored* value. Reverse-scored items are written as ``item_min + item_max - scored``, so that the
instrument's own scoring (``schema.scoring``) recovers the scored value. Which items make up a
scale, and which are reversed, is read from the dataset definitions, never repeated here; this
module only adds the shape (loadings and thresholds) of each item, an [A] parameter tuned so the
scored scales have the published spread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from linkwell.schema.definitions import DatasetDef, ScaleDef, load_dataset
from linkwell.synth.survey_parameters import Trait

__all__ = [
    "PRIMARY",
    "SECONDARY",
    "ItemSpec",
    "ScaleModel",
    "SingleItem",
    "scale_models",
    "scored_categories",
    "single_items",
]

SECONDARY: Final = load_dataset("survey-secondary", 1)
PRIMARY: Final = load_dataset("survey-primary", 1)


@dataclass(frozen=True)
class _Shape:
    trait: Trait
    loading: float
    thresholds: tuple[float, ...]
    offsets: tuple[float, ...]


# Per scale: the trait it measures, the item loading, the thresholds of an average item and each
# item's offset (in the order of the definition's items). SDQ problem items are mostly "not true"
# at an average trait level; positive items (prosocial, WEMWBS, mood, connectedness) mostly agree.
_SHAPES: Final[dict[str, _Shape]] = {
    "sdq_emotional": _Shape(Trait.EMOTIONAL, 1.0, (0.0, 1.9), (0.0, -0.4, 0.5, -0.2, 0.3)),
    "sdq_conduct": _Shape(Trait.CONDUCT, 1.0, (0.0, 1.9), (-0.2, 0.2, 1.0, 0.3, 1.6)),
    "sdq_hyperactivity": _Shape(
        Trait.HYPERACTIVITY, 1.0, (0.0, 1.8), (-0.6, -0.3, -0.5, 0.0, -0.1)
    ),
    "sdq_peer": _Shape(Trait.PEER, 0.9, (0.0, 1.8), (0.2, 1.3, 0.6, 0.9, 0.3)),
    "sdq_prosocial": _Shape(Trait.PROSOCIAL, 1.3, (0.0, 1.9), (-2.0, -1.6, -1.8, -1.7, -0.9)),
    "wemwbs_total": _Shape(
        Trait.WELLBEING,
        0.75,
        (-2.2, -1.1, 0.3, 1.6),
        (0.1, -0.2, 0.0, 0.15, -0.1, 0.2, -0.05, 0.1, -0.15, 0.0, 0.25, -0.1, 0.05, -0.2),
    ),
    "mood_score": _Shape(
        Trait.WELLBEING, 1.1, (-2.4, -1.5, -0.5, 0.7), (0.0, 0.1, -0.1, 0.2, -0.2)
    ),
    "family_connectedness": _Shape(Trait.FAMILY, 1.5, (-2.6, -2.0, -1.1, 0.4), (0.0, 0.1, -0.1)),
    "school_connectedness": _Shape(Trait.SCHOOL, 1.5, (-2.4, -1.7, -0.7, 0.8), (0.0, 0.15, -0.15)),
}


@dataclass(frozen=True)
class ItemSpec:
    """One item of a scale: its field, loading, thresholds and whether it is reverse-scored."""

    field: str
    loading: float
    thresholds: tuple[float, ...]
    item_min: int
    item_max: int
    reverse: bool

    def answer(self, scored: npt.NDArray[np.int8]) -> npt.NDArray[np.int8]:
        """The code a pupil writes down for a scored category (0 = lowest)."""
        if self.reverse:
            return (self.item_max - scored).astype(np.int8)
        return (self.item_min + scored).astype(np.int8)


@dataclass(frozen=True)
class ScaleModel:
    """A scale's items, all driven by one trait."""

    name: str
    trait: Trait
    items: tuple[ItemSpec, ...]

    @property
    def loadings(self) -> npt.NDArray[np.float32]:
        """Item loadings, shape ``(items,)``."""
        return np.asarray([i.loading for i in self.items], dtype=np.float32)

    @property
    def thresholds(self) -> npt.NDArray[np.float32]:
        """Item thresholds, shape ``(items, categories - 1)``."""
        return np.asarray([i.thresholds for i in self.items], dtype=np.float32)


def _model(scale: ScaleDef) -> ScaleModel:
    shape = _SHAPES[scale.name]
    items = tuple(
        ItemSpec(
            field=item,
            loading=shape.loading,
            thresholds=tuple(t + offset for t in shape.thresholds),
            item_min=scale.item_min,
            item_max=scale.item_max,
            reverse=item in scale.reverse,
        )
        for item, offset in zip(scale.items, shape.offsets, strict=True)
    )
    return ScaleModel(name=scale.name, trait=shape.trait, items=items)


def scale_models(dataset: DatasetDef) -> dict[str, ScaleModel]:
    """Every multi-item scale of ``dataset``, by scale name, in definition order."""
    return {s.name: _model(s) for i in dataset.instruments for s in i.scales}


def scored_categories(
    trait: npt.NDArray[np.float32],
    noise: npt.NDArray[np.float32],
    scale: ScaleModel,
) -> npt.NDArray[np.int8]:
    """Scored category of every item, shape ``(pupils, items)``, given each pupil's trait."""
    latent = trait[:, None] * scale.loadings[None, :] + noise
    scored = np.zeros(latent.shape, dtype=np.int8)
    for cut in scale.thresholds.T:  # one pass per category boundary
        scored += latent > cut[None, :]
    return scored


@dataclass(frozen=True)
class SingleItem:
    """An item answered on its own: ``loading * trait + noise`` cut to a target distribution.

    ``codes`` are the answer codes from lowest latent to highest; for yes/no items they are
    ``(0, 1)``. The cuts come from calibration, per stage, so each stage gets its target shares.
    """

    field: str
    trait: Trait
    loading: float
    codes: tuple[int, ...]
    secondary_only: bool = False
    primary_only: bool = False


def single_items() -> tuple[SingleItem, ...]:
    """The single items of both surveys (one entry per field, shared where both ask it)."""
    return (
        SingleItem("life_satisfaction", Trait.WELLBEING, 0.7, tuple(range(11)), primary_only=True),
        SingleItem("bullied", Trait.BULLIED, 0.9, (1, 2, 3, 4)),
        SingleItem("young_carer", Trait.CARER, 0.9, (0, 1)),
        SingleItem("smoking", Trait.SUBSTANCE, 0.8, (1, 2, 3, 4, 5), secondary_only=True),
        SingleItem("alcohol_last_week", Trait.SUBSTANCE, 0.75, (0, 1), secondary_only=True),
        SingleItem("drugs_last_month", Trait.SUBSTANCE, 0.75, (0, 1), secondary_only=True),
        SingleItem("offered_drugs", Trait.SUBSTANCE, 0.6, (0, 1), secondary_only=True),
    )
