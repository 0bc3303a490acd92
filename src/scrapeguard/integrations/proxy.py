"""The guard as a reverse proxy in front of any site (aiohttp server and client).

For each request: find the client (socket peer, or X-Forwarded-For from a
trusted proxy), the session (cookie) and the account (learned from the
site's X-Account-Id / X-Account-Created response headers, which are
stripped), decide, then either refuse or stream the request to the upstream
and its response back, headers and status as they are.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import html
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from http.cookies import CookieError, SimpleCookie
from importlib import resources
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import http_exceptions, web
from multidict import CIMultiDict, MultiMapping
from yarl import URL

from scrapeguard.challenge.keys import load_keys
from scrapeguard.challenge.service import (
    ASSETS,
    RESERVED_PREFIX,
    SUBMIT_PATH,
    ChallengeService,
    SubmitResult,
)
from scrapeguard.challenge.solves import CLEARED
from scrapeguard.decisions import (
    BLOCK,
    CHALLENGE,
    THROTTLE,
    Decision,
    DecisionWriter,
    Reason,
    new_decision_id,
)
from scrapeguard.engine import Engine
from scrapeguard.events import HEADER_FACTS, Event
from scrapeguard.integrations.client_ip import ClientIPResolver, ForwardedHeaderError
from scrapeguard.integrations.connections import ConnectionGuard, ConnectionLimits, GuardedSite
from scrapeguard.integrations.forms import FORM_LIMIT, FormError, check_encoding, read_subject
from scrapeguard.integrations.reading import cookie_line, merged_slashes_agree, read_cookies, read_target
from scrapeguard.ratelimit import ratelimit_headers
from scrapeguard.refusals import DECISION_HEADER, build_refusal
from scrapeguard.routes import LOGIN, AmbiguousRequest, RouteMap, RouteMatch
from scrapeguard.stores import MemoryStore, StoreRequest, StoreUnavailable

if TYPE_CHECKING:
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


#: Where the proxy answers with its health and counters (to direct local calls only).
STATUS_PATH = "/.well-known/scrapeguard/status"
#: The guard's own cookie stamping a session the site issued (see GuardProxy._stamps).
STAMP_COOKIE = "scrapeguard_session"
BACKLOG_LIMIT = 10_000
#: With a shared store, session look-ups are cached locally this long (seconds), for at most
#: this many sessions: a login seen by another instance is known here within that time.
SESSION_CACHE_SECONDS = 30.0
SESSION_CACHE_SIZE = 100_000
#: Responses of known length up to this size are read whole and sent in one write.
BUFFER_LIMIT = 256 * 1024
#: A challenge form submission larger than this is refused unread.
SUBMIT_LIMIT = 16 * 1024
#: Where a request of a form route keeps its route (with the subject from the body) and the body
#: (typed request keys where aiohttp has them, 3.12 and later).
_RequestKey = getattr(web, "RequestKey", None)
FORM_ROUTE: Any = _RequestKey("scrapeguard.form_route", RouteMatch) if _RequestKey else "sg.form_route"
FORM_BODY: Any = _RequestKey("scrapeguard.form_body", bytes) if _RequestKey else "sg.form_body"
#: Methods whose body a form route's subject is read from.
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


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
    """A plain HTML error page. `text` may quote the request (a bad header): it is escaped."""
    title, text = html.escape(title), html.escape(text)
    body = (f"<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>{title}</title>"
            f"<body style=\"font-family:sans-serif;max-width:36rem;margin:4rem auto\">"
            f"<h1>{title}</h1><p>{text}</p></body></html>")
    return web.Response(status=status, text=body, content_type="text/html")


@dataclass(frozen=True, slots=True)
class RequestReading:
    """What the guard reads of a request, as the site's framework reads it (see reading.py)."""

    path: str
    #: The raw query string (the site decodes it once, and so does the route map).
    query: str
    route: RouteMatch
    #: The Cookie lines joined into the one line the guard reads and forwards (None: no cookie).
    cookie: str | None
    #: The cookies the guard itself reads (session, its stamp, clearance), one value each.
    cookies: dict[str, str]


def _parse_created(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.strip()).timestamp()
    except ValueError:
        return None


class GuardProxy:
    def __init__(self, config: ProxyConfig, engine: Engine,
                 decisions: DecisionWriter | None = None, records: RecordSink | None = None) -> None:
        upstream = URL(config.upstream)
        if upstream.scheme not in ("http", "https") or not upstream.host:
            raise ValueError(f"upstream {config.upstream!r} must be an http:// or https:// URL")
        self.config = config
        self.upstream = upstream
        self._upstream_base = str(upstream.origin()) + upstream.raw_path.rstrip("/")
        self.engine = engine
        self.policy = engine.policy
        self.routes = RouteMap(engine.policy.routes, engine.policy.route_matching)
        self.decisions = decisions
        #: The records database's sink (`--db`): refusals and what each actor received.
        self.records = records
        self.resolver = ClientIPResolver(config.trusted_proxies)
        self.counts = config.counts
        client = engine.policy.client
        self._session_cookie = client.session_cookie
        self._account_header = client.account_header
        self._created_header = client.account_created_header
        self._strip = {client.account_header.lower(), client.account_created_header.lower(),
                       client.login_failed_header.lower()}
        self._login_failed_header = client.login_failed_header
        # (the store's own pause: a store URI's ?retry_seconds= overrides the policy's)
        self._retry_seconds = float(getattr(engine.store, "retry_seconds", engine.policy.store.retry_seconds))
        self._session: aiohttp.ClientSession | None = None
        #: Shared stores are called from worker threads (see handle); the memory store inline.
        self._offload = not isinstance(engine.store, MemoryStore)
        self._executor = ThreadPoolExecutor(max_workers=16, thread_name_prefix="guard-store") \
            if self._offload else None
        #: Records nobody waits for (page and asset histories, outcomes) go to a shared store
        #: through one background thread, at most BACKLOG_LIMIT queued (the rest are dropped and
        #: counted): a slow store must not pile up work.
        self._recorder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="guard-record") \
            if self._offload else None
        self._backlog = 0
        self._backlog_lock = threading.Lock()
        if self._offload:
            engine.defer = self._record_later
        self._session_cache: dict[str, tuple[float, str | None]] = {}
        self._log_filter = _MalformedRequestFilter(self.counts)
        self.challenges = ChallengeService(engine.policy, engine.store, engine.escalation) \
            if engine.policy.challenge.enabled else None
        self._clearance_cookie = engine.policy.challenge.cookie
        # Sessions the site issued are stamped with a keyed hash in a cookie of the guard's own,
        # so that a made-up session cookie is told apart without keeping any state per session.
        keys = self.challenges.keys if self.challenges is not None else load_keys(engine.policy.challenge)
        self._stamp_keys = keys.keys
        self._read_cookies = (self._session_cookie, STAMP_COOKIE, self._clearance_cookie)
        #: Called with every event the guard judges (tests compare it with what the site saw).
        self.on_event: Callable[[Event], None] | None = None

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
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        if self._recorder is not None:
            self._recorder.shutdown(wait=False, cancel_futures=True)
        logging.getLogger("aiohttp.server").removeFilter(self._log_filter)
        if self._session is not None:
            await self._session.close()
        if self.records is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.records.close)

    # -- one request -------------------------------------------------------------

    def _lookup_session(self, session: str, now: float) -> str | None:
        """session -> "account|created", from the store; with a shared store, through a short
        local cache so that a browsing member costs the store one look-up per SESSION_CACHE_SECONDS."""
        if not self._offload:
            return self.engine.store.get_value("session:" + session, now)
        cached = self._session_cache.get(session)
        if cached is not None and cached[0] > now:
            return cached[1]
        known = self.engine.store.get_value("session:" + session, now)
        if len(self._session_cache) >= SESSION_CACHE_SIZE:
            self._session_cache.clear()
        self._session_cache[session] = (now + SESSION_CACHE_SECONDS, known)
        return known

    def _read(self, request: web.Request) -> RequestReading:
        """Read the request as the site will (raises AmbiguousRequest where it might not)."""
        path, query = read_target(request.raw_path, self.routes.matching)
        if not merged_slashes_agree(path, query, self.routes, request.method):
            raise AmbiguousRequest("ambiguous_path", "The address holds an empty segment ('//').")
        route = self.routes.match(path, query, request.method, strict=True)
        line = cookie_line(request.headers.getall("Cookie", []))
        return RequestReading(path, query, route, line, read_cookies(line, self._read_cookies))

    def _event(self, request: web.Request, client_ip: str, now: float,
               reading: RequestReading | None = None) -> Event:
        if reading is None:  # a challenge submission: read already in `handle`, so it reads alike
            reading = self._read(request)
        cookies = reading.cookies
        token = cookies.get(self._session_cookie)
        session = session_key(token) if token else None
        account = created = None
        issued = bool(token) and self._stamped(str(token), cookies.get(STAMP_COOKIE))
        if session:
            known = self._lookup_session(session, now)
            if known:
                account_id, _, created_text = known.partition("|")
                account = account_id
                created = float(created_text) if created_text else None
        path = reading.path
        query = reading.query
        user_agent = request.headers.get("User-Agent", "")
        clearance = None
        if self.challenges is not None:
            presented = cookies.get(self._clearance_cookie)
            if presented:
                clearance = self.challenges.clearance_id(presented, client_ip, user_agent, now)
                if clearance is None:
                    self.counts["clearance_invalid"] += 1  # expired, forged, or from another client
        return Event(ts=now, ip=client_ip, method=request.method, path=path, query=query,
                     route=request.get(FORM_ROUTE) or reading.route, account=account,
                     account_created=created, session=session,
                     session_issued=issued, user_agent=user_agent, headers=header_facts(request.headers),
                     clearance=clearance)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.counts["requests"] += 1
        peer = request.transport.get_extra_info("peername") if request.transport else None
        peer_ip = peer[0] if peer else ""
        try:
            client_ip = self.resolver.resolve(peer_ip, request.headers.getall("X-Forwarded-For", []))
        except ForwardedHeaderError as exc:
            self.counts["bad_forwarded_header"] += 1
            return _error_page(400, "Bad request", str(exc))
        try:
            reading = self._read(request)
        except AmbiguousRequest as exc:
            self.counts[exc.count] += 1
            return _error_page(400, "Bad request", str(exc))
        if request.path == STATUS_PATH and self._may_see_status(peer_ip, request):
            return self._status()
        if self.challenges is not None and request.path.startswith(RESERVED_PREFIX):
            reserved = await self._reserved(request, client_ip)
            if reserved is not None:
                return reserved
        unreadable = await self._read_form(request, reading.route)
        if unreadable is not None:
            return unreadable
        now = self.config.clock()
        try:
            if self._offload:
                # a shared store is a network call: keep it off the event loop, so that a slow
                # store delays only the requests that wait for it
                loop = asyncio.get_running_loop()
                event, decision = await loop.run_in_executor(
                    self._executor, self._event_and_decision, request, client_ip, now, reading)
            else:
                event, decision = self._event_and_decision(request, client_ip, now, reading)
        except StoreUnavailable:
            return self._unavailable()
        if decision.refused:
            if self.decisions is not None:
                self.decisions.write(decision)
            if self.records is not None:
                self.records.decision(decision)
            if decision.enforced:
                self.counts[decision.action] += 1
                return self._refuse(request, decision, client_ip)
        return await self._forward(request, client_ip, peer_ip, event, now, reading.cookie)

    def _unavailable(self) -> web.Response:
        """503: the shared store is down and the policy fails closed; try again after the pause in
        which the store is left alone (for a request and for a challenge answer alike)."""
        self.counts["store_unavailable"] += 1
        response = _error_page(503, "Temporarily unavailable",
                               "This site cannot check requests right now. Please try again shortly.")
        response.headers["Retry-After"] = str(max(1, int(self._retry_seconds)))
        return response

    def _refuse(self, request: web.Request, decision: Decision, client_ip: str, error: str = "",
                next_path: str | None = None) -> web.Response:
        spec = None
        if decision.action == CHALLENGE and self.challenges is not None:
            if next_path is None:
                next_path = request.raw_path if request.method in ("GET", "HEAD") else "/"
            spec = self.challenges.issue(decision, client_ip, request.headers.get("User-Agent", ""),
                                         next_path)
        ratelimit = ratelimit_headers(decision, self.policy) if decision.action == THROTTLE else ()
        refusal = build_refusal(decision, self.policy.actions, request.headers.get("Accept"),
                                challenge=spec, ratelimit=ratelimit, error=error,
                                login_wall=self.policy.login_wall)
        return web.Response(status=refusal.status, body=refusal.body, headers=CIMultiDict(refusal.headers))

    # -- what the guard serves itself: challenge assets and submissions ----------------------

    async def _reserved(self, request: web.Request, client_ip: str) -> web.StreamResponse | None:
        name = request.path[len(RESERVED_PREFIX):]
        if name in ASSETS and request.method in ("GET", "HEAD"):
            return web.Response(body=_asset(name), content_type=ASSETS[name], charset="utf-8",
                                headers={"Cache-Control": "public, max-age=86400",
                                         "X-Content-Type-Options": "nosniff"})
        if request.path == SUBMIT_PATH:
            if request.method != "POST":
                return web.Response(status=405, headers={"Allow": "POST"}, text="Use POST.\n")
            return await self._submit(request, client_ip)
        return None  # not ours: the site's own /.well-known/ paths go through as usual

    async def _submit(self, request: web.Request, client_ip: str) -> web.Response:
        assert self.challenges is not None
        self.counts["challenge_submitted"] += 1
        length = request.content_length
        if length is None or length > SUBMIT_LIMIT:
            return _error_page(413, "Too large", "A challenge answer is a small form.")
        try:
            form = await request.post()
        except (ValueError, aiohttp.web.HTTPException) as exc:
            log.debug("unreadable challenge form: %s", exc)
            return _error_page(400, "Bad request", "The challenge answer could not be read.")
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        now = self.config.clock()
        if self._offload:
            event = await asyncio.get_running_loop().run_in_executor(
                self._executor, self._event, request, client_ip, now)
        else:
            event = self._event(request, client_ip, now)
        keys = event.keys()
        decision_id = new_decision_id()
        try:
            result = await self.challenges.submit(fields, client_ip, event.user_agent, keys, now, decision_id,
                                                  self._session, self._offload)
        except StoreUnavailable:
            return self._unavailable()
        self.counts[f"challenge_{result.status}"] += 1
        if result.status == CLEARED:
            return self._cleared(request, result)
        decision = self._submit_decision(event, keys, result, decision_id, now)
        if self.decisions is not None:
            self.decisions.write(decision)
        if self.records is not None:
            self.records.decision(decision)
        error = "" if decision.action == BLOCK else \
            f"The check did not succeed: {result.detail}. Please try again."
        return self._refuse(request, decision, client_ip, error=error, next_path=result.next)

    def _cleared(self, request: web.Request, result: SubmitResult) -> web.Response:
        accept = request.headers.get("Accept", "")
        if "application/json" in accept and "text/html" not in accept:
            response: web.Response = web.json_response(
                {"cleared": True, "next": result.next, "expires_in": result.max_age},
                headers={"Cache-Control": "no-store"})
        else:
            response = web.Response(status=303,
                                    headers={"Location": result.next, "Cache-Control": "no-store"})
        response.set_cookie(self._clearance_cookie, result.token, max_age=result.max_age, path="/",
                            httponly=True, samesite="Lax", secure=request.secure)
        return response

    def _submit_decision(self, event: Event, keys: dict[str, str], result: SubmitResult, decision_id: str,
                         now: float) -> Decision:
        if result.penalty is not None:
            p = result.penalty
            return Decision(action=BLOCK, ts=now, reasons=tuple(Reason(*r) for r in p.reasons), until=p.until,
                            id=p.decision_id, enforced=self.engine.enforcing, keys=keys,
                            route=event.route.kind, path=event.path)
        reason = Reason("challenge", f"ip:{event.ip}", 0.0, f"challenge not passed: {result.detail}")
        return Decision(action=CHALLENGE, ts=now, reasons=(reason,),
                        until=now + self.policy.challenge.challenge_seconds, id=decision_id,
                        enforced=self.engine.enforcing, keys=keys, route=event.route.kind, path=event.path,
                        risk=self.policy.risk.challenge)

    async def _read_form(self, request: web.Request, route: RouteMatch) -> web.Response | None:
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
            found = read_subject(bytes(body), request.headers.get("Content-Type"), route.form,
                                 request.headers.get("Content-Encoding"))
        except FormError as exc:
            self.counts[f"form_refused_{exc.status}"] += 1
            title = {413: "Too large", 415: "Unsupported form"}.get(exc.status, "Bad request")
            return _error_page(exc.status, title, f"{exc}.")
        except (aiohttp.ClientError, ValueError, asyncio.IncompleteReadError,
                http_exceptions.HttpProcessingError) as exc:
            self.counts["form_refused_400"] += 1
            log.debug("unreadable form body: %s", exc)
            return _error_page(400, "Bad request", "The form could not be read.")
        request[FORM_BODY] = bytes(body)
        request[FORM_ROUTE] = RouteMatch(route.kind, found.subject, route.categories, route.pattern,
                                         route.form)
        return None

    def _event_and_decision(self, request: web.Request, client_ip: str, now: float,
                            reading: RequestReading) -> tuple[Event, Decision]:
        event = self._event(request, client_ip, now, reading)
        if self.on_event is not None:
            self.on_event(event)
        return event, self.engine.decide(event)

    def _record_later(self, event: Event, requests: list[StoreRequest]) -> None:
        assert self._recorder is not None
        with self._backlog_lock:
            if self._backlog >= BACKLOG_LIMIT:
                self.counts["records_dropped"] += 1
                return
            self._backlog += 1
        try:
            self._recorder.submit(self._record, event, requests)
        except RuntimeError:  # shutting down: the record is dropped, the request is not
            with self._backlog_lock:
                self._backlog -= 1
            self.counts["records_dropped"] += 1

    def _record(self, event: Event, requests: list[StoreRequest]) -> None:
        try:
            self.engine.record(event, requests)
        finally:
            with self._backlog_lock:
                self._backlog -= 1

    def _may_see_status(self, peer_ip: str, request: web.Request) -> bool:
        """Only a direct local call: not a client relayed by a load balancer or a local nginx."""
        relayed = any(h in request.headers for h in ("X-Forwarded-For", "Forwarded", "X-Real-IP"))
        return peer_ip in ("127.0.0.1", "::1") and not relayed

    def _status(self) -> web.Response:
        """Health and counters, for monitoring (answered only to loopback and trusted proxies)."""
        body = {
            "store": "degraded" if self.engine.store.degraded else "ok",
            "mode": self.policy.mode,
            "proxy": dict(self.counts),
            "engine": dict(self.engine.counts),
        }
        if self.records is not None:
            body["records"] = self.records.status()
        return web.json_response(body, status=200, headers={"Cache-Control": "no-store"})

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
        if cookie and (self._clearance_cookie in cookie or STAMP_COOKIE in cookie):
            # the guard's cookies, not the site's
            cookie = without_cookie(without_cookie(cookie, self._clearance_cookie), STAMP_COOKIE)
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

    async def _forward(self, request: web.Request, client_ip: str, peer_ip: str, event: Event,
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
        if self.records is not None and 200 <= upstream.status < 300:
            self.records.exposure(event)  # queued only: the database is written off the hot path
        try:
            outcome = self.engine.after_requests(event, self._outcome_status(event, upstream))
            if outcome:
                if self._offload:
                    self._record_later(event, outcome)
                else:
                    self.engine.record(event, outcome)
            learned = self._learn_account(upstream, event)
            if learned:
                if self._offload:
                    asyncio.get_running_loop().run_in_executor(self._executor, self._remember, learned, now)
                else:
                    self._remember(learned, now)
            headers = self._downstream_headers(upstream)
            for stamp in self._stamps(upstream):
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

    def _outcome_status(self, event: Event, upstream: aiohttp.ClientResponse) -> int:
        """The status the detectors learn: a login the site says failed (its [client]
        login_failed_header is "1") counts as 401 whatever status the page was served with."""
        if event.route.kind == LOGIN and \
                upstream.headers.get(self._login_failed_header, "").strip() == "1":
            return 401
        return upstream.status

    def _downstream_headers(self, upstream: aiohttp.ClientResponse) -> CIMultiDict[str]:
        headers: CIMultiDict[str] = CIMultiDict()
        connection_tokens = {t.strip().lower() for t in upstream.headers.get("Connection", "").split(",")}
        for name, value in upstream.headers.items():
            lower = name.lower()
            if lower in HOP_BY_HOP or lower in connection_tokens or lower in self._strip:
                continue
            headers.add(name, value)
        return headers

    def _issued_sessions(self, upstream: aiohttp.ClientResponse) -> list[str]:
        """Session tokens the site sets in this response."""
        tokens = []
        for header in upstream.headers.getall("Set-Cookie", []):
            try:
                cookie = SimpleCookie(header)
            except CookieError:
                continue
            morsel = cookie.get(self._session_cookie)
            if morsel is not None and morsel.value:
                tokens.append(morsel.value)
        return tokens

    def _stamped(self, token: str, stamp: str | None) -> bool:
        """Whether the client's session cookie comes with the stamp the guard gave it when the
        site issued the session (any of the configured keys, so that keys can be rotated)."""
        if not stamp:
            return False
        return any(hmac.compare_digest(stamp, session_stamp(key, token)) for key in self._stamp_keys)

    def _stamps(self, upstream: aiohttp.ClientResponse) -> list[str]:
        """Set-Cookie values stamping each session the site issues in this response (the stamp
        lives as long as the guard remembers sessions)."""
        ttl = int(self.policy.client.session_ttl_seconds)
        return [f"{STAMP_COOKIE}={session_stamp(self._stamp_keys[0], token)}; Path=/; Max-Age={ttl}; "
                "HttpOnly; SameSite=Lax" for token in self._issued_sessions(upstream)]

    def _learn_account(self, upstream: aiohttp.ClientResponse, event: Event) -> list[tuple[str, str]]:
        """Which sessions belong to which account, from the site's own headers: the
        (session key, "account|created") pairs that are new to the guard."""
        account = upstream.headers.get(self._account_header)
        if not account:
            return []
        account = account.strip()[:128]
        created = _parse_created(upstream.headers.get(self._created_header))
        value = f"{account}|{'' if created is None else created}"
        sessions = set()
        if event.session and (event.account != account or event.account_created != created):
            sessions.add(event.session)
        sessions.update(session_key(token) for token in self._issued_sessions(upstream))
        return [(session, value) for session in sessions]

    def _remember(self, learned: list[tuple[str, str]], now: float) -> None:
        ttl = self.policy.client.session_ttl_seconds
        for session, value in learned:
            self.engine.store.put_value("session:" + session, value, now, ttl)
            self._session_cache.pop(session, None)


def header_facts(headers: Mapping[str, str]) -> dict[str, str]:
    """The request headers detectors look at; of the cookie header only whether it held a cookie
    (in any of its lines: the site reads them all)."""
    facts = {}
    for name in HEADER_FACTS:
        value = headers.get(name)
        if value is None:
            continue
        if name == "cookie":
            lines = headers.getall(name) if isinstance(headers, MultiMapping) else [value]
            if any("=" in line for line in lines):  # an empty or nameless header carries no cookie
                facts[name] = "1"
        else:
            facts[name] = value[:256]
    return facts


def without_cookie(header: str, name: str) -> str:
    """A Cookie header without the cookie `name` (other cookies as they were)."""
    return "; ".join(part.strip() for part in header.split(";")
                     if part.strip() and part.partition("=")[0].strip() != name)


@functools.cache
def _asset(name: str) -> bytes:
    return resources.files("scrapeguard.challenge").joinpath("static", name).read_bytes()


def session_stamp(key: bytes, token: str) -> str:
    """The guard's stamp of a session token the site issued (keyed hash, 32 hex digits)."""
    return hmac.new(key, token.encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()[:32]


def session_key(token: str) -> str:
    """What the guard keeps of a session token: a hash. The token itself would let whoever
    reads the decisions file or the store take over the member's session."""
    return "s-" + hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()[:24]


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


__all__ = ["DECISION_HEADER", "ConnectionLimits", "GuardProxy", "ProxyConfig", "start_proxy"]
