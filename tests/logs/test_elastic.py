"""The real elastic Apache log (10,000 lines of www.semicomplete.com, May 2015) through the default detectors.

With the default policy's route map (the demo site's) no path of this log shows member data, so nothing
is refused (tests/logs/test_replay.py pins that). Here the log is replayed with a route map of its own
site written as the worst case for people (tests/data/logs/semicomplete-site.toml: every page counts as
a member's profile, only stylesheets, scripts and images are assets) and otherwise the DEFAULT detectors,
quotas and thresholds, offline (crawler claims checked against published ranges, no DNS).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from scrapeguard.cli import main
from scrapeguard.decisions import DecisionWriter
from scrapeguard.engine import Engine
from scrapeguard.intel.crawlers import BROWSER, EMPTY, SEARCH, VERIFIED, CrawlerVerifier, classify
from scrapeguard.logs.formats import make_format
from scrapeguard.logs.replay import offline_policy, replay

DATA = Path(__file__).parents[1] / "data" / "logs"
ELASTIC = DATA / "elastic-apache-2015.log"  # see SOURCE.txt there
SITE = DATA / "semicomplete-site.toml"


def elastic_replay(tmp: Path) -> tuple[list[dict[str, Any]], dict[str, int]]:
    from scrapeguard.policy import load_policy_text

    policy = offline_policy(load_policy_text(SITE.read_text(), str(SITE)))
    out = tmp / "decisions.jsonl"
    writer = DecisionWriter(out)
    engine = Engine(policy, live=False)
    replay([str(ELASTIC)], make_format("combined"), engine, writer)
    writer.close()
    return [json.loads(line) for line in out.read_text().splitlines()], dict(engine.counts)


def user_agents_by_ip() -> dict[str, set[str]]:
    agents: dict[str, set[str]] = defaultdict(set)
    for line in ELASTIC.read_text().splitlines():
        parts = line.split('"')
        if len(parts) >= 6:
            agents[line.split(" ", 1)[0]].add(parts[5])
    return agents


def refused_ips(decisions: list[dict[str, Any]]) -> set[str]:
    return {str(d["keys"]["ip"]) for d in decisions}


def test_verified_search_crawlers_are_exempt_not_refused(tmp_path: Path) -> None:
    decisions, counts = elastic_replay(tmp_path)
    refused = refused_ips(decisions)
    verifier = CrawlerVerifier(None)  # published ranges only, as in the replay
    verified: set[str] = set()
    for ip, agents in user_agents_by_ip().items():
        for ua in agents:
            agent = classify(ua)
            if agent.kind == SEARCH and agent.crawler is not None and \
                    verifier.verify(ip, agent.crawler) == VERIFIED:
                verified.add(f"{agent.name} {ip}")
    # in today's published ranges: Googlebot's three addresses of the log and two of Bingbot's (its
    # msnbot-media 199.30.x). Bingbot's other 2015 addresses (157.55.32-35.x, 157.56.x, 65.55.x) are not
    # in Microsoft's ranges of today: offline they are taken for fake crawlers (docs/compatibility.md)
    assert verified == {"Googlebot 66.249.73.135", "Googlebot 66.249.73.185", "Googlebot 66.249.74.55",
                        "Bingbot 199.30.24.78", "Bingbot 199.30.25.233"}
    assert not {v.split()[1] for v in verified} & refused
    assert counts["exempt.bot_agents"] == 430  # their requests for "member" pages: never counted


def test_the_people_looking_ips_refused_are_pinned_and_explained(tmp_path: Path) -> None:
    decisions, _ = elastic_replay(tmp_path)
    agents = user_agents_by_ip()

    def looks_like_people(ip: str) -> bool:
        return {classify(ua).kind for ua in agents[ip]} <= {BROWSER, EMPTY} \
            and any(classify(ua).kind == BROWSER for ua in agents[ip])

    refused = {ip for ip in refused_ips([d for d in decisions if d["action"] != "challenge"])
               if looks_like_people(ip)}
    # One is refused: 91.236.75.25 calls itself MSIE 6 on Windows XP (and "-" on its other line) and
    # asks, in one minute, for fckeditor/editor/fckeditor.html under 8 paths of one blog post (all 404):
    # a scanner for the FCKeditor upload hole, refused by enumeration (6 missing pages of 6 asked for
    # within 10 seconds: probing in a burst; it asks for two more, refused too).
    assert refused == {"91.236.75.25"}
    [why] = {r["detail"] for d in decisions if d["keys"]["ip"] == "91.236.75.25" for r in d["reasons"]}
    assert why == "anonymous visitor asked for 6 member pages that do not exist, of 6 within 10 seconds"
    # Others that name browsers are challenged (a browser passes; nothing is refused to a person), for
    # bot evidence only: 90 addresses in hosting networks (OVH, Hetzner, Vultr... feed readers and
    # crawlers in browsers' clothes), and 4 that read 20 pages in an hour without one stylesheet or
    # image: two "MSIE 6 on Windows XP" fetching a 48 MB log file every hour, and two of Moz's Ezooms
    # crawler, whose user agent names no bot the shipped lists know.
    challenged = {ip for ip in refused_ips([d for d in decisions if d["action"] == "challenge"])
                  if looks_like_people(ip)} - refused
    assert len(challenged) == 94
    why_challenged = {ip: {r["detector"] for d in decisions if d["keys"]["ip"] == ip for r in d["reasons"]}
                      for ip in challenged}
    assert {ip for ip, why in why_challenged.items() if why == {"automation"}} == {
        "216.152.249.242", "217.195.202.13", "208.115.113.88", "208.115.111.72"}
    assert all(why in ({"automation"}, {"ip_reputation"}) for why in why_challenged.values())
    # the log's heaviest reader, 130.237.218.86 (357 requests, slide decks with their stylesheets and
    # images), is allowed throughout
    assert "130.237.218.86" not in refused_ips(decisions)


def test_every_refusal_carries_its_reasons(tmp_path: Path) -> None:
    decisions, counts = elastic_replay(tmp_path)
    assert len(decisions) == counts["throttle"] + counts["block"] + counts["challenge"] == 1662
    assert len(refused_ips(decisions)) == 310
    for d in decisions:
        assert d["reasons"]
        assert all(r["detector"] and r["detail"] and 0 < r["score"] <= 1 for r in d["reasons"])
    detectors = {r["detector"] for d in decisions for r in d["reasons"]}
    assert detectors == {"bot_agents", "ip_reputation", "automation", "enumeration", "escalation"}


def test_analyze_lists_googlebot_as_verified_not_flagged(tmp_path: Path) -> None:
    runner = CliRunner()
    plain = runner.invoke(main, ["analyze", str(ELASTIC), "--format", "combined",
                                 "--work-dir", str(tmp_path)])
    assert plain.exit_code == 0, plain.output
    assert "0 flagged" in plain.stdout  # the demo route map: no member data in this log
    r = runner.invoke(main, ["analyze", str(ELASTIC), "--format", "combined", "--policy", str(SITE), "--json",
                             "--work-dir", str(tmp_path)])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    verified = {a["actor"] for a in summary["verified_crawlers"]}
    flagged = {a["actor"]: a["agent_kind"] for a in summary["flagged"]}
    assert {"ip:66.249.73.135", "ip:66.249.73.185"} <= verified
    assert not verified & set(flagged)


def test_the_replay_report_lists_every_refused_ip_with_its_reason(tmp_path: Path) -> None:
    out = tmp_path / "d.jsonl"
    r = CliRunner().invoke(main, ["replay", str(ELASTIC), "--format", "combined", "--policy", str(SITE),
                                  "--decisions-out", str(out), "--top", "1000", "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    listed = {a["key"]: a["first_reason"] for a in summary["top_actors"]}
    decisions = [json.loads(line) for line in out.read_text().splitlines()]
    assert set(listed) == {f"ip:{ip}" for ip in refused_ips(decisions)}
    assert all(reason.split(": ", 1)[0] in {"bot_agents", "automation", "enumeration", "ip_reputation"}
               and ": " in reason for reason in listed.values())
    assert listed["ip:91.236.75.25"].startswith("enumeration: anonymous visitor asked for 6 member pages")
    text = CliRunner().invoke(main, ["replay", str(ELASTIC), "--format", "combined", "--policy", str(SITE),
                                     "--decisions-out", str(out), "--top", "3"]).stdout
    assert "ip:50.16.19.13" in text and "bot_agents: self-declared bot asking for member data" in text
