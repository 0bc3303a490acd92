"""Replay: logs through the same engine as live traffic, in log time."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from scrapeguard.cli import main
from scrapeguard.decisions import DecisionWriter
from scrapeguard.engine import Engine
from scrapeguard.logs.formats import make_format
from scrapeguard.logs.replay import offline_policy, replay
from scrapeguard.policy import default_policy, load_policy_text

ELASTIC = Path(__file__).parents[1] / "data" / "logs" / "elastic-apache-2015.log"  # see SOURCE.txt there


def member_name(i: int) -> str:
    """The i-th member's username, in no particular order (so that views in i order do not
    look like an alphabetical sweep to the enumeration detector)."""
    return f"m{(i * 2654435761) % 2**32:08x}"


FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
START = datetime(2026, 2, 1, 10, 0, 0, tzinfo=UTC)


def line(ip: str, seconds: int, path: str, ua: str) -> str:
    t = (START + timedelta(seconds=seconds)).strftime("%d/%b/%Y:%H:%M:%S +0000")
    return f'{ip} - - [{t}] "GET {path} HTTP/1.1" 200 4000 "-" "{ua}"'


def scraper_log(path: Path, profiles: int = 100, ip: str = "198.51.100.9", step: int = 2) -> None:
    """An anonymous scraper walking member pages (disguised as a browser: it loads the stylesheet
    and varies its pace, so that only the quota stops it), and a person reading a few, in
    combined format."""
    out = []
    for i in range(profiles):
        seconds = i * step + i % 3  # uneven: exact ticks would be machine-regular timing
        out.append(line(ip, seconds, f"/u/{member_name(i)}", FIREFOX))
        out.append(line(ip, seconds, "/static/site.css", FIREFOX))
        if i % 10 == 0:
            out.append(line("192.0.2.50", seconds, f"/u/{member_name(i)}", "Mozilla/5.0 Firefox/128.0"))
    path.write_text("\n".join(out) + "\n")


def test_replay_refuses_what_the_live_guard_would_in_log_time(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    scraper_log(log)
    decisions = tmp_path / "d.jsonl"
    writer = DecisionWriter(decisions)
    summary = replay([str(log)], make_format("combined"), Engine(default_policy()), writer)
    writer.close()
    # 100 profiles, their stylesheet, 10 by a person
    assert summary.events == 210 and summary.stats.skipped == 0
    # the first 60 profiles within the hour were allowed; the rest refused; the person never
    assert summary.actions["allow"] == 60 + 10 + 100  # the stylesheet is never refused
    assert summary.actions["throttle"] == 9 and summary.actions["block"] == 31
    assert summary.actors.most_common(1)[0] == ("ip:198.51.100.9", 40)
    lines = [json.loads(x) for x in decisions.read_text().splitlines()]
    assert len(lines) == 40
    assert lines[0]["subject"] == f"username:{member_name(60)}"
    assert lines[0]["ts"] == 1769940000 + 60 * 2  # the log's own time, not the wall clock
    assert {d["keys"]["ip"] for d in lines} == {"198.51.100.9"}


def test_replay_in_log_time_lets_a_slow_reader_through(tmp_path: Path) -> None:
    log = tmp_path / "slow.log"
    scraper_log(log, profiles=200, step=70)  # one profile every 70 s: 52 an hour, under the quota
    summary = replay([str(log)], make_format("combined"), Engine(default_policy()), None)
    assert summary.actions.get("throttle", 0) == 0 and summary.actions.get("block", 0) == 0


def test_replay_command_with_a_policy_and_json_summary(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    scraper_log(log)
    policy = tmp_path / "p.toml"
    policy.write_text('mode = "observe"\n[detectors.profile_quota.anonymous]\nper_hour = 20\nper_day = 100\n')
    out = tmp_path / "decisions.jsonl"
    out.write_text("old content\n")
    result = CliRunner().invoke(main, ["replay", str(log), "--format", "combined", "--policy", str(policy),
                                       "--decisions-out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["events"] == 210 and summary["actions"]["allow"] == 20 + 10 + 100
    assert summary["top_actors"][0] == {
        "key": "ip:198.51.100.9", "refusals": 80,
        "first_reason": "profile_quota: anonymous visitor viewed 20 distinct member profiles in the last "
                        "hour (quota 20/hour)"}
    lines = out.read_text().splitlines()
    assert len(lines) == 80 and "old content" not in lines[0]  # replaced, not appended
    assert json.loads(lines[0])["enforced"] is False  # observe mode


def test_replay_command_reads_stdin_and_reports_bad_lines(tmp_path: Path) -> None:
    text = ('garbage\n192.0.2.1 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "x"\n')
    result = CliRunner().invoke(main, ["replay", "-", "--format", "combined", "--decisions-out",
                                       str(tmp_path / "d.jsonl")], input=text)
    assert result.exit_code == 0, result.output
    assert "2 lines read, 1 requests replayed, 1 lines skipped" in result.stdout
    assert "<stdin>:1: does not match the log format: garbage" in result.stdout


def test_replay_command_explains_bad_arguments(tmp_path: Path) -> None:
    runner = CliRunner()
    out = str(tmp_path / "d.jsonl")
    r = runner.invoke(main, ["replay", "nope.log", "--format", "combined", "--decisions-out", out])
    assert r.exit_code == 2 and "nope.log: no such file" in r.stderr
    r = runner.invoke(main, ["replay", "-", "--format", "combinde", "--decisions-out", out], input="")
    assert r.exit_code == 2 and "unknown log format 'combinde'" in r.stderr
    r = runner.invoke(main, ["replay", "-", "--format", "json", "--json-field", "ip", "--decisions-out", out])
    assert r.exit_code == 2 and "is not NAME=KEY" in r.stderr


def test_real_apache_log_replays_without_refusing_anyone_on_demo_routes(tmp_path: Path) -> None:
    # the demo site's route map names no path of this real log: nothing counts as a profile view
    no_dns = load_policy_text("[detectors.bot_agents]\nverify_dns = false\n", "t.toml")
    summary = replay([str(ELASTIC)], make_format("combined"), Engine(no_dns, live=False), None)
    assert summary.stats.lines == 10_000 and summary.stats.skipped == 1  # one truncated line (8899)
    assert summary.actions == {"allow": 9999}


def test_real_apache_log_with_a_route_map_of_its_own(tmp_path: Path) -> None:
    # every page counts as "a profile": a strict quota then catches the heaviest readers of the log,
    # but not the real Googlebot (66.249.73.135, in Google's published ranges: 346 distinct pages)
    policy = load_policy_text(
        '[[routes]]\npattern = "/{page*}"\nkind = "profile"\nsubject = "page"\n'
        '[detectors.profile_quota.anonymous]\nper_hour = 20\nper_day = 50\n'
        "[detectors.bot_agents]\nverify_dns = false\n", "t.toml")
    engine = Engine(policy, live=False)
    summary = replay([str(ELASTIC)], make_format("combined"), engine, None)
    top = [key for key, _ in summary.actors.most_common(2)]
    # an OVH address with a browser's user agent: every page from a hosting network is challenged
    assert top[0] == "ip:46.105.14.53" and engine.counts["challenge"] > 0
    assert top[1] == "ip:130.237.218.86"  # 208 distinct pages, a browser: over the strict quota
    assert "ip:66.249.73.135" not in summary.actors
    assert engine.counts["exempt.bot_agents"] > 300
    assert summary.detectors["profile_quota"] > 0


def test_replay_command_refuses_to_write_decisions_over_a_log(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    scraper_log(log)
    before = log.read_bytes()
    link = tmp_path / "same.log"
    link.hardlink_to(log)
    for out in (log, link):
        r = CliRunner().invoke(main, ["replay", str(log), "--format", "combined",
                                      "--decisions-out", str(out)])
        assert r.exit_code == 2 and "writing there would destroy the log" in r.stderr
    assert log.read_bytes() == before


def test_replay_command_is_offline_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a "Googlebot" outside Google's published ranges: judged fake without asking DNS
    from scrapeguard.intel import crawlers

    def no_dns(self: object, *args: object) -> None:
        raise AssertionError("replay asked DNS")

    monkeypatch.setattr(crawlers.Resolver, "reverse", no_dns)
    monkeypatch.setattr(crawlers.Resolver, "forward", no_dns)
    log = tmp_path / "fake-bot.log"
    log.write_text('198.51.100.3 - - [01/Feb/2026:10:00:00 +0000] "GET /u/anna HTTP/1.1" 200 10 "-" '
                   '"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"\n')
    out = tmp_path / "d.jsonl"
    r = CliRunner().invoke(main, ["replay", str(log), "--format", "combined", "--decisions-out", str(out)])
    assert r.exit_code == 0, r.output
    [decision] = [json.loads(x) for x in out.read_text().splitlines()]
    assert "claims to be Googlebot" in decision["reasons"][0]["detail"]


def test_offline_policy_switches_dns_off_and_nothing_else() -> None:
    policy = default_policy()
    assert policy.bot_agents.verify_dns  # the default for live traffic
    offline = offline_policy(policy)
    assert not offline.bot_agents.verify_dns
    assert offline.profile_quota == policy.profile_quota and offline.routes == policy.routes
    engine = Engine(offline, live=False)
    bot = next(d for d in engine.detectors if d.name == "bot_agents")
    assert bot.verifier.resolver is None  # type: ignore[attr-defined]
