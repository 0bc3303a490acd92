"""ScrapeGuard in a Django project, as middleware configured by settings.SCRAPEGUARD.

    pip install 'scrapeguard[django]'
    python examples/django_app.py runserver

The whole project in one file (settings, views, URLs) so that it reads at a glance; in a real
project the two settings below go into settings.py. The same small member site as the other
examples. The middleware sits after the authentication middleware in a real project, so that the
account resolver can read request.user; here the resolver reads the app's own session cookie.
"""

from __future__ import annotations

import secrets
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import path

MEMBERS: dict[int, dict[str, Any]] = {
    i: {"id": i, "username": f"member{i}", "name": f"Member {i}"} for i in range(1, 501)}
BY_NAME = {m["username"]: m for m in MEMBERS.values()}
SESSIONS: dict[str, int] = {}  # session token -> logged-in member id

#: What goes into settings.py.
MIDDLEWARE = ["scrapeguard.integrations.django.ScrapeGuardMiddleware"]
SCRAPEGUARD: dict[str, Any] = {
    "policy": None,                     # a TOML file laid over the defaults; None: the defaults
    "store": "memory://",               # "redis://host:6379/0" when several processes serve the site
    "trusted_proxies": [],              # e.g. ["10.0.0.0/8"] behind a load balancer
    "account": f"{__name__}.logged_in",  # request -> (account id, created) or None
}


def created(member_id: int) -> datetime:
    return datetime(2020, 1, 1, tzinfo=UTC) + timedelta(days=member_id)


def logged_in(request: HttpRequest) -> tuple[str, datetime] | None:
    """The account resolver the guard asks (with django.contrib.auth: request.user)."""
    member_id = SESSIONS.get(request.COOKIES.get("session", ""))
    return (str(member_id), created(member_id)) if member_id else None


def home(request: HttpRequest) -> HttpResponse:
    return HttpResponse('<link rel="stylesheet" href="/static/site.css"><h1>Members</h1>')


def stylesheet(request: HttpRequest) -> HttpResponse:
    return HttpResponse("body { font-family: sans-serif }", content_type="text/css")


def profile(request: HttpRequest, username: str) -> HttpResponse:
    member = BY_NAME.get(username)
    if member is None:
        return HttpResponse("<h1>No such member</h1>", status=404)
    return HttpResponse(f'<article data-member-id="{member["id"]}"><h1>{member["name"]}</h1></article>')


def member_json(request: HttpRequest, member_id: str) -> HttpResponse:
    member = MEMBERS.get(int(member_id)) if member_id.isdigit() else None
    return JsonResponse(member) if member else JsonResponse({"error": "not found"}, status=404)


def login(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return HttpResponse(status=405, headers={"Allow": "POST"})
    member = BY_NAME.get(request.POST.get("username", ""))
    if member is None:
        return HttpResponse("<h1>Wrong name or password</h1>", status=401)
    token = secrets.token_urlsafe(16)
    SESSIONS[token] = int(member["id"])
    response = HttpResponseRedirect("/")
    response.status_code = 303
    response.set_cookie("session", token, httponly=True, samesite="Lax")
    return response


urlpatterns = [
    path("", home),
    path("static/site.css", stylesheet),
    path("u/<str:username>", profile),
    path("api/v1/members/<str:member_id>", member_json),
    path("login", login),
]


def configure() -> None:
    """Settings for running this file on its own (a project has them in settings.py)."""
    if not settings.configured:
        settings.configure(DEBUG=True, SECRET_KEY="example-only", ALLOWED_HOSTS=["*"], ROOT_URLCONF=__name__,
                           MIDDLEWARE=MIDDLEWARE, SCRAPEGUARD=SCRAPEGUARD, INSTALLED_APPS=[], USE_TZ=True)
        import django

        django.setup()


if __name__ == "__main__":
    configure()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
