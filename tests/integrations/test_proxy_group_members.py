"""Group-member scraping through the real proxy and demo site: a logged-in scraper walking every chat
room's member list is refused by the profile quota; a member reading two rooms is not (fake time)."""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx

from scrapeguard.drill.harness import FakeClock
from scrapeguard.refusals import DECISION_HEADER

#: Seconds a test's client waits for an answer: a safety net against a hang, not a check of speed.
PATIENT = 60.0
FIREFOX = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
           "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
           "Accept-Language": "en-GB,en;q=0.5", "Accept-Encoding": "gzip, deflate"}
ROOM = re.compile(r'data-room="([^"]+)"')
NEXT = re.compile(r'rel="next" href="([^"]+)"')


def read_like_a_browser(client: httpx.Client, path: str) -> httpx.Response:
    """A page and what a browser loads with it (stylesheet, script, images)."""
    page = client.get(path)
    for asset in re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text):
        client.get(asset)
    return page


@contextmanager
def logged_in(guard_url: str, username: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=guard_url, headers=FIREFOX, timeout=PATIENT) as client:
        assert client.post("/login", data={"username": username, "password": "demo"}).status_code == 303
        yield client


def member_names(site: str, count: int) -> list[str]:
    with httpx.Client(base_url=site, timeout=PATIENT) as client:
        return re.findall(r'href="/u/([^"]+)"', client.get("/directory").text)[:count]


def rooms(client: httpx.Client) -> list[str]:
    slugs, path = [], "/chats"
    while True:
        page = read_like_a_browser(client, path)
        assert page.status_code == 200
        slugs += ROOM.findall(page.text)
        found = NEXT.search(page.text)
        if found is None:
            return slugs
        path = found.group(1)


def test_walking_every_rooms_member_list_is_refused_reading_two_rooms_is_not(
        demo_site: str, make_guard: Callable) -> None:
    clock = FakeClock()
    guard = make_guard(demo_site, clock=clock)
    reader_name, scraper_name = member_names(demo_site, 2)
    pace = random.Random(7)

    # A member reading two rooms: their messages (two pages each), the first page of members, a search.
    with logged_in(guard.url, reader_name) as reader:
        statuses = []
        for slug in rooms(reader)[:2]:
            for path in (f"/chats/{slug}", f"/chats/{slug}?page=2", f"/chats/{slug}/members",
                         f"/chats/{slug}/search?q=an"):
                statuses.append(read_like_a_browser(reader, path).status_code)
                clock.sleep(pace.uniform(20, 90))
        assert statuses == [200] * 8

    # A scraper logged in as another member, walking every page of every room's member list, with a
    # browser's headers and assets and uneven pauses: only the quota can stop it.
    with logged_in(guard.url, scraper_name) as scraper:
        served, refusal = 0, None
        for slug in rooms(scraper):
            path: str | None = f"/chats/{slug}/members"
            while path is not None and refusal is None:
                page = read_like_a_browser(scraper, path)
                clock.sleep(pace.uniform(2, 9))
                if page.status_code != 200:
                    refusal = page
                    break
                served += 1
                found = NEXT.search(page.text)
                path = found.group(1) if found else None
            if refusal is not None:
                break
    assert refusal is not None and refusal.status_code in (403, 429)
    assert served == 6  # 6 pages of 25 counted: an account's hourly profile quota (150)
    decision_id = refusal.headers[DECISION_HEADER]
    decision = next(d for d in guard.decisions() if d["id"] == decision_id)
    assert "profile_quota" in {r["detector"] for r in decision["reasons"]}
    assert any("pages of group member lists" in r["detail"] for r in decision["reasons"])
