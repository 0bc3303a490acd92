"""The Django middleware, configured by settings.SCRAPEGUARD, in the example project, through
Django's test client."""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest

from scrapeguard.challenge.service import RESERVED_PREFIX
from scrapeguard.drill.harness import FakeClock
from scrapeguard.events import Event
from scrapeguard.integrations.sessions import STAMP_COOKIE, session_key

BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
           "Accept": "text/html,application/xhtml+xml", "Accept-Language": "en", "Accept-Encoding": "gzip"}
TOOL = {"User-Agent": "python-requests/2.32.3", "Accept": "*/*"}


@contextlib.contextmanager
def django_site(example: Callable[[str], ModuleType], urlconf: str | None = None,
                **scrapeguard: Any) -> Iterator[Any]:
    """The example project (or its settings with another `urlconf`) with SCRAPEGUARD laid over its
    own settings; yields a test client."""
    from django.test import Client, override_settings

    module = example("django_app")
    module.configure()  # a no-op when another test configured Django already
    options = {**module.SCRAPEGUARD, "account": module.logged_in, "clock": FakeClock().time, **scrapeguard}
    with override_settings(ROOT_URLCONF=urlconf or module.__name__, MIDDLEWARE=module.MIDDLEWARE,
                           SCRAPEGUARD=options, ALLOWED_HOSTS=["*"]):
        yield Client()


def guard_of(client: Any) -> Any:
    """The guard of the middleware Django built for `client` on its first request (Django wraps
    each middleware in a closure of its own: the example's is the only one)."""
    from scrapeguard.integrations.django import ScrapeGuardMiddleware

    for cell in client.handler._middleware_chain.__closure__ or ():
        if isinstance(cell.cell_contents, ScrapeGuardMiddleware):
            return cell.cell_contents.guard
    raise AssertionError("the ScrapeGuard middleware is not in the chain")


def test_the_account_resolver_named_by_its_dotted_path_tells_the_guard_who_is_logged_in(
        example: Callable[[str], ModuleType]) -> None:
    module = example("django_app")
    with django_site(example, account=f"{module.__name__}.logged_in") as client:
        events: list[Event] = []
        assert client.get("/u/member8", headers=BROWSER).status_code == 200
        guard_of(client).on_event = events.append
        login = client.post("/login", {"username": "member3", "password": "x"}, headers=BROWSER)
        assert login.status_code == 303
        # the guard read the login form's subject, and the view still read the form
        assert events[-1].route.kind == "login" and events[-1].route.subject == "username:member3"
        assert client.get("/u/member8", headers=BROWSER).status_code == 200
        assert events[-1].account == "3"
        # the session the view issued is stamped (a cookie of its own, next to Django's)
        assert login.cookies[STAMP_COOKIE].value
        assert events[-1].session == session_key(login.cookies["session"].value)
        assert events[-1].session_issued


def test_account_headers_are_learned_and_stripped_without_a_resolver(
        example: Callable[[str], ModuleType]) -> None:
    from django.http import HttpResponse
    from django.urls import path

    def login(request: Any) -> HttpResponse:
        response = HttpResponse("welcome", headers={"X-Account-Id": "m-9",
                                                    "X-Account-Created": "2025-01-02T03:04:05+00:00"})
        response.set_cookie("session", "tok-9")
        return response

    urls = ModuleType("scrapeguard_test_django_account_headers")
    urls.urlpatterns = [path("login", login), *example("django_app").urlpatterns]  # type: ignore[attr-defined]
    sys.modules[urls.__name__] = urls
    try:
        with django_site(example, urlconf=urls.__name__, account=None) as client:
            answer = client.post("/login", {"username": "m9"}, headers=BROWSER)
            assert answer.status_code == 200
            assert "X-Account-Id" not in answer.headers and "X-Account-Created" not in answer.headers
            events: list[Event] = []
            guard_of(client).on_event = events.append
            client.get("/u/member2", headers=BROWSER)
            assert events[-1].account == "m-9"
    finally:
        del sys.modules[urls.__name__]


def test_a_scraping_tool_is_challenged_and_the_challenge_is_served_by_the_middleware(
        example: Callable[[str], ModuleType]) -> None:
    with django_site(example) as client:
        refused = client.get("/api/v1/members/1", headers=TOOL)
        assert refused.status_code == 403
        assert refused.headers["X-ScrapeGuard-Decision"].startswith("sg-")
        script = client.get(RESERVED_PREFIX + "altcha.js")
        assert script.status_code == 200 and script.headers["Content-Type"].startswith("text/javascript")
        assert client.get("/u/%2E%2E/api/v1/members/1", headers=BROWSER).status_code == 400


@pytest.mark.parametrize(("settings", "message"), [
    ({"stores": "memory://"}, re.escape("unknown settings ['stores']")),
    ({"account": "no.such.module.resolver"}, "cannot import 'no.such.module.resolver'"),
    ({"account": 42}, "must be a callable or its dotted path"),
    ({"trusted_proxies": "10.0.0.0/8"}, "is a list of addresses or networks"),
])
def test_bad_settings_are_named(example: Callable[[str], ModuleType], settings: dict[str, Any],
                                message: str) -> None:
    from django.core.exceptions import ImproperlyConfigured

    with django_site(example, **settings) as client, pytest.raises(ImproperlyConfigured, match=message):
        client.get("/", headers=BROWSER)
