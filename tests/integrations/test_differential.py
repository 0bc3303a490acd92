"""Differential tests: the guard keys what the site's framework reads, or refuses (400).

The same raw requests (bytes over a socket, so that repeated headers and odd encodings reach the
servers as written) go through the real proxy to three real apps — Starlette on uvicorn, Flask on
Werkzeug's server, Django on wsgiref — that answer with what *they* read (tests/integrations/apps).
The guard's side is the Event it judged (GuardProxy.on_event). For every request:

- the guard refused it with 400 (and the app never saw it), or
- the app served a member route: the guard keyed the same route kind and member, or
- the app served no member (404, redirect): the guard keyed no member, or one the app refused to
  serve (a stricter count, never a missed one);

and always the same session and the same client address.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import re
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
import uvicorn
from werkzeug.serving import make_server as werkzeug_server

from scrapeguard.events import Event
from scrapeguard.integrations.proxy import GuardProxy, session_key, start_proxy
from scrapeguard.policy import load_policy_text
from scrapeguard.serving import build_proxy

APPS = Path(__file__).parent / "apps"
MEMBER_ROUTES = ("profile", "contact_lookup")


def _load(name: str) -> ModuleType:
    module_name = f"differential_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, APPS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # Django imports its URLconf by name
    spec.loader.exec_module(module)
    return module


# -- the three apps, each on a loopback port ------------------------------------------------

class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def _serve_wsgi(server: Any) -> Iterator[str]:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(30)


@contextlib.contextmanager
def _serve_starlette(loop_thread: Any) -> Iterator[str]:
    config = uvicorn.Config(_load("starlette_app").create_app(), host="127.0.0.1", port=0,
                            log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    setattr(server, "capture_signals", contextlib.nullcontext)  # noqa: B010

    async def start() -> asyncio.Task[None]:
        task = asyncio.create_task(server.serve())
        while not server.started:
            if task.done():
                task.result()
                raise OSError("uvicorn did not start")
            await asyncio.sleep(0.02)
        return task

    task = loop_thread.run(start())
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True

        async def stop() -> None:
            await task

        loop_thread.run(stop())


@contextlib.contextmanager
def _serve(framework: str, loop_thread: Any) -> Iterator[str]:
    if framework == "starlette":
        with _serve_starlette(loop_thread) as url:
            yield url
    elif framework == "flask":
        with _serve_wsgi(werkzeug_server("127.0.0.1", 0, _load("flask_app").create_app(),
                                         threaded=True)) as url:
            yield url
    else:
        with _serve_wsgi(make_server("127.0.0.1", 0, _load("django_app").create_app(),
                                     handler_class=_QuietHandler)) as url:
            yield url


# -- the guard in front of it ---------------------------------------------------------------

@dataclass
class Setup:
    framework: str
    guard_port: int
    proxy: GuardProxy
    events: list[Event]


#: Observe mode: every request reaches the app (none is throttled), and is still judged.
POLICY = 'mode = "observe"\n'


@pytest.fixture(scope="module", params=["starlette", "flask", "django"])
def setup(request: pytest.FixtureRequest, loop_thread: Any, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Setup]:
    framework: str = request.param
    with _serve(framework, loop_thread) as upstream:
        # the test client is the trusted proxy in front of the guard (HAProxy, a load balancer)
        proxy = build_proxy(load_policy_text(POLICY, "differential.toml"), upstream, None,
                            str(tmp_path_factory.mktemp(framework) / "decisions.jsonl"), ("127.0.0.0/8",))
        events: list[Event] = []
        proxy.on_event = events.append
        runner = loop_thread.run(start_proxy(proxy, "127.0.0.1", 0))
        try:
            yield Setup(framework, int(runner.addresses[0][1]), proxy, events)
        finally:
            loop_thread.run(runner.cleanup())
            if proxy.decisions is not None:
                proxy.decisions.close()
            proxy.engine.store.close()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def seen(self) -> dict[str, Any]:
        """What the app read (its JSON), or {} if the answer is not the app's (a redirect)."""
        try:
            value = json.loads(self.body)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


def send(port: int, target: bytes, *headers: tuple[bytes, bytes]) -> Answer:
    """One raw HTTP/1.1 request, headers exactly as given (repeats and all)."""
    lines = [b"GET " + target + b" HTTP/1.1", b"Host: 127.0.0.1",
             *(name + b": " + value for name, value in headers), b"Connection: close", b"", b""]
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(b"\r\n".join(lines))
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        parsed[name.strip().lower()] = value.strip()
    if parsed.get("transfer-encoding", "").lower() == "chunked":
        body = _unchunk(body)
    return Answer(int(status_line.split()[1]), parsed, body)


def _unchunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out, body = out + body[:size], body[size + 2:]
    return out


# -- the requests -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    id: str
    target: bytes
    headers: tuple[tuple[bytes, bytes], ...] = ()
    #: "read": the guard must read it as the app does; "refuse": the guard must answer 400;
    #: "malformed": not HTTP, refused (400) by the proxy's HTTP parser before the guard reads it.
    expect: str = "read"


CASES = [
    Case("plain-profile", b"/u/alice"),
    Case("encoded-letter-in-name", b"/u/%61lice"),
    Case("encoded-letter-in-route", b"/%75/alice"),
    Case("encoded-slash", b"/u%2Falice"),
    Case("encoded-slash-in-name", b"/u/ali%2Fce"),
    Case("double-slash", b"//u/alice", expect="refuse"),
    Case("double-slash-inside", b"/u//alice", expect="refuse"),
    Case("encoded-double-slash", b"/u%2F%2Falice", expect="refuse"),
    Case("upper-case-route", b"/U/alice"),
    Case("upper-case-name", b"/u/Alice"),
    Case("trailing-slash", b"/u/alice/"),
    Case("path-params", b"/u/alice;x=1"),
    Case("space-in-name", b"/u/al%20ice"),
    Case("plus-in-name", b"/u/al+ice"),
    Case("non-ascii-name", b"/u/%C3%A9mile"),
    Case("member-id", b"/api/v1/members/7"),
    Case("member-id-leading-zero", b"/api/v1/members/007"),
    Case("dot-segments", b"/a/../u/alice", expect="refuse"),
    Case("encoded-dot-segments", b"/x/%2e%2e/u/alice", expect="refuse"),
    Case("dot-segment-after-encoded-slash", b"/x%2F..%2Fu/alice", expect="refuse"),
    Case("nul-in-name", b"/u/alice%00", expect="refuse"),
    Case("invalid-utf8", b"/u/%ff", expect="refuse"),
    Case("fragment", b"/u/alice#x", expect="refuse"),
    Case("lookup", b"/lookup?email=victim@example.org"),
    Case("lookup-encoded", b"/lookup?email=Victim%40Example.ORG"),
    Case("lookup-plus-spaces", b"/lookup?email=+victim@example.org+"),
    Case("lookup-double-encoded", b"/lookup?email=victim%2540example.org"),
    Case("lookup-encoded-name", b"/lookup?e%6Dail=victim@example.org"),
    Case("lookup-semicolon", b"/lookup?email=victim@example.org;email=decoy@example.org"),
    Case("lookup-other-params", b"/lookup?a=1&email=victim@example.org&b=2"),
    Case("lookup-empty", b"/lookup?email="),
    Case("lookup-repeated", b"/lookup?email=decoy@example.org&email=victim@example.org", expect="refuse"),
    Case("lookup-repeated-blank-first", b"/lookup?email=&email=victim@example.org", expect="refuse"),
    Case("lookup-repeated-encoded-name", b"/lookup?email=decoy@x.org&%65mail=victim@x.org", expect="refuse"),
    Case("lookup-nul", b"/lookup?email=victim@example.org%00", expect="refuse"),
    Case("cookie", b"/u/alice", ((b"Cookie", b"session=tok-1"),)),
    Case("cookie-two-lines", b"/u/alice", ((b"Cookie", b"x=1"), (b"Cookie", b"session=tok-2"))),
    Case("cookie-two-lines-same-value", b"/u/alice",
         ((b"Cookie", b"session=tok-3"), (b"Cookie", b"session=tok-3; y=2"))),
    Case("cookie-spaces-around", b"/u/alice", ((b"Cookie", b" a=1 ;\tsession = tok-4 ; b=2"),)),
    Case("cookie-twice", b"/u/alice", ((b"Cookie", b"session=decoy; session=tok-5"),), "refuse"),
    Case("cookie-twice-on-two-lines", b"/u/alice",
         ((b"Cookie", b"session=decoy"), (b"Cookie", b"session=tok")), "refuse"),
    Case("cookie-inside-quotes", b"/u/alice", ((b"Cookie", b'a="x; session=decoy"; session=tok-6'),),
         "refuse"),
    Case("cookie-quoted", b"/u/alice", ((b"Cookie", b'session="tok-7"'),), "refuse"),
    Case("cookie-empty-line", b"/u/alice", ((b"Cookie", b""), (b"Cookie", b"session=tok-8"))),
    Case("forwarded-for-two-lines", b"/u/alice",
         ((b"X-Forwarded-For", b"66.249.66.1"), (b"X-Forwarded-For", b"203.0.113.7"))),
    Case("forwarded-for-list-and-line", b"/u/alice",
         ((b"X-Forwarded-For", b"66.249.66.1, 198.51.100.3"), (b"X-Forwarded-For", b"203.0.113.8"))),
    Case("forwarded-for-ipv6", b"/u/alice", ((b"X-Forwarded-For", b"2001:DB8::0:1"),)),
    Case("forwarded-for-scope-id", b"/u/alice", ((b"X-Forwarded-For", b"fe80::1%eth0"),), "refuse"),
    Case("forwarded-for-port", b"/u/alice", ((b"X-Forwarded-For", b"203.0.113.9:4711"),), "refuse"),
    Case("forwarded-for-name", b"/u/alice", ((b"X-Forwarded-For", b"unknown"),), "refuse"),
    # header lines that servers might read as a cookie or an address: aiohttp's parser refuses them
    Case("cookie-space-before-colon", b"/u/alice", ((b"Cookie ", b"session=tok-9"),), "malformed"),
    Case("cookie-folded-line", b"/u/alice", ((b"Cookie", b"a=1\r\n session=tok-10"),), "malformed"),
    Case("cookie-bare-cr", b"/u/alice", ((b"Cookie", b"a=1\rCookie: session=tok-11"),), "malformed"),
    Case("forwarded-for-space-before-colon", b"/u/alice", ((b"X-Forwarded-For ", b"66.249.66.1"),),
         "malformed"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_the_guard_keys_what_the_app_reads_or_refuses(setup: Setup, case: Case) -> None:
    setup.events.clear()
    answer = send(setup.guard_port, case.target, *case.headers)
    if case.expect in ("refuse", "malformed"):
        assert answer.status == 400, answer
        assert not answer.seen()  # not the app's answer
        if case.expect == "refuse":
            assert b"Bad request" in answer.body  # the guard's page
        assert setup.events == []  # refused before it was judged or forwarded
        return
    assert answer.status != 400, answer
    assert len(setup.events) == 1
    event = setup.events[0]
    seen = answer.seen()
    app_route = seen.get("route")
    if app_route in MEMBER_ROUTES and answer.status == 200:
        assert (event.route.kind, event.route.subject) == (app_route, seen["subject"])
    else:
        # the app served no member: the guard counted none, or a member the app would not show
        assert answer.status != 200 or event.route.kind not in MEMBER_ROUTES, (answer, event.route)
    if seen:
        session = seen["session"]
        assert event.session == (session_key(session) if session else None)
        assert event.ip == seen["client"]


def test_every_framework_served_the_member_routes(setup: Setup) -> None:
    """The comparisons above are not vacuous: each app does serve its member routes."""
    for target, subject in ((b"/u/alice", "username:alice"), (b"/u%2Falice", "username:alice"),
                            (b"/%75/alice", "username:alice"), (b"/api/v1/members/7", "id:7"),
                            (b"/lookup?email=Victim%40x.ORG", "email:victim@x.org")):
        answer = send(setup.guard_port, target)
        assert (answer.status, answer.seen().get("subject")) == (200, subject), (setup.framework, target)


def test_refusals_are_counted(setup: Setup) -> None:
    before = dict(setup.proxy.counts)
    send(setup.guard_port, b"/lookup?email=a@x.org&email=b@x.org")
    send(setup.guard_port, b"/u/alice", (b"Cookie", b"session=a; session=b"))
    send(setup.guard_port, b"/a/../u/alice")
    for name in ("ambiguous_subject", "ambiguous_cookie", "ambiguous_path"):
        assert setup.proxy.counts[name] == before.get(name, 0) + 1




# -- the demo site itself ---------------------------------------------------------------------

def test_the_demo_site_shows_a_member_only_when_the_guard_counts_that_member(
    demo_site: str, make_guard: Callable[..., Any]
) -> None:
    """The path cases against the demo site (Starlette on uvicorn, as deployed): whenever it
    answers with a member's profile, the guard counted that member's profile."""
    guard = make_guard(demo_site, POLICY)
    events: list[Event] = []
    guard.proxy.on_event = events.append
    port = int(guard.url.rsplit(":", 1)[1])
    directory = send(port, b"/directory?page=2").body.decode()
    name = re.findall(r'href="/u/([^"]+)"', directory)[0]
    encoded = "".join(f"%{b:02X}" for b in name.encode())
    profiles = 0
    for case in CASES:
        if not (b"alice" in case.target or b"%61lice" in case.target) or case.headers:
            continue
        events.clear()
        target = case.target.replace(b"%61lice", encoded.encode()).replace(b"alice", name.encode())
        answer = send(port, target)
        if case.expect == "refuse":
            assert answer.status == 400 and events == [], case.id
            continue
        shown = re.search(rb'data-member-id="(\d+)"', answer.body)
        if answer.status == 200 and shown:
            profiles += 1
            assert (events[0].route.kind, events[0].route.subject) == ("profile", f"username:{name}"), case.id
    assert profiles >= 4  # plain, %2F, encoded letters in the route, the name all encoded
