"""Reading ahead in a second process changes nothing but speed: the same records, routes, bad-line
counts, decisions and summary as reading in the judging process."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scrapeguard.decisions import DecisionWriter
from scrapeguard.engine import Engine
from scrapeguard.logs import ahead
from scrapeguard.logs.ahead import can_read_ahead, record_row, rows_ahead
from scrapeguard.logs.formats import LogFormat, LogRecord, make_format
from scrapeguard.logs.reading import ReadStats, read_records
from scrapeguard.logs.replay import offline_policy, replay
from scrapeguard.policy import default_policy
from scrapeguard.routes import RouteMap

START = 1_769_904_000  # 2026-02-01T00:00:00Z


def write_log(path: Path, lines: int, opener=open) -> None:  # type: ignore[no-untyped-def]
    """People, a scraper sweeping ids, and a bad line now and then, in time order."""
    with opener(path, "wt", encoding="utf-8") as f:
        for i in range(lines):
            t = time.gmtime(START + i // 3)
            stamp = f"{t.tm_mday:02d}/Feb/{t.tm_year}:{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
            if i % 997 == 5:
                f.write("not a log line at all\n")
            elif i % 4 == 0:
                f.write(f'198.51.100.9 - - [{stamp}] "GET /api/v1/members/{i // 4} HTTP/1.1" 200 900 "-" '
                        '"python-requests/2.32"\n')
            else:
                ip = f"203.0.{i % 50}.{10 + i % 7}"
                target = (f"/u/member{i % 300}", "/static/site.css", "/jobs", "/favicon.ico")[i % 4]
                f.write(f'{ip} - - [{stamp}] "GET {target} HTTP/1.1" 200 5100 "-" '
                        '"Mozilla/5.0 Firefox/128.0"\n')


def decisions_of(paths: list[str], fmt: LogFormat, tmp: Path, read_ahead: bool) -> tuple[list[str], object]:
    out = tmp / f"decisions-{read_ahead}.jsonl"
    writer = DecisionWriter(out, buffered=True)
    summary = replay(paths, fmt, Engine(offline_policy(default_policy()), live=False), writer,
                     read_ahead=read_ahead)
    writer.close()
    lines = []
    for line in out.read_text().splitlines():
        decision = json.loads(line)
        decision.pop("id")  # ids are random
        lines.append(json.dumps(decision, sort_keys=True))
    return lines, summary


def test_replay_reading_ahead_decides_exactly_as_reading_in_process(tmp_path: Path) -> None:
    plain, packed = tmp_path / "a.log", tmp_path / "b.log.gz"
    write_log(plain, 5000)
    write_log(packed, 3000, opener=gzip.open)
    paths = [str(plain), str(packed)]
    fmt = make_format("combined")
    here, summary_here = decisions_of(paths, fmt, tmp_path, read_ahead=False)
    there, summary_there = decisions_of(paths, fmt, tmp_path, read_ahead=True)
    assert here and here == there
    a, b = summary_here.to_dict(10), summary_there.to_dict(10)  # type: ignore[attr-defined]
    for timing in ("seconds", "lines_per_second"):
        a.pop(timing, None), b.pop(timing, None)
    assert a == b
    stats = summary_there.stats  # type: ignore[attr-defined]
    assert stats.lines == 8000 and stats.skipped == 10 and stats.samples[0].line_number == 6


def test_records_and_routes_match_the_in_process_reader(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    write_log(log, 4500)
    fmt, routes = make_format("combined"), RouteMap(default_policy().routes)
    mine = ReadStats()
    expected = [(record_row(r), routes.match(r.path, r.query)) for r in read_records([str(log)], fmt, mine)]
    theirs = ReadStats()
    got = list(rows_ahead([str(log)], fmt, theirs, routes))
    assert got == expected
    assert (theirs.lines, theirs.parsed, dict(theirs.bad)) == (mine.lines, mine.parsed, dict(mine.bad))
    assert theirs.samples == mine.samples


def test_a_failure_in_the_reader_is_raised_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "a.log"
    write_log(log, 10)

    def breaking(paths: list[str], fmt: LogFormat, stats: ReadStats) -> Iterator[LogRecord]:
        yield from list(read_records(paths, fmt, stats))[:3]
        raise ValueError("disk on fire")

    monkeypatch.setattr(ahead, "read_records", breaking)  # the forked reader inherits the patch
    got = []
    with pytest.raises(RuntimeError, match="reading the logs failed: ValueError: disk on fire"):
        for row, _ in rows_ahead([str(log)], make_format("combined"), ReadStats(),
                                 RouteMap(default_policy().routes)):
            got.append(row)
    assert len(got) == 3


def test_stopping_early_stops_the_reader(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    write_log(log, 20_000)
    records = rows_ahead([str(log)], make_format("combined"), ReadStats(), RouteMap(default_policy().routes))
    assert next(records)[0][1] == "198.51.100.9"  # the first row's ip
    records.close()  # the consumer gives up (an error while judging, say)
    import multiprocessing
    assert not [p for p in multiprocessing.active_children() if p.name == "scrapeguard-log-reader"]


def test_standard_input_is_read_in_process() -> None:
    assert can_read_ahead(["a.log", "b.log.gz"])
    assert not can_read_ahead(["a.log", "-"])
