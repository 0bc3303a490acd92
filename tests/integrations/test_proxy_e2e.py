"""The real proxy in front of the real demo site, over HTTP on loopback."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import httpx
import pytest

from scrapeguard.drill.harness import FakeClock
from scrapeguard.refusals import DECISION_HEADER

#: Seconds a test's client waits for an answer: a safety net against a hang, not a check of speed
#: (under coverage on a busy machine an answer can take seconds; httpx's own default is 5).
PATIENT = 60.0

MEMBER_ID = re.compile(r'data-member-id="(\d+)"')


def usernames(client: httpx.Client, pages: int = 3) -> list[str]:
    """What a scraper harvests first: the directory (not member data by itself)."""
    names: list[str] = []
    for page in range(1, pages + 1):
        html = client.get(f"/directory?page={page}").text
        names += re.findall(r'href="/u/([^"]+)"', html)
    return list(dict.fromkeys(names))


def uneven_pause(clock: FakeClock, i: int) -> None:
    """0 to 36 ms of the guard's clock, varying: requests at an even pace are machine-regular timing
    to the automation detector, which tests of the quotas keep out. The pause is fake time (the
    guard's events take it from `clock`), so how fast the machine answers changes nothing."""
    clock.sleep(((i * 7919) % 10) * 4 / 1000)


def signing_up_clock() -> FakeClock:
    """Fake time starting now: the demo site stamps a new account with the wall clock, and the
    guard judges the account's age against its events' time (see sign_up)."""
    return FakeClock(start=time.time())


BROWSER_LIKE = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
                "Accept": "text/html,application/xhtml+xml,*/*;q=0.8", "Accept-Language": "en-GB,en;q=0.5",
                "Accept-Encoding": "gzip, deflate"}


def scrape(base: str, names: list[str], clock: FakeClock,
           disguised: bool = True) -> tuple[list[str], list[httpx.Response]]:
    """A sequential anonymous scraper that throws cookies away. Disguised (the default), it passes
    for a browser: browser headers, the stylesheet with every page, an uneven pace (on `clock`, the
    guard's), so that only the quota stops it. Returns ids received and refusals."""
    received: list[str] = []
    refusals: list[httpx.Response] = []
    with httpx.Client(timeout=PATIENT, base_url=base, headers=BROWSER_LIKE if disguised else None) as client:
        for i, name in enumerate(names):
            uneven_pause(clock, i)
            client.cookies.clear()  # no cookies kept
            if disguised:
                client.get("/static/site.css")
            r = client.get(f"/u/{name}")
            if r.status_code == 200:
                m = MEMBER_ID.search(r.text)
                assert m, "a 200 profile page without data-member-id"
                received.append(m.group(1))
            else:
                refusals.append(r)
    return received, refusals


def test_an_undisguised_scraper_is_stopped_before_the_quota(demo_site: str, make_guard: Callable) -> None:
    clock = FakeClock()
    guard = make_guard(demo_site, clock=clock)
    with httpx.Client(timeout=PATIENT, base_url=guard.url, headers=BROWSER_LIKE) as client:
        names = usernames(client)
    received, refusals = scrape(guard.url, names[:60], clock, disguised=False)
    # httpx's own user agent asking for member data: a scripting tool (0.4), bot evidence, answered
    # by a challenge at once, which an HTTP library cannot pass
    assert received == []
    assert {r.status_code for r in refusals} == {403} and "altcha" in refusals[0].text
    first = guard.decisions()[0]
    assert first["action"] == "challenge"
    assert {r["detector"] for r in first["reasons"]} == {"bot_agents"}


def test_anonymous_scraper_gets_at_most_the_hourly_quota(demo_site: str, make_guard: Callable) -> None:
    clock = FakeClock()
    guard = make_guard(demo_site, clock=clock)
    with httpx.Client(timeout=PATIENT, base_url=guard.url, headers=BROWSER_LIKE) as client:
        names = usernames(client)
    assert len(names) == 150
    received, refusals = scrape(guard.url, names, clock)
    assert len(received) == 60  # the default anonymous quota per IP and hour
    assert len(refusals) == 90
    first = refusals[0]
    assert first.status_code == 429
    assert int(first.headers["Retry-After"]) > 0
    decision_id = first.headers[DECISION_HEADER]
    assert decision_id.startswith("sg-") and decision_id in first.text
    # kept scraping through the throttle: blocked
    assert refusals[-1].status_code == 403
    assert refusals[-1].headers[DECISION_HEADER] in refusals[-1].text
    lines = guard.decisions()
    assert len(lines) == 90
    assert lines[0]["id"] == decision_id
    assert lines[0]["action"] == "throttle" and lines[0]["enforced"] is True
    assert lines[0]["keys"]["ip"] == "127.0.0.1"
    assert lines[0]["route"] == "profile" and lines[0]["subject"].startswith("username:")
    assert lines[0]["reasons"][0]["detector"] == "profile_quota"
    assert {line["action"] for line in lines[-10:]} == {"block"}


def test_a_person_reading_profiles_with_assets_is_never_refused(
    demo_site: str, make_guard: Callable
) -> None:
    clock = FakeClock()
    guard = make_guard(demo_site, clock=clock)
    # a browser: keeps its cookie
    with httpx.Client(timeout=PATIENT, base_url=guard.url, headers=BROWSER_LIKE) as person:
        statuses = [person.get("/").status_code]
        names = usernames(person, pages=1)
        for name in names[:15]:
            page = person.get(f"/u/{name}")
            statuses.append(page.status_code)
            assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text)
            assert len(assets) >= 3
            statuses += [person.get(a).status_code for a in assets]
            clock.sleep(0.05 + ((len(statuses) * 7919) % 7) / 40)  # reads a moment, never the same
        statuses.append(person.get("/search", params={"q": "a"}).status_code)
    assert set(statuses) == {200}
    assert guard.decisions() == []


def test_allowlisted_network_is_never_refused(demo_site: str, make_guard: Callable) -> None:
    clock = FakeClock()
    guard = make_guard(demo_site, '[allowlist]\ncidrs = ["127.0.0.0/8"]\n', clock=clock)
    with httpx.Client(timeout=PATIENT, base_url=guard.url, headers=BROWSER_LIKE) as client:
        names = usernames(client)
    received, refusals = scrape(guard.url, names, clock)
    assert len(received) == 150 and refusals == []
    assert guard.decisions() == []


def test_observe_mode_refuses_nothing_and_writes_the_same_decisions(
    demo_site: str, make_guard: Callable
) -> None:
    # each guard on a clock of its own from the same instant: the same scrape at the same pace
    enforce_clock, observe_clock = FakeClock(), FakeClock()
    enforce = make_guard(demo_site, name="enforce.jsonl", clock=enforce_clock)
    observe = make_guard(demo_site, 'mode = "observe"\n', name="observe.jsonl", clock=observe_clock)
    # the directory from the site itself: neither guard counts it
    with httpx.Client(timeout=PATIENT, base_url=demo_site) as client:
        names = usernames(client)
    scrape(enforce.url, names, enforce_clock)
    received, refusals = scrape(observe.url, names, observe_clock)
    assert len(received) == 150 and refusals == []

    def essence(lines: list[dict]) -> list[tuple]:
        return [(d["action"], d["subject"], tuple((r["detector"], r["detail"]) for r in d["reasons"]))
                for d in lines]

    enforced, observed = enforce.decisions(), observe.decisions()
    assert len(observed) == 90
    assert essence(observed) == essence(enforced)
    assert all(d["enforced"] is False for d in observed)


def test_logged_in_members_get_the_account_quota_and_account_headers_are_stripped(
    demo_site: str, make_guard: Callable
) -> None:
    clock = FakeClock()
    guard = make_guard(demo_site, clock=clock)
    with httpx.Client(timeout=PATIENT, base_url=guard.url, headers=BROWSER_LIKE) as member:
        names = usernames(member)
        login = member.post("/login", data={"username": names[0], "password": "demo"})
        assert login.status_code == 303
        assert "x-account-id" not in login.headers and "x-account-created" not in login.headers
        statuses = []
        for i, name in enumerate(names[1:101]):
            uneven_pause(clock, i)
            r = member.get(f"/u/{name}")
            statuses.append(r.status_code)
            assert "x-account-id" not in r.headers
        # members-only data reached the logged-in member: the login really took effect
        assert "mailto:" in r.text
    assert statuses == [200] * 100  # beyond the anonymous 60: the account quota (150) applies
    assert guard.decisions() == []


def sign_up(client: httpx.Client, clock: FakeClock) -> None:
    """A new account at the demo site, which stamps it with the wall clock's time. The guard's
    `clock` then catches up with the wall clock once, so that the account is seconds old to the
    guard however slowly the machine got here (an account "created in the future" is no new one)."""
    stamp = str(time.time_ns())[-9:]
    r = client.post("/signup", data={"username": f"new{stamp}", "name": "New Person",
                                     "email": f"new{stamp}@example.org", "password": "long enough",
                                     "country": "GB"})
    assert r.status_code == 303
    clock.sleep(time.time() - clock.time())


def test_a_fresh_account_is_held_to_the_new_account_quota(demo_site: str, make_guard: Callable) -> None:
    # the quota alone (the new_account detector, which stops this sooner, switched off)
    clock = signing_up_clock()
    guard = make_guard(demo_site, "[detectors.new_account]\nenabled = false\n", clock=clock)
    with httpx.Client(timeout=PATIENT, base_url=guard.url, headers=BROWSER_LIKE) as newcomer:
        names = usernames(newcomer)
        sign_up(newcomer, clock)
        got = []
        for i, n in enumerate(names[:60]):
            uneven_pause(clock, i)
            got.append(newcomer.get(f"/u/{n}").status_code)
            newcomer.get("/static/site.css")  # a browser loads the page's stylesheet
    assert got.count(200) == 30
    decision = guard.decisions()[0]
    assert decision["keys"]["account"]
    assert "new account" in decision["reasons"][0]["detail"]


def test_a_fresh_account_enumerating_the_api_is_contained_within_30(
    demo_site: str, make_guard: Callable
) -> None:
    clock = signing_up_clock()
    guard = make_guard(demo_site, clock=clock)
    with httpx.Client(timeout=PATIENT, base_url=guard.url, headers=BROWSER_LIKE) as newcomer:
        sign_up(newcomer, clock)  # (a scripting tool would be challenged at the sign-up form itself)
        newcomer.headers["User-Agent"] = "python-httpx/0.28.1"
        got = []
        for i in range(1, 151):
            uneven_pause(clock, i)
            got.append(newcomer.get(f"/api/v1/members/{i}"))
    # httpx's own user agent (a scripting tool) from a young account: challenged at once; from the
    # eighth id in sequence the sweep (what it does, which no challenge answers) throttles, then blocks
    assert [r.status_code for r in got[:7]] == [403] * 7 and "altcha" in got[0].text
    assert got[7].status_code == 429 and got[-1].status_code == 403
    first = guard.decisions()[0]
    assert first["keys"]["account"] and first["action"] == "challenge"
    assert {reason["detector"] for reason in first["reasons"]} == {"bot_agents"}
    # in a browser's clothes, the sweep itself stops it at the eighth id in sequence
    sweep_clock = signing_up_clock()
    guard_sweep = make_guard(demo_site, name="sweep.jsonl", clock=sweep_clock)
    with httpx.Client(timeout=PATIENT, base_url=guard_sweep.url, headers=BROWSER_LIKE) as newcomer:
        sign_up(newcomer, sweep_clock)
        got = []
        for i in range(1, 151):
            uneven_pause(sweep_clock, i)
            got.append(newcomer.get(f"/api/v1/members/{i}"))
    received = {r.json()["id"] for r in got if r.status_code == 200}
    assert len(received) == 7  # stopped at the eighth id in sequence, well within 30
    assert {r.status_code for r in got[7:]} <= {429, 403} and got[-1].status_code == 403
    first = guard_sweep.decisions()[0]
    assert first["keys"]["account"] and first["action"] == "throttle"
    assert first["reasons"][0]["detector"] == "enumeration"
    # and a new account that does not walk the ids in order is stopped by its age after ten
    scattered_clock = signing_up_clock()
    guard_scattered = make_guard(demo_site, name="scattered.jsonl", clock=scattered_clock)
    with httpx.Client(timeout=PATIENT, base_url=guard_scattered.url, headers=BROWSER_LIKE) as newcomer:
        sign_up(newcomer, scattered_clock)
        got = []
        for i in range(60):
            uneven_pause(scattered_clock, i)
            got.append(newcomer.get(f"/api/v1/members/{(i * 37) % 150 + 1}"))
    assert [r.status_code for r in got].count(200) == 10
    assert guard_scattered.decisions()[0]["reasons"][0]["detector"] == "new_account"


@pytest.mark.parametrize("accept,kind", [("application/json", "application/json"),
                                         ("text/html,application/xhtml+xml", "text/html")])
def test_refusals_for_people_and_api_clients(
    demo_site: str, make_guard: Callable, accept: str, kind: str
) -> None:
    guard = make_guard(demo_site, "[detectors.profile_quota.anonymous]\nper_hour = 2\nper_day = 10\n")
    headers = {**BROWSER_LIKE, "Accept": accept}
    with httpx.Client(timeout=PATIENT, base_url=guard.url, headers=headers) as client:
        client.get("/")  # the site issues the browser its session: the quota counts per session
        for i in (1, 2):
            assert client.get(f"/api/v1/members/{i}").status_code == 200
        refused = client.get("/api/v1/members/3")
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith(kind)
    if kind == "application/json":
        body = refused.json()
        assert body["action"] == "throttle"
        assert body["decision_id"] == refused.headers[DECISION_HEADER]
        assert body["retry_after"] == int(refused.headers["Retry-After"])
        assert "quota" in body["reason"]
    else:
        assert '<html lang="en">' in refused.text and refused.headers[DECISION_HEADER] in refused.text


def test_a_throttled_office_address_does_not_lock_out_its_members_or_the_login(
    demo_site: str, make_guard: Callable
) -> None:
    clock = FakeClock()
    guard = make_guard(demo_site, clock=clock)
    with httpx.Client(timeout=PATIENT, base_url=guard.url, headers=BROWSER_LIKE) as client:
        names = usernames(client)
    # an anonymous colleague on the shared address goes over the quota...
    received, refusals = scrape(guard.url, names[:75], clock)
    assert len(received) == 60 and refusals
    with httpx.Client(timeout=PATIENT, base_url=guard.url) as member:
        # ...the site still works for everyone else on that address, and logging in works
        assert member.get("/jobs").status_code == 200
        assert member.get("/static/site.css").status_code == 200
        assert member.post("/login", data={"username": names[0], "password": "demo"}).status_code == 303
        # a logged-in member answers for their account, not for the shared address
        statuses = []
        for i, n in enumerate(names[100:110]):
            uneven_pause(clock, i)
            statuses.append(member.get(f"/u/{n}").status_code)
        assert statuses == [200] * 10


def test_session_tokens_are_not_written_to_the_decisions_file(demo_site: str, make_guard: Callable) -> None:
    guard = make_guard(demo_site, "[detectors.profile_quota.anonymous]\nper_hour = 2\nper_day = 10\n")
    with httpx.Client(timeout=PATIENT, base_url=guard.url) as browser:
        browser.get("/")
        token = browser.cookies["session"]
        for i in (1, 2, 3):
            browser.get(f"/api/v1/members/{i}")
    text = guard.decisions_path.read_text()
    assert token not in text
    assert guard.decisions()[0]["keys"]["session"].startswith("s-")


def test_contact_lookups_through_the_proxy_have_their_own_small_quota(
    demo_site: str, make_guard: Callable
) -> None:
    clock = FakeClock()
    guard = make_guard(demo_site, clock=clock)
    with httpx.Client(timeout=PATIENT, base_url=guard.url, headers=BROWSER_LIKE) as harvester:
        codes = []
        for i in range(12):  # at an uneven pace: twelve at an even one would be machine-regular timing
            uneven_pause(clock, i)
            codes.append(harvester.get("/lookup", params={"email": f"guess{i}@example.org"}).status_code)
    assert codes[:10] == [404] * 10  # the site answered ten guesses ("no member uses that address")
    assert codes[10:] == [429, 429]
    assert guard.decisions()[0]["reasons"][0]["detector"] == "enumeration"
