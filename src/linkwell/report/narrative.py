"""The report's fixed prose, filled in from the analysis: introduction, method and caveats.

Numbers quoted here are either settings (the policy, the cuts) or counts already published in a
table (rounded to the policy's base), never a fresh count, so the prose adds nothing that
disclosure control has not seen.
"""

from __future__ import annotations

from linkwell.analysis.model import MIN_CLUSTERS
from linkwell.analysis.pipeline import Analysis
from linkwell.report.published import TableIndex
from linkwell.report.quality import LinkageQuality

__all__ = ["caveats", "lede", "method"]


def _rounded(value: int, base: int) -> int:
    return (value + base // 2) // base * base if base > 1 else value


def lede(analysis: Analysis) -> str:
    """The opening paragraph: what the report is for and what it covers."""
    release = analysis.release
    children = _rounded(release.children, analysis.policy.rounding_base)
    return (
        "How far do current children's services reach the children who report needing them? "
        f"This report links the survey answers of about {children:,} pupils with what the local "
        "authority records about the services they receive, without anyone holding both who a "
        "child is and what the child said. It shows how common each need is, how many children "
        f"with each need receive a service, and where they do not, across {release.authorities} "
        "authority area(s), by deprivation, rurality, sex, stage and school, to point to where "
        "provision could better meet local need."
    )


def method(analysis: Analysis) -> dict[str, object]:
    """Method paragraphs (the measure definitions are listed from the registries)."""
    release = analysis.release
    weighting = {
        "weighted": (
            "Percentages are weighted with the survey weights; counts are always numbers of "
            "children. Intervals use the Kish effective sample size, (sum of weights) squared "
            "over the sum of squared weights, in a Wilson score interval."
        ),
        "unweighted": "Percentages are unweighted: the release carries no survey weights.",
        "unweighted (weights incomplete)": (
            "Percentages are unweighted: some children lack a survey weight, and mixing "
            "weighted and unweighted children would be wrong."
        ),
    }[release.weighting]
    return {
        "population": (
            "Every child in the release took part in the survey. Needs come from the child's own "
            "answers; services from the authority's records, known only for children whose "
            "record was linked. Prevalence uses every child who answered the items of a measure; "
            "reach (the share of linked children with a need who receive a service), unmet need "
            "(the share receiving none) and targeting (the share of service recipients, whose "
            "need is known, who report the need) use linked children only."
        ),
        "estimates": [
            "Each percentage has a 95% confidence interval: the Wilson score interval, which "
            "stays within 0-100% and behaves well for small groups and rare needs. " + weighting,
            (
                "Intervals treat children as independent; pupils of one school are alike, so for "
                "areas with few schools the intervals are somewhat too narrow."
            ),
            (
                "Models: for each need, a logistic regression of receiving any service on the "
                "need, SIMD quintile, sex and stage, fitted on counts aggregated by covariate "
                "pattern and "
                "school (which gives the same estimates as child-level data). Standard errors are "
                f"robust, clustered by school when there are at least {MIN_CLUSTERS} schools. "
                "Covariate levels with fewer children with or without a service than the threshold "
                "are merged into the reference level, which prevents separation."
            ),
            (
                "Stage rows count girls and boys; children of another or no recorded sex are shown "
                "as one group across all stages, which keeps seven tiny groups out of the tables."
            ),
        ],
    }


def caveats(analysis: Analysis, index: TableIndex, quality: LinkageQuality | None) -> list[str]:
    """Caveats on linkage, response and disclosure control, from published numbers."""
    base = analysis.policy.rounding_base
    items = []
    row = index.row("linkage-authority", "All children")
    linked = row.estimate("Linked") if row else None
    if linked is not None:
        items.append(
            f"{linked.percent:.1f}% of surveyed children were linked to authority records. "
            "A child is not linked when the authority had no valid row for them: not in its "
            "extract, or a row its own validation quarantined (its split step counts those who "
            "took part). Children not linked have no service data and no SIMD or urban/rural "
            "class (these come from the authority), so the tables by SIMD and urban/rural class "
            "count linked children only, prevalence included ('Not known' there is a linked "
            "child whose row had no class). If linkage were less complete for some groups, "
            "their figures would be less certain."
        )
    if quality is not None:
        release_children = analysis.release.children
        difference = abs(quality.surveyed - release_children)
        if difference == 0:
            items.append(
                "The linker's linkage-quality counts agree with the release: the same number of "
                "surveyed children. Linkage by authority is in the linkage table."
            )
        else:
            size = (
                f"about {_rounded(difference, base):,}"
                if difference >= analysis.policy.threshold
                else f"fewer than {analysis.policy.threshold}"
            )
            items.append(
                f"The linker's linkage-quality counts differ from the release by {size} children; "
                "the tables use the release, linkage by authority included."
            )
    items += [
        (
            "Children answer only the items of their own survey: secondary pupils the SDQ, WEMWBS "
            "and substance items; primary pupils the mood and life-satisfaction items."
        ),
        (
            "Service flags are what the authority recorded at extraction; a service received "
            "elsewhere (health, voluntary sector) is not counted."
        ),
        (
            f"Disclosure control withholds {sum(t.suppressed for t in analysis.tables):,} counts "
            "across all tables; withheld values are marked [c], never shown as zero."
        ),
    ]
    if analysis.release.weighting == "unweighted (weights incomplete)":
        items.append("Survey weights are present for only some children, so none are used.")
    return items
