"""Scrapers that adapt, through the real proxy and demo site with the default policy: how many member
profiles each gets (issue 13's targets). People are in test_proxy_people.py and test_proxy_e2e.py."""

from __future__ import annotations

import random
import re
from collections.abc import Callable

import httpx

from scrapeguard.drill.harness import FakeClock

#: Seconds a test's client waits for an answer: a safety net against a hang, not a check of speed
#: (under coverage on a busy machine an answer can take seconds; httpx's own default is 5).
PATIENT = 60.0

MEMBER_ID = re.compile(r'data-member-id="(\d+)"')
CHROME_UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Chrome/131.0.0.0 Safari/537.36")
#: What Chrome 131 sends for a top-level navigation, in its order (as impersonating clients copy it).
CHROME_HEADERS = {
    "sec-ch-ua": '"Google Chrome";v="131", "Chromium";v="131", "Not_A Brand";v="24"',
    "sec-ch-ua-mobile": "?0",
    "sec-ch-ua-platform": '"Windows"',
    "Upgrade-Insecure-Requests": "1",
    "User-Agent": CHROME_UA,
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,"
              "*/*;q=0.8,application/signed-exchange;v=b3;q=0.7",
    "Sec-Fetch-Site": "none",
    "Sec-Fetch-Mode": "navigate",
    "Sec-Fetch-User": "?1",
    "Sec-Fetch-Dest": "document",
    "Accept-Encoding": "gzip, deflate, br, zstd",
    "Accept-Language": "en-GB,en-US;q=0.9,en;q=0.8",
}
#: Scrapy 2.11's defaults (DEFAULT_REQUEST_HEADERS and its user agent).
SCRAPY_HEADERS = {
    "User-Agent": "Scrapy/2.11.2 (+https://scrapy.org)",
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "en",
    "Accept-Encoding": "gzip, deflate",
}
REQUESTS_HEADERS = {"User-Agent": "python-requests/2.32.3", "Accept": "*/*",
                    "Accept-Encoding": "gzip, deflate"}
CURL_HEADERS = {"User-Agent": "curl/8.5.0", "Accept": "*/*"}


def profile_received(response: httpx.Response) -> bool:
    """A 200 that carries a member's data (the HTML profile's article, or the API's JSON)."""
    if response.status_code != 200:
        return False
    if response.headers.get("content-type", "").startswith("application/json"):
        return '"id"' in response.text
    return MEMBER_ID.search(response.text) is not None


def directory_names(client: httpx.Client, pages: int = 3) -> list[str]:
    """A scraper's first step: the directory (a listing). Returns the names it could read."""
    names: list[str] = []
    for page in range(1, pages + 1):
        names += re.findall(r'href="/u/([^"]+)"', client.get(f"/directory?page={page}").text)
    return list(dict.fromkeys(names))


def run_ids(base: str, headers: dict[str, str], keep_cookies: bool, count: int = 80) -> list[int]:
    """The home page (the site issues a session), then member ids 1..count in sequence on the API;
    returns the statuses."""
    statuses = []
    with httpx.Client(timeout=PATIENT, base_url=base, headers=headers) as client:
        client.get("/")
        for i in range(1, count + 1):
            if not keep_cookies:
                client.cookies.clear()
            statuses.append(client.get(f"/api/v1/members/{i}").status_code)
    return statuses


def test_curl_with_or_without_a_cookie_jar_gets_the_same_action(demo_site: str, make_guard: Callable) -> None:
    without = run_ids(make_guard(demo_site, name="a.jsonl").url, CURL_HEADERS, keep_cookies=False)
    keeping = make_guard(demo_site, name="b.jsonl")
    with_jar = run_ids(keeping.url, CURL_HEADERS, keep_cookies=True)
    # one client, one risk: the tool's user agent (on its session) and its sweep (on its address)
    # are about the same client, whether it keeps the site's cookie or not
    assert with_jar == without
    assert with_jar.count(200) <= 10
    assert with_jar[0] == 403  # a declared scripting tool asking for member data: challenged
    first = keeping.decisions()[0]
    assert first["action"] == "challenge" and first["keys"].get("session")


def scrape_names(base: str, headers: dict[str, str], pause: Callable[[int], None] | None = None,
                 limit: int = 150) -> int:
    """A client that reads the directory, then every profile it names (no assets), calling
    `pause(i)` before the i-th; returns how many profiles it received."""
    received = 0
    with httpx.Client(timeout=PATIENT, base_url=base, headers=headers) as client:
        names = directory_names(client)
        if not names:  # the directory itself was refused: the names come from elsewhere
            with httpx.Client(timeout=PATIENT, base_url=base, headers=CHROME_HEADERS,
                              transport=httpx.HTTPTransport(local_address="127.0.0.99")) as other:
                names = directory_names(other)
        for i, name in enumerate(names[:limit]):
            if pause is not None:
                pause(i)
            received += profile_received(client.get(f"/u/{name}"))
    return received


def test_a_library_walking_names_from_the_directory_gets_at_most_ten(
    demo_site: str, make_guard: Callable
) -> None:
    assert scrape_names(make_guard(demo_site).url, REQUESTS_HEADERS) <= 10


def test_scrapy_with_its_default_settings_gets_at_most_ten(demo_site: str, make_guard: Callable) -> None:
    assert scrape_names(make_guard(demo_site).url, SCRAPY_HEADERS) <= 10


def test_scrapy_in_a_browsers_user_agent_with_autothrottle_gets_at_most_twenty(
    demo_site: str, make_guard: Callable
) -> None:
    # AutoThrottle adapts its delay to the site's latency: uneven, short pauses
    jitter, clock = random.Random(13), FakeClock()
    headers = {**SCRAPY_HEADERS, "User-Agent": CHROME_UA}
    got = scrape_names(make_guard(demo_site, clock=clock).url, headers,
                       pause=lambda i: clock.sleep(jitter.uniform(0.0, 0.03)))  # the guard's time
    assert got <= 20


def test_a_client_sending_chromes_exact_headers_without_assets_gets_at_most_twenty(
    demo_site: str, make_guard: Callable
) -> None:
    jitter, clock = random.Random(7), FakeClock()
    guard = make_guard(demo_site, clock=clock)
    got = scrape_names(guard.url, CHROME_HEADERS, pause=lambda i: clock.sleep(jitter.uniform(0.0, 0.03)))
    assert got <= 20
    challenge = next(d for d in guard.decisions() if d["action"] == "challenge")
    assert any("not one stylesheet, script or image" in r["detail"] for r in challenge["reasons"])


def test_the_same_client_loading_the_pages_assets_reads_on(demo_site: str, make_guard: Callable) -> None:
    # the difference between the last test and a person is the assets: with them, the quota is the limit
    clock = FakeClock()
    guard = make_guard(demo_site, clock=clock)
    received = 0
    with httpx.Client(timeout=PATIENT, base_url=guard.url, headers=CHROME_HEADERS) as browser:
        names = directory_names(browser)
        for i, name in enumerate(names[:40]):
            clock.sleep(((i * 7919) % 10) * 4 / 1000)  # uneven, in the guard's time
            page = browser.get(f"/u/{name}")
            received += profile_received(page)
            for asset in re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text):
                browser.get(asset)
    assert received == 40 and guard.decisions() == []
