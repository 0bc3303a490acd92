"""The guard as an authorization server for a front proxy: nginx `auth_request`, Caddy
`forward_auth`, Traefik ForwardAuth (`scrapeguard decide --listen HOST:PORT`).

The front proxy asks before it serves a request; the site never sees the guard. Paths:

- `/auth` (nginx): the original request comes in headers (X-Original-Method, X-Original-URI, the
  client's own headers, X-Forwarded-For, X-Request-Id). 204 lets it through (with the guard's
  session stamp in Set-Cookie, for `auth_request_set` + `add_header`); a refusal answers 403,
  the only refusal status nginx passes on, with the refusal in headers (X-ScrapeGuard-Action,
  -Reference, -Status, Retry-After, RateLimit). nginx's `error_page 403 = @scrapeguard` then
  fetches `/refusal/<reference>`: the page (or JSON, or challenge) with its real status, once.
- `/forward-auth` (Caddy, Traefik): the same decision, the original request in X-Forwarded-Method
  and X-Forwarded-Uri; a refusal is answered whole (status, headers, page), which both copy back.
- `/.well-known/scrapeguard/...` (proxied by the front proxy as is): the challenge's assets and
  the endpoint that checks its answers, and the status page (to direct local calls only).

After the response: account headers, the status (404 probing, failed logins) and the sessions the
site issues are only known once the site answered, after the subrequest. nginx reports them in an
access log line sent over syslog (UDP) to the same HOST:PORT (`access_log syslog:server=...`,
LOG_FORMAT in docs/integrations.md). A line of a request the guard let through carries its
X-Request-Id, matched with the event kept since the decision; a line of a request served without
a subrequest (a stylesheet) is recorded as the proxy records it. A session the site issued is
stamped on the next request that presents it (the 204's Set-Cookie).
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from scrapeguard.challenge.service import RESERVED_PREFIX
from scrapeguard.decisions import new_decision_id
from scrapeguard.events import Event
from scrapeguard.integrations.adapter import (
    SUBMIT_LIMIT,
    GuardAdapter,
    RequestReading,
    RequestView,
    ResponseParts,
    error_page,
    unavailable_page,
)
from scrapeguard.integrations.client_ip import ForwardedHeaderError
from scrapeguard.integrations.reading import cookie_line, read_cookies
from scrapeguard.integrations.sessions import STAMP_COOKIE, session_key, without_cookie
from scrapeguard.refusals import DECISION_HEADER
from scrapeguard.routes import AmbiguousRequest
from scrapeguard.stores import StoreUnavailable

log = logging.getLogger(__name__)

#: nginx's auth_request subrequest (refusals as 403 + headers).
AUTH_PATH = "/auth"
#: Caddy's forward_auth and Traefik's ForwardAuth (refusals answered whole).
FORWARD_AUTH_PATH = "/forward-auth"
#: Where nginx's error_page fetches a refusal by its reference.
REFUSAL_PREFIX = "/refusal/"
#: Headers of a refusal the front proxy may pass on or map to its own pages.
ACTION_HEADER = "X-ScrapeGuard-Action"
STATUS_HEADER = "X-ScrapeGuard-Status"
#: The refusal's decision id (sg-...): what nginx fetches the page by.
REFERENCE_HEADER = "X-ScrapeGuard-Reference"
REFUSAL_HEADERS = ("Retry-After", "RateLimit", "RateLimit-Policy")
#: Requests let through whose after-response log line is awaited, at most this many (oldest
#: forgotten first), and refusals awaiting nginx's fetch, at most this many.
PENDING_LIMIT = 50_000
REFUSALS_LIMIT = 10_000
#: Sessions the site issued, awaiting their stamp on the next request that presents them.
ISSUED_LIMIT = 50_000
#: The largest log line read (nginx's syslog lines are at most a few KiB).
LOG_LINE_LIMIT = 65_535


class Bounded(OrderedDict[str, object]):
    """A dict that forgets its oldest entries past `limit`."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def put(self, key: str, value: object) -> None:
        self[key] = value
        if len(self) > self.limit:
            self.popitem(last=False)


@dataclass(frozen=True, slots=True)
class Pending:
    """A request let through, until nginx reports how the site answered it."""

    event: Event
    now: float


def original_view(request: web.Request, peer_ip: str) -> RequestView | None:
    """The request the front proxy asks about, from the headers it set (None if it set none)."""
    headers = request.headers
    method = headers.get("X-Original-Method") or headers.get("X-Forwarded-Method")
    target = headers.get("X-Original-URI") or headers.get("X-Forwarded-Uri")
    if not method or not target:
        return None
    scheme = headers.get("X-Original-Proto") or headers.get("X-Forwarded-Proto") or "http"
    return RequestView(method.upper(), target, headers, peer_ip, scheme)


def parse_log_line(datagram: bytes) -> dict[str, str] | None:
    """The JSON object of one nginx syslog line (`<190>Dec  3 14:00:00 tag: {...}`); None if it
    holds none."""
    text = datagram.decode("utf-8", "replace")
    start = text.find("{")
    if start < 0:
        return None
    try:
        line = json.loads(text[start:])
    except ValueError:
        return None
    if not isinstance(line, dict):
        return None
    return {str(k): str(v) for k, v in line.items()}


class DecideServer:
    """The authorization endpoints around one GuardAdapter (see the module docstring)."""

    def __init__(self, guard: GuardAdapter, clock: Callable[[], float] = time.time) -> None:
        self.guard = guard
        self.counts = guard.counts
        #: The time of each request's event; tests inject a fake clock.
        self.clock = clock
        self.pending: Bounded = Bounded(PENDING_LIMIT)
        self.refusals: Bounded = Bounded(REFUSALS_LIMIT)
        self.issued: Bounded = Bounded(ISSUED_LIMIT)
        self._log_socket: socket.socket | None = None
        self._logged = asyncio.Event()
        #: Log lines being decided off the event loop (a shared store).
        self._later: set[asyncio.Task[None]] = set()

    # -- the app -----------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(handler_args={"max_line_size": 8190, "max_field_size": 8190},
                              client_max_size=SUBMIT_LIMIT)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        app.on_cleanup.append(self._stop)
        return app

    async def _stop(self, app: web.Application) -> None:
        if self._log_socket is not None:
            asyncio.get_running_loop().remove_reader(self._log_socket.fileno())
            self._log_socket.close()
            self._log_socket = None
        await asyncio.get_running_loop().run_in_executor(None, self.guard.close)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.drain_log()  # what nginx logged before this request: known before it is decided
        peer = request.transport.get_extra_info("peername") if request.transport else None
        peer_ip = peer[0] if peer else ""
        path = request.path
        if path in (AUTH_PATH, FORWARD_AUTH_PATH):
            view = original_view(request, peer_ip)
            if view is None:
                return _response(error_page(400, "Bad request",
                                            "X-Original-Method and X-Original-URI are missing."))
            return await self.authorize(view, request.headers.get("X-Request-Id", ""),
                                        whole=path == FORWARD_AUTH_PATH)
        if path.startswith(REFUSAL_PREFIX):
            parts = self.refusals.pop(path[len(REFUSAL_PREFIX):], None)
            if not isinstance(parts, ResponseParts):
                return _response(error_page(403, "Forbidden", "This request was refused."))
            return _response(parts)
        if path.startswith(RESERVED_PREFIX):
            return await self.serve_own(request, peer_ip)
        return _response(error_page(404, "Not found", "This server only answers a front proxy's checks."))

    # -- deciding -------------------------------------------------------------------

    async def authorize(self, view: RequestView, request_id: str, whole: bool) -> web.Response:
        guard = self.guard
        self.counts["requests"] += 1
        try:
            client_ip = guard.client_ip(view)
            view, stamp = self._stamped(view)
            reading = guard.read(view)
        except ForwardedHeaderError as exc:
            self.counts["bad_forwarded_header"] += 1
            return self._refuse(error_page(400, "Bad request", str(exc)), "error", whole)
        except AmbiguousRequest as exc:
            self.counts[exc.count] += 1
            return self._refuse(error_page(400, "Bad request", str(exc)), "error", whole)
        now = self.clock()
        try:
            event, decision = await guard.decide_async(view, client_ip, now, reading)
        except StoreUnavailable:
            self.counts["store_unavailable"] += 1
            return self._refuse(unavailable_page(guard.retry_seconds), "unavailable", whole)
        if guard.refuses(decision):
            return self._refuse(guard.refusal(view, decision, client_ip), decision.action, whole,
                                stamp)
        if request_id:
            self.pending.put(request_id, Pending(event, now))
        headers = [(ACTION_HEADER, "allow")]
        if stamp:
            headers.append(("Set-Cookie", stamp))
        return web.Response(status=204, headers=CIMultiDict(headers))

    def _stamped(self, view: RequestView) -> tuple[RequestView, str]:
        """A session the site issued (reported in its log line) and not yet stamped: the request
        as if it carried the stamp (the site issued it), and the stamp's Set-Cookie value."""
        if not self.issued:
            return view, ""
        guard = self.guard
        line = cookie_line(view.headers.getall("Cookie", []))
        cookies = read_cookies(line, (guard.session_cookie, STAMP_COOKIE))
        token = cookies.get(guard.session_cookie)
        if not token or self.issued.pop(session_key(token), None) is None:
            return view, ""
        set_cookie = guard.sessions.stamps([token])[0]
        stamp = set_cookie.partition(";")[0].partition("=")[2]
        headers = CIMultiDict(view.headers)
        headers.popall("Cookie", None)
        others = without_cookie(line or "", STAMP_COOKIE)  # (the stamp of an earlier session)
        headers["Cookie"] = f"{others}; {STAMP_COOKIE}={stamp}" if others else f"{STAMP_COOKIE}={stamp}"
        stamped = RequestView(view.method, view.target, CIMultiDictProxy(headers), view.peer_ip, view.scheme)
        return stamped, set_cookie

    def _refuse(self, parts: ResponseParts, action: str, whole: bool, stamp: str = "") -> web.Response:
        """A refusal: whole (forward_auth), or 403 with its reference for nginx to fetch."""
        if stamp:
            parts = ResponseParts(parts.status, [*parts.headers, ("Set-Cookie", stamp)], parts.body)
        if whole:
            return _response(parts)
        found = [value for name, value in parts.headers if name.lower() == DECISION_HEADER.lower()]
        reference = found[0] if found else new_decision_id()
        self.refusals.put(reference, parts)
        headers = [(ACTION_HEADER, action), (REFERENCE_HEADER, reference), (STATUS_HEADER, str(parts.status))]
        headers += [(name, value) for name, value in parts.headers
                    if name in REFUSAL_HEADERS or name.lower() == "set-cookie"]
        return web.Response(status=403, headers=CIMultiDict(headers))

    # -- what the guard serves itself ----------------------------------------------

    async def serve_own(self, request: web.Request, peer_ip: str) -> web.Response:
        """The challenge's assets, its answer endpoint and the status page (proxied as is)."""
        guard = self.guard
        view = RequestView(request.method, request.raw_path, request.headers, peer_ip,
                           request.headers.get("X-Forwarded-Proto", request.scheme))
        own = guard.own_response(view, request.path)
        if own is not None:
            return _response(own)
        if not guard.is_submission(view, request.path):
            return _response(error_page(404, "Not found", "Nothing is served here."))
        try:
            client_ip = guard.client_ip(view)
            reading = guard.read(view)
        except (ForwardedHeaderError, AmbiguousRequest) as exc:
            return _response(error_page(400, "Bad request", str(exc)))
        too_large = guard.submit_too_large(request.content_length)
        if too_large is not None:
            return _response(too_large)
        body = await request.read()
        fields = guard.answer_fields(body, request.headers.get("Content-Type"))
        if fields is None:
            return _response(error_page(400, "Bad request", "The challenge answer could not be read."))
        assert guard.challenges is not None
        if guard.challenges.captcha is None:
            return _response(await guard.submit(view, client_ip, self.clock(), reading, fields))
        import aiohttp

        async with aiohttp.ClientSession() as http:  # a CAPTCHA provider's verification call
            return _response(await guard.submit(view, client_ip, self.clock(), reading, fields, http))

    # -- after the response: nginx's log lines -------------------------------------------

    def listen_log(self, host: str, port: int) -> None:
        """Read nginx's syslog lines on UDP host:port (the HTTP port's number)."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        sock.bind((host, port))
        sock.setblocking(False)
        self._log_socket = sock
        asyncio.get_running_loop().add_reader(sock.fileno(), self.drain_log)

    def drain_log(self) -> None:
        """Handle every log line waiting (one system call when there is none)."""
        sock = self._log_socket
        if sock is None:
            return
        while True:
            try:
                datagram, sender = sock.recvfrom(LOG_LINE_LIMIT)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.warning("log socket: %s", exc)
                return
            if not self.guard.resolver.is_trusted(sender[0]):
                # a forged line could tie a session to any account: only nginx (a trusted proxy)
                self.counts["log_untrusted"] += 1
                continue
            line = parse_log_line(datagram)
            if line is None:
                self.counts["log_unreadable"] += 1
                continue
            try:
                later = self.after(line)
            except Exception:  # one bad line must not stop the others
                self.counts["log_failed"] += 1
                log.exception("log line not handled")
                later = None
            if later is None:
                self._handled()
            else:
                self._later.add(later)  # (the loop keeps only weak references to tasks)
                later.add_done_callback(self._handled_later)

    def _handled(self) -> None:
        self.counts["log_lines"] += 1
        self._logged.set()

    def _handled_later(self, task: asyncio.Task[None]) -> None:
        self._later.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.counts["log_failed"] += 1
            log.error("log line not handled", exc_info=task.exception())
        self._handled()

    async def logged(self, lines: int) -> None:
        """Wait until `lines` log lines were handled (tests: the after-response step is done)."""
        while self.counts["log_lines"] < lines:
            self._logged.clear()
            await self._logged.wait()

    def after(self, line: Mapping[str, str]) -> asyncio.Task[None] | None:
        """One request as nginx reports it after the site answered (with a shared store, what is
        still to be done runs as the task returned)."""
        if line.get("uri", "").startswith(RESERVED_PREFIX):
            return None  # the guard's own answers
        try:
            status = int(line.get("status", ""))
        except ValueError:
            return None
        headers = self._response_headers(line)
        if line.get("decided"):
            pending = self.pending.pop(line.get("id", ""), None)
            if isinstance(pending, Pending):  # (a refused request has nothing pending)
                self._learn(pending.event, status, headers, pending.now)
            return None
        # served without a subrequest (an asset): recorded as the proxy records it
        self.counts["unasked"] += 1
        request_headers: CIMultiDict[str] = CIMultiDict()
        for name, field in LOGGED_REQUEST_HEADERS.items():
            if line.get(field):
                request_headers[name] = line[field]
        view = RequestView(line.get("method", "GET"), line.get("uri", "/"), CIMultiDictProxy(request_headers),
                           line.get("addr", ""), line.get("scheme", "http"))
        guard = self.guard
        try:
            client_ip = guard.client_ip(view)
            reading = guard.read(view)
        except (ForwardedHeaderError, AmbiguousRequest):
            return None
        now = self.clock()
        if guard.offload:
            return asyncio.get_running_loop().create_task(
                self._decide_later(view, client_ip, now, reading, status, headers))
        try:
            event, _ = guard.decide(view, client_ip, now, reading)
        except StoreUnavailable:
            return None
        self._learn(event, status, headers, now)
        return None

    async def _decide_later(self, view: RequestView, client_ip: str, now: float, reading: RequestReading,
                            status: int, headers: CIMultiDict[str]) -> None:
        try:
            event, _ = await self.guard.decide_async(view, client_ip, now, reading)
        except StoreUnavailable:
            return
        self._learn(event, status, headers, now)

    def _response_headers(self, line: Mapping[str, str]) -> CIMultiDict[str]:
        client = self.guard.policy.client
        headers: CIMultiDict[str] = CIMultiDict()
        for name, field in ((client.account_header, "account"), (client.account_created_header, "created"),
                            (client.login_failed_header, "login_failed"),
                            (client.audience_header, "audience"), ("Set-Cookie", "set_cookie")):
            if line.get(field):
                headers[name] = line[field]
        return headers

    def _learn(self, event: Event, status: int, headers: CIMultiDict[str], now: float) -> None:
        # (nginx answered long ago: nothing waits, so a login's outcome is queued like the others)
        edit = self.guard.after_response(event, status, headers, now, answer_waits=False)
        if edit.set_cookies:
            # the sessions the site just issued: stamped when the client next presents them
            for token in self.guard.sessions.issued(headers.getall("Set-Cookie", [])):
                self.issued.put(session_key(token), True)


#: Request headers of a log line (served without a subrequest): header name -> JSON field.
LOGGED_REQUEST_HEADERS = {
    "X-Forwarded-For": "xff", "User-Agent": "ua", "Accept": "accept", "Accept-Language": "accept_language",
    "Accept-Encoding": "accept_encoding", "Sec-Fetch-Mode": "sec_fetch_mode", "Sec-CH-UA": "sec_ch_ua",
    "Cookie": "cookie",
}

#: nginx's log_format of the after-response line (see docs/integrations.md).
LOG_FORMAT = (
    "log_format scrapeguard escape=json '{'\n"
    "    '\"id\":\"$request_id\",\"decided\":\"$scrapeguard_action\",\"status\":\"$status\",'\n"
    "    '\"method\":\"$request_method\",\"uri\":\"$request_uri\",\"scheme\":\"$scheme\",'\n"
    "    '\"addr\":\"$remote_addr\",\"xff\":\"$http_x_forwarded_for\",\"ua\":\"$http_user_agent\",'\n"
    "    '\"accept\":\"$http_accept\",\"accept_language\":\"$http_accept_language\",'\n"
    "    '\"accept_encoding\":\"$http_accept_encoding\",\"sec_fetch_mode\":\"$http_sec_fetch_mode\",'\n"
    "    '\"sec_ch_ua\":\"$http_sec_ch_ua\",\"cookie\":\"$http_cookie\",'\n"
    "    '\"account\":\"$upstream_http_x_account_id\",\"created\":\"$upstream_http_x_account_created\",'\n"
    "    '\"login_failed\":\"$upstream_http_x_login_failed\",'\n"
    "    '\"audience\":\"$upstream_http_x_viewer_audience\",'\n"
    "    '\"set_cookie\":\"$upstream_http_set_cookie\"'\n"
    "    '}';"
)


def _response(parts: ResponseParts) -> web.Response:
    return web.Response(status=parts.status, body=parts.body, headers=CIMultiDict(parts.headers))


async def start_decide(server: DecideServer, host: str, port: int) -> web.AppRunner:
    """Serve on host:port (TCP) and read nginx's log lines on the same port (UDP); the caller owns
    the runner (`await runner.cleanup()` to stop). Port 0 picks a free port (both the same)."""
    runner = web.AppRunner(server.app(), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    await site.start()
    bound = decide_port(runner)
    server.listen_log(host, bound)
    return runner


def decide_port(runner: web.AppRunner) -> int:
    """The TCP port the decide server listens on."""
    return int(runner.addresses[0][1])


async def serve_decide(server: DecideServer, host: str, port: int,
                       announce: Callable[[str], None] = print) -> None:
    """`scrapeguard decide --listen`: serve until Ctrl-C or SIGTERM."""
    from scrapeguard.serving import run_until_signalled

    runner = await start_decide(server, host, port)
    shown = f"[{host}]" if ":" in host else host
    announce(f"decide on http://{shown}:{decide_port(runner)}{AUTH_PATH} (auth_request), "
             f"{FORWARD_AUTH_PATH} (forward_auth), log lines on udp {shown}:{decide_port(runner)} "
             f"(mode {server.guard.policy.mode})  (Ctrl-C to stop)")
    await run_until_signalled(runner.cleanup)
    if server.guard.decisions is not None:
        server.guard.decisions.close()
