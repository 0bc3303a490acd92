"""Charts as inline SVG, drawn on the server: no script, no CDN, nothing fetched.

Used by the console's Live view and by `analyze`'s HTML report (which must not import the
console). Two kinds:

- `TimeChart`: counts per time bucket (bars, stacked when there are several series, or lines),
  with a time axis whose tick labels fit the span (HH:MM within a day, dates beyond);
- `BarChart`: horizontal bars, one per labelled category.

Every chart has x and y axes with tick labels and axis titles that carry the unit ("refusals per
5 min"), a legend (text and a pattern or dash, never colour alone), a <title> and a <desc> for
screen readers, and a data table with the same numbers, hidden visually (class `sg-vh`: the page
defines it) but read by screen readers and tests. Ticks are "nice" (1, 2, 5 × 10^k).

The SVG uses presentation attributes only (no style attribute, no <style>): pages served with a
strict Content-Security-Policy (the console's) show it as drawn.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape as _html_escape
from itertools import count

from markupsafe import Markup

#: The class a page gives to content read by screen readers but not shown (the data tables).
HIDDEN_CLASS = "sg-vh"
#: The CSS rule for HIDDEN_CLASS, for pages that have no such rule yet.
HIDDEN_CSS = (f".{HIDDEN_CLASS} {{ position: absolute !important; width: 1px; height: 1px; padding: 0; "
              "margin: -1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0; }")

#: Series colours (distinguishable, dark enough on white) and the pattern each adds, so that a
#: series is told apart without colour.
COLOURS = ("#1f5fa8", "#b2421b", "#2d7a3a", "#7a4aa3", "#8a6d00", "#0f7b7b", "#a3174f", "#4a5360")
PATTERNS = ("solid", "stripes", "dots", "cross", "back", "grid", "wave", "dense")
#: Line charts: the dash of each series (with the colour and a point marker shape).
DASHES = ("", "6 3", "2 3", "8 3 2 3", "1 2", "10 4", "4 4", "12 2")

_ids = count(1)
#: Characters XML 1.0 does not allow (controls, surrogates, U+FFFE/U+FFFF): a label from a log may hold them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def escape(text: str) -> str:
    """Text for SVG/HTML: escaped, and characters XML cannot hold shown as U+FFFD."""
    return _html_escape(_NOT_XML.sub("\ufffd", text))

MINUTE, HOUR, DAY = 60, 3600, 86400
#: Time tick steps, in seconds, smallest first.
TIME_STEPS = (1, 2, 5, 10, 15, 30, MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE,
              HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY, 14 * DAY, 28 * DAY,
              91 * DAY, 182 * DAY, 364 * DAY)


@dataclass(frozen=True)
class Series:
    """One named series: a value per bucket of its chart (same length as the chart's `starts`)."""

    name: str
    values: tuple[float, ...]


@dataclass(frozen=True)
class TimeChart:
    """Counts over time: bucket i covers [starts[i], starts[i] + step) (epoch seconds, UTC)."""

    title: str
    #: What the chart shows, in a sentence (the <desc>; the data table follows it).
    description: str
    #: The y axis title, with its unit: "refusals per 5 min".
    y_title: str
    starts: tuple[float, ...]
    step: float
    series: tuple[Series, ...]
    #: "bars" (stacked when several series) or "lines".
    kind: str = "bars"
    x_title: str = "time (UTC)"
    #: Counts: ticks on whole numbers only.
    whole: bool = True
    width: int = 720
    height: int = 260


@dataclass(frozen=True)
class BarChart:
    """Horizontal bars: one per (label, value)."""

    title: str
    description: str
    #: The value axis title, with its unit: "refusals in the last 24 h".
    x_title: str
    items: tuple[tuple[str, float], ...]
    #: The category axis title: "detector", "route kind".
    y_title: str = ""
    width: int = 720
    bar_height: int = 22
    #: Counts: ticks on whole numbers only.
    whole: bool = True


@dataclass
class _Svg:
    parts: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        self.parts.append(text)

    def text(self, x: float, y: float, content: str, anchor: str = "middle", size: int = 11,
             extra: str = "") -> None:
        self.add(f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
                 f'fill="#1b1f24"{extra}>{escape(content)}</text>')

    def line(self, x1: float, y1: float, x2: float, y2: float, stroke: str = "#1b1f24",
             extra: str = "") -> None:
        self.add(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{stroke}"{extra}/>')


# -- ticks ---------------------------------------------------------------------------------


def nice_step(span: float, max_ticks: int = 6) -> float:
    """The smallest 1, 2 or 5 × 10^k step that divides `span` into at most max_ticks - 1 parts."""
    if not math.isfinite(span) or span < 1e-9:
        return 1.0
    raw = span / max(1, max_ticks - 1)
    power = 10.0 ** math.floor(math.log10(raw))
    for factor in (1.0, 2.0, 5.0, 10.0):
        step = factor * power
        if span / step <= max_ticks - 1 + 1e-9:
            return step
    return 10.0 * power  # pragma: no cover (10 × power always fits)


def nice_ticks(top: float, max_ticks: int = 6, whole: bool = False) -> list[float]:
    """Ticks from 0 to the first nice value >= `top` (at least [0, 1] for an empty chart); with
    `whole`, steps of at least 1 (counts have no half)."""
    if not math.isfinite(top) or top < 1e-9:  # nothing (or next to nothing) to show
        return [0.0, 1.0]
    step = max(1.0, nice_step(top, max_ticks)) if whole else nice_step(top, max_ticks)
    n = max(1, math.ceil(top / step - 1e-9))
    ticks = [i * step for i in range(n + 1)]
    if ticks[-1] < top:  # float rounding at the edge
        ticks.append((n + 1) * step)
    return ticks


def number_label(value: float) -> str:
    """12, 1,500, 2.5k, 3M, 0.5: short tick labels."""
    magnitude = abs(value)
    for limit, unit, suffix in ((1e12, 1e12, "T"), (1e9, 1e9, "G"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if magnitude >= limit:
            scaled = value / unit
            return f"{scaled:.1f}".rstrip("0").rstrip(".") + suffix
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:.2f}".rstrip("0").rstrip(".")


def time_ticks(start: float, end: float, max_ticks: int = 7) -> tuple[list[float], float]:
    """Tick times (multiples of a step from TIME_STEPS, in [start, end]) and the step."""
    span = max(end - start, 1.0)
    step = next((s for s in TIME_STEPS if span / s <= max_ticks - 1), TIME_STEPS[-1])
    while span / step > max_ticks - 1:  # spans beyond the largest step
        step *= 2
    first = math.ceil(start / step) * step
    ticks = []
    t = float(first)
    while t <= end + 1e-9:
        ticks.append(t)
        t += step
    return ticks, float(step)


def time_label(ts: float, step: float, span: float) -> str:
    """HH:MM within a day; the date (and the time when ticks fall within days) beyond."""
    when = datetime.fromtimestamp(ts, UTC)
    if span <= DAY:
        return when.strftime("%H:%M:%S" if step < MINUTE else "%H:%M")
    if step >= DAY:
        return when.strftime("%Y-%m-%d" if span > 364 * DAY else "%d %b")
    return when.strftime("%d %b %H:%M")


def duration_text(seconds: float) -> str:
    """300 -> '5 min', 3600 -> '1 h', 86400 -> '1 day'."""
    for unit, name in ((7 * DAY, "week"), (DAY, "day")):
        if seconds >= unit and seconds % unit == 0:
            n = int(seconds // unit)
            return f"{n} {name}{'s' if n != 1 else ''}"
    if seconds >= HOUR and seconds % HOUR == 0:
        return f"{int(seconds // HOUR)} h"
    if seconds >= MINUTE and seconds % MINUTE == 0:
        return f"{int(seconds // MINUTE)} min"
    return f"{seconds:g} s"


def bucketed(points: Iterable[tuple[float, float]], start: float, step: float, n: int) -> tuple[float, ...]:
    """Sum (time, value) points into n buckets of `step` seconds from `start` (others dropped)."""
    totals = [0.0] * n
    for ts, value in points:
        i = math.floor((ts - start) / step)
        if 0 <= i < n:
            totals[i] += value
    return tuple(totals)


def choose_step(span: float, max_buckets: int) -> float:
    """The smallest time step of TIME_STEPS (1 min or more) that cuts `span` into at most max_buckets."""
    for s in TIME_STEPS:
        if s >= MINUTE and span / s <= max_buckets:
            return float(s)
    step = float(TIME_STEPS[-1])
    while span / step > max_buckets:
        step *= 2
    return step


# -- drawing -------------------------------------------------------------------------------


def _defs(prefix: str, n: int) -> str:
    """One fill pattern per series: its colour, and a texture that tells it apart without colour."""
    out = []
    for i in range(n):
        colour, pattern = COLOURS[i % len(COLOURS)], PATTERNS[i % len(PATTERNS)]
        marks = {
            "solid": "",
            "stripes": '<path d="M0 8 L8 0" stroke="#fff" stroke-width="2"/>',
            "dots": '<circle cx="4" cy="4" r="1.6" fill="#fff"/>',
            "cross": '<path d="M0 0 L8 8 M8 0 L0 8" stroke="#fff" stroke-width="1.2"/>',
            "back": '<path d="M0 0 L8 8" stroke="#fff" stroke-width="2"/>',
            "grid": '<path d="M4 0 V8 M0 4 H8" stroke="#fff" stroke-width="1.2"/>',
            "wave": '<path d="M0 6 Q2 2 4 6 T8 6" stroke="#fff" fill="none" stroke-width="1.2"/>',
            "dense": '<path d="M0 2 H8 M0 6 H8" stroke="#fff" stroke-width="1.2"/>',
        }[pattern]
        out.append(f'<pattern id="{prefix}-p{i}" width="8" height="8" patternUnits="userSpaceOnUse">'
                   f'<rect width="8" height="8" fill="{colour}"/>{marks}</pattern>')
    return "<defs>" + "".join(out) + "</defs>"


def _open(svg: _Svg, chart_id: str, width: int, height: int, title: str, description: str) -> None:
    svg.add(f'<svg xmlns="http://www.w3.org/2000/svg" id="{chart_id}" class="chart" role="img" '
            f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
            f'aria-labelledby="{chart_id}-title" aria-describedby="{chart_id}-desc {chart_id}-data" '
            f'font-family="system-ui, sans-serif">')
    svg.add(f'<title id="{chart_id}-title">{escape(title)}</title>')
    svg.add(f'<desc id="{chart_id}-desc">{escape(description)}</desc>')


def _legend(svg: _Svg, chart_id: str, names: Sequence[str], x: float, y: float, width: float,
            lines: bool) -> None:
    """Legend entries left to right, wrapping: swatch (pattern or dash) then the name."""
    cx, cy = x, y
    svg.add('<g class="legend">')
    for i, name in enumerate(names):
        item_width = 28 + 7 * len(name) + 16
        if cx + item_width > x + width and cx > x:
            cx, cy = x, cy + 18
        if lines:
            dash = DASHES[i % len(DASHES)]
            svg.line(cx, cy - 4, cx + 22, cy - 4, COLOURS[i % len(COLOURS)],
                     f' stroke-width="2.5"{f" stroke-dasharray={chr(34)}{dash}{chr(34)}" if dash else ""}')
            svg.add(_marker(i, cx + 11, cy - 4))
        else:
            svg.add(f'<rect x="{cx:.1f}" y="{cy - 11:.1f}" width="22" height="12" '
                    f'fill="url(#{chart_id}-p{i})" stroke="#1b1f24" stroke-width="0.5"/>')
        svg.text(cx + 28, cy, name, anchor="start", size=12)
        cx += item_width
    svg.add("</g>")


def _legend_height(names: Sequence[str], width: float) -> float:
    rows, cx = 1, 0.0
    for name in names:
        item_width = 28 + 7 * len(name) + 16
        if cx + item_width > width and cx > 0:
            rows, cx = rows + 1, 0.0
        cx += item_width
    return rows * 18.0


def _marker(i: int, x: float, y: float) -> str:
    """A point marker whose shape differs per series (circle, square, triangle, diamond...)."""
    colour = COLOURS[i % len(COLOURS)]
    shape = i % 4
    if shape == 0:
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>'
    if shape == 1:
        return f'<rect x="{x - 3:.1f}" y="{y - 3:.1f}" width="6" height="6" fill="{colour}"/>'
    if shape == 2:
        return (f'<path d="M{x:.1f} {y - 3.5:.1f} L{x + 3.5:.1f} {y + 3:.1f} '
                f'L{x - 3.5:.1f} {y + 3:.1f} Z" fill="{colour}"/>')
    return (f'<path d="M{x:.1f} {y - 4:.1f} L{x + 4:.1f} {y:.1f} L{x:.1f} {y + 4:.1f} '
            f'L{x - 4:.1f} {y:.1f} Z" fill="{colour}"/>')


def _clean(value: float) -> float:
    return value if math.isfinite(value) and value > 0 else 0.0


def _table(chart_id: str, caption: str, head: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    cells = "".join(f'<th scope="col">{escape(h)}</th>' for h in head)
    body = "".join("<tr>" + f'<th scope="row">{escape(row[0])}</th>'
                   + "".join(f'<td class="num">{escape(c)}</td>' for c in row[1:]) + "</tr>"
                   for row in rows)
    # (the wrapper is what is hidden: a table is never narrower than its content)
    return (f'<div class="{HIDDEN_CLASS} chart-data"><table id="{chart_id}-data">'
            f'<caption>{escape(caption)}</caption><thead><tr>{cells}</tr></thead><tbody>{body}</tbody>'
            '</table></div>')


def _value_text(value: float) -> str:
    return f"{int(value):,}" if value == int(value) else f"{value:,.2f}"


def time_chart(chart: TimeChart, chart_id: str | None = None) -> Markup:
    """The SVG of a time chart and its hidden data table."""
    chart_id = chart_id or f"chart-{next(_ids)}"
    n = len(chart.starts)
    series = [Series(s.name, tuple(_clean(v) for v in s.values[:n]) + (0.0,) * max(0, n - len(s.values)))
              for s in chart.series]
    stacked = chart.kind == "bars"
    if stacked:
        tops = [sum(s.values[i] for s in series) for i in range(n)]
    else:
        tops = [max((s.values[i] for s in series), default=0.0) for i in range(n)]
    y_ticks = nice_ticks(max(tops, default=0.0), whole=chart.whole)
    y_max = y_ticks[-1]
    label_width = max(len(number_label(t)) for t in y_ticks) * 7
    left = 34 + label_width
    right = 16
    names = [s.name for s in series]
    legend_h = _legend_height(names, chart.width - left - right) if series else 0.0
    top = 12.0
    plot_h = chart.height - top - 52 - legend_h
    plot_w = chart.width - left - right
    start = chart.starts[0] if n else 0.0
    end = start + n * chart.step if n else chart.step

    def x_of(t: float) -> float:
        return left + (t - start) / (end - start) * plot_w

    def y_of(v: float) -> float:
        return top + plot_h - (v / y_max) * plot_h

    svg = _Svg()
    _open(svg, chart_id, chart.width, chart.height, chart.title, chart.description)
    svg.add(_defs(chart_id, len(series)))
    # y axis: grid lines, ticks, labels, title
    svg.add('<g class="y-axis">')
    for tick in y_ticks:
        y = y_of(tick)
        svg.line(left, y, left + plot_w, y, "#d5dae1")
        svg.line(left - 4, y, left, y)
        svg.text(left - 7, y + 4, number_label(tick), anchor="end")
    svg.line(left, top, left, top + plot_h)
    mid = top + plot_h / 2
    fitting = max(8, min(12, int(plot_h / (0.62 * max(1, len(chart.y_title))))))  # along the axis
    svg.text(14, mid, chart.y_title, size=fitting,
             extra=f' transform="rotate(-90 14 {mid:.1f})" class="axis-title"')
    svg.add("</g>")
    # x axis: time ticks and labels, title
    span = end - start
    ticks, step = time_ticks(start, end)
    svg.add('<g class="x-axis">')
    svg.line(left, top + plot_h, left + plot_w, top + plot_h)
    for tick in ticks:
        x = x_of(tick)
        svg.line(x, top + plot_h, x, top + plot_h + 4)
        svg.text(x, top + plot_h + 17, time_label(tick, step, span))
    x_title = chart.x_title
    if n and span <= DAY:
        first = datetime.fromtimestamp(start, UTC)
        last = datetime.fromtimestamp(end - 1, UTC)
        days = first.strftime("%d %b %Y") + ("" if first.date() == last.date()
                                             else " to " + last.strftime("%d %b %Y"))
        x_title = f"{x_title}, {days}"
    svg.text(left + plot_w / 2, top + plot_h + 38, x_title, size=12, extra=' class="axis-title"')
    svg.add("</g>")
    # the data
    slot = plot_w / n if n else plot_w
    svg.add('<g class="data">')
    if stacked:
        for i in range(n):
            base = 0.0
            for k, s in enumerate(series):
                value = s.values[i]
                if value <= 0:
                    continue
                y0, y1 = y_of(base), y_of(base + value)
                label = f"{s.name}, {time_label(chart.starts[i], chart.step, span)}: {_value_text(value)}"
                svg.add(f'<rect x="{left + i * slot + 0.5:.1f}" y="{y1:.1f}" '
                        f'width="{max(slot - 1, 0.5):.1f}" height="{max(y0 - y1, 0.3):.1f}" '
                        f'fill="url(#{chart_id}-p{k})">'
                        f'<title>{escape(label)}</title></rect>')
                base += value
    else:
        for k, s in enumerate(series):
            points = [(left + (i + 0.5) * slot, y_of(s.values[i])) for i in range(n)]
            if not points:
                continue
            colour, dash = COLOURS[k % len(COLOURS)], DASHES[k % len(DASHES)]
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            svg.add(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"'
                    f'{f" stroke-dasharray={chr(34)}{dash}{chr(34)}" if dash else ""}/>')
            if n <= 60:
                for x, y in points:
                    svg.add(_marker(k, x, y))
    svg.add("</g>")
    if series:  # (one series too: its name says what is counted, e.g. "allow")
        _legend(svg, chart_id, names, left, chart.height - legend_h + 8, plot_w, lines=not stacked)
    svg.add("</svg>")
    head = ["bucket start (UTC)", *(names or ["count"])]
    rows = [[datetime.fromtimestamp(chart.starts[i], UTC).strftime("%Y-%m-%d %H:%M"),
             *(_value_text(s.values[i]) for s in series)] for i in range(n)]
    caption = f"{chart.title}: {chart.y_title}, one row per {duration_text(chart.step)}"
    return Markup("".join(svg.parts) + _table(chart_id, caption, head, rows))


def bar_chart(chart: BarChart, chart_id: str | None = None) -> Markup:
    """The SVG of a horizontal bar chart and its hidden data table."""
    chart_id = chart_id or f"chart-{next(_ids)}"
    items = [(label, _clean(value)) for label, value in chart.items]
    ticks = nice_ticks(max((v for _, v in items), default=0.0), whole=chart.whole)
    x_max = ticks[-1]
    longest = max((len(label) for label, _ in items), default=4)
    left = min(260, 16 + 7 * max(min(longest, 34), len(chart.y_title[:34])))
    right = 64  # room for the value written after the longest bar
    top = 24 if chart.y_title else 8
    rows = max(1, len(items))
    plot_h = rows * chart.bar_height
    height = int(top + plot_h + 48)
    plot_w = chart.width - left - right

    def x_of(v: float) -> float:
        return left + v / x_max * plot_w

    svg = _Svg()
    _open(svg, chart_id, chart.width, height, chart.title, chart.description)
    svg.add(_defs(chart_id, 1))
    svg.add('<g class="x-axis">')
    for tick in ticks:
        x = x_of(tick)
        svg.line(x, top, x, top + plot_h, "#d5dae1")
        svg.line(x, top + plot_h, x, top + plot_h + 4)
        svg.text(x, top + plot_h + 17, number_label(tick))
    svg.line(left, top + plot_h, left + plot_w, top + plot_h)
    svg.text(left + plot_w / 2, top + plot_h + 38, chart.x_title, size=12, extra=' class="axis-title"')
    svg.add("</g>")
    svg.add('<g class="y-axis">')
    svg.line(left, top, left, top + plot_h)
    if chart.y_title:  # the category axis's title, above its labels
        svg.text(left - 6, top - 8, chart.y_title, anchor="end", size=12, extra=' class="axis-title"')
    for i, (label, _) in enumerate(items):
        shown = label if len(label) <= 34 else label[:33] + "…"
        svg.text(left - 6, top + (i + 0.5) * chart.bar_height + 4, shown, anchor="end")
    svg.add("</g>")
    svg.add('<g class="data">')
    for i, (label, value) in enumerate(items):
        y = top + i * chart.bar_height + 3
        svg.add(f'<rect x="{left:.1f}" y="{y:.1f}" width="{max(x_of(value) - left, 0.0):.1f}" '
                f'height="{chart.bar_height - 6}" fill="url(#{chart_id}-p0)">'
                f'<title>{escape(label)}: {escape(_value_text(value))}</title></rect>')
        svg.text(x_of(value) + 4, y + chart.bar_height / 2 + 1, _value_text(value), anchor="start", size=11)
    if not items:
        svg.text(left + plot_w / 2, top + plot_h / 2 + 4, "no data", size=12)
    svg.add("</g></svg>")
    head = [chart.y_title or "category", chart.x_title]
    return Markup("".join(svg.parts) + _table(chart_id, chart.title, head,
                                              ([label, _value_text(v)] for label, v in items)))
