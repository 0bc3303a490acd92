"""Reports: a self-contained HTML file with the figures, JSON, and the CSV of exposed members."""

from __future__ import annotations

import csv
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from scrapeguard.logs.analysis import Analysis, analyze
from scrapeguard.logs.formats import make_format
from scrapeguard.logs.report import CSV_COLUMNS, write_csv, write_html, write_json
from scrapeguard.logs.scanning import scan_logs
from scrapeguard.policy import default_policy
from scrapeguard.routes import RouteMap


def analysis_of(scenario: Any, tmp_path: Path) -> Analysis:
    policy = default_policy()
    work = tmp_path / "work"
    work.mkdir()
    return analyze(
        scan_logs([str(scenario.path)], make_format("combined"), RouteMap(policy.routes), work), policy
    )


def test_html_is_self_contained_and_has_the_figures(tmp_path: Path, scenario: Any) -> None:
    a = analysis_of(scenario, tmp_path)
    path = tmp_path / "r.html"
    write_html(a, path)
    html = path.read_text()
    # nothing is loaded from anywhere: no src/href to a URL, no script, no @import
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html, re.I)
    assert "<script" not in html and "@import" not in html
    assert not re.search(r"url\((?!#)", html)  # only the charts' own patterns (url(#...)) are referred to
    assert re.search(r'<b id="lines">662</b>', html) and re.search(r'<b id="flagged">8</b>', html)
    assert f'<b id="exposed">{a.exposed_members}</b>' in html and '<b id="campaigns">1</b>' in html
    # three charts, and one small chart of profiles per day per flagged actor and per campaign
    assert html.count("<svg") == 3 + len(a.timelines) + len(a.campaigns) and "ip:198.51.100.9" in html
    assert 'id="timelines"' in html and "campaign #1" in html
    assert "claims to be Googlebot" in html and "34.22.85.1" in html  # verified crawler listed apart


def test_html_charts_have_axes_units_time_scales_and_their_numbers(tmp_path: Path, scenario: Any) -> None:
    a = analysis_of(scenario, tmp_path)
    write_html(a, tmp_path / "r.html")
    html = (tmp_path / "r.html").read_text()
    assert ".sg-vh {" in html  # the data tables are hidden visually, read by screen readers
    svg_ns = "{http://www.w3.org/2000/svg}"

    def chart(chart_id: str) -> tuple[ET.Element, ET.Element]:
        found = re.search(rf'<svg [^>]*id="{chart_id}".*?</table></div>', html, re.S)
        assert found, chart_id
        root = ET.fromstring(f"<root>{found.group(0)}</root>")
        svg, table = root.find(f"{svg_ns}svg"), root.find("div/table")
        assert svg is not None and table is not None
        return svg, table

    def axis(svg: ET.Element, name: str) -> list[str]:
        group = next(g for g in svg.iter(f"{svg_ns}g") if g.get("class") == name)
        return [t.text or "" for t in group.iter(f"{svg_ns}text")]

    svg, table = chart("chart-requests")
    assert svg.find(f"{svg_ns}title") is not None and svg.find(f"{svg_ns}desc") is not None
    y, x = axis(svg, "y-axis"), axis(svg, "x-axis")
    assert y[-1] == "requests per 1 h" and y[0] == "0" and len(y) >= 3
    assert x[-1].startswith("time (UTC)") and len(x) >= 3
    assert all(re.fullmatch(r"\d\d:\d\d", t) for t in x[:-1])  # a log of one day: HH:MM
    assert sum(int(row[1].text or "0") for row in table.findall("./tbody/tr")) == a.to_dict()["requests"]
    svg, table = chart("chart-member")
    assert axis(svg, "y-axis")[-1] == "member data requests per 1 h"
    assert sum(int(row[1].text or "0") for row in table.findall("./tbody/tr")) == \
        sum(m for _, _, m in a.hourly)
    svg, table = chart("chart-reached")
    assert axis(svg, "x-axis")[-1] == "distinct members reached" and "flagged actor" in axis(svg, "y-axis")
    assert [(row[0].text, int(row[1].text or "0")) for row in table.findall("./tbody/tr")] == \
        [(s.actor, s.members_reached) for s in a.flagged[:30]]
    svg, table = chart("chart-days-0")
    assert axis(svg, "y-axis")[-1] == "profiles per 1 day"
    assert sum(int(row[1].text or "0") for row in table.findall("./tbody/tr")) == a.timelines[0].total


def test_html_escapes_what_the_log_says(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text(
        "".join(
            f'198.51.100.1 - - [01/Feb/2026:10:00:{i:02d} +0000] "GET /u/m{i} HTTP/1.1" 200 1 "-" '
            f'"<script>alert(1)</script> python-requests/2"\n'
            for i in range(3)
        )
    )
    policy = default_policy()
    (tmp_path / "w").mkdir()
    a = analyze(
        scan_logs([str(log)], make_format("combined"), RouteMap(policy.routes), tmp_path / "w"), policy
    )
    write_html(a, tmp_path / "r.html")
    html = (tmp_path / "r.html").read_text()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_csv_lists_exactly_the_exposed_members(tmp_path: Path, scenario: Any) -> None:
    a = analysis_of(scenario, tmp_path)
    path = tmp_path / "exposed.csv"
    assert write_csv(a, path) == len(scenario.exposed)
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert {(r["actor"], r["member"]) for r in rows} == scenario.exposed
    lookup = next(r for r in rows if r["member"] == "email:user3@example.org")
    assert lookup["route"] == "/lookup" and lookup["categories"].split(";") == [
        "user.name",
        "user.account.username",
        "user.professional_information.job_title",
        "user.content.self_image",
        "user.contact.email",
    ]
    assert lookup["first_seen"] == "2026-02-01T10:10:00Z" and lookup["responses"] == "1"


def test_json_has_the_summary_and_the_exposure_in_counts(tmp_path: Path, scenario: Any) -> None:
    a = analysis_of(scenario, tmp_path)
    path = tmp_path / "a.json"
    write_json(a, path, {"policy": "<defaults>"})
    data = json.loads(path.read_text())
    assert data["policy"] == "<defaults>" and data["lines"] == 662
    members = {e["actor"]: e["members"] for e in data["exposure"]}
    expected: dict[str, int] = {}
    for actor, _ in scenario.exposed:
        expected[actor] = expected.get(actor, 0) + 1
    assert members == expected
