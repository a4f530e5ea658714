"""Server-side SVG charts: no JavaScript and nothing fetched, so reports work offline.

Pure functions from numbers to SVG text. Every piece of text is escaped (group names come
from data), and every bar carries a <title> with its exact value for a hover tooltip.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH = 720
FONT = 'font-family="system-ui, sans-serif" font-size="11" fill="#1d2530"'
COLOURS = ("#1f5fbf", "#1b7f4b", "#9a6200", "#b3261e")
GRID = "#d9dee5"
MUTED = "#5b6675"
# At most this many category labels under the x axis: a year of days would overprint.
MAX_X_LABELS = 14
# Longer group names are shortened on the chart; the <title> keeps them whole.
MAX_LABEL_CHARS = 24


def _number(value: float) -> str:
    """A value as people read it: whole numbers bare, others with up to two decimals."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.2f}".rstrip("0").rstrip(".")


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 5 times a power of ten that is at least ``value`` (1 for none)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return float(step * power)
    return 10.0 * power  # unreachable: 10 * power always covers value


def axis_ceiling(value: float, whole: bool = False) -> float:
    """The top of a four-step axis covering ``value``, on round steps (whole ones for counts)."""
    step = nice_ceiling(value / 4)
    return 4 * (max(1.0, math.ceil(step)) if whole else step)


def _svg(height: int, title: str, body: list[str]) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" role="img" aria-label="{escape(title)}" {FONT}>'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>")


def _text(x: float, y: float, text: str, anchor: str = "start", extra: str = "") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{extra}>'
            f"{escape(text)}</text>")


def _legend(names: Sequence[str], x: float, y: float) -> list[str]:
    parts = []
    for i, name in enumerate(names):
        left = x + i * 130
        parts.append(f'<rect x="{left:.1f}" y="{y - 9:.1f}" width="10" height="10" '
                     f'fill="{COLOURS[i % len(COLOURS)]}"/>')
        parts.append(_text(left + 14, y, name))
    return parts


def _y_axis(top: float, bottom: float, left: float, right: float, ceiling: float) -> list[str]:
    """Five gridlines with their values, from 0 to ``ceiling``."""
    parts = []
    for i in range(5):
        value = ceiling * i / 4
        y = bottom - (bottom - top) * i / 4
        parts.append(f'<line x1="{left:.1f}" y1="{y:.1f}" x2="{right:.1f}" y2="{y:.1f}" '
                     f'stroke="{GRID}"/>')
        parts.append(_text(left - 4, y + 4, _number(value), "end"))
    return parts


def _empty(title: str) -> Markup:
    return _svg(60, title, [_text(WIDTH / 2, 35, "No data in this range.", "middle",
                                  f' fill="{MUTED}"')])


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL_CHARS else label[:MAX_LABEL_CHARS - 1] + "…"


def grouped_bars(categories: Sequence[str], series: Sequence[tuple[str, Sequence[float]]],
                 title: str) -> Markup:
    """Vertical bars per category, one per series side by side (e.g. created vs resolved)."""
    if not categories:
        return _empty(title)
    height, top, bottom, left, right = 260, 34, 220, 40, WIDTH - 10
    ceiling = axis_ceiling(max((v for _, values in series for v in values), default=0),
                           whole=True)
    slot = (right - left) / len(categories)
    bar = max(slot * 0.8 / len(series), 0.5)
    parts = [*_legend([name for name, _ in series], left, 16),
             *_y_axis(top, bottom, left, right, ceiling)]
    every = math.ceil(len(categories) / MAX_X_LABELS)
    for i, category in enumerate(categories):
        x0 = left + i * slot + slot * 0.1
        for j, (name, values) in enumerate(series):
            value = values[i]
            h = (bottom - top) * value / ceiling
            parts.append(
                f'<rect x="{x0 + j * bar:.2f}" y="{bottom - h:.2f}" width="{bar:.2f}" '
                f'height="{h:.2f}" fill="{COLOURS[j % len(COLOURS)]}">'
                f"<title>{escape(category)}: {escape(name)} {_number(value)}</title></rect>")
        if i % every == 0:
            parts.append(_text(left + (i + 0.5) * slot, bottom + 16, category, "middle"))
    return _svg(height, title, parts)


def histogram(bins: Sequence[tuple[str, int]], title: str) -> Markup:
    """Adjacent bars, one per bin, with the count above each."""
    if not bins:
        return _empty(title)
    height, top, bottom, left, right = 230, 20, 195, 40, WIDTH - 10
    ceiling = axis_ceiling(max(count for _, count in bins), whole=True)
    slot = (right - left) / len(bins)
    parts = _y_axis(top, bottom, left, right, ceiling)
    for i, (label, count) in enumerate(bins):
        h = (bottom - top) * count / ceiling
        x = left + i * slot
        parts.append(f'<rect x="{x + 1:.2f}" y="{bottom - h:.2f}" width="{slot - 2:.2f}" '
                     f'height="{h:.2f}" fill="{COLOURS[0]}">'
                     f"<title>{escape(label)}: {count}</title></rect>")
        parts.append(_text(x + slot / 2, bottom - h - 4, _number(count), "middle"))
        parts.append(_text(x + slot / 2, bottom + 16, label, "middle"))
    return _svg(height, title, parts)


def horizontal_bars(rows: Sequence[tuple[str, Sequence[float | None]]],
                    series: Sequence[str], title: str, unit: str = "h") -> Markup:
    """A row of bars per group, one bar per series (e.g. p50 and p90), value at its end."""
    if not rows:
        return _empty(title)
    bar, gap, top, left, right = 12, 10, 30, 170, WIDTH - 60
    block = bar * len(series) + gap
    height = int(top + block * len(rows) + 10)
    ceiling = nice_ceiling(max((v for _, values in rows for v in values if v is not None),
                               default=0))
    parts = _legend(series, left, 16)
    for i, (label, values) in enumerate(rows):
        y0 = top + i * block
        parts.append(f'<text x="{left - 6}" y="{y0 + bar * len(series) / 2 + 4:.1f}" '
                     f'text-anchor="end"><title>{escape(label)}</title>'
                     f"{escape(_short(label))}</text>")
        for j, value in enumerate(values):
            y = y0 + j * bar
            if value is None:
                parts.append(_text(left + 4, y + bar - 2, "—", extra=f' fill="{MUTED}"'))
                continue
            w = (right - left) * value / ceiling
            parts.append(f'<rect x="{left}" y="{y:.2f}" width="{w:.2f}" height="{bar - 2}" '
                         f'fill="{COLOURS[j % len(COLOURS)]}">'
                         f"<title>{escape(label)}: {escape(series[j])} "
                         f"{_number(value)} {escape(unit)}</title></rect>")
            parts.append(_text(left + w + 4, y + bar - 3, f"{_number(value)} {unit}"))
    return _svg(height, title, parts)


def report_charts(report: dict) -> dict[str, Markup]:
    """The charts of an SLA report (reports/queries.py), by name."""
    days = report["throughput"]
    charts = {
        "throughput": grouped_bars(
            [d["day"].strftime("%d %b") for d in days],
            [("Created", [d["created"] for d in days]),
             ("Resolved", [d["resolved"] for d in days])],
            "Cases created and resolved per day (UTC)"),
        "backlog": histogram([(b["bucket"], b["cases"]) for b in report["backlog_age"]],
                             "Open cases by age"),
    }
    groups = report["groups"]
    if report["group_by"] == "stage":
        charts["stage_hours"] = horizontal_bars(
            [(g["label"], (g["p50_hours"], g["p90_hours"])) for g in groups],
            ("p50", "p90"), "Business hours spent per stage")
    else:
        for clock, name in (("first_response", "First response"), ("resolution", "Resolution")):
            charts[clock] = horizontal_bars(
                [(g["label"], (g[f"{clock}_p50_hours"], g[f"{clock}_p90_hours"]))
                 for g in groups],
                ("p50", "p90"), f"{name} time per group (business hours)")
    return charts
