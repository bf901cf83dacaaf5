"""The targeting pack's weekly attendance chart as inline SVG: no JavaScript, no external asset.

Only numbers and dates (formatted here) go into the markup, so it is safe to mark it as such for Jinja.
"""

from __future__ import annotations

import math
from datetime import date

import pandas as pd
from markupsafe import Markup

WIDTH, HEIGHT = 900, 320
LEFT, RIGHT, TOP, BOTTOM = 52, 190, 16, 44
THIS_YEAR, LAST_YEAR, LA, NATIONAL = "#0b4f9c", "#8a8a8a", "#1e6b2f", "#a4161a"


def _percent(value) -> float | None:
    return None if value is None or pd.isna(value) else 100.0 * float(value)


def weekly_chart_svg(series: pd.DataFrame, *, la_rate: float | None, national_rate: float | None,
                     la_label: str, national_label: str) -> Markup:
    """Weekly attendance this year (line) and last year (dashed) by school week, with the LA and national
    averages for the phase as horizontal lines. ``series``: ``rules.targeting.weekly_series``; rates are
    fractions; ``national_rate`` is a percentage, as the DfE publishes it."""
    this_year = [_percent(v) for v in series["attendance_rate"]] if len(series) else []
    last_year = [_percent(v) for v in series["last_year_rate"]] if len(series) else []
    la = _percent(la_rate)
    values = [v for v in [*this_year, *last_year, la, national_rate] if v is not None]
    low = max(0, min(90, math.floor(min(values, default=90) / 5) * 5 - 5)) if values else 80
    high = 100
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = max(len(series), 1)

    def x(i: int) -> float:
        return LEFT + (plot_w * (i + 0.5) / n)

    def y(v: float) -> float:
        return TOP + plot_h * (high - v) / (high - low)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" class="chart" aria-labelledby="weekly-title">',
             '<title id="weekly-title">Attendance week by week this school year, last year, and the LA and '
             'national averages for the phase</title>',
             f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#fff" stroke="#c9c9c9"/>']
    for tick in range(low, high + 1, 5):
        parts.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#eee"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" font-size="11">{tick}%</text>')
    step = max(1, math.ceil(n / 12))
    for i, monday in enumerate(series["week_commencing"] if len(series) else []):
        if i % step == 0:
            label = f"{monday.day} {monday:%b}" if isinstance(monday, date) else str(monday)
            parts.append(f'<text x="{x(i):.1f}" y="{TOP + plot_h + 16}" text-anchor="middle" font-size="11">{label}</text>')
    parts.append(f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 6}" text-anchor="middle" font-size="11">'
                 'week commencing (school weeks only)</text>')

    def line(value: float | None, colour: str, dash: str) -> None:
        if value is not None and low <= value <= high:
            parts.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
                         f'stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"/>')

    line(la, LA, "6 3")
    line(national_rate, NATIONAL, "2 3")

    def polyline(points: list[float | None], colour: str, dash: str) -> None:
        segment: list[str] = []
        for i, value in enumerate([*points, None]):
            if value is not None:
                segment.append(f"{x(i):.1f},{y(max(low, value)):.1f}")
                parts.append(f'<circle cx="{x(i):.1f}" cy="{y(max(low, value)):.1f}" r="2.5" fill="{colour}"/>')
            elif segment:
                parts.append(f'<polyline points="{" ".join(segment)}" fill="none" stroke="{colour}" '
                             f'stroke-width="2" stroke-dasharray="{dash}"/>')
                segment = []

    polyline(last_year, LAST_YEAR, "5 4")
    polyline(this_year, THIS_YEAR, "none")
    legend = [("This year", THIS_YEAR, "none"), ("Last year, same week", LAST_YEAR, "5 4"),
              (la_label, LA, "6 3"), (national_label, NATIONAL, "2 3")]
    for i, (text, colour, dash) in enumerate(legend):
        top = TOP + 10 + i * 22
        parts.append(f'<line x1="{WIDTH - RIGHT + 12}" x2="{WIDTH - RIGHT + 36}" y1="{top}" y2="{top}" '
                     f'stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"/>')
        parts.append(f'<text x="{WIDTH - RIGHT + 42}" y="{top + 4}" font-size="11">{_escape(text)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _escape(text: str) -> str:
    return str(Markup.escape(text))
