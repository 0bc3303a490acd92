"""The Django echo app (a WSGI handler, served by wsgiref). The client is the last
X-Forwarded-For hop: the one proxy in front (the guard) wrote it."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path, re_path


def _seen(request: HttpRequest, route: str, subject: str | None, status: int = 200) -> HttpResponse:
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    client = forwarded.split(",")[-1].strip() if forwarded else request.META.get("REMOTE_ADDR")
    return JsonResponse({"route": route, "subject": subject, "session": request.COOKIES.get("session"),
                         "client": client, "path": request.path}, status=status)


def profile(request: HttpRequest, username: str) -> HttpResponse:
    return _seen(request, "profile", f"username:{username}")


def member(request: HttpRequest, id: str) -> HttpResponse:
    return _seen(request, "profile", f"id:{id}")


def lookup(request: HttpRequest) -> HttpResponse:
    email = request.GET.get("email", "").strip().lower()
    return _seen(request, "contact_lookup", f"email:{email}" if email else None)


def not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    return _seen(request, "page", None, 404)


urlpatterns = [
    path("u/<str:username>", profile),
    path("api/v1/members/<str:id>", member),
    path("lookup", lookup),
    re_path(r"^(?P<rest>.*)$", not_found),
]


def create_app() -> Any:
    if not settings.configured:
        settings.configure(DEBUG=False, SECRET_KEY="differential-tests-only", ALLOWED_HOSTS=["*"],
                           ROOT_URLCONF=__name__, MIDDLEWARE=[], INSTALLED_APPS=[],
                           USE_TZ=True, LOGGING_CONFIG=None)
        import django

        django.setup()
    else:  # configured by another test (the middleware tests): serve this app's routes, bare
        settings.ROOT_URLCONF = __name__
        settings.MIDDLEWARE = []
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()
