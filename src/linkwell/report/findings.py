"""Headline findings written from the published numbers, in words a planner can use.

Each sentence is built only from values the tables publish (rounded counts, percentages and their
intervals), so every number in the summary can be found in a table. Differences are called
differences only when the 95% intervals do not overlap, and the wording says "about" for rounded
counts. When a number a sentence needs is withheld, the sentence is left out rather than
weakened.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from linkwell.analysis.model import ModelStatus
from linkwell.analysis.needs import NeedMeasure
from linkwell.analysis.pipeline import Analysis
from linkwell.report.published import Estimate, TableIndex

__all__ = ["Finding", "headline_findings"]

_ALL: Final = "All children"
_PRIORITY: Final = (
    "sdq_emotional_very_high",
    "sdq_total_abnormal",
    "sdq_conduct_very_high",
    "wemwbs_low",
    "mood_low",
    "life_satisfaction_low",
)
_MOST, _LEAST = "Quintile 1 (most deprived)", "Quintile 5 (least deprived)"


@dataclass(frozen=True)
class Finding:
    """One headline: the sentence and the table it can be checked against."""

    text: str
    table: str


def _pct(estimate: Estimate) -> str:
    return f"{estimate.percent:.0f}%"


def _interval(estimate: Estimate) -> str:
    return f"95% CI {estimate.lower:.0f}% to {estimate.upper:.0f}%"


def _reach(index: TableIndex, need: NeedMeasure) -> Finding | None:
    row = index.row("reach-authority", need.title, _ALL)
    if row is None:
        return None
    reach, base = row.estimate("Reach"), row.count("With the need (linked)")
    unmet = row.estimate("Not receiving")
    if reach is None or base is None or unmet is None:
        return None
    return Finding(
        f"Of about {base:,} children reporting {need.phrase}, "
        f"{_pct(reach)} ({_interval(reach)}) receive any children's service; "
        f"{_pct(unmet)} receive none.",
        "reach-authority",
    )


def _gradient(analysis: Analysis, index: TableIndex) -> Finding | None:
    best: tuple[float, NeedMeasure, Estimate, Estimate] | None = None
    for need in analysis.needs:
        most = index.row("prevalence-simd", need.title, _MOST, level="SIMD quintile")
        least = index.row("prevalence-simd", need.title, _LEAST, level="SIMD quintile")
        high = most.estimate("Prevalence") if most else None
        low = least.estimate("Prevalence") if least else None
        if high is None or low is None or low.percent <= 0 or high.lower <= low.upper:
            continue
        ratio = high.percent / low.percent
        if best is None or ratio > best[0]:
            best = (ratio, need, high, low)
    if best is None:
        return None
    ratio, need, high, low = best
    return Finding(
        f"The steepest deprivation gradient is in {need.phrase}: "
        f"{_pct(high)} of linked children in the most deprived SIMD quintile ({_interval(high)}) "
        f"against {_pct(low)} in the least deprived ({_interval(low)}), "
        f"{ratio:.1f} times as common.",
        "prevalence-simd",
    )


def _largest_gap(analysis: Analysis, index: TableIndex) -> Finding | None:
    worst: tuple[float, NeedMeasure, Estimate, int] | None = None
    for need in analysis.needs:
        row = index.row("reach-authority", need.title, _ALL)
        unmet = row.estimate("Not receiving") if row else None
        count = row.count("With the need, not receiving") if row else None
        if unmet is not None and count is not None and (worst is None or unmet.percent > worst[0]):
            worst = (unmet.percent, need, unmet, count)
    if worst is None:
        return None
    _, need, unmet, count = worst
    return Finding(
        f"The largest share without any service is among children reporting "
        f"{need.phrase}: {_pct(unmet)} ({_interval(unmet)}), "
        f"about {count:,} children.",
        "reach-authority",
    )


def _models(analysis: Analysis) -> Finding | None:
    estimated = [m for m in analysis.models if m.status is ModelStatus.ESTIMATED]
    phrases = {n.name: n.phrase for n in analysis.needs}
    clear = [m for m in estimated if m.lower is not None and m.lower > 1]
    if not clear:
        return None
    top = max(clear, key=lambda m: m.odds_ratio or 0.0)
    return Finding(
        f"Allowing for SIMD, sex and stage, children reporting {phrases[top.need]} "
        f"had {top.odds_ratio:.1f} times the odds of receiving any service "
        f"(95% CI {top.lower:.1f} to {top.upper:.1f}); {len(clear)} of {len(estimated)} "
        "needs modelled are clearly associated with receiving a service.",
        "models",
    )


def _linkage(index: TableIndex) -> Finding | None:
    row = index.row("linkage-authority", _ALL)
    linked = row.estimate("Linked") if row else None
    surveyed = row.count("Children surveyed") if row else None
    if linked is None or surveyed is None:
        return None
    return Finding(
        f"{linked.percent:.1f}% of the about {surveyed:,} surveyed children were linked to "
        "authority records; service figures describe linked children only.",
        "linkage-authority",
    )


def headline_findings(analysis: Analysis, index: TableIndex) -> tuple[Finding, ...]:
    """The summary's sentences, most useful first; each only if its numbers are published."""
    by_name = {n.name: n for n in analysis.needs}
    ordered = [by_name[name] for name in _PRIORITY if name in by_name]
    ordered += [n for n in analysis.needs if n.name not in _PRIORITY]
    findings: list[Finding | None] = []
    reached = 0
    for need in ordered:
        if reached == 3:  # noqa: PLR2004 - three needs make the point; the tables have all
            break
        finding = _reach(index, need)
        if finding is not None:
            findings.append(finding)
            reached += 1
    findings += [
        _largest_gap(analysis, index),
        _gradient(analysis, index),
        _models(analysis),
        _linkage(index),
    ]
    return tuple(f for f in findings if f is not None)
