"""The differencing attack: no withheld count is pinned to within plus or minus the threshold.

Run against every table of a synthetic release at once, with the intruder knowing published
counts exactly, or only rounded; with and without inclusions between populations. A deliberate
differencing attack shows why suppression must be consistent across tables: suppressing each
table on its own leaves a decile recoverable from the quintile table; linkwell's joint
suppression does not.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from linkwell.analysis.cells import CellSystemBuilder, Pop, PopKey
from linkwell.analysis.disclosure import protect
from linkwell.analysis.pipeline import Analysis, analyse
from linkwell.config import DisclosurePolicy

from .attack import Problem, pinned, publication_problem, ranges
from .conftest import make_reduced_release, make_release

POLICY = DisclosurePolicy()


def _pinned(found: dict[int, tuple[float, float]], problem: Problem) -> int:
    """How many withheld cells the intruder can place within the threshold of their value."""
    assert len(found) == int((~problem.published).sum())
    cells = np.array(list(found))
    low = np.array([found[c][0] for c in cells])
    high = np.array([found[c][1] for c in cells])
    return int(pinned(problem.values[cells].astype(float), low, high, POLICY.threshold).sum())


def test_no_withheld_count_is_pinned(reduced_analysis: Analysis) -> None:
    # The intruder knows every sum and inclusion, and every published count as its rounded
    # value (an interval of +-2 for base 5, and 0 or at least 10 by the threshold rule). The
    # ranges are proven from the even stronger exact-knowledge intruder wherever possible.
    problem = publication_problem(reduced_analysis, inclusions=True)
    assert (~problem.published).sum() > 500  # the attack has plenty to attack
    exact = ranges(problem, rounding=1, threshold=POLICY.threshold)
    assert _pinned(exact, problem) == 0
    rounded = ranges(
        problem, rounding=POLICY.rounding_base, threshold=POLICY.threshold, exact=exact
    )
    assert _pinned(rounded, problem) == 0


@pytest.mark.usefixtures("audited_by_blocks")
def test_no_withheld_count_is_pinned_when_audited_by_blocks_of_schools(
    reduced_release_path: Path,
) -> None:
    # A national release is audited by programmes over a few schools at a time, spread over
    # worker processes; here the reduced release is made to take that path.
    analysis = analyse(reduced_release_path, POLICY, workers=2)
    problem = publication_problem(analysis, inclusions=True)
    assert (~problem.published).sum() > 500
    assert _pinned(ranges(problem, rounding=1, threshold=POLICY.threshold), problem) == 0


@pytest.mark.slow
def test_no_withheld_count_is_pinned_in_a_full_release(tmp_path: Path) -> None:
    path = make_release(tmp_path / "release.parquet", 3000, seed=9, schools=14)
    problem = publication_problem(analyse(path, POLICY), inclusions=True)
    found = ranges(problem, rounding=1, threshold=POLICY.threshold)
    assert _pinned(found, problem) == 0


def _decile_quintile_system(*, joint: bool):
    """Prevalence counts by SIMD decile and quintile: deciles 1-4 and quintiles 1-2.

    Decile 1 has 3 children with the need; the others are large, decile 3 the smallest of them.
    """
    counts = {1: 3, 2: 60, 3: 40, 4: 90}
    b = CellSystemBuilder()
    pop = PopKey(Pop.NEED_YES, "n")
    decile = {d: b.cell((pop, (("simd_decile", d),)), c, base=100) for d, c in counts.items()}
    total = b.cell((pop, ()), sum(counts.values()), cost=30)
    b.equal(total, list(decile.values()))
    quintile = {}
    if joint:
        for q in (1, 2):
            quintile[q] = b.cell(
                (pop, (("simd_quintile", q),)), counts[2 * q - 1] + counts[2 * q], cost=10
            )
            b.equal(quintile[q], [decile[2 * q - 1], decile[2 * q]])
        b.equal(total, list(quintile.values()))
    return b.build(), decile


def test_a_differencing_attack_that_independent_suppression_lets_through() -> None:
    # Suppressing the decile table on its own picks decile 3 as the partner of decile 1 ...
    decile_only, decile = _decile_quintile_system(joint=False)
    alone = protect(decile_only, POLICY, weighted=False)
    withheld = {d for d, i in decile.items() if alone.codes[i]}
    assert 1 in withheld
    assert 2 not in withheld
    # ... then the quintile table, which has no small cell, is published in full, and
    # quintile 1 minus decile 2 gives decile 1 exactly.
    counts = {1: 3, 2: 60, 3: 40, 4: 90}
    values = np.array([counts[d] for d in (1, 2, 3, 4)] + [63, 130, 193])
    published = np.array([d not in withheld for d in (1, 2, 3, 4)] + [True, True, True])
    eq = [
        ([4, 0, 1], [1.0, -1.0, -1.0]),
        ([5, 2, 3], [1.0, -1.0, -1.0]),
        ([6, 0, 1, 2, 3], [1.0, -1.0, -1.0, -1.0, -1.0]),
        ([6, 4, 5], [1.0, -1.0, -1.0]),
    ]
    problem = Problem(values=values, published=published, shown=values * published, eq=eq, le=[])
    found = ranges(problem, rounding=1, threshold=POLICY.threshold)
    assert found[0] == (3.0, 3.0)  # decile 1 recovered exactly: the attack succeeds

    # Suppressing both tables as one system withholds cells so that no difference works.
    joint, decile = _decile_quintile_system(joint=True)
    together = protect(joint, POLICY, weighted=False)
    order = [decile[d] for d in (1, 2, 3, 4)]
    order += [joint.index[(PopKey(Pop.NEED_YES, "n"), (("simd_quintile", q),))] for q in (1, 2)]
    order.append(joint.index[(PopKey(Pop.NEED_YES, "n"), ())])
    published = np.array([together.codes[i] == 0 for i in order])
    problem = Problem(values=values, published=published, shown=values * published, eq=eq, le=[])
    found = ranges(problem, rounding=1, threshold=POLICY.threshold)
    assert found, "the joint pattern withholds cells"
    assert all(high - low >= POLICY.threshold for low, high in found.values())
    assert not published[0]


def test_the_attack_can_fail_a_bad_pattern(reduced_analysis: Analysis) -> None:
    # Withholding a single small cell and publishing everything else must be caught.
    problem = publication_problem(reduced_analysis, inclusions=False)
    target = next(
        i
        for i in np.flatnonzero(~problem.published)
        if problem.values[i] > 0 and problem.values[i] < POLICY.threshold
    )
    leaked = Problem(
        values=problem.values,
        published=np.ones_like(problem.published),
        shown=problem.values,
        eq=problem.eq,
        le=problem.le,
    )
    leaked.published[target] = False
    assert _pinned(ranges(leaked, rounding=1, threshold=POLICY.threshold), leaked) == 1


def test_groups_of_the_same_children_withhold_alike_and_pin_nothing(tmp_path: Path) -> None:
    """SIMD's and urban/rural's "not known" are both the unlinked children, as the method says.

    Suppressed apart, a count withheld in one table was published in the other (this release,
    before they were tied). The intruder, as in every attack here, also knows every child of a
    known SIMD or urban/rural group is linked.
    """
    release = make_reduced_release(tmp_path / "r.parquet", 800, seed=1, schools=4)
    analysis = analyse(release, POLICY)
    publication = analysis.publication
    simd_not_known = (("simd_decile", None),)
    pops = {pop for pop, group in publication.system.keys if group == simd_not_known}
    assert len(pops) > 40
    for fold in (8, 6, 3, 2):
        for pop in pops:
            cell = publication.cell(pop, ((f"urban_rural_{fold}", None),))
            assert cell is None or cell == publication.cell(pop, simd_not_known), (pop, fold)
    problem = publication_problem(analysis, inclusions=True)
    assert _pinned(ranges(problem, rounding=1, threshold=POLICY.threshold), problem) == 0
