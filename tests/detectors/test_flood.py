"""flood: crawls and floods of made-up URLs, and user-agent switching, on any route; readers with many
tabs, single page applications, offices and carrier NATs, and verified search engines are not caught."""

from __future__ import annotations

import pytest

from scrapeguard.decisions import ALLOW, BLOCK, CHALLENGE, THROTTLE
from scrapeguard.detectors.flood import Flood, one_shot_agents
from scrapeguard.engine import Engine
from scrapeguard.events import Event
from scrapeguard.logs.replay import offline_policy
from scrapeguard.policy import PolicyError, default_policy, load_policy_text
from scrapeguard.routes import RouteMap, is_static
from scrapeguard.stores import StoreRequest

T0 = 1_800_000_000.0
ROUTES = RouteMap(default_policy().routes)
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def event(ts: float, path: str, ip: str = "198.51.100.7", ua: str = FIREFOX, **facts: object) -> Event:
    bare, _, query = path.partition("?")
    return Event(ts=ts, ip=ip, path=bare, query=query, route=ROUTES.match(bare, query), user_agent=ua,
                 **facts)  # type: ignore[arg-type]


def actions(engine: Engine, events: list[Event]) -> list[str]:
    return [engine.decide(e).action for e in events]


def engine() -> Engine:
    return Engine(offline_policy(default_policy()), live=False)


# -- pages ---------------------------------------------------------------------------------------


def test_a_crawl_of_41_pages_in_half_a_second_is_refused_from_the_41st() -> None:
    e = engine()
    decisions = [e.decide(event(T0 + i * 0.012, f"/page-{i:02d}")) for i in range(1, 46)]
    assert [d.action for d in decisions[:40]] == [ALLOW] * 40
    assert {d.action for d in decisions[40:]} == {THROTTLE}
    [reason] = [r for r in decisions[40].reasons if r.detector == "flood"]
    assert reason.key == "ip:198.51.100.7"
    assert reason.detail == ("anonymous visitor asked for more than 40 distinct pages within 20 seconds: "
                             "a crawl at a pace no reader keeps")


def test_a_crawler_slowing_to_a_readers_pace_is_served_again() -> None:
    e = engine()
    burst = actions(e, [event(T0 + i * 0.1, f"/blog/{i}") for i in range(50)])
    # refused from the 41st; the tenth refusal within the hour escalates to a block (of member data)
    assert burst[40:] == [THROTTLE] * 9 + [BLOCK]
    later = actions(e, [event(T0 + 30 + i * 7.3, f"/blog/{100 + i}") for i in range(30)])
    assert set(later) == {ALLOW}
    assert e.decide(event(T0 + 300, "/u/anna")).action == BLOCK


def test_the_same_pages_asked_for_again_and_again_are_no_crawl() -> None:
    # a single page application: a dozen endpoints on load, then polling the same ones
    e = engine()
    endpoints = [f"/api/v1/{name}" for name in ("me", "feed", "notifications", "messages", "groups",
                                                 "events", "jobs", "settings", "badges", "drafts", "tags",
                                                 "suggestions")]
    load = [event(T0 + i * 0.05, path) for i, path in enumerate(endpoints)]
    poll = [event(T0 + 2 + i * 1.7, endpoints[i % 4]) for i in range(200)]
    assert set(actions(e, load + poll)) == {ALLOW}


def test_a_reader_opening_twenty_tabs_at_once_is_not_caught() -> None:
    e = engine()
    tabs = [event(T0 + i * 0.15, f"/blog/post-{i}") for i in range(20)]
    reading = [event(T0 + 60 + i * (9 + i % 13), f"/events/{i}") for i in range(40)]
    assert set(actions(e, tabs + reading)) == {ALLOW}


def test_static_files_never_count_however_many() -> None:
    e = engine()
    page = [event(T0, "/")]
    files = [event(T0 + 0.01 * i, path) for i, path in enumerate(
        [f"/static/img/{i}.png" for i in range(40)] + [f"/img/avatar-{i}.webp" for i in range(40)]
        + ["/favicon.ico", "/fonts/inter.woff2", "/app.7f3a.js", "/app.css"], start=1)]
    assert set(actions(e, page + files)) == {ALLOW}
    assert is_static("/img/Avatar.PNG", "page") and is_static("/x", "asset")
    assert not is_static("/u/anna.smith", "profile") and not is_static("/v1.2/members", "page")


def test_an_office_with_issued_sessions_is_counted_per_browser() -> None:
    # 30 colleagues behind one address, each with the session the site issued: 150 pages in 20 s
    e = engine()
    office = [event(T0 + (i * 20 / 150), f"/jobs/{i}", ip="192.0.2.10", session=f"s{i % 30}",
                    session_issued=True) for i in range(150)]
    assert set(actions(e, office)) == {ALLOW}


def test_a_verified_search_engine_is_never_refused_for_its_pace() -> None:
    e = engine()
    crawl = [event(T0 + i * 0.05, f"/blog/{i}", ip="66.249.66.1", ua=GOOGLEBOT) for i in range(200)]
    assert set(actions(e, crawl)) == {ALLOW}
    assert e.counts["exempt.bot_agents"] == 160
    fake = [event(T0 + i * 0.05, f"/blog/{i}", ip="203.0.113.66", ua=GOOGLEBOT) for i in range(60)]
    assert actions(engine(), fake).count(ALLOW) == 40


def test_pages_are_counted_before_judging_even_when_the_engine_defers_records() -> None:
    # the proxy with a shared store writes the other detectors' page records in the background
    e = engine()
    deferred: list[tuple[Event, list[StoreRequest]]] = []
    e.defer = lambda ev, requests: deferred.append((ev, requests))
    assert actions(e, [event(T0 + i * 0.01, f"/p/{i}") for i in range(41)])[-1] == THROTTLE
    assert deferred
    assert all(not any(r.name.startswith("flood.") for r in requests) for _, requests in deferred)


# -- user agents ---------------------------------------------------------------------------------


def agents(n: int) -> list[str]:
    return [f"Mozilla/5.0 (Windows NT {6 + i % 5}.{i % 3}; rv:{30 + i}.0) Gecko/20100101 Firefox/{30 + i}.0"
            for i in range(n)]


def test_a_tool_switching_its_user_agent_on_every_request_is_refused_from_the_eleventh() -> None:
    e = engine()
    decisions = [e.decide(event(T0 + i * 1.7, "/", ip="192.0.2.44", ua=ua))
                 for i, ua in enumerate(agents(14))]
    assert [d.action for d in decisions[:10]] == [ALLOW] * 10
    assert {d.action for d in decisions[10:]} == {THROTTLE}
    [reason] = [r for r in decisions[10].reasons if r.detector == "flood"]
    assert reason.key == "ip:192.0.2.44"
    assert reason.detail.startswith("11 different user agents from one address within 60 seconds")


def test_a_carrier_nat_full_of_browsers_is_not_caught() -> None:
    # 40 people behind one address, each a different browser, within one minute: each loads the
    # page's files with its own user agent, and most come back for another page
    e = engine()
    events = []
    for i, ua in enumerate(agents(40)):
        t = T0 + i * 1.4
        events += [event(t, "/", ip="100.64.0.1", ua=ua),
                   event(t + 0.2, "/static/site.css", ip="100.64.0.1", ua=ua),
                   event(t + 0.3, "/static/site.js", ip="100.64.0.1", ua=ua)]
        if i % 3:
            events.append(event(t + 25, f"/blog/{i}", ip="100.64.0.1", ua=ua))
    events.sort(key=lambda ev: ev.ts)
    assert set(actions(e, events)) == {ALLOW}


def test_people_with_warm_caches_carry_cookies_and_are_not_counted() -> None:
    # live: 30 people behind one address within a minute, each loading one page and no files
    # (cached), each with the site's cookies from an earlier visit (not a session the guard saw set)
    e = engine()
    live = {"accept": "text/html", "accept-language": "en", "accept-encoding": "gzip", "cookie": "1"}
    people = [event(T0 + i * 2.0, f"/jobs/{i}", ip="100.64.0.2", ua=ua, headers=live)
              for i, ua in enumerate(agents(30))]
    assert set(actions(e, people)) == {ALLOW}
    # the same requests without cookies are a tool's
    no_cookies = {name: value for name, value in live.items() if name != "cookie"}
    tool = [event(T0 + i * 2.0, f"/jobs/{i}", ip="100.64.0.3", ua=ua, headers=no_cookies)
            for i, ua in enumerate(agents(30))]
    assert actions(engine(), tool).count(ALLOW) == 10


def test_members_and_issued_sessions_are_not_counted_for_switching() -> None:
    e = engine()
    members = [event(T0 + i, "/", ip="192.0.2.50", ua=ua, account=f"m{i}") for i, ua in enumerate(agents(15))]
    sessions = [event(T0 + 20 + i, "/", ip="192.0.2.50", ua=ua, session=f"s{i}", session_issued=True)
                for i, ua in enumerate(agents(15))]
    assert set(actions(e, members + sessions)) == {ALLOW}


def test_one_shot_agents_counts_single_requests_without_files_in_the_window() -> None:
    entries = [(1.0, "paaaa"), (2.0, "pbbbb"), (2.5, "abbbb"), (3.0, "pcccc"), (4.0, "pcccc"), (9.0, "pdddd")]
    assert one_shot_agents(entries, since=0.0) == 0  # a static file was loaded in the window
    assert one_shot_agents(entries, since=2.6) == 1  # dddd (cccc twice)
    assert one_shot_agents(entries, since=3.5) == 2  # cccc (its first request is out), dddd
    assert one_shot_agents([(float(i), f"p{i:04x}") for i in range(12)], since=0.0) == 12


# -- policy --------------------------------------------------------------------------------------


def test_the_rules_follow_the_policy_and_can_be_switched_off() -> None:
    strict = load_policy_text("[detectors.flood]\npages = 5\npages_seconds = 60\n", "strict.toml")
    e = Engine(offline_policy(strict), live=False)
    assert actions(e, [event(T0 + i * 5, f"/blog/{i}") for i in range(7)])[5:] == [THROTTLE, THROTTLE]
    off = load_policy_text("[detectors.flood]\nenabled = false\n", "off.toml")
    assert Flood.from_policy(off) is None
    quiet = load_policy_text("[detectors.flood]\npages_score = 0\nuser_agents_score = 0\n", "quiet.toml")
    e = Engine(offline_policy(quiet), live=False)
    flood = [event(T0 + i * 0.01, f"/p/{i}", ua=ua) for i, ua in enumerate(agents(60))]
    assert set(actions(e, flood)) == {ALLOW}


def test_a_user_agent_limit_beyond_the_history_is_a_policy_error() -> None:
    with pytest.raises(PolicyError, match=r"detectors\.flood\.user_agents"):
        load_policy_text("[detectors.flood]\nuser_agents = 100\n", "bad.toml")


# -- what the review found -------------------------------------------------------------------------


def test_a_crawl_refused_page_after_page_is_blocked_for_an_hour_not_for_days() -> None:
    # off the member-data routes no penalty is looked up first: every refused page asks the store
    # to penalize, which must not lengthen a block already in force
    e = engine()
    actions(e, [event(T0 + i * 0.1, f"/blog/{i}") for i in range(60)])
    after = e.decide(event(T0 + 10, "/u/anna"))
    assert after.action == BLOCK and after.until is not None and after.until - after.ts <= 3600


def test_off_the_member_data_routes_more_evidence_never_gives_a_lighter_outcome() -> None:
    # both rules at once (0.84) are in the challenge band: a challenge holds no state and off these
    # routes no penalty is looked up, so such requests are throttled instead
    e = engine()
    flood = [event(T0 + i * 0.05, f"/x{i}", ua=ua) for i, ua in enumerate(agents(120))]
    assert CHALLENGE not in set(actions(e, flood))


def test_a_user_agent_that_is_not_valid_utf8_is_still_judged() -> None:
    e = engine()
    odd = "Mozilla/5.0 \udcff"  # how aiohttp hands over a raw 0xff byte (surrogateescape)
    assert actions(e, [event(T0 + i * 0.01, f"/p/{i}", ua=odd) for i in range(41)])[-1] == THROTTLE
    assert e.counts["errors.flood"] == 0
