"""The drill harness: a demo site and guard on loopback, a fake clock, strategies and personas."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator

import httpx
import pytest
from aiohttp import web

from scrapeguard.drill.client import Tally, Visitor, action_of, interleave, member_of
from scrapeguard.drill.harness import FAKE_EPOCH, FakeClock, Stage
from scrapeguard.drill.personas import PERSONAS, run_persona
from scrapeguard.drill.strategies import (
    REGISTRY,
    Strategy,
    Target,
    distributed,
    register,
    run_strategy,
    run_walk,
    walk_from_mapping,
)
from scrapeguard.integrations.proxy import STATUS_PATH
from scrapeguard.refusals import DECISION_HEADER

OBSERVE = 'mode = "observe"\n'
#: A browser's user agent and headers (an HTTP library's own is challenged on member data).
BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
           "Accept-Language": "en-GB,en;q=0.5", "Accept-Encoding": "gzip, deflate"}


def test_a_stage_starts_the_site_and_the_guard_and_stops_them() -> None:
    with Stage(members=60) as stage:
        url, site = stage.url, stage.site_url
        assert url != site
        assert httpx.get(f"{url}{STATUS_PATH}", timeout=30).json()["mode"] == "enforce"
        page = httpx.get(f"{url}/directory", timeout=30, headers=BROWSER)
        assert page.status_code == 200 and 'href="/u/' in page.text
        assert httpx.get(f"{site}/robots.txt", timeout=30).status_code == 200
    for stopped in (url, site):
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{stopped}/", timeout=5)


def test_the_guard_runs_on_the_fake_clock() -> None:
    clock = FakeClock()
    policy = "[detectors.profile_quota.anonymous]\nper_hour = 2\nper_day = 100\n"
    with Stage(policy, members=60, clock=clock) as stage, \
            Visitor(stage.url, clock, tuple(BROWSER.items()), cookies=False) as v:
        assert [v.get(f"/api/v1/members/{i}").status_code for i in (5, 9)] == [200, 200]
        refused = v.get("/api/v1/members/20")
        assert action_of(refused) == "throttle"
        decision = stage.decisions()[0]
        assert decision["ts"] == pytest.approx(FAKE_EPOCH)  # the event's time is the fake clock's
        clock.sleep(3601)  # an hour passes at once: the quota's window has slid past both views
        assert v.get("/api/v1/members/33").status_code == 200
    assert v.tally.profiles == {"5", "9", "33"}
    assert v.tally.first_refusal == 3 and v.tally.first_refusal_seconds == 0


def test_a_strategy_counts_exactly_the_profiles_it_received() -> None:
    # observe mode: nothing is refused, so each scraper receives exactly what it asked for
    with Stage(OBSERVE, members=300, clock=FakeClock()) as stage:
        curl = run_strategy("curl", stage.target())
        assert (curl.profiles, curl.requests, curl.first_refusal) == (80, 80, None)
        assert curl.actions == {"200": 80}
        assert stage.decisions(), "the guard judged the loop (observe mode writes its decisions)"
        walker = run_strategy("python-requests", stage.target())
        # three directory pages (50 names each) and then each of the 150 names
        assert (walker.profiles, walker.requests) == (150, 153)


def test_refused_requests_are_not_counted_as_profiles() -> None:
    with Stage(members=300, clock=FakeClock()) as stage:
        result = run_strategy("curl", stage.target())
        assert result.first_refusal is not None
        refused = result.requests - result.actions["200"]
        assert refused == sum(n for action, n in result.actions.items() if action != "200") > 0
        assert result.profiles == result.actions["200"] == result.first_refusal - 1
        assert {d["id"] for d in stage.decisions()}


def _response(status: int, body: str, kind: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, text=body, headers={"content-type": kind, **(headers or {})})


def test_what_counts_as_a_profile_and_which_action_a_refusal_was() -> None:
    html = '<article class="profile" data-member-id="42">'
    assert member_of(_response(200, html, "text/html; charset=utf-8")) == "42"
    assert member_of(_response(200, '{"id": 7, "name": "x"}', "application/json")) == "7"
    assert member_of(_response(404, '{"error": "no such member"}', "application/json")) is None
    assert member_of(_response(200, '{"error": "no id"}', "application/json")) is None
    assert member_of(_response(403, html, "text/html")) is None
    assert member_of(_response(200, "<p>directory</p>", "text/html")) is None
    refused = {DECISION_HEADER: "sg-000000000001"}
    assert action_of(_response(429, "slow", "text/html", {**refused, "retry-after": "300"})) == "throttle"
    assert action_of(_response(403, "paused", "text/html", {**refused, "retry-after": "3600"})) == "block"
    assert action_of(_response(403, "one moment", "text/html", refused)) == "challenge"
    assert action_of(_response(403, '{"action": "challenge"}', "application/json", refused)) == "challenge"
    assert action_of(_response(404, "not found", "text/html")) == "404"


def test_interleaved_actors_take_turns_in_clock_order() -> None:
    clock = FakeClock(start=1000.0)
    seen: list[tuple[str, float]] = []

    def actor(name: str, pauses: list[float]) -> Iterator[float]:
        for pause in pauses:
            seen.append((name, clock.time()))
            yield pause

    interleave(clock, [(0, actor("a", [10, 10, 10])), (5, actor("b", [4, 100]))])
    assert seen == [("a", 1000), ("b", 1005), ("b", 1009), ("a", 1010), ("a", 1020)]
    assert clock.elapsed == 109


@pytest.mark.parametrize("name", sorted(PERSONAS))
def test_people_are_not_refused(name: str) -> None:
    with Stage(members=1000, clock=FakeClock()) as stage:
        result = run_persona(name, stage.target())
        decisions = stage.decisions()
    assert result.people >= 1 and result.tally.requests > result.people
    assert result.refused == set(), [r["detail"] for d in decisions[:3] for r in d["reasons"]]
    assert decisions == []


def test_a_team_adds_its_own_strategy_as_data() -> None:
    walk = walk_from_mapping({"like": "chrome", "user_agent": "Mozilla/5.0 TeamBot", "targets": "ids",
                              "order": "shuffled", "count": 25, "pause": [1, 2], "cookies": True})
    assert ("User-Agent", "Mozilla/5.0 TeamBot") in walk.headers and walk.pause == (1.0, 2.0)
    name = "test-team-walk"
    if name not in REGISTRY:
        register(Strategy(name, "a team's own walk", lambda target: run_walk(walk, target)))
    clock = FakeClock()
    with Stage(OBSERVE, members=60, clock=clock) as stage:
        result = run_strategy(name, stage.target())
    assert (result.profiles, result.requests) == (25, 25)
    assert 25 <= result.seconds <= 50  # its pauses passed on the fake clock
    with pytest.raises(ValueError, match="unknown walk fields: speed"):
        walk_from_mapping({"speed": 3})
    with pytest.raises(ValueError, match="order = 'random': one of listed, reversed"):
        walk_from_mapping({"order": "random"})


def test_the_distributed_scraper_comes_from_separate_networks(
    make_guard: Callable, start_upstream: Callable
) -> None:
    seen: list[str] = []

    async def member(request: web.Request) -> web.Response:
        seen.append(request.headers["X-Forwarded-For"])  # the guard's view of the client address
        return web.json_response({"id": int(request.match_info["id"])})

    app = web.Application()
    app.router.add_get("/api/v1/members/{id}", member)
    guard = make_guard(start_upstream(app), OBSERVE)
    result = distributed(Target(guard.url, FakeClock(), members=20), addresses=5, per_address=4)
    assert result.profiles == 20 and result.requests == 20
    assert len(set(seen)) == 5
    networks = {ipaddress.ip_network(f"{ip}/24", strict=False) for ip in seen}
    assert len(networks) == 5 and all(ipaddress.ip_address(ip).is_loopback for ip in seen)


def test_a_tally_notes_the_first_refusal_once() -> None:
    tally = Tally()
    refused = {DECISION_HEADER: "sg-000000000002", "retry-after": "60"}
    tally.see(_response(200, '{"id": 1}', "application/json"), 10.0)
    tally.see(_response(429, "slow", "text/html", refused), 25.0)
    tally.see(_response(429, "slow", "text/html", refused), 40.0)
    assert (tally.requests, tally.first_refusal, tally.first_refusal_seconds) == (3, 2, 15.0)
    assert tally.refused == 2
    assert tally.profiles == {"1"}
