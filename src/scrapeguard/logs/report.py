"""Reports of an analysis: JSON (everything), CSV (one row per exposed member), HTML (for people).

The HTML report is one self-contained file: styles inline, charts drawn as
inline SVG by `scrapeguard.charts` (axes, units, time scales, a hidden data table
for screen readers), no script, no font or image from anywhere.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
from markupsafe import Markup

from scrapeguard.charts import (
    HIDDEN_CSS,
    BarChart,
    Series,
    TimeChart,
    bar_chart,
    bucketed,
    choose_step,
    duration_text,
    time_chart,
)
from scrapeguard.logs.analysis import Analysis, Timeline
from scrapeguard.logs.exposure import exposure_table

CSV_COLUMNS = ("actor", "member", "route", "categories", "first_seen", "last_seen", "responses", "reasons")


def iso(ts: float | None) -> str:
    return "" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_json(analysis: Analysis, path: Path, extra: dict[str, Any] | None = None) -> None:
    """The summary (`Analysis.to_dict`): per flagged actor its exposure in counts; members are in the CSV."""
    data = {**analysis.to_dict(), **(extra or {})}
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def exposure_frame(analysis: Analysis) -> pl.DataFrame:
    """One row per (flagged actor, member, route), the columns of the CSV."""
    frame = exposure_table(analysis.exposed, analysis.reasons, analysis.rules)
    when = [
        (pl.from_epoch(pl.col(c) * 1_000_000, "us").dt.strftime("%Y-%m-%dT%H:%M:%SZ")).alias(c)
        for c in ("first_seen", "last_seen")
    ]
    return frame.with_columns(when).select(CSV_COLUMNS)


def write_csv(analysis: Analysis, path: Path) -> int:
    """One row per (flagged actor, member, route); returns the number of rows."""
    frame = exposure_frame(analysis)
    frame.write_csv(path)
    return frame.height


def time_series(title: str, description: str, noun: str, series: list[tuple[str, list[tuple[float, float]]]],
                base_step: float, max_buckets: int, chart_id: str, width: int = 720,
                height: int = 240) -> Markup:
    """A bar chart over time of (time, count) points (one bar per bucket of `base_step` seconds, or
    of a larger step when the span holds more than `max_buckets` of them), axes titled with the
    unit ("requests per 1 h")."""
    times = [ts for _, points in series for ts, _ in points]
    if times:
        first, last = min(times), max(times) + base_step
        step = max(base_step, choose_step(last - first, max_buckets))
        start = math.floor(first / step) * step
        n = max(1, math.ceil((last - start) / step))
    else:
        step, start, n = base_step, 0.0, 0
    chart = TimeChart(title, description, f"{noun} per {duration_text(step)}",
                      tuple(start + i * step for i in range(n)), step,
                      tuple(Series(name, bucketed(points, start, step, n)) for name, points in series),
                      width=width, height=height)
    return time_chart(chart, chart_id)


def day(ts: float | None) -> str:
    return "" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def timeline_text(t: Timeline) -> str:
    """One line: '2016 profiles on 7 days, 288 a day on average; peak day 2026-02-03 (295); peak week
    from 2026-02-02 (2016)'."""
    if not t.days:
        return "no profiles served"
    (peak_day, on_peak_day), (peak_week, in_peak_week) = t.peak_day, t.peak_week
    return (f"{t.total} profiles on {len(t.days)} day{'s' if len(t.days) != 1 else ''}, "
            f"{t.mean_per_day:.0f} a day on average; peak day {day(peak_day)} ({on_peak_day}); "
            f"peak week from {day(peak_week)} ({in_peak_week})")


def timeline_lines(analysis: Analysis, top: int = 20) -> list[str]:
    """The daily and weekly views as text: flagged actors (most profiles first) and campaigns."""
    rows = [(t.who, timeline_text(t)) for t in analysis.timelines[:top]]
    rows += [(f"campaign #{c.number} ({len(c.actors)} actors)", timeline_text(c.timeline))
             for c in analysis.campaigns if c.timeline is not None]
    if not rows:
        return []
    width = max(len(who) for who, _ in rows)
    return ["profiles per UTC day and calendar week (Monday to Sunday):"] + \
        [f"  {who:{width}}  {text}" for who, text in rows]


def write_html(analysis: Analysis, path: Path, title: str = "ScrapeGuard log analysis") -> None:
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("scrapeguard", "templates"), autoescape=select_autoescape(["html"])
    )
    hourly = [(float(h), float(n)) for h, n, _ in analysis.hourly]
    member_hourly = [(float(h), float(m)) for h, _, m in analysis.hourly]
    hourly_chart = time_series(
        "Requests over time", "All requests of the logs over time, per bucket.", "requests",
        [("requests", hourly)], 3600, 168, "chart-requests")
    member_chart = time_series(
        "Member data requests over time", "Requests for member data (profiles, look-ups, listings) "
        "over time, per bucket.", "member data requests", [("member data requests", member_hourly)],
        3600, 168, "chart-member")
    reached = tuple((a.actor, float(a.members_reached)) for a in analysis.flagged[:30])
    reached_chart = bar_chart(BarChart(
        "Members reached per flagged actor", "Distinct members whose data each flagged actor received "
        "(the first 30 flagged actors).", "distinct members reached", reached, y_title="flagged actor"),
        "chart-reached") if reached else None
    shown = [*analysis.timelines[:20], *(c.timeline for c in analysis.campaigns if c.timeline is not None)]
    daily = [(t, timeline_text(t), time_series(
        f"Profiles per day, {t.who}", f"Distinct member profiles served to {t.who}, per day (UTC).",
        "profiles", [(t.who, [(float(d), float(n)) for d, n in t.days])], 86400, 60, f"chart-days-{i}",
        width=420, height=170)) for i, t in enumerate(shown)]
    html = env.get_template("analysis_report.html").render(
        title=title,
        a=analysis,
        d=analysis.to_dict(),
        iso=iso,
        hourly_chart=hourly_chart,
        member_chart=member_chart,
        reached_chart=reached_chart,
        hidden_css=Markup(HIDDEN_CSS),
        daily=daily,
        day=day,
        generated=iso(datetime.now(UTC).timestamp()),
    )
    path.write_text(html, encoding="utf-8")
