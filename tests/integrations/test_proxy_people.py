"""People who share an address must not be caught, through the real proxy and demo site; the
scrapers hiding among them must."""

from __future__ import annotations

import random
import re
from collections.abc import Callable

import httpx

from scrapeguard.drill.harness import FakeClock
from scrapeguard.refusals import DECISION_HEADER

#: Seconds a test's client waits for an answer: a safety net against a hang, not a check of speed
#: (under coverage on a busy machine an answer can take seconds; httpx's own default is 5).
PATIENT = 60.0

def uneven_pause(clock: FakeClock, i: int) -> None:
    """0 to 36 ms of the guard's clock, varying: a disguised scraper keeps clear of the automation
    detector's machine-regular timing, so that only the quota can stop it. Fake time: how fast the
    machine answers changes nothing."""
    clock.sleep(((i * 7919) % 10) * 4 / 1000)


FIREFOX = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
           "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
           "Accept-Language": "en-GB,en;q=0.5", "Accept-Encoding": "gzip, deflate"}


def directory(base: str, pages: int = 3) -> list[str]:
    names: list[str] = []
    with httpx.Client(timeout=PATIENT, base_url=base) as client:
        for page in range(1, pages + 1):
            names += re.findall(r'href="/u/([^"]+)"', client.get(f"/directory?page={page}").text)
    return list(dict.fromkeys(names))


def read_like_a_browser(client: httpx.Client, path: str) -> int:
    """A page and what a browser loads with it (stylesheet, script, images)."""
    page = client.get(path)
    for asset in re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text):
        client.get(asset)
    return page.status_code


def test_twenty_colleagues_browsing_anonymously_from_one_office_address(
    demo_site: str, make_guard: Callable
) -> None:
    clock = FakeClock()
    guard = make_guard(demo_site, clock=clock)
    names = directory(demo_site)
    browsers = [httpx.Client(timeout=PATIENT, base_url=guard.url, headers=FIREFOX) for _ in range(20)]
    pace = random.Random(20)
    try:
        for b in browsers:
            assert read_like_a_browser(b, "/") == 200  # the site gives each browser its session
        statuses = []
        for k in range(8):  # 8 profiles each, the twenty interleaved: 160 from one address in minutes
            for i, b in enumerate(browsers):
                statuses.append(read_like_a_browser(b, f"/u/{names[(i * 8 + k) % len(names)]}"))
                # twenty people do not take turns like clockwork: uneven gaps between their requests
                clock.sleep(pace.uniform(0, 0.03))
    finally:
        for b in browsers:
            b.close()
    assert guard.decisions() == [], [r["detail"] for d in guard.decisions()[:3] for r in d["reasons"]]
    assert statuses == [200] * 160


def test_a_scraper_at_the_office_address_throwing_cookies_away_gets_one_quota(
    demo_site: str, make_guard: Callable
) -> None:
    clock = FakeClock()
    guard = make_guard(demo_site, clock=clock)
    names = directory(demo_site)
    received = 0
    with httpx.Client(timeout=PATIENT, base_url=guard.url, headers=FIREFOX) as scraper:
        for i, name in enumerate(names):
            scraper.cookies.clear()  # every request a stranger to the site
            uneven_pause(clock, i)
            scraper.get("/static/site.css")  # disguised as a browser: only the quota can stop it
            received += scraper.get(f"/u/{name}").status_code == 200
    assert received == 60


def test_made_up_session_cookies_are_no_way_around_the_quota(demo_site: str, make_guard: Callable) -> None:
    clock = FakeClock()
    guard = make_guard(demo_site, clock=clock)
    names = directory(demo_site)
    received = 0
    with httpx.Client(timeout=PATIENT, base_url=guard.url, headers=FIREFOX) as scraper:
        for i, name in enumerate(names):
            scraper.cookies.clear()
            scraper.cookies.set("session", f"invented-{i}")  # never issued by the site
            uneven_pause(clock, i)
            scraper.get("/static/site.css")
            received += scraper.get(f"/u/{name}").status_code == 200
    assert received == 60


def test_a_scraper_rotating_real_sessions_is_caught_at_the_second(
    demo_site: str, make_guard: Callable
) -> None:
    clock = FakeClock()
    guard = make_guard(demo_site, clock=clock)
    names = directory(demo_site)
    received, refused = 0, []
    with httpx.Client(timeout=PATIENT, base_url=guard.url, headers=FIREFOX) as scraper:
        scraper.get("/")
        for i, name in enumerate(names):
            uneven_pause(clock, i)
            scraper.get("/static/site.css")
            r = scraper.get(f"/u/{name}")
            if r.status_code == 200:
                received += 1
            else:
                refused.append(r)
                scraper.cookies.clear()  # refused: throw the session away, fetch a fresh one
                scraper.get("/")
    # two sessions' quotas, then the second session to use up its quota gives the address away:
    # blocked for anonymous visitors, however many fresh sessions follow
    assert received == 120
    assert refused[-1].status_code == 403 and len(refused) == len(names) - 120
    lines = guard.decisions()
    assert lines[-1]["action"] == "block" and lines[-1]["keys"]["ip"] == "127.0.0.1"
    assert any("cookies are being thrown away" in reason["detail"] for d in lines for reason in d["reasons"])
    assert all(DECISION_HEADER in r.headers for r in refused)


def test_issued_sessions_are_stamped_not_stored(demo_site: str, make_guard: Callable) -> None:
    guard = make_guard(demo_site)
    with httpx.Client(timeout=PATIENT, base_url=guard.url, headers=FIREFOX) as browser:
        browser.get("/")
        assert browser.cookies.get("session") and browser.cookies.get("scrapeguard_session")
        assert browser.get("/u/x").status_code in (200, 404)
    store = guard.proxy.engine.store
    before = len(store)
    with httpx.Client(timeout=PATIENT, base_url=guard.url, headers=FIREFOX) as flood:
        for _ in range(300):  # a new session from the site each time: nothing kept per session
            flood.cookies.clear()
            flood.get("/jobs")
    assert len(store) - before <= 2  # the address's own short history, not 300 sessions


def test_a_stamp_of_another_session_or_a_made_up_one_does_not_make_a_session_issued(
    demo_site: str, make_guard: Callable
) -> None:
    # two profiles an hour for strangers: a session the guard took for issued would get two of its own
    clock = FakeClock()
    guard = make_guard(demo_site, "[detectors.profile_quota.anonymous]\nper_hour = 2\nper_day = 10\n",
                       clock=clock)
    names = directory(demo_site)
    with httpx.Client(timeout=PATIENT, base_url=guard.url, headers=FIREFOX) as browser:
        browser.get("/")  # a session the site issued, and the guard's stamp of it
        real_stamp = browser.cookies["scrapeguard_session"]
    received = 0
    with httpx.Client(timeout=PATIENT, base_url=guard.url, headers=FIREFOX) as forger:
        for i, stamp in enumerate([real_stamp, "0" * 32, real_stamp, "0" * 32]):
            forger.cookies.clear()
            forger.cookies.set("session", f"made-up-{i}")
            forger.cookies.set("scrapeguard_session", stamp)
            uneven_pause(clock, i)
            forger.get("/static/site.css")
            received += forger.get(f"/u/{names[i]}").status_code == 200
    assert received == 2  # four sessions, one quota: the address's


def test_the_guards_session_stamp_is_not_passed_to_the_site(
    make_guard: Callable, start_upstream: Callable
) -> None:
    from aiohttp import web

    seen: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Cookie", ""))
        response = web.Response(text="ok")
        response.set_cookie("session", "abc")
        return response

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    guard = make_guard(start_upstream(app))
    with httpx.Client(timeout=PATIENT, base_url=guard.url) as client:
        first = client.get("/")
        assert "scrapeguard_session=" in first.headers.get("set-cookie", "")
        client.get("/again")
    assert seen[1] == "session=abc"  # the site's cookie only
