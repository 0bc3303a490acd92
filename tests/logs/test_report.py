"""Reports: a self-contained HTML file with the figures, JSON, and the CSV of exposed members."""

from __future__ import annotations

import csv
import json
import re
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
    assert "<script" not in html and "@import" not in html and "url(" not in html
    assert re.search(r'<b id="lines">662</b>', html) and re.search(r'<b id="flagged">8</b>', html)
    assert f'<b id="exposed">{a.exposed_members}</b>' in html and '<b id="campaigns">1</b>' in html
    # three charts, and one small chart of profiles per day per flagged actor and per campaign
    assert html.count("<svg") == 3 + len(a.timelines) + len(a.campaigns) and "ip:198.51.100.9" in html
    assert 'id="timelines"' in html and "campaign #1" in html
    assert "claims to be Googlebot" in html and "34.22.85.1" in html  # verified crawler listed apart


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
