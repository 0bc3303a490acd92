"""The flood detector through the real proxy and demo site: plain pages are judged too."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from scrapeguard.refusals import DECISION_HEADER

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0"


def test_a_crawl_of_made_up_pages_is_throttled_from_the_41st(demo_site: str, make_guard: Callable) -> None:
    guard = make_guard(demo_site)
    with httpx.Client(base_url=guard.url, headers={"User-Agent": CHROME}) as crawler:
        assert crawler.get("/").status_code == 200  # the site issues a session: the crawl counts against it
        statuses = [crawler.get(f"/page-{i:02d}").status_code for i in range(1, 46)]
        refused = crawler.get("/page-99")
    assert statuses[:40] == [404] * 40  # the site's own answer: no such page
    assert statuses[40:] == [429] * 5
    assert refused.headers.get(DECISION_HEADER, "").startswith("sg-")
    decisions = guard.decisions()
    assert decisions and all("flood" in {r["detector"] for r in d["reasons"]} for d in decisions)
    assert {d["path"] for d in decisions} >= {"/page-41", "/page-45"}


def test_a_tool_switching_user_agents_is_throttled_and_a_reader_is_not(
    demo_site: str, make_guard: Callable
) -> None:
    guard = make_guard(demo_site)
    agents = [f"Mozilla/5.0 (Windows NT 10.0; rv:{100 + i}.0) Gecko/20100101 Firefox/{100 + i}.0"
              for i in range(13)]
    # a tool keeps no cookies: each request is a fresh client with a new user agent
    statuses = [httpx.get(f"{guard.url}/", headers={"User-Agent": ua}).status_code for ua in agents]
    assert statuses[:10] == [200] * 10 and statuses[10:] == [429] * 3
    # a reader at another address (a person arriving without cookies at the tool's own address while
    # it floods is throttled too, for at most the minute the window lasts: docs/detectors.md)
    elsewhere = httpx.HTTPTransport(local_address="127.0.0.2")
    browser = {"User-Agent": CHROME, "Accept-Language": "en-GB,en;q=0.9"}  # (and httpx's Accept-Encoding)
    with httpx.Client(base_url=guard.url, headers=browser, transport=elsewhere) as reader:
        for path in ("/", "/jobs", "/events", "/blog", "/directory", "/static/site.css"):
            assert reader.get(path).status_code == 200


def test_header_facts_keep_only_whether_a_cookie_was_sent() -> None:
    from scrapeguard.integrations.proxy import header_facts
    assert header_facts({"cookie": "session=abc; theme=dark", "accept": "text/html"}) == {
        "cookie": "1", "accept": "text/html"}
    assert header_facts({"cookie": ""}) == {} and header_facts({"cookie": " ; "}) == {}
    assert header_facts({"accept-language": "x" * 1000})["accept-language"] == "x" * 256
