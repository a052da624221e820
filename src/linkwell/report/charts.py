"""Charts as inline SVG written in Python: no script, no web font, nothing fetched.

Every chart reads published values only (through :class:`~linkwell.report.published.TableIndex`)
and draws a withheld value as a labelled gap, never as zero. Each SVG is an accessible image:
``role="img"`` with a ``<title>`` and a ``<desc>`` that states the values shown, so a screen
reader user gets the same numbers. Colours are Okabe-Ito (categorical) or a single-hue blue scale
(sequential), both readable with common colour-vision deficiencies; every colour is paired with a
label or position, never the only carrier of meaning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final
from xml.sax.saxutils import escape, quoteattr

from linkwell.analysis.pipeline import Analysis
from linkwell.report.published import Estimate, TableIndex

__all__ = [
    "OKABE_ITO",
    "Chart",
    "heat_map",
    "reach_chart",
    "school_charts",
    "simd_charts",
]

OKABE_ITO: Final = {
    "orange": "#E69F00",
    "sky blue": "#56B4E9",
    "bluish green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish purple": "#CC79A7",
    "black": "#000000",
}
_BLUES: Final = ("#f7fbff", "#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5",
                 "#08519c", "#08306b")  # fmt: skip
_INK: Final = "#1a1a1a"
_GRID: Final = "#767676"
_FONT: Final = "system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif"
_MAX_SCHOOLS: Final = 60
_ALL: Final = "All children"


@dataclass(frozen=True)
class Chart:
    """One chart: its anchor id, heading, the text alternative, and the SVG markup."""

    id: str
    title: str
    description: str
    svg: str


class _Svg:
    """A minimal SVG writer: every text and attribute value is escaped here."""

    def __init__(self, chart_id: str, width: int, height: int, title: str, desc: str) -> None:
        self.id = chart_id
        self.width = width
        self.height = height
        self.title = title
        self.desc = desc
        self.parts: list[str] = []

    def _attrs(self, attrs: dict[str, object]) -> str:
        return " ".join(f"{k.replace('_', '-')}={quoteattr(str(v))}" for k, v in attrs.items())

    def rect(self, x: float, y: float, w: float, h: float, **attrs: object) -> None:
        base = {"x": f"{x:.1f}", "y": f"{y:.1f}", "width": f"{max(w, 0):.1f}", "height": f"{h:.1f}"}
        self.parts.append(f"<rect {self._attrs({**base, **attrs})}/>")

    def line(self, x1: float, y1: float, x2: float, y2: float, **attrs: object) -> None:
        base = {"x1": f"{x1:.1f}", "y1": f"{y1:.1f}", "x2": f"{x2:.1f}", "y2": f"{y2:.1f}"}
        self.parts.append(f"<line {self._attrs({'stroke': _INK, **base, **attrs})}/>")

    def circle(self, cx: float, cy: float, r: float, **attrs: object) -> None:
        base = {"cx": f"{cx:.1f}", "cy": f"{cy:.1f}", "r": f"{r:.1f}"}
        self.parts.append(f"<circle {self._attrs({**base, **attrs})}/>")

    def path(self, d: str, **attrs: object) -> None:
        self.parts.append(f"<path {self._attrs({'d': d, **attrs})}/>")

    def text(self, x: float, y: float, content: str, **attrs: object) -> None:
        base = {"x": f"{x:.1f}", "y": f"{y:.1f}", "fill": _INK, "font_size": 12}
        self.parts.append(f"<text {self._attrs({**base, **attrs})}>{escape(content)}</text>")

    def render(self) -> str:
        title_id, desc_id = f"{self.id}-title", f"{self.id}-desc"
        head = (
            f'<svg xmlns="http://www.w3.org/2000/svg" role="img" '
            f'aria-labelledby="{title_id} {desc_id}" viewBox="0 0 {self.width} {self.height}" '
            f'width="100%" style="max-width:{self.width}px" font-family={quoteattr(_FONT)}>'
            f'<title id="{title_id}">{escape(self.title)}</title>'
            f'<desc id="{desc_id}">{escape(self.desc)}</desc>'
            '<defs><pattern id="' + self.id + '-hatch" width="6" height="6" '
            'patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
            '<rect width="6" height="6" fill="#f0f0f0"/>'
            '<line x1="0" y1="0" x2="0" y2="6" stroke="#9a9a9a" stroke-width="2"/></pattern></defs>'
        )
        return head + "".join(self.parts) + "</svg>"


def _pct(value: float) -> str:
    return f"{value:.0f}%" if value >= 10 else f"{value:.1f}%"  # noqa: PLR2004


def _range(estimate: Estimate) -> str:
    return f"{_pct(estimate.percent)} (95% CI {_pct(estimate.lower)} to {_pct(estimate.upper)})"


def reach_chart(analysis: Analysis, index: TableIndex) -> Chart:
    """For each need: the share of linked children with it who receive any service, or none."""
    rows = []
    for need in analysis.needs:
        row = index.row("reach-authority", need.title, _ALL)
        estimate = row.estimate("Reach") if row else None
        base = row.count("With the need (linked)") if row else None
        rows.append((need.short, estimate, base))
    label_w, bar_w, row_h = 230, 420, 30
    height = 70 + row_h * len(rows)
    spoken = []
    svg = _Svg("chart-reach", label_w + bar_w + 110, height, "", "")
    svg.text(label_w, 20, "Receiving any service", fill=OKABE_ITO["blue"], font_weight="bold")
    svg.text(
        label_w + bar_w, 20, "No service", fill="#8a5a00", font_weight="bold", text_anchor="end"
    )
    for i, (label, estimate, base) in enumerate(rows):
        y = 40 + i * row_h
        svg.text(label_w - 8, y + 16, label, text_anchor="end")
        if estimate is None:
            svg.rect(label_w, y + 4, bar_w, 18, fill="url(#chart-reach-hatch)")
            svg.text(label_w + 8, y + 17, "withheld (disclosure control)", font_style="italic")
            spoken.append(f"{label}: withheld")
            continue
        split = label_w + bar_w * estimate.percent / 100
        svg.rect(label_w, y + 4, split - label_w, 18, fill=OKABE_ITO["blue"])
        svg.rect(split, y + 4, label_w + bar_w - split, 18, fill=OKABE_ITO["orange"])
        low = label_w + bar_w * estimate.lower / 100
        high = label_w + bar_w * estimate.upper / 100
        svg.line(low, y + 13, high, y + 13, stroke_width=2)
        svg.line(low, y + 7, low, y + 19, stroke_width=2)
        svg.line(high, y + 7, high, y + 19, stroke_width=2)
        svg.text(label_w + bar_w + 8, y + 17, f"{_pct(estimate.percent)} of {base:,}")
        spoken.append(f"{label}: {_range(estimate)} of about {base:,} children receive a service")
    axis_y = 40 + row_h * len(rows) + 4
    for tick in range(0, 101, 25):
        x = label_w + bar_w * tick / 100
        svg.line(x, axis_y, x, axis_y + 5, stroke=_GRID)
        svg.text(x, axis_y + 18, f"{tick}%", text_anchor="middle", font_size=11)
    title = "Reach of services: children with each need who receive any service"
    desc = (
        "Stacked bars, one per need: the blue part is the percentage of linked children with "
        "the need who receive any children's service, the orange part those who receive none; "
        "black whiskers are 95% confidence intervals. " + "; ".join(spoken) + "."
    )
    svg.title, svg.desc = title, desc
    return Chart("chart-reach", title, desc, svg.render())


def _blue(percent: float) -> tuple[str, str]:
    step = min(int(percent / 100 * len(_BLUES)), len(_BLUES) - 1)
    return _BLUES[step], ("#ffffff" if step >= 5 else _INK)  # noqa: PLR2004


def heat_map(analysis: Analysis, index: TableIndex) -> Chart:
    """Needs by services: the share of children with each need who receive each service."""
    services = list(analysis.publication.matrix_services)
    needs = analysis.needs
    label_w, top, cell_w, cell_h = 230, 150, 58, 30
    width = label_w + cell_w * len(services) + 20
    height = top + cell_h * len(needs) + 60
    svg = _Svg("chart-heat", width, height, "", "")
    spoken = []
    for j, service in enumerate(services):
        x = label_w + j * cell_w + cell_w / 2
        svg.text(
            x, top - 8, service.short, transform=f"rotate(-50 {x:.1f} {top - 8})", font_size=11
        )
    for i, need in enumerate(needs):
        y = top + i * cell_h
        svg.text(label_w - 8, y + 19, need.short, text_anchor="end")
        for j, service in enumerate(services):
            x = label_w + j * cell_w
            row = index.row("matrix-authority", need.title, service.title, _ALL)
            estimate = row.estimate("Reach") if row else None
            if estimate is None:
                svg.rect(x + 1, y + 1, cell_w - 2, cell_h - 2, fill="url(#chart-heat-hatch)")
                svg.text(x + cell_w / 2, y + 19, "[c]", text_anchor="middle", font_size=11)
                spoken.append(f"{need.short} - {service.short}: withheld")
                continue
            fill, ink = _blue(estimate.percent)
            svg.rect(x + 1, y + 1, cell_w - 2, cell_h - 2, fill=fill)
            svg.text(
                x + cell_w / 2,
                y + 19,
                _pct(estimate.percent),
                fill=ink,
                text_anchor="middle",
                font_size=11,
            )
            spoken.append(f"{need.short} - {service.short}: {_pct(estimate.percent)}")
    legend_y = top + cell_h * len(needs) + 20
    svg.text(label_w, legend_y + 12, "0%", text_anchor="end", font_size=11)
    for k, colour in enumerate(_BLUES):
        svg.rect(label_w + 6 + k * 22, legend_y, 22, 14, fill=colour, stroke=_GRID)
    svg.text(label_w + 12 + len(_BLUES) * 22, legend_y + 12, "100%", font_size=11)
    svg.rect(label_w + 60 + len(_BLUES) * 22, legend_y, 22, 14, fill="url(#chart-heat-hatch)")
    svg.text(label_w + 88 + len(_BLUES) * 22, legend_y + 12, "withheld [c]", font_size=11)
    title = "Need by service: percentage of children with each need who receive each service"
    desc = (
        "Heat map; rows are needs, columns services; each cell gives the percentage of linked "
        "children with the need who receive the service, darker for higher. "
        + "; ".join(spoken)
        + "."
    )
    svg.title, svg.desc = title, desc
    return Chart("chart-heat", title, desc, svg.render())


def _small_multiples(
    chart_id: str,
    title: str,
    intro: str,
    panels: Sequence[tuple[str, Sequence[tuple[str, Estimate | None]]]],
) -> Chart:
    """One small panel per measure: points with intervals over ordered groups."""
    columns = 3
    panel_w, panel_h = 250, 170
    rows = (len(panels) + columns - 1) // columns
    svg = _Svg(chart_id, panel_w * columns, panel_h * rows + 10, title, "")
    spoken = []
    for p, (label, points) in enumerate(panels):
        ox, oy = (p % columns) * panel_w, (p // columns) * panel_h
        known = [e for _, e in points if e is not None]
        top = max([e.upper for e in known] + [10.0])
        top = min(100.0, ((int(top) // 10) + 1) * 10)
        left, right, upper, lower = ox + 40, ox + panel_w - 15, oy + 30, oy + panel_h - 35
        svg.text(ox + 10, oy + 16, label, font_weight="bold", font_size=12)
        for tick in (0, top / 2, top):
            y = lower - (lower - upper) * tick / top
            svg.line(left, y, right, y, stroke="#d9d9d9")
            svg.text(left - 4, y + 4, f"{tick:.0f}%", text_anchor="end", font_size=10)
        step = (right - left) / max(len(points), 1)
        said = []
        for k, (group, estimate) in enumerate(points):
            x = left + step * (k + 0.5)
            svg.text(x, lower + 14, group, text_anchor="middle", font_size=10)
            if estimate is None:
                svg.text(x, lower - 4, "[c]", text_anchor="middle", font_size=10)
                said.append(f"{group} withheld")
                continue
            y = lower - (lower - upper) * estimate.percent / top
            y_low = lower - (lower - upper) * estimate.lower / top
            y_high = lower - (lower - upper) * estimate.upper / top
            svg.line(x, y_low, x, y_high, stroke=OKABE_ITO["blue"], stroke_width=2)
            svg.circle(x, y, 4, fill=OKABE_ITO["blue"])
            said.append(f"{group} {_range(estimate)}")
        spoken.append(f"{label}: " + ", ".join(said))
    svg.desc = intro + " " + "; ".join(spoken) + "."
    return Chart(chart_id, title, svg.desc, svg.render())


def simd_charts(analysis: Analysis, index: TableIndex) -> list[Chart]:
    """The SIMD gradient: prevalence of each need, and need without any service, by quintile."""
    if not index.has("prevalence-simd"):
        return []
    labels = [("Quintile 1 (most deprived)", "Q1")] + [
        (f"Quintile {q}", f"Q{q}") for q in (2, 3, 4)
    ]
    labels.append(("Quintile 5 (least deprived)", "Q5"))
    charts = []
    for table, prefix, column, title, intro in (
        (
            "prevalence-simd",
            "",
            "Prevalence",
            "The SIMD gradient: prevalence of each need by deprivation quintile",
            (
                "Small multiples, one per need: the percentage of linked children with the need "
                "in each SIMD quintile, Q1 most deprived to Q5 least deprived, with 95% intervals."
            ),
        ),
        (
            "reach-simd",
            "unmet",
            "Not receiving",
            "Need without any service, by deprivation quintile",
            (
                "Small multiples, one per need: of linked children with the need, the percentage "
                "receiving no children's service, by SIMD quintile, with 95% intervals."
            ),
        ),
    ):
        panels = []
        for need in analysis.needs:
            points = []
            for label, short in labels:
                row = index.row(table, need.title, label, level="SIMD quintile")
                points.append((short, row.estimate(column) if row else None))
            panels.append((need.short, points))
        charts.append(
            _small_multiples(f"chart-simd{prefix and '-' + prefix}", title, intro, panels)
        )
    return charts


def school_charts(analysis: Analysis, index: TableIndex) -> list[Chart]:
    """Per need: schools whose prevalence is published, against the whole area's rate."""
    charts = []
    for number, need in enumerate(analysis.needs):
        area_row = index.row("prevalence-school", need.title, _ALL)
        area = area_row.estimate("Prevalence") if area_row else None
        schools = []
        for school, row in index.groups("prevalence-school", "School", need.title):
            estimate = row.estimate("Prevalence")
            size = row.count("Children answering")
            if estimate is not None and size is not None:
                schools.append((school, estimate, size))
        if area is None or len(schools) < 2:  # noqa: PLR2004 - a comparison needs two
            continue
        total = len(schools)
        schools = sorted(schools, key=lambda s: -s[2])[:_MAX_SCHOOLS]
        schools.sort(key=lambda s: s[1].percent)
        charts.append(_school_chart(f"chart-school-{number}", need.short, area, schools, total))
    return charts


def _school_chart(
    chart_id: str, label: str, area: Estimate, schools: list[tuple[str, Estimate, int]], total: int
) -> Chart:
    label_w, plot_w, row_h = 150, 480, 18
    height = 60 + row_h * len(schools)
    svg = _Svg(chart_id, label_w + plot_w + 40, height, "", "")
    top = min(100.0, max(s[1].upper for s in schools) + 5)

    def x_of(value: float) -> float:
        return label_w + plot_w * value / top

    svg.rect(x_of(area.lower), 28, x_of(area.upper) - x_of(area.lower), row_h * len(schools) + 4,
             fill="#e8e8e8")  # fmt: skip
    svg.line(x_of(area.percent), 24, x_of(area.percent), 34 + row_h * len(schools),
             stroke=OKABE_ITO["vermillion"], stroke_width=2, stroke_dasharray="5 3")  # fmt: skip
    svg.text(x_of(area.percent), 18, f"whole area {_pct(area.percent)}", text_anchor="middle",
             fill="#a33a00", font_size=11)  # fmt: skip
    spoken = []
    for i, (school, estimate, size) in enumerate(schools):
        y = 40 + i * row_h
        above, below = estimate.lower > area.upper, estimate.upper < area.lower
        svg.text(label_w - 6, y + 4, f"{school} ({size:,})", text_anchor="end", font_size=11)
        svg.line(
            x_of(estimate.lower),
            y,
            x_of(estimate.upper),
            y,
            stroke=OKABE_ITO["blue"],
            stroke_width=2,
        )
        filled = OKABE_ITO["blue"] if (above or below) else "#ffffff"
        svg.circle(
            x_of(estimate.percent), y, 4.5, fill=filled, stroke=OKABE_ITO["blue"], stroke_width=2
        )
        note = " (higher than the area)" if above else (" (lower than the area)" if below else "")
        spoken.append(f"{school}: {_range(estimate)}{note}")
    for tick in range(0, int(top) + 1, 10 if top > 40 else 5):  # noqa: PLR2004
        svg.text(
            x_of(tick), 52 + row_h * len(schools), f"{tick}%", text_anchor="middle", font_size=10
        )
    shown = (
        f"the {len(schools)} largest of {total} schools"
        if total > len(schools)
        else f"{total} schools"
    )
    title = f"{label}: schools compared with the whole area"
    desc = (
        f"Dot plot of {shown} whose rate is published, lowest at the top: each dot is a school's "
        "percentage with a 95% interval; filled dots differ from the whole-area rate (dashed line, "
        "grey band its interval) beyond chance. " + "; ".join(spoken) + "."
    )
    svg.title, svg.desc = title, desc
    return Chart(chart_id, title, desc, svg.render())
