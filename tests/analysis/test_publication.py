"""Relations the publication's cell system states between its counts, for the audit to keep."""

from __future__ import annotations

from linkwell.analysis.cells import Pop, PopKey
from linkwell.analysis.pipeline import Analysis


def test_children_answering_the_sdq_total_are_at_most_those_answering_each_subscale(
    default_analysis: Analysis,
) -> None:
    """The definitions say so, so an intruder knows it: the audit must count it too."""
    system = default_analysis.publication.system
    le = system.le.tocsr()
    relations = {
        tuple(sorted(zip(le.indices[start:end].tolist(), le.data[start:end].tolist(), strict=True)))
        for start, end in zip(le.indptr[:-1], le.indptr[1:], strict=True)
    }
    totals = [
        (index, key)
        for index, key in enumerate(system.keys)
        if key[0].kind in (Pop.NEED_KNOWN, Pop.NEED_KNOWN_LINKED)
        and key[0].need.startswith("sdq_total")
    ]
    assert totals
    for index, (pop, group) in totals:
        for subscale in ("sdq_emotional_very_high", "sdq_conduct_very_high"):
            other = system.find(PopKey(pop.kind, subscale), group)
            assert other is not None
            assert tuple(sorted(((index, 1), (other, -1)))) in relations, (pop, group, subscale)
