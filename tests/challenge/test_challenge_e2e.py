"""Challenges end to end: the real proxy in front of the demo site, a scraper that solves the
proof-of-work itself, replays, copied clearances, and solving one's way into a block."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from scrapeguard.refusals import DECISION_HEADER

SUBMIT = "/.well-known/scrapeguard/challenge"
JSON = {"Accept": "application/json"}
# A declared scripting tool asking for member data is challenged; easy puzzles so the test is quick.
POLICY = """
[challenge]
difficulty = 3000
difficulty_max = 6000
clearance_requests = 3
max_solves = 3
"""


def solve(challenge: dict[str, Any]) -> str:
    """A real solver, written from the ALTCHA format: find n with sha256(salt + n) == challenge."""
    salt, target = challenge["salt"], challenge["challenge"]
    for n in range(int(challenge["maxnumber"]) + 1):
        if hashlib.sha256(f"{salt}{n}".encode()).hexdigest() == target:
            payload = {"algorithm": challenge["algorithm"], "challenge": target, "number": n,
                       "salt": salt, "signature": challenge["signature"]}
            return base64.b64encode(json.dumps(payload).encode()).decode()
    raise AssertionError("no solution within maxnumber")


def client(base: str, ip: str, agent: str = "python-requests/2.32.3") -> httpx.Client:
    """A client that keeps its cookies and lands on the home page first, so that the site has
    issued it a session (anonymous quotas then count per browser session)."""
    c = httpx.Client(base_url=base, headers={"X-Forwarded-For": ip, "User-Agent": agent, **JSON})
    c.get("/")
    return c


def names_from(demo_site: str) -> list[str]:
    html = httpx.get(f"{demo_site}/directory?page=1").text
    return list(dict.fromkeys(re.findall(r'href="/u/([^"]+)"', html)))


def test_scraper_is_challenged_solves_and_ends_blocked(demo_site: str, make_guard: Callable) -> None:
    guard = make_guard(demo_site, POLICY, trusted=("127.0.0.1",))
    names = iter(names_from(demo_site))
    scraper = client(guard.url, "198.51.100.7")

    # a scripting tool asking for a member page: challenged at once, with a machine-readable challenge
    target = next(names)
    r = scraper.get(f"/u/{target}")
    assert r.status_code == 403
    body = r.json()
    assert body["action"] == "challenge" and body["decision_id"] == r.headers[DECISION_HEADER]
    assert "scraping tool (python-requests)" in body["reason"] and body["retry_after"] > 0
    challenge = body["challenge"]
    assert challenge["provider"] == "pow" and challenge["submit"] == SUBMIT
    assert challenge["next"] == f"/u/{target}"
    assert 3000 <= challenge["pow"]["maxnumber"] <= 6000  # raised with risk within the policy's range
    payload = solve(challenge["pow"])

    # a real solution passes: a clearance cookie, and the page it asked for
    cleared = scraper.post(SUBMIT, data={"altcha": payload, "next": challenge["next"]})
    assert cleared.status_code == 200 and cleared.json()["cleared"] is True
    cookie = cleared.cookies["scrapeguard_clearance"]
    set_cookie = cleared.headers["Set-Cookie"].lower()
    assert "httponly" in set_cookie and "samesite=lax" in set_cookie and "max-age=1800" in set_cookie
    page = scraper.get(f"/u/{target}", headers={"Accept": "text/html"})
    assert page.status_code == 200 and 'data-member-id="' in page.text

    # the same solution again (from anywhere) is refused and clears nothing
    replay = client(guard.url, "198.51.100.7").post(SUBMIT, data={"altcha": payload, "next": "/"})
    assert replay.status_code == 403 and "scrapeguard_clearance" not in replay.cookies
    assert "already used" in replay.json()["error"]
    assert replay.json()["challenge"]["pow"]["salt"] != challenge["pow"]["salt"]  # a fresh one

    # the clearance copied to another network, or to another browser, is worthless
    other = client(guard.url, "203.0.113.9")
    other.cookies.set("scrapeguard_clearance", cookie)
    moved = other.get(f"/u/{next(names)}")
    assert moved.status_code == 403 and moved.json()["action"] == "challenge"
    # same network (/24), another tool
    other_agent = client(guard.url, "198.51.100.8", agent="python-httpx/0.28")
    other_agent.cookies.set("scrapeguard_clearance", cookie)
    copied = other_agent.get(f"/u/{next(names)}")
    assert copied.status_code == 403 and copied.json()["action"] == "challenge"
    assert guard.proxy.counts["clearance_invalid"] == 2

    # detectors keep scoring the cleared client: its clearance covers 3 member-data requests
    # (one used above), then it is challenged again; it solves (its 3rd solve, counting the
    # replay) and scrapes on...
    statuses = [scraper.get(f"/u/{next(names)}").status_code for _ in range(2)]
    assert statuses == [200, 200]
    again = scraper.get(f"/u/{next(names)}")
    assert again.status_code == 403 and again.json()["action"] == "challenge"
    second = scraper.post(SUBMIT, data={"altcha": solve(again.json()["challenge"]["pow"]), "next": "/"})
    assert second.status_code == 200
    for _ in range(3):
        assert scraper.get(f"/u/{next(names)}").status_code == 200
    third = scraper.get(f"/u/{next(names)}").json()
    # ... and solving a 4th challenge within the hour blocks it
    blocked = scraper.post(SUBMIT, data={"altcha": solve(third["challenge"]["pow"]), "next": "/"})
    assert blocked.status_code == 403
    assert blocked.json()["action"] == "block" and "solved more than 3 challenges" in blocked.json()["reason"]
    assert "scrapeguard_clearance" not in blocked.cookies
    after = scraper.get(f"/u/{next(names)}")
    assert after.status_code == 403 and after.json()["action"] == "block"
    assert int(after.headers["Retry-After"]) > 3000

    actions = [line["action"] for line in guard.decisions()]
    assert actions.count("challenge") >= 5 and actions[-2:] == ["block", "block"]
    block = next(line for line in guard.decisions() if line["action"] == "block")
    assert block["reasons"][0]["detector"] == "challenge" and block["keys"]["ip"] == "198.51.100.7"


def test_two_instances_on_redis_share_clearances_and_spent_proofs(
    demo_site: str, make_guard: Callable, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCRAPEGUARD_SECRET_KEY", "shared-test-key-0123456789")
    a = make_guard(demo_site, POLICY, trusted=("127.0.0.1",), name="a.jsonl", store=redis_url)
    b = make_guard(demo_site, POLICY, trusted=("127.0.0.1",), name="b.jsonl", store=redis_url)
    names = iter(names_from(demo_site))
    on_a, on_b = client(a.url, "198.51.100.7"), client(b.url, "198.51.100.7")
    # one browser, alternating instances: B's client forgets the session B gave it (a jar sending
    # two different session cookies is refused as ambiguous, docs/security.md)
    on_b.cookies.clear()
    for name in ("session", "scrapeguard_session"):
        on_b.cookies.set(name, on_a.cookies[name])
    challenged = on_b.get(f"/u/{next(names)}").json()  # a scripting tool: challenged
    payload = solve(challenged["challenge"]["pow"])
    cleared = on_a.post(SUBMIT, data={"altcha": payload, "next": "/"})  # issued by B, solved at A
    assert cleared.status_code == 200
    on_b.cookies.set("scrapeguard_clearance", cleared.cookies["scrapeguard_clearance"])
    assert on_b.get(f"/u/{next(names)}").status_code == 200  # A's clearance is good at B
    replay = on_b.post(SUBMIT, data={"altcha": payload, "next": "/"})
    assert replay.status_code == 403 and "already used" in replay.json()["error"]
