"""The guard as pure ASGI middleware (Starlette, FastAPI, Quart, any ASGI app).

    app = ScrapeGuardMiddleware(app, policy="policy.toml", store="redis://localhost:6379/0",
                                trusted_proxies=["10.0.0.0/8"], account=who_is_logged_in)

Starlette and FastAPI also take it as `app.add_middleware(ScrapeGuardMiddleware, policy=...)`.
Everything it decides and serves comes from the request adapter (adapter.py); this module only
translates the ASGI scope, body and response messages. The hot path never blocks the event loop:
with a shared store the store calls run on the adapter's worker threads, as in the proxy.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from multidict import CIMultiDict

from scrapeguard.integrations.adapter import (
    SUBMIT_LIMIT,
    AccountAnswer,
    GuardAdapter,
    RequestReading,
    RequestView,
    ResponseParts,
    build_guard,
    error_page,
    known_account,
    unavailable_page,
)
from scrapeguard.integrations.client_ip import ForwardedHeaderError
from scrapeguard.integrations.forms import FORM_LIMIT, FormError, check_encoding
from scrapeguard.policy.model import Policy
from scrapeguard.routes import AmbiguousRequest
from scrapeguard.stores import StoreUnavailable

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
#: Who is logged in, from the ASGI scope (sync or async): (account id, creation time) or None.
ASGIAccountResolver = Callable[[Scope], AccountAnswer | Awaitable[AccountAnswer]]


class BodyTooLarge(Exception):
    """The request body is longer than the guard reads."""


def asgi_view(scope: Scope) -> RequestView:
    """The request adapter's view of an ASGI HTTP scope."""
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else quote(scope["path"], safe="/:@!$&'()*+,;=-._~")
    query = scope.get("query_string", b"")
    target = f"{path}?{query.decode('latin-1')}" if query else path
    headers = CIMultiDict((name.decode("latin-1"), value.decode("latin-1"))
                          for name, value in scope.get("headers", ()))
    client = scope.get("client")
    return RequestView(scope["method"], target, headers, client[0] if client else "",
                       scope.get("scheme", "http"))


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body, at most `limit` bytes (raises BodyTooLarge past that)."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        body += message.get("body", b"")
        if len(body) > limit:
            raise BodyTooLarge
        if not message.get("more_body", False):
            break
    return bytes(body)


def replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the app `body` (already read by the guard), then the rest as it comes."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


async def send_parts(send: Send, parts: ResponseParts, head_only: bool = False) -> None:
    headers = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in parts.headers]
    headers.append((b"content-length", str(len(parts.body)).encode()))
    await send({"type": "http.response.start", "status": parts.status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head_only else parts.body})


class ScrapeGuardMiddleware:
    """Decides every HTTP request before the app sees it; refuses, or lets the app answer and
    learns from its answer. Other scopes (websocket, lifespan) pass through untouched.

    `account` is asked, for each request, who is logged in (from the scope: a session the app
    put there, a token header...): apps that know it need not send account headers. Without it
    the guard learns accounts from the app's X-Account-Id / X-Account-Created response headers
    (names set in the policy's [client]), which it strips, as the proxy does."""

    def __init__(self, app: ASGIApp, policy: Policy | str | Path | None = None, store: str = "memory://",
                 trusted_proxies: Iterable[str] = (), account: ASGIAccountResolver | None = None,
                 decisions_out: str | Path | None = None, db: str | None = None,
                 clock: Callable[[], float] = time.time, guard: GuardAdapter | None = None) -> None:
        self.app = app
        self.guard = guard if guard is not None else build_guard(policy, store, trusted_proxies,
                                                                 decisions_out, db)
        self.account = account
        #: The time of each request's event (seconds since the epoch); tests inject a fake clock.
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        guard = self.guard
        guard.counts["requests"] += 1
        view = asgi_view(scope)
        head_only = view.method == "HEAD"
        try:
            client_ip = guard.client_ip(view)
            reading = guard.read(view)
        except ForwardedHeaderError as exc:
            guard.counts["bad_forwarded_header"] += 1
            await send_parts(send, error_page(400, "Bad request", str(exc)), head_only)
            return
        except AmbiguousRequest as exc:
            guard.counts[exc.count] += 1
            await send_parts(send, error_page(400, "Bad request", str(exc)), head_only)
            return
        own = guard.own_response(view, reading.path)
        if own is not None:
            await send_parts(send, own, head_only)
            return
        if guard.is_submission(view, reading.path):
            await send_parts(send, await self._submit(view, client_ip, reading, receive))
            return
        route = None
        if guard.reads_form(view, reading.route):
            try:
                check_encoding(view.headers.get("Content-Encoding"))
                body = await read_body(receive, FORM_LIMIT)
                route = guard.form_route(view, reading.route, body)
            except BodyTooLarge:
                await send_parts(send, guard.form_refusal(
                    FormError(413, f"a form is at most {FORM_LIMIT // 1024} KiB here")))
                return
            except FormError as exc:
                await send_parts(send, guard.form_refusal(exc))
                return
            receive = replay(body, receive)
        account = None
        if self.account is not None:
            answer = self.account(scope)
            if inspect.isawaitable(answer):
                answer = await answer
            account = known_account(answer)
        now = self.clock()
        try:
            event, decision = await guard.decide_async(view, client_ip, now, reading, route, account)
        except StoreUnavailable:
            guard.counts["store_unavailable"] += 1
            await send_parts(send, unavailable_page(guard.retry_seconds), head_only)
            return
        if guard.refuses(decision):
            await send_parts(send, guard.refusal(view, decision, client_ip), head_only)
            return

        async def send_learning(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(name.decode("latin-1"), value.decode("latin-1"))
                           for name, value in message.get("headers", ())]
                edit = guard.after_response(event, int(message["status"]), CIMultiDict(headers), now)
                await edit.counted_async()  # a login's outcome is counted before its answer is sent
                message = {**message, "headers": [(name.lower().encode("latin-1"), value.encode("latin-1"))
                                                  for name, value in edit.apply(headers)]}
            await send(message)

        await self.app(scope, receive, send_learning)

    async def _submit(self, view: RequestView, client_ip: str, reading: RequestReading,
                      receive: Receive) -> ResponseParts:
        guard = self.guard
        length = view.headers.get("Content-Length")
        too_large = guard.submit_too_large(int(length) if length and length.isdigit() else None)
        if too_large is not None:
            return too_large
        try:
            body = await read_body(receive, SUBMIT_LIMIT)
            fields = guard.answer_fields(body, view.headers.get("Content-Type"))
        except BodyTooLarge:
            fields = None
        if fields is None:
            return error_page(400, "Bad request", "The challenge answer could not be read.")
        assert guard.challenges is not None
        if guard.challenges.captcha is None:
            return await guard.submit(view, client_ip, self.clock(), reading, fields)
        import aiohttp

        async with aiohttp.ClientSession() as http:  # a CAPTCHA provider's verification call
            return await guard.submit(view, client_ip, self.clock(), reading, fields, http)
