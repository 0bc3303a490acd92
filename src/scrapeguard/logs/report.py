"""Reports of an analysis: JSON (everything), CSV (one row per exposed member), HTML (for people).

The HTML report is one self-contained file: styles inline, charts drawn as
inline SVG here, no script, no font or image from anywhere.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from scrapeguard.logs.analysis import Analysis

CSV_COLUMNS = ("actor", "member", "route", "categories", "first_seen", "last_seen", "responses", "reasons")


def iso(ts: float | None) -> str:
    return "" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_json(analysis: Analysis, path: Path, extra: dict[str, Any] | None = None) -> None:
    data = {**analysis.to_dict(), **(extra or {})}
    data["exposure_detail"] = [
        {
            "actor": e.actor,
            "members": [
                {
                    "member": r.member,
                    "route": r.route,
                    "categories": list(r.categories),
                    "first_seen": iso(r.first_seen),
                    "last_seen": iso(r.last_seen),
                    "responses": r.responses,
                }
                for r in e.records
            ],
        }
        for e in analysis.exposure
    ]
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_csv(analysis: Analysis, path: Path) -> int:
    """One row per (flagged actor, member, route); returns the number of rows."""
    rows = 0
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        for e in analysis.exposure:
            reasons = "; ".join(e.reasons)
            for r in e.records:
                writer.writerow(
                    (
                        e.actor,
                        r.member,
                        r.route,
                        ";".join(r.categories),
                        iso(r.first_seen),
                        iso(r.last_seen),
                        r.responses,
                        reasons,
                    )
                )
                rows += 1
    return rows


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


def write_html(analysis: Analysis, path: Path, title: str = "ScrapeGuard log analysis") -> None:
    env = Environment(
        loader=PackageLoader("scrapeguard", "templates"), autoescape=select_autoescape(["html"])
    )
    hourly = [(iso(h), n) for h, n, _ in analysis.hourly]
    member_hourly = [(iso(h), m) for h, _, m in analysis.hourly]
    reached = [(a.actor, a.members_reached) for a in analysis.flagged[:30]]
    html = env.get_template("analysis_report.html").render(
        title=title,
        a=analysis,
        d=analysis.to_dict(),
        iso=iso,
        hourly_bars=bars(hourly),
        member_bars=bars(member_hourly),
        reached_bars=bars(reached, height=120),
        generated=iso(datetime.now(UTC).timestamp()),
    )
    path.write_text(html, encoding="utf-8")
