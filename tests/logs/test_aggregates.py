"""Blocks reduced one by one and merged give what one pass over every request gives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import scrapeguard.logs.aggregates as aggregates
import scrapeguard.logs.scanning as scanning
from scrapeguard.logs.aggregates import aggregate_logs, aggregate_scan
from scrapeguard.logs.analysis import analyze
from scrapeguard.logs.formats import make_format
from scrapeguard.logs.scanning import scan_logs
from scrapeguard.policy import default_policy
from scrapeguard.routes import RouteMap

POLICY = default_policy()


def summary(tables: aggregates.Aggregates) -> dict[str, Any]:
    a = analyze(tables, POLICY)
    d = a.to_dict()
    d.pop("seconds")
    d.pop("lines_per_second")
    d["exposure_rows"] = a.exposed.rows()
    return d


def test_many_small_blocks_and_merges_change_nothing(
    tmp_path: Path, scenario: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the scraper comes back for members it had (repeated responses, first and last times differ)
    log = tmp_path / "again.log"
    again = [
        f'198.51.100.9 - - [01/Feb/2026:11:{i:02d}:00 +0000] "GET /api/v1/members/{i} HTTP/1.1" 200 9 "-" '
        '"python-requests/2.32.3"'
        for i in range(1, 40)
    ]
    log.write_text(scenario.path.read_text() + "\n".join(again) + "\n")
    whole = summary(aggregate_logs([str(log)], make_format("combined"), POLICY.routes))
    monkeypatch.setattr(scanning, "BLOCK", 2048)  # about 20 lines a block
    monkeypatch.setattr(aggregates, "MERGE_AFTER", 30)  # every table merged again and again
    merged: list[str] = []
    merge = aggregates.Aggregator._merge

    def counted(self: aggregates.Aggregator, name: str) -> None:
        merged.append(name)
        merge(self, name)

    monkeypatch.setattr(aggregates.Aggregator, "_merge", counted)
    blocks = aggregate_logs([str(log)], make_format("combined"), POLICY.routes)
    assert {"by_agent", "reached", "views"} <= set(merged) and len(merged) > 20
    # about 35 blocks, yet a table is merged only when it has doubled: a few times, not once a block
    assert 3 <= merged.count("views") <= 8
    assert summary(blocks) == whole
    assert whole["requests"] == len(scenario.lines) - 2 + len(again) and len(whole["flagged"]) == 8
    scraper = next(e for e in whole["exposure"] if e["actor"] == "ip:198.51.100.9")
    assert (scraper["members"], scraper["responses"]) == (150, 150 + len(again))


def test_requests_kept_on_disk_give_the_same_analysis(tmp_path: Path, scenario: Any) -> None:
    work = tmp_path / "w"
    work.mkdir()
    scan = scan_logs([str(scenario.path)], make_format("combined"), RouteMap(POLICY.routes), work)
    assert summary(aggregate_scan(scan, POLICY.routes)) == summary(
        aggregate_logs([str(scenario.path)], make_format("combined"), POLICY.routes)
    )


def test_an_empty_log_gives_empty_tables(tmp_path: Path) -> None:
    log = tmp_path / "empty.log"
    log.write_text("")
    d = summary(aggregate_logs([str(log)], make_format("combined"), POLICY.routes))
    assert (d["lines"], d["requests"], d["actors"], d["flagged"], d["hourly"]) == (0, 0, 0, [], [])
    assert d["log_time_from"] is None and d["exposure_rows"] == []
