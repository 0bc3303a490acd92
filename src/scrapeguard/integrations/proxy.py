"""The guard as a reverse proxy in front of any site (aiohttp server and client).

For each request: find the client (socket peer, or X-Forwarded-For from a
trusted proxy), the session (cookie) and the account (learned from the
site's X-Account-Id / X-Account-Created response headers, which are
stripped), decide, then either refuse or stream the request to the upstream
and its response back, headers and status as they are.

What every integration does around the engine lives in adapter.py; this module
is the aiohttp server and client around it: reading the request and its form
body, forwarding it, streaming the answer back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import http_exceptions, web
from multidict import CIMultiDict
from yarl import URL

from scrapeguard.decisions import DecisionWriter
from scrapeguard.engine import Engine
from scrapeguard.events import Event
from scrapeguard.integrations.adapter import (
    BODY_METHODS,
    STATUS_PATH,
    GuardAdapter,
    RequestReading,
    RequestView,
    ResponseParts,
    error_page,
    header_facts,
    unavailable_page,
)
from scrapeguard.integrations.client_ip import ForwardedHeaderError
from scrapeguard.integrations.connections import ConnectionGuard, ConnectionLimits, GuardedSite
from scrapeguard.integrations.forms import FORM_LIMIT, FormError, check_encoding
from scrapeguard.integrations.sessions import STAMP_COOKIE, session_key, session_stamp, without_cookie
from scrapeguard.refusals import DECISION_HEADER
from scrapeguard.routes import AmbiguousRequest, RouteMap, RouteMatch
from scrapeguard.stores import StoreUnavailable

if TYPE_CHECKING:
    from scrapeguard.challenge.service import ChallengeService
    from scrapeguard.policy.model import Policy
    from scrapeguard.records.sink import RecordSink

log = logging.getLogger(__name__)

#: Connection-level headers that a proxy must not pass on (RFC 9110 section 7.6.1).
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade", "proxy-connection",
})


class _MalformedRequestFilter(logging.Filter):
    """aiohttp answers unparseable requests with 400 itself and logs a traceback for each.
    A flood of garbage must not flood the log: count them, log one line at debug level."""

    def __init__(self, counts: Counter[str]) -> None:
        super().__init__()
        self.counts = counts

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, http_exceptions.HttpProcessingError):
            self.counts["malformed_request"] += 1
            log.debug("malformed request refused: %s", str(exc).splitlines()[0])
            return False
        return True


#: Responses of known length up to this size are read whole and sent in one write.
BUFFER_LIMIT = 256 * 1024
#: Where a request of a form route keeps its route (with the subject from the body) and the body
#: (typed request keys where aiohttp has them, 3.12 and later).
_RequestKey = getattr(web, "RequestKey", None)
FORM_ROUTE: Any = _RequestKey("scrapeguard.form_route", RouteMatch) if _RequestKey else "sg.form_route"
FORM_BODY: Any = _RequestKey("scrapeguard.form_body", bytes) if _RequestKey else "sg.form_body"


@dataclass
class ProxyConfig:
    upstream: str
    trusted_proxies: tuple[str, ...] = ()
    #: Seconds to wait for the upstream to connect and to answer.
    upstream_timeout: float = 30.0
    counts: Counter[str] = field(default_factory=Counter)
    #: The time of each request's event (seconds since the epoch). The wall clock, except in
    #: drills and tests that let hours pass instantly (scrapeguard.drill.harness.FakeClock).
    clock: Callable[[], float] = time.time


def _error_page(status: int, title: str, text: str) -> web.Response:
    return _response(error_page(status, title, text))


def _response(parts: ResponseParts) -> web.Response:
    return web.Response(status=parts.status, body=parts.body, headers=CIMultiDict(parts.headers))


def _view(request: web.Request, peer_ip: str) -> RequestView:
    return RequestView(request.method, request.raw_path, request.headers, peer_ip, request.scheme)


class GuardProxy:
    def __init__(self, config: ProxyConfig, engine: Engine,
                 decisions: DecisionWriter | None = None, records: RecordSink | None = None) -> None:
        upstream = URL(config.upstream)
        if upstream.scheme not in ("http", "https") or not upstream.host:
            raise ValueError(f"upstream {config.upstream!r} must be an http:// or https:// URL")
        self.config = config
        self.upstream = upstream
        self._upstream_base = str(upstream.origin()) + upstream.raw_path.rstrip("/")
        self.counts = config.counts
        #: What every integration does around the engine (see adapter.py).
        self.guard = GuardAdapter(engine, config.trusted_proxies, decisions, records, self.counts)
        self.resolver = self.guard.resolver
        self._session: aiohttp.ClientSession | None = None
        self._log_filter = _MalformedRequestFilter(self.counts)

    # (the guard's, read each time: a reloaded policy replaces them, see use_policy)
    @property
    def engine(self) -> Engine:
        return self.guard.engine

    @property
    def policy(self) -> Policy:
        return self.guard.policy

    @property
    def routes(self) -> RouteMap:
        return self.guard.routes

    @property
    def challenges(self) -> ChallengeService | None:
        return self.guard.challenges

    def use_policy(self, policy: Policy) -> None:
        """Judge the next requests by `policy` (GuardAdapter.use_policy; serving.PolicyReloader)."""
        self.guard.use_policy(policy)

    @property
    def decisions(self) -> DecisionWriter | None:
        return self.guard.decisions

    @property
    def records(self) -> RecordSink | None:
        """The records database's sink (`--db`): refusals and what each actor received."""
        return self.guard.records

    @property
    def on_event(self) -> Callable[[Event], None] | None:
        """Called with every event the guard judges (tests compare it with what the site saw)."""
        return self.guard.on_event

    @on_event.setter
    def on_event(self, callback: Callable[[Event], None] | None) -> None:
        self.guard.on_event = callback

    # -- lifecycle -----------------------------------------------------------------

    def app(self, connections: ConnectionGuard | None = None) -> web.Application:
        """The aiohttp application; with `connections`, each request reports its start and end to
        it (the connection's header deadline then waits for the next request; see start_proxy)."""
        # Generous but bounded request-line and header sizes; bigger gets a 4xx from aiohttp.
        # Request bodies are passed on as they came: aiohttp must not inflate a gzip body that then
        # goes upstream still labelled Content-Encoding: gzip.
        app = web.Application(handler_args={"max_line_size": 8190, "max_field_size": 8190,
                                            "auto_decompress": False},
                              client_max_size=0,
                              middlewares=[connections.aiohttp_middleware()] if connections else [])
        app.router.add_route("*", "/{tail:.*}", self.handle)
        app.on_startup.append(self._start)
        app.on_cleanup.append(self._stop)
        return app

    async def _start(self, app: web.Application) -> None:
        timeout = aiohttp.ClientTimeout(total=None, connect=self.config.upstream_timeout,
                                        sock_read=self.config.upstream_timeout)
        connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300)
        self._session = aiohttp.ClientSession(timeout=timeout, connector=connector,
                                              auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar())
        logging.getLogger("aiohttp.server").addFilter(self._log_filter)

    async def _stop(self, app: web.Application) -> None:
        logging.getLogger("aiohttp.server").removeFilter(self._log_filter)
        if self._session is not None:
            await self._session.close()
        await asyncio.get_running_loop().run_in_executor(None, self.guard.close)

    # -- one request -------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.counts["requests"] += 1
        peer = request.transport.get_extra_info("peername") if request.transport else None
        peer_ip = peer[0] if peer else ""
        view = _view(request, peer_ip)
        try:
            client_ip = self.guard.client_ip(view)
        except ForwardedHeaderError as exc:
            self.counts["bad_forwarded_header"] += 1
            return _error_page(400, "Bad request", str(exc))
        try:
            reading = self.guard.read(view)
        except AmbiguousRequest as exc:
            self.counts[exc.count] += 1
            return _error_page(400, "Bad request", str(exc))
        own = self.guard.own_response(view, request.path)
        if own is not None:
            return _response(own)
        if self.guard.is_submission(view, request.path):
            return await self._submit(request, view, client_ip, reading)
        unreadable = await self._read_form(request, view, reading.route)
        if unreadable is not None:
            return unreadable
        now = self.config.clock()
        try:
            event, decision = await self.guard.decide_async(view, client_ip, now, reading,
                                                            request.get(FORM_ROUTE))
        except StoreUnavailable:
            self.counts["store_unavailable"] += 1
            return _response(unavailable_page(self.guard.retry_seconds))
        if self.guard.refuses(decision):
            return _response(self.guard.refusal(view, decision, client_ip))
        return await self._forward(request, client_ip, event, now, reading.cookie)

    # -- challenge submissions ------------------------------------------------------

    async def _submit(self, request: web.Request, view: RequestView, client_ip: str,
                      reading: RequestReading) -> web.Response:
        too_large = self.guard.submit_too_large(request.content_length)
        if too_large is not None:
            return _response(too_large)
        try:
            form = await request.post()
        except (ValueError, aiohttp.web.HTTPException) as exc:
            log.debug("unreadable challenge form: %s", exc)
            return _error_page(400, "Bad request", "The challenge answer could not be read.")
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        answer = await self.guard.submit(view, client_ip, self.config.clock(), reading, fields, self._session)
        return _response(answer)

    async def _read_form(self, request: web.Request, view: RequestView,
                         route: RouteMatch) -> web.Response | None:
        """For a form route (`subject = "form:NAME"`): read the body (at most FORM_LIMIT bytes),
        take the subject from it and keep both on the request, so that the decision counts the
        subject and the upstream gets exactly these bytes. A refusal if the body is too large,
        ambiguous or unreadable (see integrations/forms.py); None otherwise."""
        if request.method not in BODY_METHODS or route.form is None:
            return None
        length = request.content_length
        try:
            check_encoding(request.headers.get("Content-Encoding"))  # (before aiohttp inflates it)
            if length is not None and length > FORM_LIMIT:
                raise FormError(413, f"a form is at most {FORM_LIMIT // 1024} KiB here")
            body = bytearray()
            while request.body_exists:
                chunk = await request.content.read(FORM_LIMIT + 1 - len(body))
                if not chunk:
                    break
                body += chunk
                if len(body) > FORM_LIMIT:
                    raise FormError(413, f"a form is at most {FORM_LIMIT // 1024} KiB here")
            form_route = self.guard.form_route(view, route, bytes(body))
        except FormError as exc:
            return _response(self.guard.form_refusal(exc))
        except (aiohttp.ClientError, ValueError, asyncio.IncompleteReadError,
                http_exceptions.HttpProcessingError) as exc:
            self.counts["form_refused_400"] += 1
            log.debug("unreadable form body: %s", exc)
            return _error_page(400, "Bad request", "The form could not be read.")
        request[FORM_BODY] = bytes(body)
        request[FORM_ROUTE] = form_route
        return None

    # -- forwarding --------------------------------------------------------------

    def _upstream_headers(self, request: web.Request, client_ip: str, cookie: str | None) -> CIMultiDict[str]:
        """The request headers for the site: hop-by-hop headers and the client's forwarding claims
        dropped, the guard's own X-Forwarded-* set, and `cookie` (the Cookie lines joined, as the
        guard read them) as the one Cookie line."""
        headers: CIMultiDict[str] = CIMultiDict()
        connection_tokens = {t.strip().lower() for t in request.headers.get("Connection", "").split(",")}
        for name, value in request.headers.items():
            lower = name.lower()
            if lower in HOP_BY_HOP or lower in connection_tokens or lower == "host":
                continue
            if lower in ("x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "forwarded",
                         "x-real-ip"):
                continue  # spoofable client-side claims: the guard sets its own below
            if lower == "cookie":
                continue  # one joined line below
            headers.add(name, value)
        clearance_cookie = self.guard.clearance_cookie
        if cookie and (clearance_cookie in cookie or STAMP_COOKIE in cookie):
            # the guard's cookies, not the site's
            cookie = without_cookie(without_cookie(cookie, clearance_cookie), STAMP_COOKIE)
        if cookie:
            # one line, the one the guard read: the site cannot read a cookie the guard did not
            headers["Cookie"] = cookie
        # The one address the guard keyed: the site (ProxyFix, uvicorn's proxy headers, or reading
        # the first or the last hop) finds the same client, whichever end of the list it reads.
        headers["X-Forwarded-For"] = client_ip
        headers["X-Forwarded-Proto"] = request.scheme
        if request.host:
            headers["X-Forwarded-Host"] = request.host
        return headers

    async def _forward(self, request: web.Request, client_ip: str, event: Event,
                       now: float, cookie: str | None) -> web.StreamResponse:
        assert self._session is not None
        raw = request.raw_path
        if not raw.startswith("/"):
            return _error_page(400, "Bad request", "The request target must be a path.")
        # The target is appended to the upstream as an opaque string: never resolved as a URL
        # reference, so "//other-host/..." cannot send the proxy anywhere but the upstream.
        url = URL(self._upstream_base + raw, encoded=True)
        headers = self._upstream_headers(request, client_ip, cookie)
        body = request.get(FORM_BODY)  # a form route's body, read already (see _read_form)
        if body is None:
            body = request.content if request.body_exists else None
        try:
            upstream = await self._session.request(
                request.method, url, headers=headers, data=body, allow_redirects=False,
            )
        except TimeoutError:
            self.counts["upstream_timeout"] += 1
            return _error_page(504, "Gateway timeout",
                               "The site behind this guard did not answer in time. Please try again.")
        except (aiohttp.ClientError, OSError) as exc:
            self.counts["upstream_error"] += 1
            log.warning("upstream %s failed: %s", self.upstream, exc)
            return _error_page(502, "Bad gateway",
                               "The site behind this guard could not be reached. Please try again shortly.")
        response: web.StreamResponse | None = None
        try:
            edit = self.guard.after_response(event, upstream.status, upstream.headers, now)
            await edit.counted_async()  # a login's outcome is counted before its answer is sent
            headers = self._downstream_headers(upstream, edit.strip)
            for stamp in edit.set_cookies:
                headers.add("Set-Cookie", stamp)
            length = upstream.content_length
            if length is not None and length <= BUFFER_LIMIT and upstream.status not in (101, 204, 304) \
                    and request.method != "HEAD" and "Content-Type" in upstream.headers:
                # Small bodies of known size go out in one write with the headers: far fewer
                # syscalls and event-loop turns than streaming them, same bytes on the wire.
                payload = await upstream.read()
                headers.popall("Content-Length", None)
                return web.Response(status=upstream.status, reason=upstream.reason, body=payload,
                                    headers=headers)
            response = web.StreamResponse(status=upstream.status, reason=upstream.reason, headers=headers)
            if upstream.headers.get("Transfer-Encoding", "").lower() == "chunked":
                response.enable_chunked_encoding()
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response
        except (aiohttp.ClientError, TimeoutError, ConnectionResetError) as exc:
            self.counts["upstream_broken"] += 1
            log.warning("upstream response for %s broke off: %s", request.path, exc)
            if response is None or not response.prepared:
                return _error_page(502, "Bad gateway", "The site behind this guard broke off its answer.")
            if request.transport is not None:
                request.transport.close()  # the response has started: all we can do is end it
            return response
        finally:
            upstream.release()

    def _downstream_headers(self, upstream: aiohttp.ClientResponse,
                            private: frozenset[str]) -> CIMultiDict[str]:
        headers: CIMultiDict[str] = CIMultiDict()
        connection_tokens = {t.strip().lower() for t in upstream.headers.get("Connection", "").split(",")}
        for name, value in upstream.headers.items():
            lower = name.lower()
            if lower in HOP_BY_HOP or lower in connection_tokens or lower in private:
                continue
            headers.add(name, value)
        return headers


async def start_proxy(proxy: GuardProxy, host: str, port: int,
                      limits: ConnectionLimits | None = None) -> web.AppRunner:
    """Start serving; the caller owns the runner (`await runner.cleanup()` to stop).

    Every connection is held to `limits` (ConnectionLimits' defaults if None): a deadline for each
    request's head, one for idle keep-alive, and a cap per client address; the trusted proxies
    (`--trusted-proxies`), which carry many clients' connections, are not capped. What the limits
    close is counted in the status counters (connections_refused, header_timeouts, idle_timeouts)."""
    limits = limits if limits is not None else ConnectionLimits()
    connections = ConnectionGuard(limits, proxy.counts, exempt=proxy.resolver.is_trusted)
    # aiohttp's own keep-alive timer (an hour by default) is set past ours, which decide.
    runner = web.AppRunner(proxy.app(connections), access_log=None, handle_signals=False,
                           keepalive_timeout=max(limits.idle_timeout, limits.header_timeout) + 1)
    await runner.setup()
    site = GuardedSite(runner, host, port, connections, reuse_address=True)
    await site.start()
    return runner


__all__ = ["DECISION_HEADER", "STAMP_COOKIE", "STATUS_PATH", "ConnectionLimits", "GuardProxy", "ProxyConfig",
           "header_facts", "session_key", "session_stamp", "start_proxy", "without_cookie"]
