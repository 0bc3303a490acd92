"""Bulk reading (Polars) agrees with the per-line Python parser: same requests, same bad lines."""

from __future__ import annotations

import gzip
import io
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scrapeguard.logs.formats import LogFormat, make_format
from scrapeguard.logs.reading import MAX_LINE, ReadStats, read_records
from scrapeguard.logs.scanning import ScanResult, scan_logs
from scrapeguard.policy import default_policy
from scrapeguard.routes import RouteMap

ELASTIC = Path(__file__).parents[1] / "data" / "logs" / "elastic-apache-2015.log"  # see SOURCE.txt there
ROUTES = RouteMap(default_policy().routes)


def scan(paths: list[str], fmt: LogFormat, workdir: Path) -> ScanResult:
    workdir.mkdir(exist_ok=True)
    return scan_logs(paths, fmt, ROUTES, workdir)


def python_view(paths: list[str], fmt: LogFormat) -> tuple[Counter[tuple[object, ...]], ReadStats]:
    stats = ReadStats()
    rows: Counter[tuple[object, ...]] = Counter(
        (
            r.ts,
            r.ip,
            r.session,
            r.account,
            r.method,
            r.path,
            r.status,
            r.user_agent,
            ROUTES.index_of(r.path, r.query)[1],
        )
        for r in read_records(paths, fmt, stats)
    )
    return rows, stats


def bulk_view(result: ScanResult) -> Counter[tuple[object, ...]]:
    frame = result.requests().collect()
    return Counter(
        frame.select(
            "ts", "ip", "session", "account", "method", "path", "status", "user_agent", "subject"
        ).iter_rows()
    )


def assert_agree(paths: list[str], fmt: LogFormat, workdir: Path) -> ScanResult:
    expected, stats = python_view(paths, fmt)
    result = scan(paths, fmt, workdir)
    assert bulk_view(result) == expected
    assert (result.stats.lines, result.stats.parsed, result.stats.bad) == (
        stats.lines,
        stats.parsed,
        stats.bad,
    )
    assert [(s.source, s.line_number, s.reason) for s in result.stats.samples] == [
        (s.source, s.line_number, s.reason) for s in stats.samples
    ]
    assert result.stats.invalid_ips == stats.invalid_ips
    return result


def test_agrees_on_the_generated_scenario(tmp_path: Path, scenario: Any) -> None:
    s = scenario
    result = assert_agree([str(s.path)], make_format("combined"), tmp_path / "w")
    per_ip = dict(result.requests().group_by("ip").len().collect().iter_rows())
    assert per_ip["198.51.100.9"] == 165 and result.stats.skipped == 2


def test_agrees_on_a_real_apache_log(tmp_path: Path) -> None:
    result = assert_agree([str(ELASTIC)], make_format("combined"), tmp_path / "w")
    assert result.stats.lines == 10_000 and result.stats.bad == {"does not match the log format": 1}
    assert result.stats.samples[0].line_number == 8899


def test_agrees_on_bad_lines_of_every_kind(tmp_path: Path) -> None:
    good = (
        '192.0.2.{n} - - [10/Oct/2000:13:55:{n:02d} +0000] "GET /u/m{n} HTTP/1.1" 200 10 "-" "Mozilla/5.0"\n'
    )
    log = tmp_path / "mixed.log"
    log.write_bytes(
        (
            good.format(n=1)
            + "garbage line\n\n   \n"
            + good.format(n=2)
            + '192.0.2.1 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 777 1 "-" "x"\n'
            + '192.0.2.1 - - [99/Foo/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "x"\n'
            + '192.0.2.1 - - [10/Oct/2000:13:55:36 +0000] "\\x16\\x03" 400 1 "-" "-"\n'
            + '192.0.2.1 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" - 1 "-" "-"\n'
            + "x" * (MAX_LINE + 10)
            + "\n"
            + good.format(n=3)
            + 'not-an-ip - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "x"\n'
            + '192.0.2.9 - - [10/Oct/2000:13:55:36 +0000] "GET /a\\"b HTTP/1.1" 200 1 "-" "say \\"hi\\""\n'
            + '192.0.2.9 - - [10/Oct/2000:13:55:36 +0000] "GET /nul\x00 HTTP/1.1" 200 1 "-" "x"\n'
            + good.format(n=4)
        ).encode()
        + b'192.0.2.1 - - [10/Oct/2000:13:55:36 +0000] "GET /caf\xe9 HTTP/1.1" 200 1 "-" "x"\r\n'
        + good.format(n=5).rstrip("\n").encode()
    )  # no newline at the end
    result = assert_agree([str(log)], make_format("combined"), tmp_path / "w")
    assert result.stats.invalid_ips == 1 and result.stats.skipped == 7


def test_gzip_stdin_and_several_files(tmp_path: Path, scenario: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    s = scenario
    packed = tmp_path / "b.log.1"  # gzip recognised by content, not name
    packed.write_bytes(gzip.compress(s.path.read_bytes()))
    both = assert_agree([str(s.path), str(packed)], make_format("combined"), tmp_path / "w1")
    assert both.stats.lines == 2 * len(s.lines)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(gzip.compress(s.path.read_bytes()))))
    piped = scan(["-"], make_format("combined"), tmp_path / "w2")
    assert piped.stats.lines == len(s.lines) and piped.stats.samples[0].source == "<stdin>"


def test_a_truncated_gzip_keeps_what_was_read_and_names_the_line(tmp_path: Path, scenario: Any) -> None:
    s = scenario
    packed = tmp_path / "cut.gz"
    data = gzip.compress(s.path.read_bytes())
    packed.write_bytes(data[: len(data) // 2])
    result = assert_agree([str(packed)], make_format("combined"), tmp_path / "w")
    assert 0 < result.stats.parsed < len(s.lines)
    [sample] = [x for x in result.stats.samples if x.reason == "file unreadable from here on"]
    assert sample.line_number == result.stats.lines + 1


@pytest.mark.parametrize(
    "fmt,line",
    [
        (
            '$remote_addr $msec "$request" $status "$http_user_agent" $cookie_sid',
            '192.0.2.4 1769940000.250 "GET /u/anna HTTP/1.1" 200 "curl/8.5" s1',
        ),
        (
            '$remote_addr $msec "$request" $status "$http_user_agent" $cookie_sid',
            '192.0.2.4 inf "GET /u/anna HTTP/1.1" 200 "curl/8.5" s1',
        ),
        (
            "$remote_addr [$time_iso8601] $request_method $request_uri $status $remote_user",
            "192.0.2.5 [2026-02-01T10:00:00+01:00] GET /lookup?email=A%40x.org 200 anna",
        ),
        (
            "$remote_addr [$time_iso8601] $request_method $request_uri $status $remote_user",
            "192.0.2.5 [2026-02-01T10:00:00] GET /u/x 200 -",
        ),
        (
            "$remote_addr [$time_iso8601] $request_method $request_uri $status $remote_user",
            "192.0.2.5 [2026-02-01T10:00:00Z] GET nope 200 -",
        ),
        (
            '$http_x_forwarded_for\t$remote_addr [$time_local] "$request" $status',
            '198.51.100.4, 10.0.0.1\t- [01/Feb/2026:10:00:00 +0000] "GET /u/b HTTP/1.1" 200',
        ),
    ],
)
def test_agrees_on_other_nginx_formats(tmp_path: Path, fmt: str, line: str) -> None:
    log = tmp_path / "x.log"
    log.write_text(line + "\n" + line + "\n")
    assert_agree(
        [str(log)],
        make_format(
            fmt,
            session_var="cookie_sid" if "cookie_sid" in fmt else None,
            account_var="remote_user" if "remote_user" in fmt else None,
        ),
        tmp_path / "w",
    )


def test_json_lines_go_through_the_python_parser(tmp_path: Path) -> None:
    log = tmp_path / "x.jsonl"
    log.write_text(
        '{"time": 1769940000, "remote_addr": "192.0.2.1", "path": "/u/anna", "status": 200}\n'
        '{"time": \n'
        '{"time": 1769940001, "remote_addr": "bad", "session": "s", "path": "/u/bo", "status": 200}\n'
    )
    result = assert_agree([str(log)], make_format("json"), tmp_path / "w")
    assert result.stats.bad == {"not JSON": 1} and result.stats.invalid_ips == 1


def test_an_empty_input_gives_an_empty_table(tmp_path: Path) -> None:
    log = tmp_path / "empty.log"
    log.write_text("")
    result = scan([str(log)], make_format("combined"), tmp_path / "w")
    assert result.stats.lines == 0 and result.requests().collect().height == 0
    assert isinstance(result.requests().collect(), pl.DataFrame)


LINE_PARTS = st.fixed_dictionaries(
    {
        "ip": st.one_of(st.ip_addresses().map(str), st.sampled_from(["-", "x", "1.2.3", "::1:"])),
        "user": st.sampled_from(["-", "anna", 'b\\"c']),
        "time": st.one_of(
            st.datetimes(timezones=st.just(None)).map(lambda d: d.strftime("%d/%b/%Y:%H:%M:%S +0000")),
            st.text(max_size=30),
        ),
        "request": st.one_of(
            st.text(max_size=40), st.builds(lambda p: f"GET /{p} HTTP/1.1", st.text(max_size=30))
        ),
        "status": st.one_of(st.integers(0, 1000).map(str), st.sampled_from(["-", "", "2OO"])),
        "ua": st.text(max_size=40),
    }
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(LINE_PARTS, min_size=1, max_size=8))
def test_random_lines_are_read_alike(tmp_path: Path, parts: list[dict[str, str]]) -> None:
    text = "".join(
        f'{p["ip"]} - {p["user"]} [{p["time"]}] "{p["request"]}" {p["status"]} 1 "-" "{p["ua"]}"\n'.replace(
            "\r", " "
        )
        for p in parts
    )
    log = tmp_path / "random.log"
    log.write_text(text, encoding="utf-8", errors="surrogatepass")
    workdir = tmp_path / "w"
    if workdir.exists():
        for f in workdir.iterdir():
            f.unlink()
    assert_agree([str(log)], make_format("combined", account_var="remote_user"), workdir)


def test_route_rules_of_a_policy_of_ones_own_match_alike(tmp_path: Path) -> None:
    from scrapeguard.policy import load_policy_text

    policy = load_policy_text(
        '[[routes]]\npattern = "/g/{group}/m/{member}"\nkind = "profile"\nsubject = "member"\n'
        '[[routes]]\npattern = "/g/{group}"\nkind = "listing"\n'
        '[[routes]]\npattern = "/files/{rest*}"\nkind = "asset"\n'
        '[[routes]]\npattern = "/people/"\nkind = "profile"\nsubject = "query:who"\n',
        "t.toml",
    )
    routes = RouteMap(policy.routes)
    targets = [
        "/g/a/m/bo",
        "/g/a/m/bo/",
        "/g/a",
        "/g/a/x",
        "/files/a/b.css",
        "/people",
        "/people/?who=X",
        "/g/a/m/b%C3%B6",
        "/",
        "/g//m/x",
    ]
    log = tmp_path / "a.log"
    log.write_text(
        "".join(
            f'192.0.2.1 - - [01/Feb/2026:10:00:{i:02d} +0000] "GET {t} HTTP/1.1" 200 1 "-" "x"\n'
            for i, t in enumerate(targets)
        )
    )
    (tmp_path / "w").mkdir()
    result = scan_logs([str(log)], make_format("combined"), routes, tmp_path / "w")
    got = result.requests().select("path", "rule", "subject").collect().rows()
    expected = []
    for r in read_records([str(log)], make_format("combined"), ReadStats()):
        expected.append((r.path, *routes.index_of(r.path, r.query)))
    assert got == expected
    assert ("/g/a/m/bö", 0, "member:bö") in got and ("/people/", 3, "who:x") in got


@pytest.mark.parametrize("block", [30, 64, 300])
def test_lines_across_blocks_read_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    # lines cut by block boundaries anywhere: in a CRLF, in a multi-byte character, in a NUL line,
    # in lines longer than a block, at the very end (no newline), in a gzip
    import scrapeguard.logs.scanning as scanning

    monkeypatch.setattr(scanning, "BLOCK", block)
    monkeypatch.setattr(scanning, "READ_STEP", 5)
    lines = [
        f'192.0.2.{i} - - [10/Oct/2000:13:55:{i:02d} +0000] "GET /u/m{"é" * (i % 3)}{i} HTTP/1.1" 200 1 '
        '"-" "x"'
        for i in range(40)
    ]
    lines[5] += "\r"
    lines[9] = ""
    lines[13] = lines[13].replace("GET", "G\x00T")
    lines[17] = "z" * (3 * block + 1)
    text = ("\n".join(lines)).encode()
    log = tmp_path / "a.log"
    log.write_bytes(text)
    result = assert_agree([str(log)], make_format("combined"), tmp_path / "w1")
    assert result.stats.lines == 40
    packed = tmp_path / "a.gz"
    packed.write_bytes(gzip.compress(text + b"\n"))
    assert assert_agree([str(packed)], make_format("combined"), tmp_path / "w2").stats.lines == 40


TIME = "[01/Feb/2026:10:00:00 +0000]"


@pytest.mark.parametrize("fmt", ["combined", "common"])
@pytest.mark.parametrize(
    "line",
    [
        f'192.0.2.1 - anna {TIME} "GET /u/bo HTTP/1.1" 200 12 "https://x.example/a b" "Mozilla/5.0 (X)"',
        f'192.0.2.1 - - {TIME} "GET /u/bo HTTP/1.1" 200 12 "-" "-"',
        f'192.0.2.1 - a[b]c {TIME} "GET /u/bo" 304 - "-" "x"',  # brackets in the user, no protocol
        f'192.0.2.1 -  {TIME} "GET /u/bo HTTP/1.1" 200 12',  # empty user
        f'192.0.2.1 - - {TIME} "GET /u/bo HTTP/1.1" - 12 "-" "x"',  # no status
        f'192.0.2.1 - - {TIME} "GET /u/bo HTTP/1.1" 0200 12 "-" "x"',  # a status of four digits
        f'192.0.2.1 - - {TIME} "GET /u/bo HTTP/1.1" 2"0 12 "-" "x"',  # a quote in the status
        f'192.0.2.1 - - {TIME} "GET /u/bo HTTP/1.1" 200 12 "-" "x"   ',  # blanks after the line
        f'192.0.2.1 - - {TIME} "GET /u/bo HTTP/1.1" 200 12 "-" "x" "extra"',
        f'192.0.2.1 - - {TIME} "GET /u/bo HTTP/1.1" 200 12  "-" "x"',  # two blanks
        f'192.0.2.1\t- - {TIME} "GET /u/bo HTTP/1.1" 200 12 "-" "x"',  # a tab
        f'192.0.2.1 - \x1cx {TIME} "GET /u/bo HTTP/1.1" 200 12 "-" "x"',  # whitespace to Python only
        f'192.0.2.1 - \u00e9 {TIME} "GET /u/bo HTTP/1.1" 200 12 "-" "x"',  # not ASCII
        '192.0.2.1 - - [01/Feb/2026:10:00:00 +0000 ] "GET /u/bo HTTP/1.1" 200 12 "-" "x"',
        '192.0.2.1 - - [ 01/Feb/2026:10:00:00 +0000] "GET /u/bo HTTP/1.1" 200 12 "-" "x"',
        '192.0.2.1 - - [31/Feb/2026:10:00:00 +0000] "GET /u/bo HTTP/1.1" 200 12 "-" "x"',  # no such day
        '192.0.2.1 - - [01/feb/2026:10:00:00 +0000] "GET /u/bo HTTP/1.1" 200 12 "-" "x"',
        '192.0.2.1 - - [01/Feb/2026:24:00:00 +2400] "GET /u/bo HTTP/1.1" 200 12 "-" "x"',
        '192.0.2.1 - - [01/Feb/2026:10:00:60 -0130] "GET /u/bo HTTP/1.1" 200 12 "-" "x"',  # a leap second
        f'2001:db8::1 - - {TIME} "GET /u/bo HTTP/1.1" 200 12 "-" "x"',
        f'192.0.2.1:5050 - - {TIME} "GET /u/bo HTTP/1.1" 200 12 "-" "x"',
        f'- - - {TIME} "GET /u/bo HTTP/1.1" 200 12 "-" "x"',
        f'192.0.2.1 - - {TIME} "get /u/b%C3%B6?x=1 HTTP/1.1" 200 12 "-" "x"',
        f'192.0.2.1 - - {TIME} "GET /lookup?email=A%40x.org HTTP/1.1" 200 12 "-" "x"',
        f'192.0.2.1 - - {TIME} "GET http://h.example/u/bo HTTP/1.1" 200 12 "-" "x"',
        f'192.0.2.1 - - {TIME} "" 400 0 "-" "-"',
        f'192.0.2.1 - - {TIME} "GET  /u/bo HTTP/1.1" 200 12 "-" "x"',
        f'192.0.2.1 - - {TIME} "G3T /u/bo HTTP/1.1" 200 12 "-" "x"',
        '192.0.2.1 - - [\x1f01/Feb/2026:10:00:00 +0000] "GET /u/bo HTTP/1.1" 200 12 "-" "x"',
        "\x1c\x1d",  # an empty line to Python
    ],
)
def test_lines_split_at_their_quotes_read_as_the_regex_reads_them(
    tmp_path: Path, fmt: str, line: str
) -> None:
    # lines that the quote split reads, and lines it must leave to the format's regex
    if fmt == "common":
        line = line.split(' "-" ', 1)[0] if ' "-" ' in line else line
    log = tmp_path / "x.log"
    log.write_text(f"{line}\n{line}\n")
    assert_agree([str(log)], make_format(fmt, account_var="remote_user"), tmp_path / "w")


def test_whitespace_is_what_python_calls_whitespace() -> None:
    from scrapeguard.logs.scanning import PY_WHITESPACE, polars_pattern

    assert "".join(c for c in map(chr, range(0x110000)) if c.isspace()) == PY_WHITESPACE
    assert polars_pattern(r"^(\S*) \\S\s*$") == r"^([^\s\x1c-\x1f]*) \\S[\s\x1c-\x1f]*$"
