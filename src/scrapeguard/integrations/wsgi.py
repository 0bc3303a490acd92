"""The guard as WSGI middleware (Flask, Bottle, Pyramid, any WSGI app).

    app.wsgi_app = ScrapeGuardWSGI(app.wsgi_app, policy="policy.toml", store="redis://localhost:6379/0",
                                   trusted_proxies=["10.0.0.0/8"], account=who_is_logged_in)

Everything it decides and serves comes from the request adapter (adapter.py); this module only
translates the WSGI environ and start_response. WSGI is synchronous: store calls run inline, in
the worker that serves the request.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

from multidict import CIMultiDict

from scrapeguard.integrations.adapter import (
    SUBMIT_LIMIT,
    AccountAnswer,
    GuardAdapter,
    RequestReading,
    RequestView,
    ResponseEdit,
    ResponseParts,
    build_guard,
    error_page,
    known_account,
    status_line,
    unavailable_page,
)
from scrapeguard.integrations.client_ip import ForwardedHeaderError
from scrapeguard.integrations.forms import FORM_LIMIT, FormError, check_encoding
from scrapeguard.policy.model import Policy
from scrapeguard.routes import AmbiguousRequest
from scrapeguard.stores import StoreUnavailable

Environ = dict[str, Any]
ExcInfo = tuple[type[BaseException], BaseException, TracebackType] | tuple[None, None, None]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]
#: Who is logged in, from the WSGI environ: (account id, creation time) or None.
WSGIAccountResolver = Callable[[Environ], AccountAnswer]


def wsgi_view(environ: Mapping[str, Any]) -> RequestView:
    """The request adapter's view of a WSGI environ (also Django's request.META)."""
    target = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if not target:
        # PEP 3333 strings are bytes decoded as latin-1: back to bytes, then percent-encoded
        path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        target = quote(path.encode("latin-1"), safe="/:@!$&'()*+,;=-._~%")
        query = environ.get("QUERY_STRING", "")
        if query:
            target += "?" + query
    headers: CIMultiDict[str] = CIMultiDict()
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers.add(key[5:].replace("_", "-").title(), value)
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            headers.add(key.replace("_", "-").title(), value)
    return RequestView(environ.get("REQUEST_METHOD", "GET"), target, headers,
                       environ.get("REMOTE_ADDR", ""), environ.get("wsgi.url_scheme", "http"))


def content_length(environ: Mapping[str, Any]) -> int | None:
    text = str(environ.get("CONTENT_LENGTH") or "").strip()
    return int(text) if text.isdigit() else None


def respond(start_response: StartResponse, parts: ResponseParts, head_only: bool = False) -> list[bytes]:
    start_response(status_line(parts.status), [*parts.headers, ("Content-Length", str(len(parts.body)))])
    return [] if head_only else [parts.body]


class ScrapeGuardWSGI:
    """Decides every request before the app sees it; refuses, or lets the app answer and learns
    from its answer.

    `account` is asked, for each request, who is logged in (from the environ); without it the
    guard learns accounts from the app's X-Account-Id / X-Account-Created response headers
    (names set in the policy's [client]), which it strips, as the proxy does."""

    def __init__(self, app: WSGIApp, policy: Policy | str | Path | None = None, store: str = "memory://",
                 trusted_proxies: Iterable[str] = (), account: WSGIAccountResolver | None = None,
                 decisions_out: str | Path | None = None, db: str | None = None,
                 clock: Callable[[], float] = time.time, guard: GuardAdapter | None = None) -> None:
        self.app = app
        self.guard = guard if guard is not None else build_guard(policy, store, trusted_proxies,
                                                                 decisions_out, db)
        self.account = account
        #: The time of each request's event (seconds since the epoch); tests inject a fake clock.
        self.clock = clock

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        guard = self.guard
        guard.counts["requests"] += 1
        view = wsgi_view(environ)
        head_only = view.method == "HEAD"
        try:
            client_ip = guard.client_ip(view)
            reading = guard.read(view)
        except ForwardedHeaderError as exc:
            guard.counts["bad_forwarded_header"] += 1
            return respond(start_response, error_page(400, "Bad request", str(exc)), head_only)
        except AmbiguousRequest as exc:
            guard.counts[exc.count] += 1
            return respond(start_response, error_page(400, "Bad request", str(exc)), head_only)
        own = guard.own_response(view, reading.path)
        if own is not None:
            return respond(start_response, own, head_only)
        if guard.is_submission(view, reading.path):
            return respond(start_response, self._submit(environ, view, client_ip, reading))
        route = None
        if guard.reads_form(view, reading.route):
            try:
                check_encoding(view.headers.get("Content-Encoding"))
                body = read_body(environ, FORM_LIMIT)
                route = guard.form_route(view, reading.route, body)
            except FormError as exc:
                return respond(start_response, guard.form_refusal(exc))
            # the app reads the body the guard read
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        account = known_account(self.account(environ)) if self.account is not None else None
        now = self.clock()
        try:
            event, decision = guard.decide(view, client_ip, now, reading, route, account)
        except StoreUnavailable:
            guard.counts["store_unavailable"] += 1
            return respond(start_response, unavailable_page(guard.retry_seconds), head_only)
        if guard.refuses(decision):
            return respond(start_response, guard.refusal(view, decision, client_ip), head_only)

        recorded = False

        def start_learning(status: str, headers: list[tuple[str, str]],
                           exc_info: ExcInfo | None = None) -> Callable[[bytes], object]:
            # (called again with exc_info when the app fails after starting: recorded once)
            nonlocal recorded
            code = int(status.split(" ", 1)[0])
            if recorded:
                edit = ResponseEdit(guard.private_headers)
            else:
                recorded = True
                edit = guard.after_response(event, code, CIMultiDict(headers), now)
                edit.counted()  # a login's outcome is counted before its answer is sent
            if exc_info is None:
                return start_response(status, edit.apply(headers))
            return start_response(status, edit.apply(headers), exc_info)

        return self.app(environ, start_learning)

    def _submit(self, environ: Environ, view: RequestView, client_ip: str,
                reading: RequestReading) -> ResponseParts:
        guard = self.guard
        too_large = guard.submit_too_large(content_length(environ))
        if too_large is not None:
            return too_large
        try:
            fields = guard.answer_fields(read_body(environ, SUBMIT_LIMIT), view.headers.get("Content-Type"))
        except FormError:
            fields = None
        if fields is None:
            return error_page(400, "Bad request", "The challenge answer could not be read.")
        return submit_challenge(guard, view, client_ip, self.clock(), reading, fields)


def read_body(environ: Mapping[str, Any], limit: int) -> bytes:
    """The request body (its Content-Length), at most `limit` bytes (FormError 413 past that)."""
    length = content_length(environ) or 0
    if length > limit:
        raise FormError(413, f"a form is at most {limit // 1024} KiB here")
    return bytes(environ["wsgi.input"].read(length)) if length else b""


def submit_challenge(guard: GuardAdapter, view: RequestView, client_ip: str, now: float,
                     reading: RequestReading, fields: Mapping[str, str]) -> ResponseParts:
    """Check a challenge answer from synchronous code (WSGI, Django): a small event loop of its own
    for the one submission (with an HTTP client when a CAPTCHA provider must be asked)."""
    async def check() -> ResponseParts:
        assert guard.challenges is not None
        if guard.challenges.captcha is None:
            return await guard.submit(view, client_ip, now, reading, fields)
        import aiohttp

        async with aiohttp.ClientSession() as http:
            return await guard.submit(view, client_ip, now, reading, fields, http)

    return asyncio.run(check())
