"""The chart helper: valid SVG for any counts (none, one, huge), axes with titles and units,
nice increasing ticks that cover the data, time labels that fit the span, a legend that does not
rely on colour, and a data table with the same numbers."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from scrapeguard.charts import (
    DAY,
    HIDDEN_CLASS,
    HOUR,
    BarChart,
    Series,
    TimeChart,
    bar_chart,
    bucketed,
    choose_step,
    nice_step,
    nice_ticks,
    number_label,
    time_chart,
    time_label,
    time_ticks,
)

SVG = "{http://www.w3.org/2000/svg}"
counts = st.one_of(st.integers(0, 10), st.integers(0, 10**6), st.integers(0, 10**15)).map(float)
T0 = datetime(2026, 12, 3, 0, 0, tzinfo=UTC).timestamp()


def parse(markup: str) -> tuple[ET.Element, ET.Element]:
    """(the svg, the data table) of a chart's markup, both parsed as XML."""
    root = ET.fromstring(f"<root>{markup}</root>")
    svg, hidden, table = root.find(f"{SVG}svg"), root.find("div"), root.find("div/table")
    assert svg is not None and hidden is not None and table is not None
    assert HIDDEN_CLASS in (hidden.get("class") or "").split()
    return svg, table


def texts(group: ET.Element | None) -> list[str]:
    assert group is not None
    return [t.text or "" for t in group.iter(f"{SVG}text")]


def axis(svg: ET.Element, name: str) -> ET.Element | None:
    return next((g for g in svg.iter(f"{SVG}g") if g.get("class") == name), None)


def tick_values(labels: list[str]) -> list[float]:
    scale = {"k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
    return [float(x[:-1]) * scale[x[-1]] if x[-1] in scale else float(x.replace(",", "")) for x in labels]


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=0, max_value=1e18, allow_nan=False))
def test_nice_ticks_start_at_zero_increase_and_cover_the_top(top: float) -> None:
    ticks = nice_ticks(top)
    assert ticks[0] == 0 and ticks[-1] >= top and 2 <= len(ticks) <= 7
    assert all(b > a for a, b in pairwise(ticks))
    step = ticks[1] - ticks[0]
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert any(math.isclose(mantissa, m, rel_tol=1e-6) for m in (1, 2, 5, 10))


def test_nice_steps_are_one_two_five() -> None:
    assert [nice_step(s) for s in (1, 7, 10, 23, 100, 480)] == [0.2, 2, 2, 5, 20, 100]
    assert nice_ticks(0) == [0, 1] and nice_ticks(7) == [0, 2, 4, 6, 8]
    assert nice_ticks(2) == [0, 0.5, 1, 1.5, 2] and nice_ticks(2, whole=True) == [0, 1, 2]
    assert number_label(1500) == "1,500" and number_label(25_000) == "25k" and number_label(3e6) == "3M"


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(counts, min_size=0, max_size=40), min_size=1, max_size=4),
       st.sampled_from([60, 300, 3600, 6 * 3600, DAY]), st.sampled_from(["bars", "lines"]))
def test_any_time_chart_is_valid_svg_with_axes_and_its_numbers(values: list[list[float]], step: int,
                                                               kind: str) -> None:
    n = max(len(v) for v in values)
    starts = tuple(T0 + i * step for i in range(n))
    chart = TimeChart("Refusals", "Refusals by action.", "refusals per bucket", starts, step,
                      tuple(Series(f"s{k}", tuple(v)) for k, v in enumerate(values)), kind=kind)
    svg, table = parse(time_chart(chart, "c1"))
    assert svg.get("role") == "img" and svg.get("aria-describedby") == "c1-desc c1-data"
    assert svg.find(f"{SVG}title") is not None and svg.find(f"{SVG}desc") is not None
    y_labels = texts(axis(svg, "y-axis"))
    assert y_labels[-1] == "refusals per bucket"  # the axis title with its unit
    y_ticks = tick_values(y_labels[:-1])
    assert y_ticks[0] == 0 and all(b > a for a, b in pairwise(y_ticks))
    totals = [sum(v[i] for v in values if i < len(v)) if kind == "bars"
              else max((v[i] for v in values if i < len(v)), default=0) for i in range(n)]
    assert max(totals, default=0) <= nice_ticks(max(totals, default=0))[-1]
    x_labels = texts(axis(svg, "x-axis"))
    assert x_labels[-1].startswith("time (UTC)") and len(x_labels) >= 2
    # the hidden table has one row per bucket and the same numbers
    rows = table.findall("./tbody/tr")
    assert len(rows) == n
    for i, row in enumerate(rows):
        cells = [c.text or "" for c in row.findall("td")]
        assert [float(c.replace(",", "")) for c in cells] == \
               [v[i] if i < len(v) else 0 for v in values]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.text(min_size=1, max_size=60), counts), max_size=12))
def test_any_bar_chart_is_valid_svg_with_axes(items: list[tuple[str, float]]) -> None:
    svg, table = parse(bar_chart(BarChart("By detector", "Refusals by detector.", "refusals in 24 h",
                                          tuple(items), y_title="detector"), "b1"))
    x_labels = texts(axis(svg, "x-axis"))
    assert x_labels[-1] == "refusals in 24 h"
    ticks = tick_values(x_labels[:-1])
    assert ticks[0] == 0 and all(b > a for a, b in pairwise(ticks))
    assert ticks[-1] >= max((v for _, v in items), default=0) * (1 - 1e-9)
    assert "detector" in texts(axis(svg, "y-axis"))
    assert len(table.findall("./tbody/tr")) == len(items)


def test_time_labels_fit_the_span() -> None:
    hour_ticks, step = time_ticks(T0 + 10 * HOUR, T0 + 11 * HOUR)
    assert step == 600 and [time_label(t, step, HOUR) for t in hour_ticks][:2] == ["10:00", "10:10"]
    week_ticks, step = time_ticks(T0, T0 + 7 * DAY)
    assert step == 2 * DAY and time_label(week_ticks[0], step, 7 * DAY) == "03 Dec"
    _, step = time_ticks(T0, T0 + 2 * DAY)
    assert time_label(T0 + 12 * HOUR, step, 2 * DAY) == "03 Dec 12:00"
    assert time_label(T0, DAY, 800 * DAY) == "2026-12-03"
    for span in (60.0, HOUR, DAY, 7 * DAY, 400 * DAY):
        ticks, _ = time_ticks(T0, T0 + span)
        assert 2 <= len(ticks) <= 7 and all(T0 <= t <= T0 + span for t in ticks)


def test_a_day_chart_says_which_day_and_a_legend_names_every_series() -> None:
    starts = tuple(T0 + i * HOUR for i in range(24))
    chart = TimeChart("Refusals", "d", "refusals per 1 h", starts, HOUR,
                      (Series("block", (1.0,) * 24), Series("challenge", (2.0,) * 24)))
    markup = str(time_chart(chart, "c2"))
    svg, _ = parse(markup)
    assert "time (UTC), 03 Dec 2026" in texts(axis(svg, "x-axis"))
    legend = next(g for g in svg.iter(f"{SVG}g") if g.get("class") == "legend")
    assert texts(legend) == ["block", "challenge"]
    # told apart by pattern, not colour only: two patterns, each with a texture but the first
    patterns = svg.findall(f"{SVG}defs/{SVG}pattern")
    assert len(patterns) == 2 and len(list(patterns[1])) > 1
    across, _ = parse(time_chart(TimeChart("r", "d", "refusals per 5 min",
                                           tuple(T0 - 1800 + i * 300 for i in range(12)), 300, ())))
    assert texts(axis(across, "x-axis"))[-1] == "time (UTC), 02 Dec 2026 to 03 Dec 2026"
    assert "style=" not in markup and "<style" not in markup  # strict CSP pages show it as drawn


def test_one_point_and_no_point() -> None:
    for starts in ((), (T0,)):
        chart = TimeChart("t", "d", "requests per 1 min", starts, 60.0,
                          (Series("requests", (5.0,) * len(starts)),))
        svg, table = parse(time_chart(chart))
        assert len(table.findall("./tbody/tr")) == len(starts)
    svg, _ = parse(bar_chart(BarChart("t", "d", "refusals", ())))
    assert "no data" in texts(next(g for g in svg.iter(f"{SVG}g") if g.get("class") == "data"))


def test_points_are_summed_into_their_buckets() -> None:
    assert bucketed([(T0, 1), (T0 + 59, 2), (T0 + 60, 3), (T0 - 1, 9), (T0 + 180, 9)], T0, 60, 3) \
        == (3.0, 3.0, 0.0)
    assert choose_step(7 * DAY, 60) == 3 * HOUR and choose_step(7 * DAY, 30) == 6 * HOUR
    assert choose_step(HOUR, 60) == 60
