"""The demo site against an attacker: forms that must not reveal members, passwords of any text,
sessions that cost nothing per anonymous request and end (issue 12, items 5, 6 and 10)."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from scrapeguard.demo.members import make_member
from scrapeguard.demo.site import (
    MAX_PASSWORD,
    RESET_SENT,
    SESSION_IDLE_SECONDS,
    SESSION_MAX_SECONDS,
    DemoSite,
)

N = 60
SEED = 1


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def _site(demo_logins: bool = True) -> DemoSite:
    return DemoSite(members=N, seed=SEED, demo_logins=demo_logins)


def _client(site: DemoSite) -> TestClient:
    return TestClient(site.app, follow_redirects=False)


def _signup(client: TestClient, username: str, email: str) -> object:
    return client.post("/signup", data={"username": username, "name": "Someone", "email": email,
                                        "password": "long enough", "country": "GB"})


def _shape(response: object) -> tuple[int, str, str]:
    """What an attacker compares: status, where it leads (the username aside), the page."""
    r = response  # (an httpx.Response)
    location = re.sub(r"/u/[^/]+$", "/u/NAME", r.headers.get("location", ""))  # type: ignore[attr-defined]
    return r.status_code, location, r.text  # type: ignore[attr-defined]


# -- forms that reveal members (item 5) ------------------------------------------------------


def test_signup_answers_alike_for_a_registered_address_and_a_new_one() -> None:
    site = _site()
    owner = make_member(SEED, 3)
    with _client(site) as a, _client(site) as b:
        registered = _signup(a, "prober.one", owner.email)
        new = _signup(b, "prober.two", "nobody-has-this@example.org")
    assert _shape(registered) == _shape(new)
    assert registered.status_code == 303  # type: ignore[attr-defined]
    # the registered address stays its owner's, and the owner is told; the new one gets a link
    assert site.data.by_email[owner.email.lower()].id == owner.id
    to_owner, to_new = list(site.data.outbox)[-2:]
    assert to_owner.to == owner.email and not to_owner.link
    assert to_new.to == "nobody-has-this@example.org" and to_new.link.startswith("/confirm?")
    with _client(site) as c:  # a confirmation link cannot take an address that has an owner
        site.data.confirmations["stale"] = (N + 1, owner.email.lower())
        assert c.get("/confirm?token=stale").status_code == 400
        assert site.data.by_email[owner.email.lower()].id == owner.id


def test_password_reset_answers_alike_whatever_the_address() -> None:
    site = _site()
    owner = make_member(SEED, 4)
    with _client(site) as c:
        page = c.get("/reset")
        assert page.status_code == 200 and 'action="/reset"' in page.text
        answers = [c.post("/reset", data={"email": e})
                   for e in (owner.email, "nobody-has-this@example.org", "", "not an address")]
        assert {(r.status_code, r.headers["location"]) for r in answers} == {(303, "/reset?sent=1")}
        assert RESET_SENT in c.get("/reset?sent=1").text
    assert [m.to for m in site.data.outbox] == [owner.email]  # only the owner gets a link


# -- failed logins are signalled (item 6) -----------------------------------------------------


def test_a_failed_login_says_so_by_status_and_header() -> None:
    site = _site()
    with _client(site) as c:
        failed = c.post("/login", data={"username": make_member(SEED, 5).username, "password": "nope"})
        assert failed.status_code == 401 and failed.headers["x-login-failed"] == "1"
        unknown = c.post("/login", data={"username": "no.such.member", "password": "nope"})
        assert unknown.status_code == 401 and unknown.headers["x-login-failed"] == "1"
        ok = c.post("/login", data={"username": make_member(SEED, 5).username, "password": "demo"})
        assert ok.status_code == 303 and "x-login-failed" not in ok.headers


# -- passwords of any text (item 10) -----------------------------------------------------------


def test_non_ascii_passwords_fail_or_work_never_crash() -> None:
    site = _site(demo_logins=True)
    name = make_member(SEED, 6).username
    with _client(site) as c:
        for password in ("pässwörd", "密码密码密码密码", "🙂" * 10):
            r = c.post("/login", data={"username": name, "password": password})
            assert r.status_code == 401, password
        raw = c.post("/login", content=f"username={name}&password=%FF%FE%ED%A0%80".encode(),
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert raw.status_code == 401  # not UTF-8 at all
        too_long = {"username": name, "password": "x" * (MAX_PASSWORD + 1)}
        assert c.post("/login", data=too_long).status_code == 401
    with _client(site) as c:
        joined = c.post("/signup", data={"username": "unicode.pw", "email": "u@example.org",
                                         "password": "pässwörd-密码", "country": "GB"})
        assert joined.status_code == 303
        c.post("/logout")
        again = c.post("/login", data={"username": "unicode.pw", "password": "pässwörd-密码"})
        assert again.status_code == 303
        too_long = c.post("/signup", data={"username": "long.pw", "email": "l@example.org",
                                           "password": "x" * (MAX_PASSWORD + 1), "country": "GB"})
        assert too_long.status_code == 400


# -- sessions (item 10) --------------------------------------------------------------------------


def test_cookie_less_requests_keep_nothing_on_the_site() -> None:
    site = _site()
    with _client(site) as c:
        tokens = set()
        for _ in range(2000):
            c.cookies.clear()
            r = c.get("/jobs")
            tokens.add(r.cookies.get("session"))
        assert len(tokens) == 2000 and None not in tokens  # every visitor still gets a session token
        assert len(site.data.sessions) == 0
        # the site knows its own anonymous tokens (no new one for a returning visitor)...
        c.cookies.set("session", next(iter(tokens)))
        assert "set-cookie" not in c.get("/jobs").headers
        # ...and not made-up ones
        c.cookies.set("session", "made.up")
        assert c.get("/jobs").cookies.get("session") not in (None, "made.up")


def test_logged_in_sessions_expire_when_idle_and_after_their_lifetime() -> None:
    site = _site()
    clock = Clock()
    site.data.clock = clock
    name = make_member(SEED, 7).username
    with _client(site) as c:
        assert c.post("/login", data={"username": name, "password": "demo"}).status_code == 303
        assert c.get("/").headers.get("x-account-id") == "7"
        clock.now += SESSION_IDLE_SECONDS + 1
        idle = c.get("/")
        assert "x-account-id" not in idle.headers and len(site.data.sessions) == 0
    with _client(site) as c:
        assert c.post("/login", data={"username": name, "password": "demo"}).status_code == 303
        while clock.now - site.data.sessions[c.cookies["session"]].created < SESSION_MAX_SECONDS:
            clock.now += SESSION_IDLE_SECONDS / 2  # in use all along
            assert c.get("/").headers.get("x-account-id") == "7"
        clock.now += SESSION_IDLE_SECONDS / 2
        assert "x-account-id" not in c.get("/").headers


def test_the_session_table_is_bounded() -> None:
    site = _site()
    site.data.max_sessions = 5
    clients = [_client(site) for _ in range(8)]
    for k, c in enumerate(clients, start=1):
        assert c.post("/login", data={"username": make_member(SEED, k).username,
                                      "password": "demo"}).status_code == 303
    assert len(site.data.sessions) == 5
    # the least recently used went first; the latest are still logged in
    assert "x-account-id" not in clients[0].get("/").headers
    assert clients[-1].get("/").headers.get("x-account-id") == "8"
    for c in clients:
        c.close()
