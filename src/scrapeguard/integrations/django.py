"""The guard as Django middleware, set up from settings:

    MIDDLEWARE = [
        ...,
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "scrapeguard.integrations.django.ScrapeGuardMiddleware",  # after auth: it can ask who is in
        ...,
    ]
    SCRAPEGUARD = {
        "policy": BASE_DIR / "scrapeguard.toml",    # None or absent: the built-in defaults
        "store": "redis://localhost:6379/0",        # default "memory://" (one process only)
        "trusted_proxies": ["10.0.0.0/8"],          # whose X-Forwarded-For is believed
        "account": "myapp.guard.logged_in_account", # request -> (account id, created) or None
        "decisions_out": "/var/log/scrapeguard/decisions.jsonl",  # optional
        "db": "postgresql+psycopg://...",           # optional records database
        "metrics": True,                            # Prometheus metrics (default on; see metrics_view)
    }

Everything it decides and serves comes from the request adapter (adapter.py); this module only
translates Django's request and response.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.module_loading import import_string
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
from scrapeguard.integrations.wsgi import content_length, submit_challenge, wsgi_view
from scrapeguard.routes import AmbiguousRequest
from scrapeguard.stores import StoreUnavailable

#: Who is logged in, from the Django request: (account id, creation time) or None.
DjangoAccountResolver = Callable[[HttpRequest], AccountAnswer]
SETTINGS = frozenset({"policy", "store", "trusted_proxies", "account", "decisions_out", "db", "clock",
                      "metrics"})
#: The guard the middleware built last in this process (what `metrics_view` serves).
_built: list[GuardAdapter] = []


def _callable(value: Any, name: str) -> Callable[..., Any] | None:
    """A setting that names a callable: the callable itself, or its dotted path."""
    if value is None or callable(value):
        return value  # type: ignore[no-any-return]
    if isinstance(value, str):
        try:
            found = import_string(value)
        except ImportError as exc:
            raise ImproperlyConfigured(f"SCRAPEGUARD[{name!r}]: cannot import {value!r}: {exc}") from exc
        if callable(found):
            return found  # type: ignore[no-any-return]
    raise ImproperlyConfigured(f"SCRAPEGUARD[{name!r}] must be a callable or its dotted path, not {value!r}")


def guard_from_settings(options: Mapping[str, Any]) -> tuple[GuardAdapter, DjangoAccountResolver | None,
                                                              Callable[[], float]]:
    """The guard, the account resolver and the clock that settings.SCRAPEGUARD describe."""
    unknown = sorted(set(options) - SETTINGS)
    if unknown:
        raise ImproperlyConfigured(f"SCRAPEGUARD has unknown settings {unknown}; known: {sorted(SETTINGS)}")
    trusted = options.get("trusted_proxies", ())
    if isinstance(trusted, str):
        raise ImproperlyConfigured("SCRAPEGUARD['trusted_proxies'] is a list of addresses or networks")
    guard = build_guard(options.get("policy"), options.get("store", "memory://"), trusted,
                        options.get("decisions_out"), options.get("db"), bool(options.get("metrics", True)))
    account = _callable(options.get("account"), "account")
    clock = _callable(options.get("clock"), "clock") or time.time
    return guard, account, clock


def django_response(parts: ResponseParts) -> HttpResponse:
    response = HttpResponse(parts.body, status=parts.status)
    for name, value in parts.headers:
        if name.lower() == "set-cookie":
            response.cookies.load(value)  # Django keeps cookies apart from the headers
        else:
            response[name] = value
    return response


class ScrapeGuardMiddleware:
    """Decides every request before the view runs; refuses, or lets the view answer and learns
    from its answer. The guard is built once, when Django loads its middleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        options = getattr(settings, "SCRAPEGUARD", {})
        if not isinstance(options, Mapping):
            raise ImproperlyConfigured("settings.SCRAPEGUARD must be a dict")
        self.guard, self.account, self.clock = guard_from_settings(options)
        _built[:] = [self.guard]

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        guard = self.guard
        guard.counts["requests"] += 1
        view = wsgi_view(request.META)
        try:
            client_ip = guard.client_ip(view)
            reading = guard.read(view)
        except ForwardedHeaderError as exc:
            guard.counts["bad_forwarded_header"] += 1
            return django_response(error_page(400, "Bad request", str(exc)))
        except AmbiguousRequest as exc:
            guard.counts[exc.count] += 1
            return django_response(error_page(400, "Bad request", str(exc)))
        own = guard.own_response(view, reading.path)
        if own is not None:
            return django_response(own)
        if guard.is_submission(view, reading.path):
            return django_response(self._submit(request, view, client_ip, reading))
        route = None
        if guard.reads_form(view, reading.route):
            try:
                check_encoding(view.headers.get("Content-Encoding"))
                if (content_length(request.META) or 0) > FORM_LIMIT:
                    raise FormError(413, f"a form is at most {FORM_LIMIT // 1024} KiB here")
                route = guard.form_route(view, reading.route, request.body)  # Django keeps the body
            except FormError as exc:
                return django_response(guard.form_refusal(exc))
        account = known_account(self.account(request)) if self.account is not None else None
        now = self.clock()
        try:
            event, decision = guard.decide(view, client_ip, now, reading, route, account)
        except StoreUnavailable:
            guard.counts["store_unavailable"] += 1
            return django_response(unavailable_page(guard.retry_seconds))
        if guard.refuses(decision):
            return django_response(guard.refusal(view, decision, client_ip))
        response = self.get_response(request)
        issued = [morsel.value for name, morsel in response.cookies.items()
                  if name == guard.session_cookie and morsel.value]
        edit = guard.after_response(event, response.status_code, CIMultiDict(response.items()), now, issued)
        edit.counted()  # a login's outcome is counted before its answer is sent
        for name in edit.strip:
            if name in response:
                del response[name]
        for stamp in edit.set_cookies:
            response.cookies.load(stamp)
        return response

    def _submit(self, request: HttpRequest, view: RequestView, client_ip: str,
                reading: RequestReading) -> ResponseParts:
        guard = self.guard
        too_large = guard.submit_too_large(content_length(request.META))
        if too_large is not None:
            return too_large
        fields = guard.answer_fields(request.body[:SUBMIT_LIMIT], view.headers.get("Content-Type"))
        if fields is None:
            return error_page(400, "Bad request", "The challenge answer could not be read.")
        return submit_challenge(guard, view, client_ip, self.clock(), reading, fields)


def metrics_view(request: HttpRequest) -> HttpResponse:
    """The middleware's Prometheus metrics as a Django view, for anyone who reaches it: route it
    where only Prometheus can (`path("internal/metrics", metrics_view)` behind your own access
    rule). The guard's own /.well-known/scrapeguard/metrics answers direct local calls only."""
    from scrapeguard.integrations.metrics import metrics_page

    if not _built:
        return django_response(error_page(503, "Not ready", "The ScrapeGuard middleware has not started."))
    return django_response(metrics_page(_built[0], request.headers.get("Accept")))


__all__ = ["ScrapeGuardMiddleware", "guard_from_settings", "metrics_view"]
