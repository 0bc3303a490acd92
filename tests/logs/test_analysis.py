"""Analysis: flagged actors, campaigns, verified crawlers, and the analyze command end to end."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from scrapeguard.cli import main
from scrapeguard.decisions import DecisionWriter
from scrapeguard.engine import Engine
from scrapeguard.logs.analysis import Analysis, analyze
from scrapeguard.logs.formats import make_format
from scrapeguard.logs.replay import offline_policy, replay
from scrapeguard.logs.scanning import scan_logs
from scrapeguard.policy import default_policy, load_policy_text
from scrapeguard.policy.model import Policy
from scrapeguard.routes import RouteMap

SCRAPER = "ip:198.51.100.9"
CAMPAIGN = {"ip:203.0.113.10", "ip:198.18.0.20", "ip:192.0.2.30", "ip:100.64.1.40", "ip:198.18.5.50"}
GOOGLE = "ip:34.22.85.1"
FAKE_GOOGLE = "ip:203.0.113.66"
LOOKUPS = "ip:192.0.2.77"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def run(
    paths: list[str],
    tmp_path: Path,
    policy: Policy | None = None,
    fmt: str = "combined",
    **format_options: Any,
) -> Analysis:
    policy = policy or default_policy()
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    scan = scan_logs(paths, make_format(fmt, **format_options), RouteMap(policy.routes), work)
    return analyze(scan, policy)


def test_flags_the_scraper_the_campaign_the_fake_crawler_and_the_lookups(
    tmp_path: Path, scenario: Any
) -> None:
    a = run([str(scenario.path)], tmp_path)
    flagged = {s.actor: s for s in a.flagged}
    assert set(flagged) == {SCRAPER, FAKE_GOOGLE, LOOKUPS} | CAMPAIGN
    scraper = flagged[SCRAPER]
    assert scraper.members_reached == 150 and scraper.profiles_peak_hour == 155  # 301s were served too
    assert scraper.status == {"2xx": 150, "3xx": 5, "4xx": 10}
    assert scraper.reasons == [
        "anonymous visitor viewed 155 distinct member profiles in one clock hour (quota 60/hour)",
        "scraping tool (python-requests) asking for member data",
    ]
    assert flagged[FAKE_GOOGLE].reasons == [
        "claims to be Googlebot but 203.0.113.66 is not Google's (published ranges, reverse DNS)"
    ]
    assert flagged[LOOKUPS].reasons == [
        "anonymous visitor looked up 15 members by contact details in one clock hour (quota 10/hour)"
    ]
    assert flagged[LOOKUPS].lookups_peak_hour == 15
    # the people: three profiles each, never flagged
    assert not any(actor.startswith("ip:192.0.2.1") for actor in flagged if actor != "ip:192.0.2.30")
    assert a.requests == len(scenario.lines) - 2 and a.stats.skipped == 2


def test_the_real_googlebot_is_listed_apart_not_flagged(tmp_path: Path, scenario: Any) -> None:
    a = run([str(scenario.path)], tmp_path)
    assert [s.actor for s in a.verified_crawlers] == [GOOGLE]
    assert a.verified_crawlers[0].profiles_peak_hour == 100 and a.verified_crawlers[0].reasons == []
    counted = load_policy_text('[detectors.bot_agents]\nsearch_engines = "count"\n', "t.toml")
    assert GOOGLE in {s.actor for s in run([str(scenario.path)], tmp_path, counted).flagged}


def test_a_campaign_is_found_and_its_definition_holds(tmp_path: Path, scenario: Any) -> None:
    a = run([str(scenario.path)], tmp_path)
    [c] = a.campaigns
    assert set(c.actors) == CAMPAIGN and c.networks == 5 and c.members_reached == 200
    assert all(s.campaign == 1 for s in a.flagged if s.actor in CAMPAIGN)
    assert {tuple(s.reasons) for s in a.flagged if s.actor in CAMPAIGN} == {(
        "part of campaign #1: 5 networks asking for member pages with one user agent (5 IPs), each its own "
        "slice, 200 members reached in the log",
    )}
    # the policy's campaign options decide, as in the engine: more networks or members needed, or
    # the detector off: no campaign
    for options in ("min_networks = 6", "min_members = 201", "enabled = false"):
        policy = load_policy_text(f"[detectors.campaign]\n{options}\n", "t.toml")
        assert run([str(scenario.path)], tmp_path, policy).campaigns == [], options
    fewer = load_policy_text("[detectors.campaign]\nmin_networks = 4\nmin_members = 200\n", "t.toml")
    assert len(run([str(scenario.path)], tmp_path, fewer).campaigns) == 1


def test_overlapping_readers_are_not_a_campaign(tmp_path: Path) -> None:
    # four IPs with one browser reading the same 40 profiles: popular pages, not a sweep
    lines = [
        f'203.0.113.{10 + j} - - [01/Feb/2026:10:{k:02d}:{j:02d} +0000] "GET /u/star{k} HTTP/1.1" 200 1 '
        f'"-" "Mozilla/5.0 Firefox/128.0"'
        for j in range(4)
        for k in range(40)
    ]
    log = tmp_path / "a.log"
    log.write_text("\n".join(lines) + "\n")
    assert run([str(log)], tmp_path).campaigns == []


def test_quotas_follow_the_policy_and_accounts_use_theirs(tmp_path: Path) -> None:
    lines = [
        f"192.0.2.{1 + i % 3} - anna [01/Feb/2026:10:{i // 60:02d}:{i % 60:02d} +0000] "
        f'"GET /u/m{i} HTTP/1.1" 200 1 "-" "Mozilla/5.0"'
        for i in range(40)
    ]
    lines.append(
        '192.0.2.1 - anna [01/Feb/2026:10:59:00 +0000] "GET /api/v1/members/anna HTTP/1.1" 200 1 "-" "x"'
    )
    log = tmp_path / "a.log"
    log.write_text("\n".join(lines) + "\n")
    a = run([str(log)], tmp_path, account_var="remote_user")
    assert a.flagged == [] and a.top_actors[0].actor == "account:anna" and a.top_actors[0].ips == 3
    strict = load_policy_text("[detectors.profile_quota.account]\nper_hour = 30\nper_day = 100\n", "t.toml")
    [anna] = run([str(log)], tmp_path, strict, account_var="remote_user").flagged
    # not her own profile
    assert anna.reasons == ["account viewed 40 distinct member profiles in one clock hour (quota 30/hour)"]


def test_summary_figures(tmp_path: Path, scenario: Any) -> None:
    a = run([str(scenario.path)], tmp_path)
    d = a.to_dict()
    assert d["lines"] == len(scenario.lines) and d["status"] == {"2xx": 645, "3xx": 5, "4xx": 10}
    assert d["route_kinds"] == {"profile": 545, "contact_lookup": 15, "asset": 75, "listing": 25}
    assert sum(h["requests"] for h in d["hourly"]) == a.requests
    assert d["top_user_agents"][0]["kind"] == "browser"
    assert d["exposed_members"] == len({m for _, m in scenario.exposed})


def test_analyze_command_writes_the_three_reports(tmp_path: Path, scenario: Any) -> None:
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["analyze", str(scenario.path), "--format", "combined", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "8 flagged, 1 campaigns" in r.stdout and "skipped 1: empty line" in r.stdout
    data = json.loads((out / "analysis.json").read_text())
    assert data["requests"] == len(scenario.lines) - 2 and len(data["flagged"]) == 8
    assert (out / "report.html").read_text().startswith("<!doctype html>")
    assert (out / "exposed-members.csv").read_text().count("\n") == len(scenario.exposed) + 1


def test_analyze_command_reads_stdin_gzip_and_several_files(tmp_path: Path, scenario: Any) -> None:
    packed = tmp_path / "old.gz"
    packed.write_bytes(gzip.compress(scenario.path.read_bytes()))
    r = CliRunner().invoke(
        main,
        ["analyze", str(packed), "-", "--format", "combined", "--json", "-q"],
        input=scenario.path.read_text(),
    )
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["lines"] == 2 * len(scenario.lines) and data["skipped_lines"] == 4
    assert {s["source"] for s in data["bad_line_samples"]} == {str(packed), "<stdin>"}


def test_analyze_command_explains_bad_arguments(tmp_path: Path, scenario: Any) -> None:
    runner = CliRunner()
    r = runner.invoke(main, ["analyze", "nope.log", "--format", "combined"])
    assert r.exit_code == 2 and "nope.log: no such file" in r.stderr
    r = runner.invoke(main, ["analyze", str(scenario.path), "--format", "$1x [$time_local]"])
    assert r.exit_code == 2 and "is not a variable" in r.stderr
    before = scenario.path.read_bytes()
    r = runner.invoke(
        main, ["analyze", str(scenario.path), "--format", "combined", "--csv", str(scenario.path)]
    )
    assert r.exit_code == 2 and "would destroy the log" in r.stderr
    assert scenario.path.read_bytes() == before
    bad_policy = tmp_path / "p.toml"
    bad_policy.write_text("[detectors.profile_quota.anonymous]\nper_hour = -1\n")
    r = runner.invoke(
        main, ["analyze", str(scenario.path), "--format", "combined", "--policy", str(bad_policy)]
    )
    assert r.exit_code == 2 and "is not valid" in r.stderr


def test_an_account_claiming_a_crawler_is_judged_by_each_of_its_ips(tmp_path: Path) -> None:
    lines = [
        f'{ip} - anna [01/Feb/2026:10:{i:02d}:00 +0000] "GET /u/m{i} HTTP/1.1" 200 1 "-" "{GOOGLEBOT}"'
        for i, ip in enumerate(["34.22.85.1", "203.0.113.5", "34.22.85.1"])
    ]
    log = tmp_path / "a.log"
    log.write_text("\n".join(lines) + "\n")
    a = run([str(log)], tmp_path, account_var="remote_user")
    [anna] = a.flagged
    assert anna.actor == "account:anna" and anna.ips == 2 and anna.members_reached == 3
    assert anna.reasons == [
        "claims to be Googlebot but 203.0.113.5 is not Google's (published ranges, reverse DNS)"]
    assert a.verified_crawlers == []


MONDAY = 1769990400  # 2026-02-02T00:00:00Z, a Monday
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"


def combined(ts: float, ip: str, path: str, ua: str = BROWSER) -> str:
    when = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(ts))
    return f'{ip} - - [{when}] "GET {path} HTTP/1.1" 200 1234 "-" "{ua}"'


def paced(ip: str, per_hour: float, days: float, first: int = 0, start: float = MONDAY + 3600) -> list[str]:
    """One address viewing a new profile every 3600/per_hour seconds (unevenly), around the clock."""
    lines, ts, i = [], start, 0
    while ts < start + days * 86400:
        lines.append(combined(ts, ip, f"/api/v1/members/{first + i}"))
        ts += 3600 / per_hour * (0.7, 1.3, 0.9, 1.1)[i % 4]
        i += 1
    return lines


def test_low_and_slow_under_the_daily_quota_is_flagged_by_the_week(tmp_path: Path) -> None:
    log = tmp_path / "slow.log"
    log.write_text("\n".join(paced("198.51.100.44", per_hour=12, days=10)) + "\n")  # about 288 a day
    a = run([str(log)], tmp_path)
    [slow] = a.flagged
    assert slow.actor == "ip:198.51.100.44"
    assert slow.profiles_peak_hour <= 60 and slow.profiles_peak_day < 300  # under both...
    assert slow.profiles_peak_week > 1000  # ...but a whole calendar week is 2000 profiles
    week = slow.profiles_peak_week
    assert slow.reasons == [
        f"anonymous visitor viewed {week} distinct member profiles in one calendar week (quota 1000/week)"]
    [timeline] = a.timelines
    assert timeline.who == slow.actor and timeline.total == slow.members_reached == 2880
    assert [d for d, _ in timeline.days] == [MONDAY + k * 86400 for k in range(11)]  # the 11th day: 1 hour
    assert all(280 <= n <= 296 for _, n in timeline.days[1:10])
    assert [w for w, _ in timeline.weeks] == [MONDAY, MONDAY + 7 * 86400]
    assert timeline.peak_week == (MONDAY, slow.profiles_peak_week)
    assert timeline.peak_day[1] == slow.profiles_peak_day
    # without a weekly quota it is not flagged: each day and each hour is under its quota
    no_week = load_policy_text("[detectors.profile_quota.anonymous]\nper_week = 0\n", "t.toml")
    assert run([str(log)], tmp_path, no_week).flagged == []


def test_a_campaign_has_its_daily_and_weekly_view(tmp_path: Path) -> None:
    # five addresses in five networks, one browser, each 10 new profiles an hour for three days
    # (240 a day, 720 in all: each under every quota), disjoint slices of the members
    ips = ["203.0.113.5", "198.18.1.5", "192.0.2.5", "100.64.9.5", "198.51.100.5"]
    lines = sorted((line for n, ip in enumerate(ips) for line in paced(ip, 10, 3, first=10_000 * n)),
                   key=lambda line: time.strptime(line.split("[")[1][:20], "%d/%b/%Y:%H:%M:%S"))
    log = tmp_path / "campaign.log"
    log.write_text("\n".join(lines) + "\n")
    a = run([str(log)], tmp_path)
    [c] = a.campaigns
    assert sorted(c.actors) == sorted(f"ip:{ip}" for ip in ips)
    assert c.timeline is not None and c.timeline.who == "campaign #1"
    assert c.timeline.total == c.members_reached == 5 * 720
    assert [n for _, n in c.timeline.days[:3]] == [5 * 230, 5 * 240, 5 * 240]  # from 01:00 on Monday
    assert c.timeline.weeks == [(MONDAY, 3600)]
    d = a.to_dict()
    [campaign] = d["campaigns"]
    assert campaign["timeline"]["peak_week"] == {"week": MONDAY, "profiles": 3600}
    assert campaign["timeline"]["per_day"][1] == {"day": MONDAY + 86400, "profiles": 1200}
    # every actor of the campaign is flagged, and has its own view
    assert {t.who for t in a.timelines} == set(c.actors)
    assert all(t.total == 720 for t in a.timelines)


def test_the_analyze_command_shows_the_days_and_weeks(tmp_path: Path) -> None:
    log = tmp_path / "slow.log"
    log.write_text("\n".join(paced("198.51.100.44", per_hour=12, days=10)) + "\n")
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["analyze", str(log), "--format", "combined", "--out", str(out), "-q"])
    assert r.exit_code == 0, r.output
    assert "profiles per UTC day and calendar week (Monday to Sunday):" in r.stdout
    [line] = [x for x in r.stdout.splitlines() if x.startswith("  ip:198.51.100.44 ") and "peak week" in x]
    assert "2880 profiles on 11 days" in line and "peak week from 2026-02-02 (20" in line
    data = json.loads((out / "analysis.json").read_text())
    [timeline] = data["timelines"]
    assert timeline["who"] == "ip:198.51.100.44" and timeline["active_days"] == 11
    assert sum(day["profiles"] for day in timeline["per_day"]) == 2880
    html = (out / "report.html").read_text()
    assert 'id="timelines"' in html and "2026-02-02" in html
    assert "in one calendar week (quota 1000/week)" in html


def _agreement_log(path: Path) -> None:
    """A log where two clients go over the profile quota (an anonymous visitor with a browser that
    loads the page's stylesheet, a logged-in account) and one stays under, none of them sweeping ids."""
    lines: list[str] = []

    def visit(ts: float, ip: str, page: str, user: str = "-", ua: str = BROWSER) -> None:
        when = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(ts))
        lines.append(f'{ip} - {user} [{when}] "GET {page} HTTP/1.1" 200 1234 "-" "{ua}"')
        lines.append(f'{ip} - {user} [{when}] "GET /static/site.css HTTP/1.1" 200 99 "-" "{ua}"')

    for i in range(75):  # 75 profiles in about 40 minutes (anonymous quota: 60/hour)
        visit(MONDAY + 3600 + 32 * i + (7, 13, 3, 11)[i % 4], "198.51.100.61",
              f"/u/m{(i * 7919) % 1000:03d}x")
    for i in range(160):  # an account: 160 in about 50 minutes (account quota: 150/hour)
        visit(MONDAY + 3600 + 19 * i + (5, 2, 9)[i % 3], "192.0.2.62", f"/u/c{(i * 104729) % 5000:04d}y",
              user="carol")
    for i in range(30):  # under every quota
        visit(MONDAY + 3600 + 90 * i + (4, 8)[i % 2], "203.0.113.63", f"/u/r{(i * 31) % 100:02d}z")
    lines.sort(key=lambda line: time.strptime(line.split("[")[1][:20], "%d/%b/%Y:%H:%M:%S"))
    path.write_text("\n".join(lines) + "\n")


def test_analyze_and_the_engine_agree_on_who_went_over_a_quota_and_why(tmp_path: Path) -> None:
    log = tmp_path / "agree.log"
    _agreement_log(log)
    policy = default_policy()
    fmt = make_format("combined", account_var="remote_user")
    decisions = tmp_path / "decisions.jsonl"
    writer = DecisionWriter(decisions, buffered=True)
    replay([str(log)], fmt, Engine(offline_policy(policy), live=False), writer)
    writer.close()
    # the engine: the first quota refusal of each key, its detail and its evidence
    engine_said: dict[str, dict[str, Any]] = {}
    for line in decisions.read_text().splitlines():
        for reason in json.loads(line)["reasons"]:
            if reason["detector"] == "profile_quota":
                engine_said.setdefault(reason["key"], reason)
    work = tmp_path / "work"
    work.mkdir()
    analysis = analyze(scan_logs([str(log)], fmt, RouteMap(policy.routes), work), policy)
    analysis_said = {s.actor: s.reasons for s in analysis.flagged}
    # the same clients, and no other
    assert set(analysis_said) == set(engine_said) == {"ip:198.51.100.61", "account:carol"}
    for actor, reason in engine_said.items():
        evidence = reason["evidence"]
        [said] = analysis_said[actor]
        # the same sentence (the detector's), the same quota and limit; the counts and the time counted
        # are each one's own (the engine refuses at the limit in a sliding hour; the log shows all served)
        assert evidence["window"] == "hour" and evidence["count"] == evidence["limit"]
        served = analysis.flagged[[s.actor for s in analysis.flagged].index(actor)].profiles_peak_hour
        assert served > evidence["limit"]
        engine_words = reason["detail"].replace(f" {evidence['count']} ", f" {served} ")
        assert said == engine_words.replace("in the last hour", "in one clock hour")
