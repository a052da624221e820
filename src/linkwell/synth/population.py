"""The partnership area: authorities, schools of realistic sizes, and pupils placed in them.

Pupils are spread over one or more authorities (real council-area codes), then over primary
(P5-P7) and secondary (S1-S4) schools whose rolls follow the parameter sheet (many small rural
primaries, secondaries of 400-1,500). Each school has a catchment: an urban/rural class and a
deprivation level its pupils share most of, so SIMD deciles cluster by school while the area as a
whole keeps the sheet's decile shares. Everything is drawn with numpy over whole arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from linkwell.synth.parameters import PRIMARY_STAGES, RollDistribution, StructureParameters

__all__ = [
    "COUNCIL_CODES",
    "MIN_PUPILS_PER_AUTHORITY",
    "Population",
    "Pupils",
    "Schools",
    "apportion",
    "generate_population",
]

COUNCIL_CODES: Final = (
    "S12000005", "S12000006", "S12000008", "S12000010", "S12000011", "S12000013", "S12000014",
    "S12000017", "S12000018", "S12000019", "S12000020", "S12000021", "S12000023", "S12000026",
    "S12000027", "S12000028", "S12000029", "S12000030", "S12000033", "S12000034", "S12000035",
    "S12000036", "S12000038", "S12000039", "S12000040", "S12000041", "S12000042", "S12000045",
    "S12000047", "S12000048", "S12000049", "S12000050",
)  # fmt: skip
"""The 32 Scottish council-area codes (GSS, 2019 boundaries)."""

MIN_PUPILS_PER_AUTHORITY: Final = 50
"""Fewest pupils an authority is given: enough for a primary and a secondary school."""

_SCHOOL_CODE_LOW: Final = 1_000_000
_SCHOOL_CODE_SPAN: Final = 9_000_000


@dataclass(frozen=True)
class Schools:
    """One entry per school; ``deprivation`` is the catchment's latent level (+ = deprived)."""

    code: npt.NDArray[np.str_]
    authority: npt.NDArray[np.int16]
    secondary: npt.NDArray[np.bool_]
    rural: npt.NDArray[np.bool_]
    urban_rural: npt.NDArray[np.int8]
    deprivation: npt.NDArray[np.float64]
    roll: npt.NDArray[np.int32]
    pupils: npt.NDArray[np.int32]

    def __len__(self) -> int:
        return len(self.code)


@dataclass(frozen=True)
class Pupils:
    """One entry per pupil; ``stage`` indexes :data:`~linkwell.synth.parameters.STAGES`."""

    authority: npt.NDArray[np.int16]
    school: npt.NDArray[np.int32]
    stage: npt.NDArray[np.int8]
    female: npt.NDArray[np.bool_]
    simd_decile: npt.NDArray[np.int8]
    urban_rural: npt.NDArray[np.int8]

    def __len__(self) -> int:
        return len(self.stage)

    @property
    def secondary(self) -> npt.NDArray[np.bool_]:
        """Whether each pupil is in S1-S4."""
        return self.stage >= PRIMARY_STAGES


@dataclass(frozen=True)
class Population:
    """The area: its authorities' codes, its schools and its pupils."""

    authority_codes: tuple[str, ...]
    schools: Schools
    pupils: Pupils


def apportion(total: int, weights: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    """Split ``total`` into integers proportional to ``weights`` (largest remainder)."""
    if total == 0 or len(weights) == 0:
        return np.zeros(len(weights), dtype=np.int64)
    exact = weights / weights.sum() * total
    counts: npt.NDArray[np.int64] = np.floor(exact).astype(np.int64)
    short = total - int(counts.sum())
    if short:
        order = np.argsort(-(exact - counts), kind="stable")
        counts[order[:short]] += 1
    return counts


def _rolls(dist: RollDistribution, size: int, rng: np.random.Generator) -> npt.NDArray[np.int32]:
    drawn = dist.median * np.exp(dist.sigma * rng.standard_normal(size))
    return np.clip(np.rint(drawn), dist.minimum, dist.maximum).astype(np.int32)


def _school_sizes(
    pupils: int, *, secondary: bool, structure: StructureParameters, rng: np.random.Generator
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int32], npt.NDArray[np.int64]]:
    """Draw schools until their in-scope places hold ``pupils``; return rural, roll, pupils."""
    if secondary:
        rural_share, in_scope = structure.secondary_rural_share, structure.secondary_in_scope_share
        urban, rural_dist = structure.secondary_roll_urban, structure.secondary_roll_rural
    else:
        rural_share, in_scope = structure.primary_rural_share, structure.primary_in_scope_share
        urban, rural_dist = structure.primary_roll_urban, structure.primary_roll_rural
    typical = in_scope * (rural_share * rural_dist.median + (1 - rural_share) * urban.median)
    batch = max(4, int(1.5 * pupils / max(typical, 1.0)) + 4)
    rural_parts: list[npt.NDArray[np.bool_]] = []
    roll_parts: list[npt.NDArray[np.int32]] = []
    places = 0.0
    while places < pupils:  # a few batches at most: each holds ~1.5x what is still needed
        is_rural = rng.random(batch) < rural_share
        roll = np.where(is_rural, _rolls(rural_dist, batch, rng), _rolls(urban, batch, rng)).astype(
            np.int32
        )
        rural_parts.append(is_rural)
        roll_parts.append(roll)
        places += float(roll.sum()) * in_scope
    rural = np.concatenate(rural_parts)
    rolls = np.concatenate(roll_parts)
    needed = int(np.searchsorted(np.cumsum(rolls * in_scope), pupils)) + 1
    rural, rolls = rural[:needed], rolls[:needed]
    counts = apportion(pupils, rolls.astype(np.float64))
    keep = counts > 0
    return rural[keep], rolls[keep], counts[keep]


def _school_codes(count: int, rng: np.random.Generator) -> npt.NDArray[np.str_]:
    """``count`` distinct seven-digit school codes, in draw order."""
    codes = np.empty(0, dtype=np.int64)
    while len(codes) < count:
        drawn = rng.integers(_SCHOOL_CODE_LOW, _SCHOOL_CODE_LOW + _SCHOOL_CODE_SPAN, count * 2)
        merged = np.concatenate([codes, drawn])
        _, first = np.unique(merged, return_index=True)
        codes = merged[np.sort(first)]
    return codes[:count].astype("U7")


def _deciles(
    deprivation: npt.NDArray[np.float64], shares: tuple[float, ...]
) -> npt.NDArray[np.int8]:
    """SIMD deciles with the given shares: the most deprived ``shares[0]`` get decile 1."""
    cumulative = np.cumsum(shares)[:-1] / sum(shares)
    cuts = np.quantile(-deprivation, cumulative)
    return (np.searchsorted(cuts, -deprivation, side="right") + 1).astype(np.int8)


def _home_class(
    school_class: npt.NDArray[np.int8],
    home_share: npt.NDArray[np.float64],
    structure: StructureParameters,
    rng: np.random.Generator,
) -> npt.NDArray[np.int8]:
    """Each pupil's own 8-fold class: mostly the school's, otherwise a nearby class."""
    neighbours = np.cumsum(np.asarray(structure.urban_rural_neighbours), axis=1)
    draw = rng.random(len(school_class))
    moved = (draw[:, None] > neighbours[school_class - 1]).sum(axis=1) + 1
    stays = rng.random(len(school_class)) < home_share
    return np.where(stays, school_class, np.minimum(moved, 8)).astype(np.int8)


def _authorities(
    children: int, authorities: int, structure: StructureParameters, rng: np.random.Generator
) -> tuple[tuple[str, ...], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Codes, pupil numbers and deprivation tilts (centred over pupils) of the authorities."""
    picked = rng.choice(len(COUNCIL_CODES), size=authorities, replace=False)
    codes = tuple(COUNCIL_CODES[i] for i in picked)
    size_weights = np.exp(structure.authority_size_sd * rng.standard_normal(authorities))
    spare = children - MIN_PUPILS_PER_AUTHORITY * authorities
    sizes = MIN_PUPILS_PER_AUTHORITY + apportion(spare, size_weights)
    tilt = structure.authority_deprivation_sd * rng.standard_normal(authorities)
    tilt -= np.average(tilt, weights=sizes)
    return codes, sizes, tilt


def _place(
    authority: npt.NDArray[np.int16],
    secondary: npt.NDArray[np.bool_],
    structure: StructureParameters,
    rng: np.random.Generator,
) -> tuple[npt.NDArray[np.int32], dict[str, npt.NDArray[np.generic]]]:
    """Draw each authority's schools per sector and place its pupils in them.

    Returns each pupil's school and the schools' authority, sector, rurality, roll and pupils.
    """
    school = np.empty(len(authority), dtype=np.int32)
    columns: dict[str, list[npt.NDArray[np.generic]]] = {
        "authority": [], "secondary": [], "rural": [], "roll": [], "pupils": [],
    }  # fmt: skip
    first = 0
    for auth in np.unique(authority):  # one pass per authority and sector, not per pupil
        for is_secondary in (False, True):
            members = np.flatnonzero((authority == auth) & (secondary == is_secondary))
            if len(members) == 0:
                continue
            rural, roll, counts = _school_sizes(
                len(members), secondary=is_secondary, structure=structure, rng=rng
            )
            ids = np.arange(first, first + len(roll), dtype=np.int32)
            school[rng.permutation(members)] = np.repeat(ids, counts)
            first += len(roll)
            columns["authority"].append(np.full(len(roll), auth, dtype=np.int16))
            columns["secondary"].append(np.full(len(roll), is_secondary, dtype=np.bool_))
            columns["rural"].append(rural)
            columns["roll"].append(roll.astype(np.int32))
            columns["pupils"].append(counts.astype(np.int32))
    return school, {name: np.concatenate(parts) for name, parts in columns.items()}


def generate_population(
    children: int, authorities: int, structure: StructureParameters, rng: np.random.Generator
) -> Population:
    """Draw the area's authorities, schools and ``children`` pupils."""
    codes, sizes, tilt = _authorities(children, authorities, structure, rng)
    authority = np.repeat(np.arange(authorities, dtype=np.int16), sizes)
    stage_shares = np.asarray(structure.stage_shares) / sum(structure.stage_shares)
    stage = rng.choice(len(stage_shares), size=children, p=stage_shares).astype(np.int8)
    female = rng.random(children) < structure.female_share
    secondary = stage >= PRIMARY_STAGES
    school, found = _place(authority, secondary, structure, rng)
    rural = found["rural"].astype(np.bool_)
    school_authority = found["authority"].astype(np.int16)

    shares = np.asarray(structure.urban_rural_shares)
    urban_class = rng.choice(5, size=len(rural), p=shares[:5] / shares[:5].sum()) + 1
    rural_class = rng.choice(3, size=len(rural), p=shares[5:] / shares[5:].sum()) + 6
    school_class = np.where(rural, rural_class, urban_class).astype(np.int8)

    between = structure.simd_between_school_share
    shifts = np.asarray(structure.deprivation_by_urban_rural)
    school_deprivation = (
        tilt[school_authority]
        + shifts[school_class - 1]
        + np.sqrt(between) * rng.standard_normal(len(rural))
    )
    own = np.sqrt(1 - between) * rng.standard_normal(children)
    home_share = np.where(
        secondary,
        structure.urban_rural_home_share_secondary,
        structure.urban_rural_home_share_primary,
    )
    schools = Schools(
        code=_school_codes(len(rural), rng),
        authority=school_authority,
        secondary=found["secondary"].astype(np.bool_),
        rural=rural,
        urban_rural=school_class,
        deprivation=school_deprivation,
        roll=found["roll"].astype(np.int32),
        pupils=found["pupils"].astype(np.int32),
    )
    pupils = Pupils(
        authority=authority,
        school=school,
        stage=stage,
        female=female,
        simd_decile=_deciles(school_deprivation[school] + own, structure.simd_decile_shares),
        urban_rural=_home_class(school_class[school], home_share, structure, rng),
    )
    return Population(authority_codes=codes, schools=schools, pupils=pupils)
