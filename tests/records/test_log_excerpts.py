"""Access log excerpts: exactly the actors' lines, found through the pseudonymised keys."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scrapeguard.logs.formats import make_format
from scrapeguard.records.log_excerpts import EXCERPT_PATH, SUMMARY_PATH, read_excerpt
from scrapeguard.records.privacy import Pseudonymiser

SCRAPER = "203.0.113.7"
MEMBER = "198.51.100.20"
COMBINED = make_format("combined")


def line(ip: str, second: int, member: int = 1, user: str = "-") -> str:
    return (f'{ip} - {user} [21/Sep/2026:10:{second // 60:02d}:{second % 60:02d} +0000] '
            f'"GET /api/v1/members/{member} HTTP/1.1" 200 512 "-" "python-requests/2.31"')


def write(path: Path, lines: list[str]) -> str:
    path.write_text("".join(f"{x}\n" for x in lines), "utf-8")
    return str(path)


def test_only_the_actors_lines_are_kept_in_file_order(tmp_path: Path, pseudonymiser: Pseudonymiser) -> None:
    lines = [line(MEMBER, 0), line(SCRAPER, 1, 1), line(MEMBER, 2), line(SCRAPER, 3, 2), line(SCRAPER, 4, 3)]
    log = write(tmp_path / "access.log", lines)
    actor = pseudonymiser.key("ip", SCRAPER)
    excerpt = read_excerpt([log], COMBINED, {actor}, pseudonymiser)
    assert [(x.file, x.line, x.text) for x in excerpt.lines] == [
        (log, 2, lines[1]), (log, 4, lines[3]), (log, 5, lines[4])]
    assert all(x.actors == (actor,) for x in excerpt.lines)
    assert excerpt.matched == 3 and excerpt.left_out == 0 and excerpt.stats.lines == 5
    assert excerpt.earliest is not None and excerpt.earliest.line == 2
    assert excerpt.latest is not None and excerpt.latest.line == 5
    files = excerpt.pack_files()
    quoted = [json.loads(x) for x in files[EXCERPT_PATH].decode().splitlines()]
    assert [q["text"] for q in quoted] == [lines[1], lines[3], lines[4]]
    assert quoted[0]["time"] == "2026-09-21T10:00:01+00:00"
    summary = json.loads(files[SUMMARY_PATH])
    assert summary["files"] == [{"file": log, "sha256": hashlib.sha256(Path(log).read_bytes()).hexdigest(),
                                 "bytes": Path(log).stat().st_size}]
    assert summary["left_out_note"] is None and summary["bad_lines_skipped"] == 0


def test_an_address_in_clear_in_the_records_does_not_match(tmp_path: Path,
                                                           pseudonymiser: Pseudonymiser) -> None:
    log = write(tmp_path / "access.log", [line(SCRAPER, 1)])
    assert read_excerpt([log], COMBINED, {f"ip:{SCRAPER}"}, pseudonymiser).matched == 0
    other_key = Pseudonymiser(b"another-key-0123456789abcdef")
    assert read_excerpt([log], COMBINED, {other_key.key("ip", SCRAPER)}, pseudonymiser).matched == 0


def test_networks_accounts_sessions_and_ipv4_mapped_addresses_match(tmp_path: Path,
                                                                    pseudonymiser: Pseudonymiser) -> None:
    fmt = make_format('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
                      '"$http_referer" "$http_user_agent" "$cookie_sid"', session_var="cookie_sid",
                      account_var="remote_user")
    lines = [line("192.0.2.44", 0) + ' "-"',                   # in the actor network
             line(MEMBER, 1, user="harvester") + ' "-"',        # the actor account, another address
             line(MEMBER, 2) + ' "s-123"',                      # the actor session
             line(f"::ffff:{SCRAPER}", 3) + ' "-"',             # the actor address, IPv4-mapped
             line(MEMBER, 4, user="anna") + ' "s-999"']         # someone else
    log = write(tmp_path / "access.log", lines)
    actors = {pseudonymiser.key("net", "192.0.2.0/24"), "account:harvester", "session:s-123",
              pseudonymiser.key("ip", SCRAPER)}
    excerpt = read_excerpt([log], fmt, actors, pseudonymiser)
    assert [x.line for x in excerpt.lines] == [1, 2, 3, 4]
    assert excerpt.lines[0].actors == (pseudonymiser.key("net", "192.0.2.0/24"),)
    assert excerpt.lines[1].actors == ("account:harvester",)
    assert excerpt.lines[3].actors == (pseudonymiser.key("ip", SCRAPER),)


def test_the_cap_keeps_the_first_lines_and_counts_the_rest(tmp_path: Path,
                                                           pseudonymiser: Pseudonymiser) -> None:
    # times go backwards in the file: first and last are by event time, over all matched lines
    log = write(tmp_path / "access.log", [line(SCRAPER, 50 - i, i) for i in range(50)])
    excerpt = read_excerpt([log], COMBINED, {pseudonymiser.key("ip", SCRAPER)}, pseudonymiser, cap=7)
    assert [x.line for x in excerpt.lines] == list(range(1, 8))
    assert excerpt.matched == 50 and excerpt.left_out == 43
    assert excerpt.earliest is not None and excerpt.earliest.line == 50
    assert excerpt.latest is not None and excerpt.latest.line == 1
    summary = excerpt.summary()
    assert summary["kept"] == 7 and "43 more matching lines" in summary["left_out_note"]
    last_item = excerpt.timeline_items()[-1]
    assert "50 lines in all" in last_item[2] and "line 1)" in last_item[2]


def test_bad_lines_are_skipped_and_counted_and_gzip_is_read(tmp_path: Path,
                                                            pseudonymiser: Pseudonymiser) -> None:
    plain = write(tmp_path / "a.log", [line(SCRAPER, 1), "garbage", "", line(SCRAPER, 2)])
    packed = tmp_path / "b.log.gz"
    packed.write_bytes(gzip.compress(f"{line(SCRAPER, 3)}\n{SCRAPER} not a log line\n".encode()))
    excerpt = read_excerpt([plain, str(packed)], COMBINED, {pseudonymiser.key("ip", SCRAPER)}, pseudonymiser)
    assert [(x.file, x.line) for x in excerpt.lines] == [(plain, 1), (plain, 4), (str(packed), 1)]
    assert excerpt.stats.skipped == 3
    summary = excerpt.summary()
    assert summary["bad_lines_by_reason"] == {"does not match the log format": 2, "empty line": 1}
    assert {"file": str(packed), "line": 2, "reason": "does not match the log format"} in summary[
        "bad_line_places"]
    assert "text" not in summary["bad_line_places"][0]  # a bad line may be anyone's: not quoted
    assert summary["files"][1]["sha256"] == hashlib.sha256(packed.read_bytes()).hexdigest()


def test_standard_input_and_negative_caps_are_refused(tmp_path: Path, pseudonymiser: Pseudonymiser) -> None:
    with pytest.raises(ValueError, match="standard input"):
        read_excerpt(["-"], COMBINED, {"ip:p-x"}, pseudonymiser)
    with pytest.raises(ValueError, match="cap"):
        read_excerpt([write(tmp_path / "a.log", [])], COMBINED, {"ip:p-x"}, pseudonymiser, cap=-1)


ADDRESSES = ["203.0.113.7", "203.0.113.8", "198.51.100.20", "2001:db8::1", "::ffff:203.0.113.9"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(picks=st.lists(st.sampled_from([*ADDRESSES, "not-an-ip", None]), max_size=40),
       actors=st.sets(st.sampled_from(ADDRESSES)), cap=st.integers(0, 45))
def test_the_excerpt_is_exactly_the_actors_lines(tmp_path: Path, pseudonymiser: Pseudonymiser,
                                                 picks: list[str | None], actors: set[str], cap: int) -> None:
    """Any mix of actors, others and bad lines: the lines kept are the actors' first `cap`, verbatim."""
    lines = [line(ip, i) if ip else f"bad line {i}" for i, ip in enumerate(picks)]
    log = write(tmp_path / "mixed.log", lines)
    keys = {pseudonymiser.key("ip", ip) for ip in actors}
    excerpt = read_excerpt([log], COMBINED, keys, pseudonymiser, cap=cap)
    expected = [(i + 1, lines[i]) for i, ip in enumerate(picks) if ip in actors]
    assert [(x.line, x.text) for x in excerpt.lines] == expected[:cap]
    assert excerpt.matched == len(expected)
    assert excerpt.stats.skipped == sum(1 for ip in picks if ip is None)
