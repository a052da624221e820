"""Charts: text is escaped, withheld values are drawn as gaps, descriptions carry the values."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from linkwell.analysis.pipeline import Analysis
from linkwell.report.charts import heat_map, reach_chart, school_charts, simd_charts
from linkwell.report.published import TableIndex

SVG = "{http://www.w3.org/2000/svg}"


def test_charts_are_well_formed_and_described(report_analysis: Analysis) -> None:
    index = TableIndex(report_analysis)
    charts = [
        reach_chart(report_analysis, index),
        heat_map(report_analysis, index),
        *simd_charts(report_analysis, index),
        *school_charts(report_analysis, index),
    ]
    assert len(charts) >= 4
    for chart in charts:
        root = ET.fromstring(chart.svg)  # noqa: S314  # parses: every text was escaped
        assert root.get("role") == "img"
        assert root.find(f"{SVG}title").text == chart.title
        assert root.find(f"{SVG}desc").text == chart.description


def test_withheld_values_are_hatched_never_zero(report_analysis: Analysis) -> None:
    index = TableIndex(report_analysis)
    heat = heat_map(report_analysis, index)
    assert "chart-heat-hatch" in heat.svg
    assert "withheld" in heat.description
    # Each published reach percentage in the description is the published table value.
    row = index.row("matrix-authority", report_analysis.needs[0].title,
                    report_analysis.services[0].title, "All children")  # fmt: skip
    estimate = row.estimate("Reach") if row else None
    if estimate is not None:
        assert (
            f"{estimate.percent:.1f}%" in heat.description
            or f"{estimate.percent:.0f}%" in heat.description
        )


def test_labels_with_markup_are_escaped() -> None:
    from linkwell.report.charts import _Svg

    svg = _Svg("x", 10, 10, "<b>title</b>", 'desc "quoted" & <script>')
    svg.text(1, 1, "</text><script>alert(1)</script>")
    rendered = svg.render()
    assert "<script>" not in rendered
    ET.fromstring(rendered)  # noqa: S314
