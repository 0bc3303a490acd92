"""Reports of an analysis: JSON (everything), CSV (one row per exposed member), HTML (for people).

The HTML report is one self-contained file: styles inline, charts drawn as
inline SVG here, no script, no font or image from anywhere.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

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


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    x: float
    y: float
    width: float
    height: float


def bars(values: list[tuple[str, int]], width: float = 720, height: float = 160) -> list[Bar]:
    """Vertical bars for an SVG chart (labels shown as tooltips)."""
    if not values:
        return []
    top = max(v for _, v in values) or 1
    step = width / len(values)
    return [
        Bar(label, value, i * step, height - value / top * height, max(step - 1, 0.5), value / top * height)
        for i, (label, value) in enumerate(values)
    ]


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
    hourly = [(iso(h), n) for h, n, _ in analysis.hourly]
    member_hourly = [(iso(h), m) for h, _, m in analysis.hourly]
    reached = [(a.actor, a.members_reached) for a in analysis.flagged[:30]]
    shown = [*analysis.timelines[:20], *(c.timeline for c in analysis.campaigns if c.timeline is not None)]
    daily = [(t, timeline_text(t), bars([(day(d), n) for d, n in t.days], width=360, height=40))
             for t in shown]
    html = env.get_template("analysis_report.html").render(
        title=title,
        a=analysis,
        d=analysis.to_dict(),
        iso=iso,
        hourly_bars=bars(hourly),
        member_bars=bars(member_hourly),
        reached_bars=bars(reached, height=120),
        daily=daily,
        day=day,
        generated=iso(datetime.now(UTC).timestamp()),
    )
    path.write_text(html, encoding="utf-8")
