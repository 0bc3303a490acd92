"""`scrapeguard decide` behind Debian's real nginx (auth_request), in front of the demo site: a
scraper is refused with the guard's own page and status, a person is not, assets are served
without asking the guard, and what the site answers (sessions, accounts) comes back through
nginx's log lines. Skipped without nginx, except in CI (CI set), where it fails."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from scrapeguard.drill.harness import FakeClock, LoopThread
from scrapeguard.drill.nginx import Nginx, free_port, nginx_binary, nginx_conf
from scrapeguard.events import Event
from scrapeguard.integrations.adapter import build_guard
from scrapeguard.integrations.auth_request import (
    ACTION_HEADER,
    REFERENCE_HEADER,
    STATUS_HEADER,
    DecideServer,
    decide_port,
    parse_log_line,
    start_decide,
)
from scrapeguard.integrations.sessions import STAMP_COOKIE
from scrapeguard.refusals import DECISION_HEADER

CHROME_UA = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Chrome/131.0.0.0 Safari/537.36")
PAGE = {"User-Agent": CHROME_UA, "Accept": "text/html,application/xhtml+xml,*/*;q=0.8",
        "Accept-Language": "en-GB,en;q=0.9", "Accept-Encoding": "gzip, deflate, br",
        "Sec-Fetch-Mode": "navigate", "X-Forwarded-For": "198.51.100.23"}
ASSET = {**PAGE, "Accept": "text/css,*/*;q=0.1", "Sec-Fetch-Mode": "no-cors"}
TOOL = {"User-Agent": "python-requests/2.32.3", "Accept": "*/*", "Accept-Encoding": "gzip, deflate",
        "X-Forwarded-For": "203.0.113.9"}


def nginx_or_skip() -> str:
    """The nginx binary. In CI (CI set) a missing nginx fails the test; elsewhere it skips."""
    binary = nginx_binary()
    if binary is None:
        message = "nginx is not installed (apt-get install nginx-light)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return binary


@dataclass
class Fronted:
    """nginx in front of a site, asking a decide server."""

    nginx: Nginx
    server: DecideServer
    clock: FakeClock
    decisions: Path
    events: list[Event]
    loop: LoopThread
    #: The decide server's own address (what nginx asks).
    decide_url: str

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.nginx.url, timeout=30)

    def logged(self, lines: int) -> None:
        """Wait until the decide server handled `lines` of nginx's log lines."""
        self.loop.run(self.server.logged(lines), timeout=30)

    def written(self) -> dict[str, dict[str, object]]:
        if not self.decisions.exists():
            return {}
        return {d["id"]: d for d in map(json.loads, self.decisions.read_text().splitlines())}


@pytest.fixture
def front(loop_thread: LoopThread, tmp_path: Path) -> Iterator[Callable[..., Fronted]]:
    """Start nginx (with auth_request to a decide server on a state store) in front of the site
    at a URL."""
    binary = nginx_or_skip()
    started: list[tuple[Nginx, web.AppRunner]] = []

    def start(site_url: str, store: str = "memory://") -> Fronted:
        clock = FakeClock()
        decisions = tmp_path / "decisions.jsonl"
        guard = build_guard(None, store, ("127.0.0.1",), decisions)
        events: list[Event] = []
        guard.on_event = events.append
        server = DecideServer(guard, clock=clock.time)
        runner = loop_thread.run(start_decide(server, "127.0.0.1", 0))
        decide = f"127.0.0.1:{decide_port(runner)}"
        port = free_port()
        workdir = tmp_path / "nginx"
        workdir.mkdir()
        site = site_url.removeprefix("http://")
        nginx = Nginx(binary, workdir, nginx_conf(workdir, port, site, decide), port)
        started.append((nginx, runner))
        return Fronted(nginx, server, clock, decisions, events, loop_thread, f"http://{decide}")

    yield start
    for nginx, runner in started:
        nginx.stop()
        loop_thread.run(runner.cleanup())


def test_a_scraper_through_nginx_is_refused_with_the_guards_page(
        demo_site: str, front: Callable[[str], Fronted]) -> None:
    fronted = front(demo_site)
    with fronted.client() as client:
        answers = []
        for member in range(1, 6):
            fronted.clock.sleep(1.0)
            answers.append(client.get(f"/api/v1/members/{member}", headers=TOOL))
    refused = [a for a in answers if a.status_code != 200]
    assert refused, "a python-requests client read five member records through nginx unrefused"
    written = fronted.written()
    for answer in refused:
        # nginx served the guard's own refusal: its status (not nginx's 403 of every refusal),
        # its page, and the reference of the decision the guard wrote
        reference = answer.headers[DECISION_HEADER]
        assert reference.startswith("sg-") and reference in written
        assert answer.status_code in (403, 429)
        assert reference in answer.text
        assert written[reference]["path"].startswith("/api/v1/members/")


@pytest.mark.parametrize("shared", [False, True], ids=["memory", "redis"])
def test_a_person_reads_and_assets_are_served_without_asking_the_guard(
        demo_site: str, front: Callable[..., Fronted], shared: bool, request: pytest.FixtureRequest) -> None:
    # with a shared store the assets' log lines are decided off the event loop (worker threads)
    fronted = front(demo_site, request.getfixturevalue("redis_url") if shared else "memory://")
    pages = ["/", "/directory", "/jobs", "/blog"]
    with fronted.client() as client:
        for number, page in enumerate(pages):
            fronted.clock.sleep(30.0)
            assert client.get(page, headers=PAGE).status_code == 200
            asked = fronted.server.counts["requests"]
            fronted.clock.sleep(0.2)
            assert client.get("/static/site.css", headers=ASSET).status_code == 200
            # the stylesheet did not reach the guard before it was served...
            assert fronted.server.counts["requests"] == asked == number + 1
            fronted.logged(2 * (number + 1))
    # ...but its log line did, after: the guard knows the person loads the pages' assets
    assert fronted.server.counts["unasked"] == len(pages)
    assert [e.path for e in fronted.events] == [p for page in pages for p in (page, "/static/site.css")]
    assert fronted.written() == {}


def test_sessions_are_stamped_and_accounts_learned_through_the_log_lines(
        demo_site: str, front: Callable[[str], Fronted]) -> None:
    fronted = front(demo_site)
    member = httpx.get(f"{demo_site}/api/v1/members/5").json()  # (from the site directly)
    with fronted.client() as client:
        first = client.get("/", headers=PAGE)
        fronted.logged(1)
        assert "session" in client.cookies and STAMP_COOKIE not in client.cookies
        # the site issued a session (its log line said so): the next request is stamped
        second = client.get("/directory", headers=PAGE)
        fronted.logged(2)
        assert STAMP_COOKIE in client.cookies
        login = client.post("/login", data={"username": member["username"], "password": "demo"},
                            headers=PAGE, follow_redirects=False)
        fronted.logged(3)
        # the account headers are the guard's, never the client's
        assert "X-Account-Id" not in login.headers
        after_login = client.get("/jobs", headers=PAGE)
    assert first.status_code == second.status_code == after_login.status_code == 200
    assert login.status_code == 303
    # the first request's session was not yet known as issued; the second was, and after the
    # login the guard knows the session's account from the site's headers
    assert [e.session_issued for e in fronted.events][:2] == [False, True]
    assert fronted.events[-1].account == str(member["id"])
    assert fronted.events[-1].session_issued


def test_the_decide_server_answers_nginx_with_403_and_forward_auth_whole(
        demo_site: str, front: Callable[[str], Fronted]) -> None:
    """nginx passes on only 401/403 from an auth subrequest: the real status and the refusal go
    in headers. Caddy and Traefik copy a refusal back: it is answered whole."""
    fronted = front(demo_site)
    nginx_asks = {**TOOL, "X-Original-Method": "GET", "X-Original-URI": "/api/v1/members/1"}
    caddy_asks = {**TOOL, "X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/api/v1/members/2",
                  "Accept": "application/json"}
    with httpx.Client(base_url=fronted.decide_url, timeout=30) as decide:
        for_nginx = decide.get("/auth", headers=nginx_asks)
        for_caddy = decide.get("/forward-auth", headers=caddy_asks)
        fetched = decide.get(f"/refusal/{for_nginx.headers[REFERENCE_HEADER]}")
        again = decide.get(f"/refusal/{for_nginx.headers[REFERENCE_HEADER]}")
    assert for_nginx.status_code == 403 and for_nginx.content == b""
    assert for_nginx.headers[ACTION_HEADER] in ("block", "challenge", "throttle")
    assert for_nginx.headers[STATUS_HEADER] in ("403", "429")
    # the refusal page is fetched once, with the status the header named
    assert str(fetched.status_code) == for_nginx.headers[STATUS_HEADER]
    assert for_nginx.headers[REFERENCE_HEADER] in fetched.text
    assert fetched.headers[DECISION_HEADER] == for_nginx.headers[REFERENCE_HEADER]
    assert again.status_code == 403 and for_nginx.headers[REFERENCE_HEADER] not in again.text
    assert for_caddy.status_code in (403, 429)
    assert json.loads(for_caddy.text)["decision_id"] == for_caddy.headers[DECISION_HEADER]


def test_a_syslog_line_is_read() -> None:
    line = b'<190>Dec  3 14:00:00 scrapeguard: {"id":"abc","status":"200","uri":"/u/x"}'
    assert parse_log_line(line) == {"id": "abc", "status": "200", "uri": "/u/x"}
    assert parse_log_line(b"<190>Dec  3 14:00:00 scrapeguard: not json") is None


def test_log_lines_count_only_from_a_trusted_proxy(loop_thread: LoopThread) -> None:
    """A forged after-response line could tie a session to any account: lines from an address
    that is not a trusted proxy (nginx) are dropped."""
    import socket

    from scrapeguard.integrations.sessions import session_key

    guard = build_guard(None, "memory://", ("192.0.2.1",))  # nginx elsewhere: not this host
    server = DecideServer(guard, clock=FakeClock().time)
    runner = loop_thread.run(start_decide(server, "127.0.0.1", 0))
    try:
        forged = json.dumps({"id": "x", "decided": "", "status": "200", "method": "GET", "uri": "/",
                             "addr": "127.0.0.1", "ua": CHROME_UA, "set_cookie": "session=stolen; Path=/",
                             "account": "42"})
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.sendto(f"<190>Dec  3 14:00:00 scrapeguard: {forged}".encode(),
                          ("127.0.0.1", decide_port(runner)))

        async def drained() -> None:
            while server.counts["log_untrusted"] + server.counts["log_lines"] == 0:
                server.drain_log()
                await asyncio.sleep(0)  # (the datagram is on the loopback: yield until it is read)

        loop_thread.run(drained(), timeout=30)
    finally:
        loop_thread.run(runner.cleanup())
    assert server.counts["log_untrusted"] == 1 and server.counts["log_lines"] == 0
    assert session_key("stolen") not in server.issued


def test_a_clients_own_forwarded_for_is_not_believed(demo_site: str, front: Callable[..., Fronted]) -> None:
    """nginx adds the client's address to X-Forwarded-For in the subrequest (an auth location
    that sets headers of its own inherits none: it must set it again), so the guard keys the
    client nginx saw, not the address a scraper claims."""
    fronted = front(demo_site)
    transport = httpx.HTTPTransport(local_address="127.0.0.2")  # a client nginx does not trust
    with httpx.Client(base_url=fronted.nginx.url, transport=transport, timeout=30) as client:
        client.get("/", headers={**PAGE, "X-Forwarded-For": "203.0.113.5"})
    assert [e.ip for e in fronted.events] == ["127.0.0.2"]
