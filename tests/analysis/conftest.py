"""A release-shaped synthetic generator for the analysis and report tests (and the benchmark).

The real linkage flow is built in parallel; until it lands, :func:`make_release` writes a table
with the release's columns: survey answers for primary (P5-P7) and secondary (S1-S4) pupils, the
authority's flags for linked children (NULL otherwise), SIMD and urban/rural from the authority
side, optional weights. Needs and services depend on deprivation and on each other, so that reach
and gradients are not flat. Everything is vectorised numpy; nothing here is realistic enough for
anything but tests.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from linkwell.config import DisclosurePolicy

STAGES = np.array(["P5", "P6", "P7", "S1", "S2", "S3", "S4"])
LA_FLAGS = (
    "looked_after_home",
    "looked_after_foster",
    "looked_after_kinship",
    "looked_after_residential",
)
ASN_REASONS = (
    "asn_sebd",
    "asn_eal",
    "asn_dyslexia",
    "asn_moderate_learning",
    "asn_autism",
    "asn_learning_disability",
    "asn_family_issues",
    "asn_physical_medical",
    "asn_language_speech",
    "asn_other_specific_learning",
    "asn_looked_after",
    "asn_mental_health",
    "asn_interrupted_learning",
    "asn_sensory",
    "asn_young_carer",
    "asn_other",
)
ASN_RATES = (0.055, 0.045, 0.03, 0.03, 0.02, 0.02, 0.02, 0.015, 0.015, 0.01, 0.008, 0.005, 0.005,
             0.005, 0.003, 0.02)  # fmt: skip


def _masked(values: np.ndarray, mask: np.ndarray, pa_type: pa.DataType) -> pa.Array:
    return pa.array(values, type=pa_type, mask=~mask)


def make_release_table(
    n: int,
    *,
    seed: int = 0,
    authorities: int = 2,
    schools: int = 12,
    weighted: bool = False,
    simd: str = "decile",
    urban_rural: int = 8,
    link_rate: float = 0.95,
    primary_share: float = 0.4,
) -> pa.Table:
    """A release-shaped Arrow table of ``n`` children (see the module docstring)."""
    rng = np.random.default_rng(seed)
    n_primary = round(n * primary_share)
    primary = np.zeros(n, dtype=bool)
    primary[:n_primary] = True
    rng.shuffle(primary)
    secondary = ~primary
    stage = np.where(primary, STAGES[rng.integers(0, 3, n)], STAGES[rng.integers(3, 7, n)])
    sex = rng.choice(np.array(["female", "male", "other"]), size=n, p=[0.49, 0.495, 0.015])
    sex_known = rng.random(n) > 0.01
    school_sizes = rng.pareto(1.5, schools) + 0.3
    school_of = rng.choice(schools, size=n, p=school_sizes / school_sizes.sum())
    school_primary = np.arange(schools) % 3 != 0
    # Primary pupils go to primary schools, secondary to secondary ones (codes differ by phase).
    school_of = np.where(primary == school_primary[school_of], school_of, (school_of + 1) % schools)
    school_code = np.char.add("SCH", np.char.zfill(np.arange(schools).astype(str), 4))[school_of]
    authority_codes = np.char.zfill((np.arange(schools) % authorities + 1).astype(str), 2)
    authority = np.char.add("A", authority_codes)[school_of]
    school_deprivation = rng.random(schools)
    decile = np.clip(
        np.round(1 + 9 * (0.6 * school_deprivation[school_of] + 0.4 * rng.random(n))), 1, 10
    ).astype(np.int8)
    deprived = (10 - decile) / 9.0
    linked = rng.random(n) < link_rate
    latent = rng.normal(0, 1, n) + 0.6 * deprived + 0.3 * (sex == "female")

    columns: dict[str, pa.Array] = {
        "release_id": pa.array(np.char.add("R", np.char.zfill(rng.permutation(n).astype(str), 9))),
        "survey": pa.array(np.where(primary, "primary", "secondary")),
        "school": pa.array(school_code),
        "authority": pa.array(authority),
        "stage": pa.array(stage),
        "sex": _masked(sex, sex_known, pa.string()),
    }
    weight = rng.uniform(0.6, 1.8, n) if weighted else np.ones(n)
    columns["weight"] = _masked(weight, np.full(n, weighted), pa.float64())

    def item(low: int, high: int, shift: np.ndarray, mask: np.ndarray, missing: float = 0.02):
        raw = np.round(rng.normal((low + high) / 2 + shift, (high - low) / 3, n))
        values = np.clip(raw, low, high).astype(np.int16)
        return _masked(values, mask & (rng.random(n) > missing), pa.int16())

    for i in range(1, 26):
        reverse = i in (7, 11, 14, 21, 25)
        columns[f"sdq_{i:02d}"] = item(0, 2, (-0.5 if reverse else 0.5) * latent - 0.5, secondary)
    for i in range(1, 15):
        columns[f"wemwbs_{i:02d}"] = item(1, 5, -0.6 * latent + 0.3, secondary, missing=0.005)
    for i in range(1, 6):
        columns[f"mood_{i:02d}"] = item(1, 5, -0.8 * latent + 0.4, primary)
    columns["life_satisfaction"] = item(0, 10, -1.5 * latent + 2.0, primary)
    columns["bullied"] = item(1, 4, 0.5 * latent - 0.8, np.ones(n, dtype=bool))
    everyone = np.ones(n, dtype=bool)
    columns["young_carer"] = _masked(rng.random(n) < 0.06 + 0.04 * deprived, everyone, pa.bool_())
    columns["smoking"] = item(1, 5, 0.4 * latent - 1.8, secondary)
    for name, rate in (
        ("alcohol_last_week", 0.1),
        ("drugs_last_month", 0.05),
        ("offered_drugs", 0.3),
    ):
        chance = rate * (1 + 0.5 * latent.clip(-1, 3))
        columns[name] = _masked(rng.random(n) < chance, secondary, pa.bool_())
    for prefix in ("family_connect", "school_connect"):
        for i in range(1, 4):
            columns[f"{prefix}_{i:02d}"] = item(1, 5, -0.5 * latent + 0.6, everyone)

    columns["authority_linked"] = pa.array(linked)
    risk = latent + 1.2 * deprived
    flags: dict[str, np.ndarray] = {}
    la_any = rng.random(n) < 0.006 * np.exp(0.9 * risk)
    la_kind = rng.choice(4, size=n, p=[0.25, 0.30, 0.35, 0.10])
    for k, name in enumerate(LA_FLAGS):
        flags[name] = la_any & (la_kind == k)
    flags["child_protection"] = rng.random(n) < 0.002 * np.exp(0.9 * risk) + 0.2 * la_any
    flags["coordinated_support_plan"] = rng.random(n) < 0.004 * np.exp(0.6 * risk)
    flags["individualised_education_plan"] = (rng.random(n) < 0.05 * np.exp(0.5 * risk)) | flags[
        "coordinated_support_plan"
    ]
    flags["through_care_after_care"] = (stage == "S4") & (rng.random(n) < 0.002)
    flags["prospective_adopters"] = la_any & (rng.random(n) < 0.01)
    asn = {}
    for name, rate in zip(ASN_REASONS, ASN_RATES, strict=True):
        asn[name] = rng.random(n) < rate * np.exp(0.5 * risk)
    any_asn = np.logical_or.reduce(list(asn.values()))
    services_any = np.logical_or.reduce([*flags.values(), any_asn])
    fsm = np.where(stage == "P5", True, rng.random(n) < 0.38 * deprived + 0.03)
    basis = np.where(stage == "P5", "universal", "means-tested")
    for name, values in (*flags.items(), *asn.items()):
        columns[name] = _masked(values, linked, pa.bool_())
    columns["any_asn"] = _masked(any_asn, linked, pa.bool_())
    columns["not_in_receipt"] = _masked(~services_any, linked, pa.bool_())
    columns["free_school_meals"] = _masked(fsm, linked, pa.bool_())
    columns["fsm_basis"] = _masked(basis, linked & fsm, pa.string())
    if simd == "decile":
        columns["simd_decile"] = _masked(decile, linked, pa.int8())
    elif simd == "quintile":
        columns["simd_quintile"] = _masked(((decile + 1) // 2).astype(np.int8), linked, pa.int8())
    shares = np.array([34.5, 36, 8.5, 1.5, 1, 11.5, 3, 3.5])
    shares = shares / shares.sum()
    school_class = rng.choice(8, size=schools, p=shares) + 1
    eightfold = school_class[school_of].astype(np.int8)
    if urban_rural:
        from linkwell.schema.areas import URBAN_RURAL_FROM_8

        mapping = np.array([0] + [URBAN_RURAL_FROM_8[urban_rural][c] for c in range(1, 9)])
        columns[f"urban_rural_{urban_rural}"] = _masked(
            mapping[eightfold].astype(np.int8), linked, pa.int8()
        )
    return pa.table(columns)


def make_release(path: Path, n: int, **options: object) -> Path:
    """Write :func:`make_release_table` to ``path`` as Parquet and return the path."""
    pq.write_table(make_release_table(n, **options), path)  # type: ignore[arg-type]
    return path


@pytest.fixture
def policy() -> DisclosurePolicy:
    return DisclosurePolicy()


@pytest.fixture(scope="session")
def release_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3,000-child two-authority release shared by the read-only tests of a session."""
    return make_release(tmp_path_factory.mktemp("release") / "release.parquet", 3000, seed=7)


@pytest.fixture(scope="session")
def weighted_release_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A weighted 2,000-child release with SIMD quintiles and 6-fold urban/rural."""
    return make_release(
        tmp_path_factory.mktemp("weighted") / "release.parquet",
        2000,
        seed=11,
        weighted=True,
        simd="quintile",
        urban_rural=6,
    )


SERVICE_FLAGS = (
    *LA_FLAGS,
    "child_protection",
    "coordinated_support_plan",
    "individualised_education_plan",
    "through_care_after_care",
    "prospective_adopters",
)


def tiny_release(path: Path, rows: list[dict[str, object]]) -> Path:
    """A release of hand-written ``rows``: unspecified items NULL, flags FALSE when linked.

    Every column of a real release is present (so that every measure applies); a row gets
    ``survey`` secondary, school ``S1``, authority ``A``, stage ``S2``, sex ``female`` and
    ``authority_linked`` true unless it says otherwise; ``any_asn`` and ``not_in_receipt`` are
    derived from its flags as the authority rules define them.
    """
    template = make_release_table(1, seed=0)
    names = template.column_names
    filled: list[dict[str, object]] = []
    for i, row in enumerate(rows):
        full: dict[str, object] = dict.fromkeys(names)
        full.update(
            release_id=f"R{i:05d}",
            survey="secondary",
            school="S1",
            authority="A",
            stage="S2",
            sex="female",
            authority_linked=True,
        )
        full.update(row)
        if full["authority_linked"]:
            for flag in (*SERVICE_FLAGS, *ASN_REASONS, "free_school_meals"):
                if full.get(flag) is None:
                    full[flag] = False
            full["any_asn"] = any(bool(full[r]) for r in ASN_REASONS)
            full["not_in_receipt"] = not (
                any(bool(full[f]) for f in SERVICE_FLAGS) or full["any_asn"]
            )
        filled.append(full)
    columns = {
        name: pa.array([r[name] for r in filled], type=template.schema.field(name).type)
        for name in names
    }
    pq.write_table(pa.table(columns), path)
    return path


@pytest.fixture
def open_policy() -> DisclosurePolicy:
    """A policy that publishes every count exactly: for known-answer tests of the arithmetic."""
    return DisclosurePolicy(
        threshold=1, rounding_base=1, suppress_sensitive_zeros=False, national_only=()
    )


@pytest.fixture(scope="session")
def default_analysis(release_path: Path):
    """The synthetic release analysed once under the default policy, shared read-only."""
    from linkwell.analysis.pipeline import analyse

    return analyse(release_path, DisclosurePolicy())


_REDUCED_DROP = (
    "sdq_",
    "wemwbs_",
    "mood_",
    "asn_",
    "smoking",
    "alcohol",
    "drugs",
    "offered",
    "life_satisfaction",
    "school_connect",
    "free_school",
    "fsm",
)


def make_reduced_release(path: Path, n: int, **options: object) -> Path:
    """A release with two needs (bullied weekly, young carer) and the service flags only.

    Disclosure attacks solve linear programmes over every published cell; fewer measures keep
    them quick while every kind of table, relation and suppression rule is still exercised.
    """
    table = make_release_table(n, **options)  # type: ignore[arg-type]
    drop = [c for c in table.column_names if c.startswith(_REDUCED_DROP)]
    pq.write_table(table.drop_columns(drop), path)
    return path


@pytest.fixture(scope="session")
def reduced_release_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1,500 children in 8 schools, two needs: for attacks and cross-checks."""
    return make_reduced_release(
        tmp_path_factory.mktemp("reduced") / "release.parquet", 1500, seed=5, schools=8
    )


@pytest.fixture(scope="session")
def reduced_analysis(reduced_release_path: Path):
    """The reduced release analysed once under the default policy."""
    from linkwell.analysis.pipeline import analyse

    return analyse(reduced_release_path, DisclosurePolicy())


@pytest.fixture
def audited_by_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Send a small release down a national release's path: blocks of schools, on workers.

    Every component is audited by blocks of about 100 withheld cells and partner programmes of
    two schools, those of over 200 with their tasks on worker processes when more than one is
    asked for; levels that nest (sex within sex and stage), which the audit would take whole,
    are not seen.
    """
    from linkwell.analysis import disclosure

    monkeypatch.setattr(disclosure, "_GROUPED_ABOVE", 0)
    monkeypatch.setattr(disclosure, "_POOLED_ABOVE", 200)
    monkeypatch.setattr(disclosure, "_BLOCK_CELLS", 100)
    monkeypatch.setattr(disclosure, "_PARTNER_GROUPS", 2)
    groups_of = disclosure._Groups.of

    def unnested(system: object) -> disclosure._Groups:
        groups = groups_of(system)  # type: ignore[arg-type]
        return disclosure._Groups(
            groups.of_cell, groups.level, np.full_like(groups.parent, -1), groups.population
        )

    monkeypatch.setattr(disclosure._Groups, "of", staticmethod(unnested))
