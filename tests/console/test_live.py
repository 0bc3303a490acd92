"""The Live view: refusals and traffic seeded at known times (the harness's FakeClock) drawn with
axes, units and time scales; the hidden tables carry the same counts; top actors and campaigns
link to their pages; the store's health; the span chosen by a query parameter."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

from scrapeguard.records.decisions import add_decisions
from scrapeguard.records.live import write_traffic
from scrapeguard.stores.memory import MemoryStore

from .helpers import ConsoleHarness, make_harness  # type: ignore[import-not-found]

SVG = "{http://www.w3.org/2000/svg}"
NOW = datetime(2026, 12, 3, 10, 7, 30, tzinfo=UTC).timestamp()


def refusal(n: int, ts: float, action: str, route: str, detector: str, actor: str,
            campaign: str | None = None) -> dict[str, Any]:
    return {"type": "decision", "ts": ts, "id": f"sg-{n:012x}", "action": action, "enforced": True,
            "keys": {}, "route": route, "subject": None, "path": "/u/x",
            "reasons": [{"detector": detector, "key": actor, "score": 0.7, "detail": detector}],
            "actors": [actor], "campaign": campaign, "source": "live"}


def seed(h: ConsoleHarness) -> float:
    """Refusals and traffic in the last hour of the harness's clock (set to 10:07:30); returns now."""
    h.clock.now = now = NOW
    records = [refusal(1, now - 30, "block", "profile", "profile_quota", "ip:p-aaa"),
               refusal(2, now - 90, "block", "profile", "automation", "ip:p-aaa"),
               refusal(3, now - 1500, "challenge", "search", "enumeration", "ip:p-bbb", "campaign:3"),
               refusal(4, now - 2 * 86400, "block", "profile", "automation", "ip:p-old")]  # 2 days ago
    minute = now // 60 * 60
    with h.db.session() as s:
        add_decisions(s, records)
        write_traffic(s, [{"type": "traffic", "minute": minute, "route": "profile", "action": "allow",
                           "count": 40},
                          {"type": "traffic", "minute": minute, "route": "profile", "action": "block",
                           "count": 2}])
    return now


def chart(html: str, chart_id: str) -> tuple[ET.Element, ET.Element]:
    """(svg, hidden data table) of one chart of the page, parsed."""
    match = re.search(rf'<svg [^>]*id="{chart_id}".*?</svg><div class="sg-vh chart-data">'
                      rf'<table id="{chart_id}-data".*?</table></div>',
                      html, re.S)
    assert match, f"no chart {chart_id}"
    root = ET.fromstring(f"<root>{match.group(0)}</root>")
    svg, table = root.find(f"{SVG}svg"), root.find("div/table")
    assert svg is not None and table is not None
    return svg, table


def group_texts(svg: ET.Element, name: str) -> list[str]:
    group = next(g for g in svg.iter(f"{SVG}g") if g.get("class") == name)
    return [t.text or "" for t in group.iter(f"{SVG}text")]


def table_rows(table: ET.Element) -> list[list[str]]:
    return [[c.text or "" for c in row] for row in table.findall("./tbody/tr")]


def test_the_last_hour_drawn_with_axes_units_and_its_counts(harness: ConsoleHarness) -> None:
    now = seed(harness)
    response = harness.client("vic").get("/live?span=1h")
    assert response.status_code == 200
    html = response.text
    svg, table = chart(html, "chart-actions")
    assert group_texts(svg, "y-axis")[-1] == "refusals per 5 min"
    day = datetime.fromtimestamp(now, UTC).strftime("%d %b %Y")
    x_labels = group_texts(svg, "x-axis")
    assert x_labels[-1] == f"time (UTC), {day}"
    assert all(re.fullmatch(r"\d\d:\d\d", label) for label in x_labels[:-1])  # HH:MM within a day
    # actions always in one order (live.ACTION_ORDER: the mildest first), so each keeps its colour
    assert group_texts(svg, "legend") == ["challenge", "block"]
    rows = table_rows(table)
    assert len(rows) == 12
    head = [th.text for th in table.findall("./thead/tr/th")]
    assert head == ["bucket start (UTC)", "challenge", "block"]
    assert sum(int(r[1]) for r in rows) == 1 and sum(int(r[2]) for r in rows) == 2  # not the old one
    last = rows[-1]
    assert last[0] == datetime.fromtimestamp(now // 300 * 300, UTC).strftime("%Y-%m-%d %H:%M")
    assert last[1:] == ["0", "2"]  # both blocks in the bucket holding now
    # by detector (lines, a legend), by route kind (bars with a value axis in refusals)
    svg, table = chart(html, "chart-detectors")
    assert set(group_texts(svg, "legend")) == {"profile_quota", "automation", "enumeration"}
    svg, table = chart(html, "chart-routes")
    assert group_texts(svg, "x-axis")[-1] == "refusals in the last hour"
    assert table_rows(table) == [["profile", "2"], ["search", "1"]]
    # traffic, allows included
    svg, table = chart(html, "chart-traffic")
    assert group_texts(svg, "y-axis")[-1] == "requests per 5 min"
    assert table_rows(table)[-1][1:] == ["40", "2"]
    assert '<p class="figure" id="judged-count">42</p>' in html
    assert '<p class="figure" id="refusal-count">3</p>' in html


def test_top_actors_and_campaigns_link_to_their_pages(harness: ConsoleHarness) -> None:
    seed(harness)
    html = harness.client("vic").get("/live").text  # the default span: the last 24 hours
    assert 'href="/actors/ip%3Ap-aaa"' in html and 'href="/actors?campaign=campaign%3A3"' in html
    assert "ip:p-old" not in html  # two days ago
    actors = re.search(r'<table id="top-actors">.*?</table>', html, re.S)
    assert actors and re.findall(r'<td class="num">(\d+)</td>', actors.group(0)) == ["2", "1"]
    svg, _ = chart(html, "chart-actions")
    assert group_texts(svg, "y-axis")[-1] == "refusals per 1 h"


def test_a_week_has_dates_on_its_time_axis(harness: ConsoleHarness) -> None:
    seed(harness)
    html = harness.client("ana").get("/live?span=7d").text
    svg, table = chart(html, "chart-actions")
    assert group_texts(svg, "y-axis")[-1] == "refusals per 6 h"
    assert all(re.fullmatch(r"\d\d [A-Z][a-z]{2}", label) for label in group_texts(svg, "x-axis")[:-1])
    assert len(table_rows(table)) == 28
    head = [th.text for th in table.findall("./thead/tr/th")]
    block = head.index("block")
    assert sum(int(r[block]) for r in table_rows(table)) == 3  # the old block is within the week


def test_an_unknown_span_and_a_role_without_read_are_refused(harness: ConsoleHarness) -> None:
    response = harness.client("vic").get("/live?span=1y")
    assert response.status_code == 400 and "1h, 24h, 7d" in response.text
    assert harness.client("sue").get("/live").status_code == 403


def test_without_traffic_the_page_says_what_it_needs(harness: ConsoleHarness) -> None:
    html = harness.client("vic").get("/live").text
    assert 'id="traffic-missing"' in html and "not recorded" in html
    assert 'id="chart-traffic"' not in html
    assert "No actor was refused in this span." in html
    assert '<span class="badge bad" id="store-health">not connected</span>' in html


class DegradedStore(MemoryStore):
    @property
    def degraded(self) -> bool:
        return True


def test_the_store_health_is_shown_in_words(harness: ConsoleHarness) -> None:
    for store, words in ((MemoryStore(), "ok"), (DegradedStore(), "degraded")):
        h = make_harness(harness.db, store=store)
        html = h.client("vic").get("/live").text
        assert f'id="store-health">{words}</span>' in html
