"""The request adapter: what every integration (the proxy, the ASGI, WSGI and Django middlewares)
does around the engine, framework-free.

An integration translates its framework's request into a `RequestView` (method, target, headers,
socket peer) and back from `ResponseParts` (status, headers, body); everything in between lives
here, once:

- request -> Event: the client address (forwarded headers only from trusted proxies), the cookies
  the guard reads, the session and its stamp, the account (told by the app's resolver, or learned
  from the site's account headers), the clearance of a passed challenge;
- decision -> response: the refusal page or JSON, the challenge page, its assets and the endpoint
  that checks a proof, the RateLimit headers of a throttle, the decisions file and the records;
- after the response: the status the detectors learn (404 probing, failed logins), the
  session -> account learning, the account headers stripped and the guard's session stamp set.

Store calls are synchronous. With a shared store (Redis) they are network calls, so `decide_async`
runs them on a worker thread for async integrations and what nobody waits for (outcomes, learned
sessions) is handed to background threads; with the in-process memory store everything runs inline.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import html
import json
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from http import HTTPStatus
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from multidict import MultiMapping

from scrapeguard.challenge.keys import SigningKeys, load_keys
from scrapeguard.challenge.service import (
    ASSETS,
    NEXT_FIELD,
    POW_FIELD,
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
from scrapeguard.integrations.client_ip import ClientIPResolver
from scrapeguard.integrations.forms import FormError, read_field, read_subject
from scrapeguard.integrations.metrics import GuardMetrics, metrics_page
from scrapeguard.integrations.reading import cookie_line, merged_slashes_agree, read_cookies, read_target
from scrapeguard.integrations.sessions import STAMP_COOKIE, Sessions, session_key
from scrapeguard.policy.model import Policy
from scrapeguard.ratelimit import ratelimit_headers
from scrapeguard.refusals import build_refusal
from scrapeguard.routes import LOGIN, AmbiguousRequest, RouteMap, RouteMatch
from scrapeguard.stores import MemoryStore, StoreRequest, StoreUnavailable
from scrapeguard.stores.failover import FailoverStore

if TYPE_CHECKING:
    import aiohttp

    from scrapeguard.records.sink import RecordSink

log = logging.getLogger(__name__)
#: One line per refusal (at INFO, with the decision's id and action as the record's `decision_id`
#: and `action`: the JSON log format writes them as fields; see scrapeguard.jsonlog).
decision_log = logging.getLogger("scrapeguard.decisions")

#: Where the guard answers with its health and counters (to direct local calls only).
STATUS_PATH = "/.well-known/scrapeguard/status"
#: Where it answers with its Prometheus metrics (to direct local calls only, as the status page).
METRICS_PATH = "/.well-known/scrapeguard/metrics"
#: Records nobody waits for, queued for a shared store at most this many (the rest are dropped).
BACKLOG_LIMIT = 10_000
#: A challenge form submission larger than this is refused unread.
SUBMIT_LIMIT = 16 * 1024
#: Methods whose body a form route's subject is read from.
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


@dataclass(frozen=True, slots=True)
class RequestView:
    """One request as every framework can describe it."""

    method: str
    #: The request target as sent: the percent-encoded path and, after "?", the raw query.
    target: str
    headers: MultiMapping[str]
    #: The socket peer's address ("" if unknown); forwarded headers count only from trusted peers.
    peer_ip: str
    scheme: str = "http"

    @property
    def secure(self) -> bool:
        return self.scheme == "https"


@dataclass(frozen=True, slots=True)
class ResponseParts:
    """A response the guard serves itself (a refusal, a challenge asset, an error page)."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True, slots=True)
class KnownAccount:
    """Who is logged in, as the app knows it (an account resolver's answer)."""

    id: str
    #: When the account was created (seconds since the epoch), if known.
    created: float | None = None


#: What an in-process integration asks the app: the request -> (account id, creation time) or None.
#: The creation time may be a datetime, seconds since the epoch, or None.
AccountAnswer = tuple[str, datetime | float | None] | None


def known_account(answer: AccountAnswer) -> KnownAccount | None:
    """An account resolver's answer as the guard keeps it (None for anonymous)."""
    if answer is None:
        return None
    account_id, created = answer
    if not account_id:
        return None
    if isinstance(created, datetime):
        created = created.timestamp()
    return KnownAccount(str(account_id).strip()[:128], None if created is None else float(created))


@dataclass(frozen=True, slots=True)
class RequestReading:
    """What the guard reads of a request, as the site's framework reads it (see reading.py)."""

    path: str
    #: The raw query string (the site decodes it once, and so does the route map).
    query: str
    route: RouteMatch
    #: The Cookie lines joined into the one line the guard reads (None: no cookie).
    cookie: str | None
    #: The cookies the guard itself reads (session, its stamp, clearance), one value each.
    cookies: dict[str, str]


@dataclass(frozen=True, slots=True)
class ResponseEdit:
    """What the guard changes in the site's response: headers it removes (the account headers,
    lower-case names) and Set-Cookie values it adds (its stamp of each session the site issued).

    `counting` is a login's outcome being written to a shared store: the integration holds the
    answer until it is written (`counted` / `counted_async`), so that a guesser who waits for each
    answer has every try counted before the next one is judged. (Outcomes elsewhere are recorded in
    the background; with the memory store every outcome is recorded before this is returned.)"""

    strip: frozenset[str]
    set_cookies: list[str] = field(default_factory=list)
    counting: Future[None] | None = None

    def counted(self) -> None:
        """Wait, in a worker thread, until the login's outcome is written (see the class). A write
        cancelled at shutdown is the guard's loss, not the request's: nothing is raised."""
        if self.counting is not None:
            with contextlib.suppress(CancelledError):
                self.counting.result()

    async def counted_async(self) -> None:
        """`counted` for async integrations: awaits the write without blocking the event loop. The
        write is shielded: a request cancelled while waiting (its client gone, a server timeout)
        still has its failure counted."""
        if self.counting is None:
            return
        try:
            await asyncio.shield(asyncio.wrap_future(self.counting))
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if not self.counting.cancelled() or (task is not None and task.cancelling()):
                raise  # the request itself is cancelled (the write goes on)
            # else only the write was cancelled (the executor shut down): the guard's loss only

    def apply(self, headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        kept = [(name, value) for name, value in headers if name.lower() not in self.strip]
        return kept + [("Set-Cookie", value) for value in self.set_cookies]


def error_page(status: int, title: str, text: str,
               headers: Iterable[tuple[str, str]] = ()) -> ResponseParts:
    """A plain HTML error page. `text` may quote the request (a bad header): it is escaped."""
    title, text = html.escape(title), html.escape(text)
    body = (f"<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>{title}</title>"
            f"<body style=\"font-family:sans-serif;max-width:36rem;margin:4rem auto\">"
            f"<h1>{title}</h1><p>{text}</p></body></html>")
    return ResponseParts(status, [("Content-Type", "text/html; charset=utf-8"), *headers], body.encode())


def unavailable_page(retry_seconds: float) -> ResponseParts:
    """The answer when the store cannot be reached and the policy fails closed."""
    return error_page(503, "Temporarily unavailable",
                      "This site cannot check requests right now. Please try again shortly.",
                      [("Retry-After", str(max(1, int(retry_seconds))))])


class GuardAdapter:
    """The engine as every integration uses it (see the module docstring)."""

    def __init__(self, engine: Engine, trusted_proxies: Iterable[str] = (),
                 decisions: DecisionWriter | None = None, records: RecordSink | None = None,
                 counts: Counter[str] | None = None, metrics: bool = True,
                 keys: SigningKeys | None = None) -> None:
        """`metrics`: keep Prometheus metrics (see integrations/metrics.py) in a registry of this
        guard's own; False for none (and no cost). `keys`: the signing keys, where the caller knows
        better than the policy's [challenge] (the console's sign-in guard signs nothing anyone keeps)."""
        self.engine = engine
        self.decisions = decisions
        #: The records database's sink: refusals and what each actor received.
        self.records = records
        self.resolver = ClientIPResolver(tuple(trusted_proxies))
        self.counts: Counter[str] = counts if counts is not None else Counter()
        # (the store's own pause: a store URI's ?retry_seconds= overrides the policy's)
        self.retry_seconds = float(getattr(engine.store, "retry_seconds", engine.policy.store.retry_seconds))
        #: Shared stores are called from worker threads; the memory store inline.
        self.offload = not isinstance(engine.store, MemoryStore)
        self.executor = ThreadPoolExecutor(max_workers=16, thread_name_prefix="guard-store") \
            if self.offload else None
        #: Records nobody waits for (page and asset histories, outcomes, learned sessions) go to a
        #: shared store through one background thread, at most BACKLOG_LIMIT queued (the rest are
        #: dropped and counted): a slow store must not pile up work.
        self._recorder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="guard-record") \
            if self.offload else None
        self._backlog = 0
        self._backlog_lock = threading.Lock()
        #: The signing keys of challenges, clearances and session stamps: loaded once, kept when the
        #: policy is reloaded (clearances already given stay valid; rotating keys needs a restart).
        #: (A random key is warned about only where it matters: clearances, or a shared store.)
        self._keys = keys if keys is not None else load_keys(
            engine.policy.challenge, warn_if_random=engine.policy.challenge.enabled or self.offload)
        self._use(engine)
        #: Called with every event the guard judges (tests compare it with what the site saw).
        self.on_event: Callable[[Event], None] | None = None
        #: This guard's Prometheus metrics (None when off).
        self.metrics: GuardMetrics | None = None
        if metrics:
            self.metrics = GuardMetrics(
                [d.name for d in engine.detectors], engine.store, records,
                store_backlog=(lambda: self._backlog) if self.offload else None,
                guard_counts=lambda: dict(self.counts), engine_counts=lambda: dict(self.engine.counts))
            if isinstance(engine.store, FailoverStore):
                engine.store.on_call = self.metrics.store_call

    def _use(self, engine: Engine) -> None:
        """Take what depends on the policy from `engine`'s (everything is built before anything is
        replaced: a policy that cannot be set up leaves the guard as it was)."""
        policy, client = engine.policy, engine.policy.client
        routes = RouteMap(policy.routes, policy.route_matching)
        challenges = ChallengeService(policy, engine.store, engine.escalation, keys=self._keys) \
            if policy.challenge.enabled else None
        sessions = Sessions(engine.store, client, self._keys.keys, cached=self.offload)
        if self.offload:
            engine.defer = self._record_later
        self.engine, self.policy, self.routes, self.challenges, self.sessions = \
            engine, policy, routes, challenges, sessions
        self._login_failed_header = client.login_failed_header
        self._account_header = client.account_header
        self._audience_header = client.audience_header
        #: Response headers meant for the guard only, never for the client (lower case).
        self.private_headers = frozenset({client.account_header.lower(),
                                          client.account_created_header.lower(),
                                          client.login_failed_header.lower(),
                                          client.audience_header.lower()})
        self.clearance_cookie = policy.challenge.cookie
        self.session_cookie = client.session_cookie
        self._read_cookies = (self.session_cookie, STAMP_COOKIE, self.clearance_cookie)

    def use_policy(self, policy: Policy) -> None:
        """Judge the next requests by `policy`: a new Engine on the same store (counters, penalties,
        learned sessions and clearances live there and are kept), with the new policy's routes,
        headers and challenges. Called on the event loop, between requests (one being decided ends
        with the engine it began with). The store's options, the records sink, the metrics' list of
        detectors and the signing keys stay as the guard started (a restart changes those)."""
        engine = Engine(policy, self.engine.store)
        engine.counts = self.engine.counts
        self._use(engine)

    def close(self) -> None:
        """Stop the worker threads (queued records are dropped) and close the records sink."""
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)
        if self._recorder is not None:
            self._recorder.shutdown(wait=False, cancel_futures=True)
        if self.records is not None:
            self.records.close()

    # -- request -> Event ------------------------------------------------------------

    def client_ip(self, view: RequestView) -> str:
        """The client's address: the peer, or X-Forwarded-For from a trusted proxy
        (raises ForwardedHeaderError on a malformed forwarded header). A server that gives no peer
        (a Unix socket) leaves it "": counted as `unknown_peer`, as no address quota can apply."""
        if not view.peer_ip:
            self.counts["unknown_peer"] += 1
        return self.resolver.resolve(view.peer_ip, view.headers.getall("X-Forwarded-For", []))

    def read(self, view: RequestView) -> RequestReading:
        """Read the request as the site will (raises AmbiguousRequest where it might not)."""
        path, query = read_target(view.target, self.routes.matching)
        if not merged_slashes_agree(path, query, self.routes, view.method):
            raise AmbiguousRequest("ambiguous_path", "The address holds an empty segment ('//').")
        route = self.routes.match(path, query, view.method, strict=True)
        line = cookie_line(view.headers.getall("Cookie", []))
        return RequestReading(path, query, route, line, read_cookies(line, self._read_cookies))

    def form_route(self, view: RequestView, route: RouteMatch, body: bytes) -> RouteMatch:
        """A form route's match with the subject read from the body (raises FormError)."""
        assert route.form is not None
        found = read_subject(body, view.headers.get("Content-Type"), route.form,
                             view.headers.get("Content-Encoding"))
        return RouteMatch(route.kind, found.subject, route.categories, route.pattern, route.form)

    def form_refusal(self, error: FormError) -> ResponseParts:
        """The answer to a form body that is too large, ambiguous or unreadable (counted)."""
        self.counts[f"form_refused_{error.status}"] += 1
        title = {413: "Too large", 415: "Unsupported form"}.get(error.status, "Bad request")
        return error_page(error.status, title, f"{error}.")

    def reads_form(self, view: RequestView, route: RouteMatch) -> bool:
        """Whether the subject of this request is in its body (a form route's POST)."""
        return view.method in BODY_METHODS and route.form is not None

    def event(self, view: RequestView, client_ip: str, now: float, reading: RequestReading,
              route: RouteMatch | None = None, account: KnownAccount | None = None) -> Event:
        """The event of a request (store calls: the session look-up, with no `account`)."""
        cookies = reading.cookies
        token = cookies.get(self.session_cookie)
        session = session_key(token) if token else None
        account_id = created = None
        issued = bool(token) and self.sessions.stamped(str(token), cookies.get(STAMP_COOKIE))
        if account is not None:
            account_id, created = account.id, account.created
        elif session:
            account_id, created = self.sessions.account_of(session, now)
        user_agent = view.headers.get("User-Agent", "")
        clearance = None
        if self.challenges is not None:
            presented = cookies.get(self.clearance_cookie)
            if presented:
                clearance = self.challenges.clearance_id(presented, client_ip, user_agent, now)
                if clearance is None:
                    self.counts["clearance_invalid"] += 1  # expired, forged, or from another client
        return Event(ts=now, ip=client_ip, method=view.method, path=reading.path, query=reading.query,
                     route=route or reading.route, account=account_id, account_created=created,
                     session=session, session_issued=issued, user_agent=user_agent,
                     headers=header_facts(view.headers), clearance=clearance)

    def decide(self, view: RequestView, client_ip: str, now: float, reading: RequestReading,
               route: RouteMatch | None = None,
               account: KnownAccount | None = None) -> tuple[Event, Decision]:
        """The event and the engine's decision (store calls: run off the event loop with a shared
        store, see decide_async). Raises StoreUnavailable when the policy fails closed."""
        event = self.event(view, client_ip, now, reading, route, account)
        if self.on_event is not None:
            self.on_event(event)
        decision = self.engine.decide(event)
        if self.metrics is not None:
            self.metrics.decision(decision)
        if self.records is not None:
            self.records.traffic(decision)  # a dict increment: the traffic the Live view shows
        return event, decision

    async def decide_async(self, view: RequestView, client_ip: str, now: float, reading: RequestReading,
                           route: RouteMatch | None = None,
                           account: KnownAccount | None = None) -> tuple[Event, Decision]:
        """`decide` for async integrations: a shared store is a network call, kept off the event
        loop so that a slow store delays only the requests that wait for it."""
        if not self.offload:
            return self.decide(view, client_ip, now, reading, route, account)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, self.decide, view, client_ip, now, reading,
                                          route, account)

    # -- decision -> response ----------------------------------------------------------

    def refuses(self, decision: Decision) -> bool:
        """Write a refusal to the decisions file and the records; True if it is to be enforced
        (in observe mode it is only written)."""
        if not decision.refused:
            return False
        self.note(decision)
        if decision.enforced:
            self.counts[decision.action] += 1
            if self.metrics is not None:
                self.metrics.refusal(decision)
            return True
        return False

    def note(self, decision: Decision) -> None:
        """Write a refusal to the decisions file, the records and the decisions log."""
        if decision_log.isEnabledFor(logging.INFO):
            decision_log.info("%s %s (%s%s): %s", decision.action, decision.id, decision.route,
                              "" if decision.enforced else ", observed only", decision.summary(),
                              extra={"decision_id": decision.id, "action": decision.action,
                                     "enforced": decision.enforced, "route": decision.route})
        if self.decisions is not None:
            self.decisions.write(decision)
        if self.records is not None:
            self.records.decision(decision)

    def refusal(self, view: RequestView, decision: Decision, client_ip: str, error: str = "",
                next_path: str | None = None) -> ResponseParts:
        """The refusal page or JSON; a challenge's carries the challenge, a throttle's its quota."""
        spec = None
        user_agent = view.headers.get("User-Agent", "")
        if decision.action == CHALLENGE and self.challenges is not None:
            if next_path is None:
                next_path = view.target if view.method in ("GET", "HEAD") else "/"
            spec = self.challenges.issue(decision, client_ip, user_agent, next_path)
            if self.metrics is not None:
                self.metrics.challenge_issued()
        ratelimit = ratelimit_headers(decision, self.policy) if decision.action == THROTTLE else ()
        refusal = build_refusal(decision, self.policy.actions, view.headers.get("Accept"),
                                challenge=spec, ratelimit=ratelimit, error=error,
                                login_wall=self.policy.login_wall)
        return ResponseParts(refusal.status, list(refusal.headers), refusal.body)

    # -- what the guard serves itself ---------------------------------------------------

    def may_see_status(self, view: RequestView) -> bool:
        """Only a direct local call: not a client relayed by a load balancer or a local nginx."""
        relayed = any(h in view.headers for h in ("X-Forwarded-For", "Forwarded", "X-Real-IP"))
        return view.peer_ip in ("127.0.0.1", "::1") and not relayed

    def status(self) -> dict[str, Any]:
        """Health and counters, for monitoring (the integration's counters under "proxy", the
        name the proxy's status page has always given them)."""
        body: dict[str, Any] = {
            "store": "degraded" if self.engine.store.degraded else "ok",
            "mode": self.policy.mode,
            "proxy": dict(self.counts),
            "engine": dict(self.engine.counts),
        }
        if self.records is not None:
            body["records"] = self.records.status()
        return body

    def status_page(self) -> ResponseParts:
        return ResponseParts(200, [("Content-Type", "application/json; charset=utf-8"),
                                   ("Cache-Control", "no-store")], json.dumps(self.status()).encode())

    def is_submission(self, view: RequestView, path: str) -> bool:
        """Whether the request posts a challenge answer (see `submit`); `path` as read."""
        return self.challenges is not None and path == SUBMIT_PATH and view.method == "POST"

    def own_response(self, view: RequestView, path: str) -> ResponseParts | None:
        """What the guard serves itself at `path` (as read): its status page and its metrics (to
        direct local calls only) and the challenge's assets. None for a challenge submission (see
        `submit`) and for what is not the guard's: the site's own /.well-known/ paths go through."""
        if path == STATUS_PATH and self.may_see_status(view):
            return self.status_page()
        if path == METRICS_PATH and self.metrics is not None and self.may_see_status(view):
            return metrics_page(self, view.headers.get("Accept"))
        if self.challenges is None or not path.startswith(RESERVED_PREFIX):
            return None
        name = path[len(RESERVED_PREFIX):]
        if name in ASSETS and view.method in ("GET", "HEAD"):
            return ResponseParts(200, [("Content-Type", f"{ASSETS[name]}; charset=utf-8"),
                                       ("Cache-Control", "public, max-age=86400"),
                                       ("X-Content-Type-Options", "nosniff")], challenge_asset(name))
        if path == SUBMIT_PATH and view.method != "POST":
            return ResponseParts(405, [("Allow", "POST"), ("Content-Type", "text/plain; charset=utf-8")],
                                 b"Use POST.\n")
        return None

    def submit_too_large(self, length: int | None) -> ResponseParts | None:
        """The refusal of a challenge submission of unknown or excessive length, before reading it."""
        self.counts["challenge_submitted"] += 1
        if length is None or length > SUBMIT_LIMIT:
            return error_page(413, "Too large", "A challenge answer is a small form.")
        return None

    def answer_fields(self, body: bytes, content_type: str | None) -> dict[str, str] | None:
        """The fields of a challenge answer (an HTML form post, URL-encoded or multipart) that the
        challenge reads; None if the form cannot be read."""
        assert self.challenges is not None
        captcha = self.challenges.captcha
        names = (NEXT_FIELD, captcha.provider.field if captcha is not None else POW_FIELD)
        fields = {}
        try:
            for name in names:
                value = read_field(body, content_type, name)
                if value is not None:
                    fields[name] = value
        except FormError:
            return None
        return fields

    async def submit(self, view: RequestView, client_ip: str, now: float, reading: RequestReading,
                     fields: Mapping[str, str], http: aiohttp.ClientSession | None = None) -> ResponseParts:
        """Check a challenge answer (`fields`, the form as read): a clearance cookie and the way
        on if it passed, the challenge again (or a block) if not. `http` is for a CAPTCHA
        provider's verification call."""
        assert self.challenges is not None
        if self.offload:
            event = await asyncio.get_running_loop().run_in_executor(
                self.executor, self.event, view, client_ip, now, reading)
        else:
            event = self.event(view, client_ip, now, reading)
        keys = event.keys()
        decision_id = new_decision_id()
        try:
            result = await self.challenges.submit(fields, client_ip, event.user_agent, keys, now,
                                                  decision_id, http, self.offload)
        except StoreUnavailable:
            self.counts["store_unavailable"] += 1
            return unavailable_page(self.retry_seconds)
        self.counts[f"challenge_{result.status}"] += 1
        if self.metrics is not None:
            self.metrics.challenge_answered(result.status)
        if result.status == CLEARED:
            return self._cleared(view, result)
        decision = self._submit_decision(event, keys, result, decision_id, now)
        self.note(decision)
        error = "" if decision.action == BLOCK else \
            f"The check did not succeed: {result.detail}. Please try again."
        return self.refusal(view, decision, client_ip, error=error, next_path=result.next)

    def _cleared(self, view: RequestView, result: SubmitResult) -> ResponseParts:
        accept = view.headers.get("Accept", "")
        cookie = (f"{self.clearance_cookie}={result.token}; HttpOnly; Max-Age={result.max_age}; Path=/; "
                  f"SameSite=Lax{'; Secure' if view.secure else ''}")
        if "application/json" in accept and "text/html" not in accept:
            body = json.dumps({"cleared": True, "next": result.next, "expires_in": result.max_age})
            return ResponseParts(200, [("Content-Type", "application/json; charset=utf-8"),
                                       ("Cache-Control", "no-store"), ("Set-Cookie", cookie)], body.encode())
        return ResponseParts(303, [("Location", result.next), ("Cache-Control", "no-store"),
                                   ("Set-Cookie", cookie)], b"")

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

    # -- after the response ---------------------------------------------------------

    def after_response(self, event: Event, status: int, headers: MultiMapping[str], now: float,
                       issued: Iterable[str] | None = None, answer_waits: bool = True) -> ResponseEdit:
        """Record what the site answered and learn from it; never waits on a shared store.

        `headers` are the site's response headers; `issued` the session tokens it sets, where the
        framework keeps cookies apart from the headers (Django), else read from its Set-Cookie
        headers. Returns what to change in the response before the client sees it: with a shared
        store, a login's outcome is written at once for the answer to wait on (`counting`), unless
        `answer_waits` is off (nginx's access log: the answer went out already), when it is queued
        with the other outcomes."""
        if self.records is not None and 200 <= status < 300:
            # queued only: the database is written off the hot path. Whom it was shown to: what the
            # site says (its audience header), else a member when it names the viewer's account.
            said = headers.get(self._audience_header) or (
                "member" if headers.get(self._account_header) else None)
            self.records.exposure(event, said)
        outcome = self.engine.after_requests(event, self.outcome_status(event, status, headers))
        counting: Future[None] | None = None
        if outcome:
            if not self.offload:
                self.engine.record(event, outcome)
            elif event.route.kind == LOGIN and answer_waits:
                counting = self._record_now(event, outcome)
            else:
                self._record_later(event, outcome)
        tokens = self.sessions.issued(headers.getall("Set-Cookie", [])) if issued is None else list(issued)
        learned = self.sessions.learn(headers, event, tokens)
        if learned:
            if self.offload:
                assert self.executor is not None
                try:
                    self.executor.submit(self.sessions.remember, learned, now)
                except RuntimeError:  # shutting down
                    self.counts["records_dropped"] += 1
            else:
                self.sessions.remember(learned, now)
        return ResponseEdit(self.private_headers, self.sessions.stamps(tokens), counting)

    def outcome_status(self, event: Event, status: int, headers: MultiMapping[str]) -> int:
        """The status the detectors learn: a login the site says failed (its [client]
        login_failed_header is "1") counts as 401 whatever status the page was served with."""
        if event.route.kind == LOGIN and headers.get(self._login_failed_header, "").strip() == "1":
            return 401
        return status

    def _record_now(self, event: Event, requests: list[StoreRequest]) -> Future[None] | None:
        """A login's outcome, written to the shared store on a worker thread at once (not queued
        behind the background records): the answer waits for it (ResponseEdit.counting)."""
        assert self.executor is not None
        try:
            return self.executor.submit(self.engine.record, event, requests)
        except RuntimeError:  # shutting down: the record is dropped, the request is not
            self.counts["records_dropped"] += 1
            return None

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


@cache
def challenge_asset(name: str) -> bytes:
    return resources.files("scrapeguard.challenge").joinpath("static", name).read_bytes()


def status_line(status: int) -> str:
    """'404 Not Found': a status as WSGI's start_response takes it."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


def build_guard(policy: Policy | str | Path | None = None, store: str | None = "memory://",
                trusted_proxies: Iterable[str] = (), decisions_out: str | Path | None = None,
                db: str | None = None, metrics: bool = True) -> GuardAdapter:
    """A guard from plain settings, as the middlewares take them: the policy (a Policy, the path of
    a TOML file laid over the defaults, or None for the defaults), the state store's URI
    (`memory://`, `redis://...`), the trusted proxies (addresses or networks whose
    X-Forwarded-For is believed), a decisions file, a records database (URL or SQLite path) and
    whether to keep Prometheus metrics (see integrations/metrics.py)."""
    from scrapeguard.policy import default_policy, load_policy
    from scrapeguard.stores import store_from_uri

    if policy is None:
        policy = default_policy()
    elif not isinstance(policy, Policy):
        policy = load_policy(policy)
    engine = Engine(policy, store_from_uri(store, policy.store))
    writer = DecisionWriter(str(decisions_out)) if decisions_out else None
    records = None
    if db is not None:
        from scrapeguard.records.guard import open_sink

        records = open_sink(policy, db)
        # a middleware has no stop of its own: what is queued is written (or spilled) at exit
        atexit.register(records.close)
    return GuardAdapter(engine, trusted_proxies, writer, records, metrics=metrics)
