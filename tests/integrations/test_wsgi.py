"""The WSGI middleware in a real Flask app (the example), through Werkzeug's test client."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any

import pytest
from flask import Flask
from werkzeug.test import Client

from scrapeguard.challenge.service import RESERVED_PREFIX, SUBMIT_PATH
from scrapeguard.drill.harness import FakeClock
from scrapeguard.events import Event
from scrapeguard.integrations.sessions import STAMP_COOKIE, session_key
from scrapeguard.integrations.wsgi import ScrapeGuardWSGI, wsgi_view

BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
           "Accept": "text/html,application/xhtml+xml", "Accept-Language": "en", "Accept-Encoding": "gzip"}
TOOL = {"User-Agent": "python-requests/2.32.3", "Accept": "*/*"}


@pytest.fixture
def site(example: Callable[[str], ModuleType]) -> tuple[Flask, list[Event]]:
    app = example("flask_app").create_app(clock=FakeClock().time)
    events: list[Event] = []
    app.wsgi_app.guard.on_event = events.append
    return app, events


def test_the_app_s_account_resolver_tells_the_guard_who_is_logged_in(site: Any) -> None:
    app, events = site
    client = app.test_client()
    assert client.get("/u/member8", headers=BROWSER).status_code == 200
    assert events[-1].account is None
    login = client.post("/login", data={"username": "member3", "password": "x"}, headers=BROWSER)
    assert login.status_code == 303
    # the guard read the login form's subject, and Flask still read the form it had read
    assert events[-1].route.kind == "login" and events[-1].route.subject == "username:member3"
    assert client.get("/u/member8", headers=BROWSER).status_code == 200
    assert events[-1].account == "3"


def account_headers_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """A bare WSGI app that names the account in response headers (as behind the proxy)."""
    headers = [("Content-Type", "text/plain")]
    if environ["PATH_INFO"] == "/login":
        headers += [("Set-Cookie", "session=tok-9; Path=/"), ("X-Account-Id", "m-9"),
                    ("X-Account-Created", "2025-01-02T03:04:05+00:00")]
    start_response("200 OK", headers)
    return [b"ok"]


def test_account_headers_are_learned_and_stripped_and_issued_sessions_stamped() -> None:
    app = ScrapeGuardWSGI(account_headers_app, clock=FakeClock().time)
    events: list[Event] = []
    app.guard.on_event = events.append
    client = Client(app)
    login = client.post("/login", headers=BROWSER)
    assert "X-Account-Id" not in login.headers and "X-Account-Created" not in login.headers
    set_cookies = login.headers.getlist("Set-Cookie")
    assert [c.split("=")[0] for c in set_cookies] == ["session", STAMP_COOKIE]
    client.get("/anything", headers=BROWSER)
    assert events[-1].session == session_key("tok-9")
    assert events[-1].session_issued
    assert events[-1].account == "m-9"


def test_a_scraping_tool_is_challenged_and_the_challenge_is_served_by_the_middleware(site: Any) -> None:
    app, _ = site
    client = app.test_client()
    refused = client.get("/api/v1/members/1", headers=TOOL)
    assert refused.status_code == 403
    assert refused.headers["X-ScrapeGuard-Decision"].startswith("sg-")
    script = client.get(RESERVED_PREFIX + "altcha.js")
    assert script.status_code == 200 and script.headers["Content-Type"].startswith("text/javascript")
    assert client.get(SUBMIT_PATH).status_code == 405
    answer = {"altcha": "not-a-proof", "next": "/api/v1/members/1"}
    wrong = client.post(SUBMIT_PATH, data=answer, headers=TOOL)
    assert wrong.status_code == 403 and b"did not succeed" in wrong.data
    # a HEAD refusal has the refusal's headers and no body
    head = client.head("/api/v1/members/2", headers=TOOL)
    assert head.status_code == 403 and head.data == b""


def test_an_ambiguous_address_is_refused_before_the_app_reads_it(site: Any) -> None:
    app, _ = site
    assert app.test_client().get("/u/%2E%2E/api/v1/members/1", headers=BROWSER).status_code == 400


def test_the_request_target_is_read_raw_when_the_server_gives_it_and_rebuilt_when_not() -> None:
    raw = wsgi_view({"REQUEST_METHOD": "GET", "RAW_URI": "/u/caf%C3%A9?x=%41", "PATH_INFO": "/u/cafÃ©",
                     "REMOTE_ADDR": "192.0.2.1", "HTTP_X_FORWARDED_FOR": "203.0.113.5"})
    assert (raw.target, raw.peer_ip, raw.headers["X-Forwarded-For"]) == \
        ("/u/caf%C3%A9?x=%41", "192.0.2.1", "203.0.113.5")
    # PEP 3333: PATH_INFO holds the path's bytes decoded as latin-1
    rebuilt = wsgi_view({"REQUEST_METHOD": "GET", "PATH_INFO": "/u/cafÃ©", "QUERY_STRING": "x=%41",
                         "CONTENT_TYPE": "text/plain", "CONTENT_LENGTH": "2"})
    assert rebuilt.target == "/u/caf%C3%A9?x=%41"
    assert rebuilt.headers["Content-Type"] == "text/plain" and rebuilt.headers["Content-Length"] == "2"


def test_an_unreachable_store_that_fails_closed_answers_503_and_the_app_is_not_called() -> None:
    called = []

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        called.append(environ["PATH_INFO"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    guarded = ScrapeGuardWSGI(app, store="redis://127.0.0.1:1/0?fail=closed&timeout_ms=200")
    answer = Client(guarded).get("/u/member1", headers=BROWSER, environ_base={"REMOTE_ADDR": "192.0.2.1"})
    assert answer.status_code == 503 and int(answer.headers["Retry-After"]) >= 1
    assert called == []
    assert guarded.guard.counts["store_unavailable"] == 1


def test_in_observe_mode_a_scraping_tool_is_written_down_and_served(tmp_path: Any) -> None:
    policy = tmp_path / "observe.toml"
    policy.write_text('mode = "observe"\n')
    decisions = tmp_path / "decisions.jsonl"
    guarded = ScrapeGuardWSGI(account_headers_app, policy=str(policy), decisions_out=str(decisions))
    answer = Client(guarded).get("/api/v1/members/1", headers=TOOL, environ_base={"REMOTE_ADDR": "192.0.2.1"})
    assert answer.status_code == 200
    assert '"enforced":false' in decisions.read_text()
