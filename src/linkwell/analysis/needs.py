"""The need measures: what counts as a child "with a need", each with its written definition.

Every measure is a boolean SQL expression over a scored release (``schema.scoring.score_query``
adds the scales and bands; nothing is re-scored here): TRUE when the child has the need, FALSE
when the child answered and does not, NULL when the child was not asked or did not answer. The
definitions are what the report's method section prints, so each one says exactly which score
range or answer counts and where the cut comes from. Measures whose definitions coincide (the
SALSUS three-band "abnormal" and the RCS four-band "very high" SDQ total are both 20-40) are
merged into one, so the same children are never published twice under two names.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Final

from pydantic import BaseModel, ConfigDict

from linkwell.engine import quote_ident
from linkwell.errors import InternalError
from linkwell.schema import load_dataset

__all__ = [
    "LOW_CONNECTEDNESS_MAX",
    "LOW_LIFE_SATISFACTION_MAX",
    "LOW_MOOD_MAX",
    "LOW_WEMWBS_MAX",
    "NEED_REGISTRY",
    "NeedCategory",
    "NeedMeasure",
    "applicable_needs",
]

LOW_WEMWBS_MAX: Final = 40
"""WEMWBS total at or below which wellbeing counts as low (14-70 scale).

A fixed cut, not "mean - 1 SD of this release": a cut that moves with the data would show about
16% "low" in every area and every wave by construction, hiding exactly the differences a planner
needs to see. 40 is the top of the WEMWBS user guide's lowest band (14-40) and sits close to
mean - 1 SD of SALSUS 2018 (46.9 - about 8.5 = 38.4).
"""

LOW_MOOD_MAX: Final = 12
"""Primary mood score (5-25) at or below which mood counts as low: items average under 2.5,
that is positive feelings felt "rarely" or "never" on average (linkwell's own items and cut)."""

LOW_LIFE_SATISFACTION_MAX: Final = 5
"""Life satisfaction (0-10 ladder) at or below which it counts as low: HBSC reports 6-10 as
high life satisfaction, so 0-5 is its complement."""

LOW_CONNECTEDNESS_MAX: Final = 8
"""Family or school connectedness score (3-15) at or below which it counts as low: the three
items average under 3 ("neither agree nor disagree"), i.e. the child disagrees on average."""


class NeedCategory(StrEnum):
    """How the report groups need measures."""

    MENTAL_HEALTH = "mental health"
    WELLBEING = "wellbeing"
    RISK = "risk factor"


class NeedMeasure(BaseModel):
    """One need: its name, planner-facing title, written definition and SQL.

    ``sql`` is a boolean expression over the scored release; ``columns`` are the scored columns
    it reads (a measure applies to a release only when all of them exist). ``phrase`` completes
    "children reporting ..." in the report's sentences. ``aliases`` lists other registry names
    merged into this one because their definitions coincide, and ``merged_title`` is the title
    it then takes.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    title: str
    short: str
    phrase: str
    category: NeedCategory
    definition: str
    source: str
    columns: tuple[str, ...]
    sql: str
    aliases: tuple[str, ...] = ()
    merged_title: str = ""
    merged_phrase: str = ""
    answered_within: tuple[str, ...] = ()
    """Needs every child answering this one answers too, as its score needs theirs: a reader of
    the definitions knows it, so disclosure control counts it (children answering it are at most
    those answering each)."""


def _band_range(dataset_id: str, band: str, label: str) -> tuple[str, int, int]:
    """The score column and inclusive range of ``label`` in band ``band`` of a shipped dataset."""
    dataset = load_dataset(dataset_id, 1)
    for instrument in dataset.instruments:
        for band_def in instrument.bands:
            if band_def.name == band:
                for cut in band_def.cuts:
                    if cut.label == label:
                        return band_def.score, cut.min, cut.max
    raise InternalError(f"band {band!r} has no label {label!r} in {dataset_id}")


def _in_range(column: str, low: int, high: int) -> str:
    return f"({quote_ident(column)} BETWEEN {int(low)} AND {int(high)})"


def _at_most(column: str, high: int) -> str:
    return f"({quote_ident(column)} <= {int(high)})"


def _equals(column: str, value: int) -> str:
    return f"({quote_ident(column)} = {int(value)})"


def _is_true(column: str) -> str:
    return f"(CAST({quote_ident(column)} AS BOOLEAN))"


def _sdq(  # noqa: PLR0917 - one argument per published band attribute
    name: str, band: str, label: str, title: str, short: str, scheme: str, phrase: str
) -> NeedMeasure:
    score, low, high = _band_range("survey-secondary", band, label)
    what = "total difficulties" if score == "sdq_total" else score.removeprefix("sdq_") + " score"
    return NeedMeasure(
        name=name,
        title=title,
        short=short,
        phrase=phrase,
        category=NeedCategory.MENTAL_HEALTH,
        definition=(
            f"SDQ self-report {what} of {low}-{high}: the '{label}' band of the {scheme} cut-offs. "
            "Subscales are prorated from at least 3 of 5 items; the total needs all four problem "
            "subscales. Secondary pupils (S1-S4) only."
        ),
        source=f"youthinmind SDQ scoring; {scheme}",
        columns=(score,),
        sql=_in_range(score, low, high),
        answered_within=_SDQ_SUBSCALE_NEEDS if score == "sdq_total" else (),
    )


_SDQ_SUBSCALE_NEEDS: Final = ("sdq_emotional_very_high", "sdq_conduct_very_high")
"""The registry's needs on an SDQ problem subscale: the total is scored only with every one."""


def _registry() -> tuple[NeedMeasure, ...]:
    sdq = [
        _sdq(
            "sdq_total_abnormal",
            "sdq_total_band3",
            "abnormal",
            "Abnormal overall difficulties (SDQ total, three bands)",
            "SDQ total abnormal",
            "three-band (SALSUS)",
            "abnormal overall difficulties on the SDQ",
        ),
        _sdq(
            "sdq_total_very_high",
            "sdq_total_band4",
            "very high",
            "Very high overall difficulties (SDQ total, four bands)",
            "SDQ total very high",
            "four-band (RCS)",
            "very high overall difficulties on the SDQ",
        ),
        _sdq(
            "sdq_emotional_very_high",
            "sdq_emotional_band4",
            "very high",
            "Very high emotional difficulties (SDQ)",
            "Emotional very high",
            "four-band (RCS)",
            "very high emotional difficulties",
        ),
        _sdq(
            "sdq_conduct_very_high",
            "sdq_conduct_band4",
            "very high",
            "Very high conduct problems (SDQ)",
            "Conduct very high",
            "four-band (RCS)",
            "very high conduct problems",
        ),
    ]
    # SALSUS's "abnormal" and RCS's "very high" totals share their cut (20-40) in the shipped
    # bands; when they do, they are published once under this title.
    sdq[0] = sdq[0].model_copy(
        update={
            "merged_title": "Abnormal or very high overall difficulties (SDQ total)",
            "merged_phrase": "abnormal or very high overall difficulties on the SDQ",
        }
    )
    wellbeing = (
        NeedMeasure(
            name="wemwbs_low",
            title="Low mental wellbeing (WEMWBS)",
            short="Low wellbeing",
            phrase="low mental wellbeing",
            category=NeedCategory.WELLBEING,
            definition=(
                f"WEMWBS total of 14-{LOW_WEMWBS_MAX} (all 14 items answered). A fixed cut so "
                "that areas and waves can be compared: the user guide's lowest band, close to "
                "mean - 1 SD in SALSUS 2018. Secondary pupils only."
            ),
            source="WEMWBS user guide; SALSUS 2018 national report",
            columns=("wemwbs_total",),
            sql=_at_most("wemwbs_total", LOW_WEMWBS_MAX),
        ),
        NeedMeasure(
            name="mood_low",
            title="Low mood (primary)",
            short="Low mood",
            phrase="low mood",
            category=NeedCategory.WELLBEING,
            definition=(
                f"Primary mood score of 5-{LOW_MOOD_MAX} (five items 1-5, prorated from four): "
                "positive feelings felt 'rarely' or 'never' on average. P5-P7 only."
            ),
            source="linkwell's own items and cut",
            columns=("mood_score",),
            sql=_at_most("mood_score", LOW_MOOD_MAX),
        ),
        NeedMeasure(
            name="life_satisfaction_low",
            title="Low life satisfaction (primary)",
            short="Low life satisfaction",
            phrase="low life satisfaction",
            category=NeedCategory.WELLBEING,
            definition=(
                f"Life satisfaction of 0-{LOW_LIFE_SATISFACTION_MAX} on the 0-10 ladder "
                "(HBSC counts 6-10 as high). P5-P7 only."
            ),
            source="HBSC international report convention",
            columns=("life_satisfaction",),
            sql=_at_most("life_satisfaction", LOW_LIFE_SATISFACTION_MAX),
        ),
    )
    connect = "score of 3-{max} (three items 1-5, prorated from two): disagrees on average"
    risks = (
        NeedMeasure(
            name="bullied_weekly",
            title="Bullied at least once a week",
            short="Bullied weekly",
            phrase="being bullied at least once a week",
            category=NeedCategory.RISK,
            definition="Answered 'at least once a week' to how often bullied in the last year.",
            source="SALSUS / Children's Wellbeing Supplement item",
            columns=("bullied",),
            sql=_equals("bullied", 4),
        ),
        NeedMeasure(
            name="young_carer",
            title="Young carer",
            short="Young carer",
            phrase="being a young carer",
            category=NeedCategory.RISK,
            definition="Says they look after or care for a family member.",
            source="Survey item",
            columns=("young_carer",),
            sql=_is_true("young_carer"),
        ),
        NeedMeasure(
            name="regular_smoker",
            title="Regular smoker",
            short="Regular smoker",
            phrase="smoking regularly",
            category=NeedCategory.RISK,
            definition="Smokes regularly (weekly or more), the SALSUS definition. Secondary only.",
            source="SALSUS",
            columns=("smoking",),
            sql=_equals("smoking", 5),
        ),
        NeedMeasure(
            name="drank_last_week",
            title="Drank alcohol in the last week",
            short="Drank last week",
            phrase="drinking alcohol in the last week",
            category=NeedCategory.RISK,
            definition="Says they drank alcohol in the last week. Secondary only.",
            source="SALSUS",
            columns=("alcohol_last_week",),
            sql=_is_true("alcohol_last_week"),
        ),
        NeedMeasure(
            name="drugs_last_month",
            title="Used drugs in the last month",
            short="Drugs last month",
            phrase="using drugs in the last month",
            category=NeedCategory.RISK,
            definition="Says they used drugs in the last month. Secondary only.",
            source="SALSUS",
            columns=("drugs_last_month",),
            sql=_is_true("drugs_last_month"),
        ),
        NeedMeasure(
            name="family_connectedness_low",
            title="Low family connectedness",
            short="Low family connectedness",
            phrase="low family connectedness",
            category=NeedCategory.RISK,
            definition="Family connectedness "
            + connect.format(max=LOW_CONNECTEDNESS_MAX)
            + " (linkwell's own items and cut).",
            source="linkwell's own items and cut",
            columns=("family_connectedness",),
            sql=_at_most("family_connectedness", LOW_CONNECTEDNESS_MAX),
        ),
        NeedMeasure(
            name="school_connectedness_low",
            title="Low school connectedness",
            short="Low school connectedness",
            phrase="low school connectedness",
            category=NeedCategory.RISK,
            definition="School connectedness "
            + connect.format(max=LOW_CONNECTEDNESS_MAX)
            + " (linkwell's own items and cut).",
            source="linkwell's own items and cut",
            columns=("school_connectedness",),
            sql=_at_most("school_connectedness", LOW_CONNECTEDNESS_MAX),
        ),
    )
    return (*sdq, *wellbeing, *risks)


NEED_REGISTRY: Final[tuple[NeedMeasure, ...]] = _registry()
"""Every need measure linkwell knows, in report order."""


def _merge(first: NeedMeasure, other: NeedMeasure) -> NeedMeasure:
    return first.model_copy(
        update={
            "title": first.merged_title or f"{first.title} = {other.title}",
            "phrase": first.merged_phrase or f"{first.phrase} (also: {other.phrase})",
            "short": f"{first.short} / very high"
            if "very high" in other.short
            else f"{first.short} / {other.short}",
            "definition": f"{first.definition} Identical to: {other.definition}",
            "source": f"{first.source}; {other.source}",
            "aliases": (*first.aliases, other.name),
        }
    )


def applicable_needs(
    columns: Iterable[str], registry: tuple[NeedMeasure, ...] = NEED_REGISTRY
) -> tuple[NeedMeasure, ...]:
    """The measures a scored release with ``columns`` supports, coinciding ones merged.

    Two measures coincide when their SQL is the same text (same score, same range): publishing
    both would show the same children twice under two names.
    """
    available = set(columns)
    merged: dict[str, NeedMeasure] = {}
    for measure in registry:
        if not set(measure.columns) <= available:
            continue
        if measure.sql in merged:
            merged[measure.sql] = _merge(merged[measure.sql], measure)
        else:
            merged[measure.sql] = measure
    return tuple(merged.values())
