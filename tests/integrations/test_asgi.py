"""The ASGI middleware in a real Starlette app (the example), through Starlette's TestClient."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket

from scrapeguard.challenge.service import RESERVED_PREFIX, SUBMIT_PATH
from scrapeguard.drill.harness import FakeClock
from scrapeguard.events import Event
from scrapeguard.integrations.asgi import ScrapeGuardMiddleware
from scrapeguard.integrations.sessions import STAMP_COOKIE, session_key

BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
           "Accept": "text/html,application/xhtml+xml", "Accept-Language": "en", "Accept-Encoding": "gzip"}
PEER = ("127.0.0.1", 50000)


@pytest.fixture
def site(example: Callable[[str], ModuleType]) -> Iterator[tuple[Any, TestClient, list[Event]]]:
    """The example site, guarded, its events collected."""
    app = example("starlette_app").create_app(clock=FakeClock().time)
    events: list[Event] = []
    app.guard.on_event = events.append
    with TestClient(app, client=PEER, headers=BROWSER) as client:
        yield app, client, events


def test_the_app_s_account_resolver_tells_the_guard_who_is_logged_in(site: Any) -> None:
    _, client, events = site
    assert client.get("/u/member8").status_code == 200
    assert events[-1].account is None
    login = client.post("/login", data={"username": "member3", "password": "x"}, follow_redirects=False)
    assert login.status_code == 303
    # the guard read the login form's subject, and the app still read the form
    assert events[-1].route.kind == "login" and events[-1].route.subject == "username:member3"
    assert client.get("/u/member8").status_code == 200
    assert events[-1].account == "3"
    assert events[-1].account_created is not None


def account_headers_app() -> Starlette:
    """An app that names the account in response headers instead (as behind the proxy)."""
    async def login(request: Any) -> Response:
        response = PlainTextResponse("welcome", headers={"X-Account-Id": "m-9",
                                                         "X-Account-Created": "2025-01-02T03:04:05+00:00"})
        response.set_cookie("session", "tok-9")
        return response

    async def page(request: Any) -> Response:
        return PlainTextResponse("a page")

    return Starlette(routes=[Route("/login", login, methods=["POST"]), Route("/{rest:path}", page)])


def test_account_headers_are_learned_and_stripped_and_issued_sessions_stamped() -> None:
    app = ScrapeGuardMiddleware(account_headers_app(), clock=FakeClock().time)
    events: list[Event] = []
    app.guard.on_event = events.append
    with TestClient(app, client=PEER, headers=BROWSER) as client:
        login = client.post("/login", data={"username": "m"})
        assert "x-account-id" not in login.headers and "x-account-created" not in login.headers
        assert login.cookies.get("session") == "tok-9"
        assert login.cookies.get(STAMP_COOKIE)
        client.get("/anything")
    assert events[-1].session == session_key("tok-9")
    assert events[-1].session_issued
    assert events[-1].account == "m-9"


def test_a_scraping_tool_is_challenged_and_the_challenge_is_served_by_the_middleware(site: Any) -> None:
    _, client, _ = site
    tool = {"User-Agent": "python-requests/2.32.3", "Accept": "*/*"}
    refused = client.get("/api/v1/members/1", headers=tool)
    assert refused.status_code == 403
    assert refused.headers["X-ScrapeGuard-Decision"].startswith("sg-")
    script = client.get(RESERVED_PREFIX + "altcha.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert client.get(SUBMIT_PATH).status_code == 405
    wrong = client.post(SUBMIT_PATH, data={"altcha": "not-a-proof", "next": "/api/v1/members/1"},
                        headers=tool)
    assert wrong.status_code == 403 and "did not succeed" in wrong.text
    assert client.post(SUBMIT_PATH, content=b"{}", headers={**tool, "Content-Type": "application/json"}) \
        .status_code == 400


def test_an_ambiguous_address_is_refused_before_the_app_reads_it(site: Any) -> None:
    _, client, _ = site
    assert client.get("/u/%2E%2E/api/v1/members/1").status_code == 400


def test_websockets_and_lifespan_pass_through() -> None:
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(await websocket.receive_text())
        await websocket.close()

    app = ScrapeGuardMiddleware(Starlette(routes=[WebSocketRoute("/ws", echo)]))
    with TestClient(app, client=PEER) as client, client.websocket_connect("/ws") as ws:
        ws.send_text("hello")
        assert ws.receive_text() == "hello"


def test_with_a_shared_store_the_store_calls_stay_off_the_event_loop(
        example: Callable[[str], ModuleType], redis_url: str) -> None:
    app = example("starlette_app").create_app(store=redis_url, clock=FakeClock().time)
    threads: list[str] = []
    app.guard.on_event = lambda event: threads.append(threading.current_thread().name)
    with TestClient(app, client=PEER, headers=BROWSER) as client:
        for member in (4, 90, 17):
            assert client.get(f"/u/member{member}").status_code == 200
    assert len(threads) == 3
    assert all(name.startswith("guard-store") for name in threads)
    app.guard.close()
    app.guard.engine.store.close()


def test_starlette_builds_it_with_add_middleware() -> None:
    async def page(request: Any) -> Response:
        return PlainTextResponse("a page")

    app = Starlette(routes=[Route("/u/{name}", page)])
    app.add_middleware(ScrapeGuardMiddleware, trusted_proxies=["127.0.0.1"])
    with TestClient(app, client=PEER) as client:
        assert client.get("/u/alice", headers=BROWSER).status_code == 200
        refused = client.get("/u/bob", headers={"User-Agent": "curl/8.5.0", "X-Forwarded-For": "203.0.113.5"})
        assert refused.status_code == 403 and "X-ScrapeGuard-Decision" in refused.headers


def test_an_async_account_resolver_is_awaited() -> None:
    async def page(request: Any) -> Response:
        return PlainTextResponse("a page")

    async def resolver(scope: Any) -> tuple[str, float] | None:
        token = dict(scope["headers"]).get(b"authorization", b"").decode()
        return ("m-5", 1_700_000_000.0) if token == "Bearer m-5" else None

    app = ScrapeGuardMiddleware(Starlette(routes=[Route("/u/{name}", page)]), account=resolver)
    events: list[Event] = []
    app.guard.on_event = events.append
    with TestClient(app, client=PEER, headers=BROWSER) as client:
        client.get("/u/alice", headers={"Authorization": "Bearer m-5"})
        client.get("/u/alice")
    assert [(e.account, e.account_created) for e in events] == [("m-5", 1_700_000_000.0), (None, None)]
