"""honeypot: trap links and canary members; people never reach them."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx

from scrapeguard.decisions import ALLOW, BLOCK
from scrapeguard.demo.members import canary_ids, is_canary
from scrapeguard.demo.policy import demo_policy_text
from scrapeguard.detectors.honeypot import Honeypot
from scrapeguard.engine import Engine
from scrapeguard.events import Event
from scrapeguard.policy import default_policy, load_policy_text
from scrapeguard.routes import RouteMap

T0 = 1_800_000_000.0
POLICY = load_policy_text('[detectors.honeypot]\ntrap_paths = ["/members/export/*", "/trap"]\n'
                          'canary_members = ["id:29", "username:Decoy.Person"]\n')
ROUTES = RouteMap(POLICY.routes)


def decide(engine: Engine, path: str, ip: str = "198.51.100.40", account: str | None = None) -> str:
    return engine.decide(Event(ts=T0, ip=ip, path=path, route=ROUTES.match(path), account=account)).action


def test_without_traps_or_canaries_the_detector_is_off() -> None:
    assert Honeypot.from_policy(default_policy()) is None
    assert Honeypot.from_policy(POLICY) is not None


def test_a_trap_link_blocks_at_once_and_names_the_trap() -> None:
    engine = Engine(POLICY)
    d = engine.decide(Event(ts=T0, ip="198.51.100.40", path="/members/export/3",
                            route=ROUTES.match("/members/export/3")))
    assert d.action == BLOCK
    assert d.reasons[0].detail == "anonymous visitor followed a trap link no person sees (/members/export/3)"
    # and the block holds for member data afterwards
    assert decide(engine, "/u/someone") == BLOCK
    assert decide(Engine(POLICY), "/trap") == BLOCK
    assert decide(Engine(POLICY), "/trapdoor") == ALLOW  # exact paths match exactly


def test_a_trap_followed_after_reading_robots_txt_says_so() -> None:
    engine = Engine(POLICY)
    assert decide(engine, "/robots.txt") == ALLOW
    d = engine.decide(Event(ts=T0 + 5, ip="198.51.100.40", path="/trap", route=ROUTES.match("/trap")))
    assert d.action == BLOCK
    assert d.reasons[0].detail.endswith("(/trap), after reading robots.txt, which disallows it")


def test_a_canary_member_is_strong_evidence_by_id_or_name() -> None:
    engine = Engine(POLICY)
    d = engine.decide(Event(ts=T0, ip="198.51.100.41", path="/api/v1/members/29",
                            route=ROUTES.match("/api/v1/members/29")))
    assert d.action == BLOCK and "canary member id:29" in d.reasons[0].detail
    assert decide(Engine(POLICY), "/u/decoy.person", account="5") == BLOCK  # names compare case-blind
    assert decide(Engine(POLICY), "/api/v1/members/28") == ALLOW


def test_the_demo_site_hides_its_canaries_and_the_demo_policy_names_them() -> None:
    assert canary_ids(300) == [29, 82, 135, 188, 241, 294] and all(map(is_canary, canary_ids(300)))
    text = demo_policy_text(300)
    assert '"id:29"' in text and '"/members/export/*"' in text


def test_through_the_proxy_a_link_follower_is_caught_and_a_reader_is_not(
    demo_site: str, make_guard: Callable
) -> None:
    guard = make_guard(demo_site, demo_policy_text(300))
    firefox = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
               "Accept-Language": "en-GB,en;q=0.5", "Accept-Encoding": "gzip, deflate"}
    with httpx.Client(base_url=guard.url, headers=firefox) as reader:  # a person clicks what they see
        page = reader.get("/directory").text
        assert "/members/export/1" in page and "hidden" in page  # the trap is there, hidden
        assert reader.get("/robots.txt").text.count("Disallow: /members/export/") == 1
        names = re.findall(r'href="/u/([^"]+)"', page)[:5]
        assert [reader.get(f"/u/{name}").status_code for name in names] == [200] * 5
    with httpx.Client(base_url=guard.url) as crawler:  # a crawler follows every href
        trap = crawler.get("/members/export/1")
        assert trap.status_code == 403
        assert crawler.get("/api/v1/members/1").status_code == 403  # blocked for member data now
    other_address = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(base_url=guard.url, transport=other_address) as enumerator:
        codes = [enumerator.get(f"/api/v1/members/{i}").status_code for i in (101, 190, 29)]
    assert codes[-1] == 403
    reasons = [r["detail"] for d in guard.decisions() for r in d["reasons"]]
    assert any("canary member id:29" in r for r in reasons)
