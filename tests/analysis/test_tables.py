"""Known answers for every table on a hand-built release of 20 children, weighted and not.

The policy used publishes every count exactly (threshold 1, no rounding) so that the arithmetic
itself is checked: counts, percentages, Wilson intervals (against statsmodels), Kish effective
sample sizes for weighted estimates, reach, unmet need and targeting, and additivity between
levels. A second set of tests runs the default policy on a synthetic release and checks what
every published table promises.
"""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint

from linkwell.analysis.cells import Pop
from linkwell.analysis.pipeline import Analysis, analyse
from linkwell.analysis.tables import ColumnKind, OutputTable, Symbol
from linkwell.config import DisclosurePolicy

from .conftest import tiny_release

BULLIED = "Bullied at least once a week"
IEP = "With an individualised education plan"


def _rows(weighted: bool) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    w = (lambda value: value) if weighted else (lambda value: None)
    for i in range(6):  # girls, decile 1, bullied weekly; four with an IEP
        rows.append(
            {
                "bullied": 4,
                "simd_decile": 1,
                "individualised_education_plan": i < 4,
                "weight": w(2.0),
            }
        )
    for i in range(4):  # girls, decile 1, not bullied; one on the child protection register
        rows.append({"bullied": 1, "simd_decile": 1, "child_protection": i == 0, "weight": w(1.0)})
    for _ in range(5):  # boys in S3, decile 4, bullied weekly, no service
        rows.append(
            {"sex": "male", "stage": "S3", "bullied": 4, "simd_decile": 4, "weight": w(0.5)}
        )
    for _ in range(3):  # boys, not linked, bullied once or twice
        rows.append(
            {
                "sex": "male",
                "stage": "S3",
                "bullied": 2,
                "authority_linked": False,
                "weight": w(1.0),
            }
        )
    for i in range(2):  # boys, decile 4, did not answer; one with an IEP
        rows.append(
            {
                "sex": "male",
                "stage": "S3",
                "simd_decile": 4,
                "individualised_education_plan": i == 0,
                "weight": w(1.0),
            }
        )
    return rows


@pytest.fixture(scope="module")
def exact(tmp_path_factory: pytest.TempPathFactory) -> Analysis:
    path = tiny_release(tmp_path_factory.mktemp("tiny") / "release.parquet", _rows(False))
    return analyse(path, _open())


@pytest.fixture(scope="module")
def weighted(tmp_path_factory: pytest.TempPathFactory) -> Analysis:
    path = tiny_release(tmp_path_factory.mktemp("tinyw") / "release.parquet", _rows(True))
    return analyse(path, _open())


def _open() -> DisclosurePolicy:
    return DisclosurePolicy(
        threshold=1, rounding_base=1, suppress_sensitive_zeros=False, national_only=()
    )


def _row(table: OutputTable, *labels: str) -> dict[str, object]:
    """The row whose label cells start with ``labels`` (the level label is skipped)."""
    headers = [c.header for c in table.columns]
    label_count = sum(c.kind is ColumnKind.LABEL for c in table.columns)
    for row in table.rows:
        names = [str(c.value) for c in row[:label_count]]
        wanted = [n for i, n in enumerate(names) if headers[i] != "Breakdown level"]
        if wanted == list(labels):
            return {h: (c.symbol or c.value) for h, c in zip(headers, row, strict=True)}
    raise AssertionError(f"no row {labels} in {table.id}")


def _wilson(count: int, n: int) -> tuple[float, float]:
    low, high = proportion_confint(count, n, alpha=0.05, method="wilson")
    return round(100 * low, 1), round(100 * high, 1)


def test_prevalence_counts_percent_and_interval(exact: Analysis) -> None:
    row = _row(exact.table("prevalence-sex-stage"), BULLIED, "All children")
    assert row["Children answering"] == 18
    assert row["With the need"] == 11
    assert row["Prevalence (%)"] == round(100 * 11 / 18, 1)
    low, high = _wilson(11, 18)
    assert row["Prevalence: 95% CI lower (%)"] == low
    assert row["Prevalence: 95% CI upper (%)"] == high
    girls = _row(exact.table("prevalence-sex-stage"), BULLIED, "Female")
    assert (girls["Children answering"], girls["With the need"]) == (10, 6)
    boys_s3 = _row(exact.table("prevalence-sex-stage"), BULLIED, "Male, S3")
    assert (boys_s3["Children answering"], boys_s3["With the need"]) == (8, 5)


def test_simd_levels_add_up_and_count_linked_children(exact: Analysis) -> None:
    # SIMD comes from the authority's row: its prevalence is of linked children, so the three
    # unlinked children who answered (none with the need) are in no row, the whole area's
    # included, and "Not known" is a linked child without a decile (none here).
    table = exact.table("prevalence-simd")
    answering, with_need = "Children answering (linked)", "With the need (linked)"
    q1 = _row(table, BULLIED, "Quintile 1 (most deprived)")
    d1 = _row(table, BULLIED, "Decile 1 (most deprived)")
    assert q1[answering] == d1[answering] == 10
    q2 = _row(table, BULLIED, "Quintile 2")
    assert (q2[answering], q2[with_need]) == (5, 5)
    unknown = _row(table, BULLIED, "Not known")
    assert (unknown[answering], unknown[with_need]) == (0, 0)
    everyone = _row(table, BULLIED, "All children")
    assert (everyone[answering], everyone[with_need]) == (15, 11)
    assert everyone["Prevalence (%)"] == round(100 * 11 / 15, 1)
    assert any("Linked children only" in note for note in table.notes)
    reach = _row(exact.table("reach-simd"), BULLIED, "Quintile 2")
    assert reach["With the need (linked)"] == q2[with_need]


def test_services_and_not_in_receipt(exact: Analysis) -> None:
    table = exact.table("services-sex-stage")
    any_row = _row(table, "Any children's service (not 'not in receipt')", "All children")
    assert (any_row["Children linked"], any_row["Receiving"]) == (17, 6)
    none = _row(table, "Not in receipt of children's services", "All children")
    assert none["Receiving"] == 11
    assert none["Receipt (%)"] == round(100 * 11 / 17, 1)
    iep = _row(table, IEP, "All children")
    assert iep["Receiving"] == 5


def test_reach_unmet_and_targeting(exact: Analysis) -> None:
    row = _row(exact.table("reach-sex-stage"), BULLIED, "All children")
    assert row["With the need (linked)"] == 11
    assert row["With the need, receiving"] == 4
    assert row["Reach (%)"] == round(100 * 4 / 11, 1)
    assert row["With the need, not receiving"] == 7
    assert row["Not receiving (%)"] == round(100 * 7 / 11, 1)
    assert (row["Reach: 95% CI lower (%)"], row["Reach: 95% CI upper (%)"]) == _wilson(4, 11)
    # Service recipients whose bullying answer is known: four IEPs and the CP child.
    assert row["Receiving (need known)"] == 5
    assert row["Receiving, without the need"] == 1
    assert row["Targeting (%)"] == 80.0
    matrix = _row(exact.table("matrix-authority"), BULLIED, IEP, "All children")
    assert (matrix["With the need, receiving"], matrix["Receiving, without the need"]) == (4, 0)
    assert matrix["Targeting (%)"] == 100.0


def test_weighted_percentages_use_weights_and_effective_n(weighted: Analysis) -> None:
    row = _row(weighted.table("prevalence-sex-stage"), BULLIED, "All children")
    weights = np.array([2.0] * 6 + [1.0] * 4 + [0.5] * 5 + [1.0] * 3)
    yes = weights[:6].sum() + weights[10:15].sum()
    share = yes / weights.sum()
    n_eff = weights.sum() ** 2 / (weights**2).sum()
    assert row["Children answering"] == 18  # counts stay counts of children
    assert row["Prevalence (%)"] == round(100 * share, 1)
    low, high = proportion_confint(share * n_eff, n_eff, alpha=0.05, method="wilson")
    assert row["Prevalence: 95% CI lower (%)"] == round(100 * low, 1)
    assert row["Prevalence: 95% CI upper (%)"] == round(100 * high, 1)
    linkage = _row(weighted.table("linkage-authority"), "All children")
    assert linkage["Linked (%)"] == round(100 * 17 / 20, 1)  # linkage is never weighted


def test_linkage_table(exact: Analysis) -> None:
    row = _row(exact.table("linkage-authority"), "All children")
    assert (row["Children surveyed"], row["Linked to authority data"]) == (20, 17)


def test_default_policy_on_a_synthetic_release(default_analysis: Analysis) -> None:
    policy = DisclosurePolicy()
    result = default_analysis
    system, codes = result.publication.system, result.protection.codes
    for table in result.tables:
        assert table.checks
        for row in table.rows:
            for column, cell in zip(table.columns, row, strict=True):
                if column.kind is ColumnKind.COUNT and cell.symbol is None:
                    assert isinstance(cell.value, int)
                    assert cell.value % policy.rounding_base == 0
                    true = system.count[cell.cell]
                    assert true == 0 or true >= policy.threshold
                    assert abs(true - cell.value) <= policy.rounding_base // 2
                if column.kind is ColumnKind.COUNT and cell.symbol is Symbol.CONFIDENTIAL:
                    assert codes[cell.cell] != 0
        for entry in table.log:
            assert entry.table == table.id
    assert result.audit.primary > 0
    assert result.audit.certified == int((codes != 0).sum())


def test_percentages_are_withheld_with_their_counts(default_analysis: Analysis) -> None:
    table = default_analysis.table("reach-simd")
    headers = [c.header for c in table.columns]
    a = headers.index("With the need, receiving")
    reach = headers.index("Reach (%)")
    for row in table.rows:
        if row[a].symbol is Symbol.CONFIDENTIAL:
            assert row[reach].symbol is Symbol.CONFIDENTIAL


def test_no_known_simd_or_urban_rural_group_counts_a_population_twice(
    default_analysis: Analysis,
) -> None:
    # Every child of a known SIMD or urban/rural class is linked, as anyone reading the method
    # knows: a count of everyone there beside the same count of linked children would be one
    # number in two cells, which the disclosure audit could withhold in one and not the other.
    keys = default_analysis.publication.system.keys
    known = {
        group
        for _, group in keys
        if len(group) == 1
        and group[0][0].startswith(("simd_", "urban_rural_"))
        and group[0][1] is not None
    }
    assert known
    everyone = (Pop.SURVEYED, Pop.NEED_KNOWN, Pop.NEED_YES, Pop.NEED_NO)
    assert not [key for key in keys if key[1] in known and key[0].kind in everyone]
    linked = {pop.kind for pop, group in keys if group in known}
    assert {Pop.NEED_KNOWN_LINKED, Pop.NEED_LINKED, Pop.NEED_NO_LINKED, Pop.LINKED} <= linked
