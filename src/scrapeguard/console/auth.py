"""Signing in and out. The sign-in form posts to /login, which the console's own guard watches
(`guarding.py`: the guard's failed_logins rule limits password guessing per address and per user
name); a failed sign-in answers 401, which is what that rule counts."""

from __future__ import annotations

import hmac
import logging
import secrets
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from scrapeguard.console.web import LOGIN_CSRF_COOKIE, SESSION_COOKIE, render
from scrapeguard.records.errors import DatabaseUnavailable, PermissionDenied
from scrapeguard.records.users import SUPPORT, Actor, authenticate

if TYPE_CHECKING:
    from scrapeguard.console.app import Console

log = logging.getLogger(__name__)

#: Longest user name and password the form takes (Argon2 on a megabyte would be a cheap attack).
MAX_FIELD = 1024


def home_of(actor: Actor) -> str:
    """Where a user lands after signing in: support works on appeals, everyone else on the dashboard."""
    return "/appeals" if actor.role == SUPPORT else "/"


def set_cookie(console: Console, response: Response, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="strict",
                        secure=console.settings.secure_cookies)


def login_page(console: Console, request: Request, status: int = 200, message: str = "",
               username: str = "") -> Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = render(console, "login.html", status=status, login_csrf=token, message=message,
                      username=username, next=_safe_next(request.query_params.get("next", "")))
    set_cookie(console, response, LOGIN_CSRF_COOKIE, token, max_age=3600)
    return response


def _safe_next(target: str) -> str:
    """Only a path of this console ('/incidents/INC-3'), never another site ('//evil', 'https:')."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return ""


async def login_form(console: Console, request: Request) -> Response:
    message = "Your session ended after a while without activity: sign in again." \
        if request.query_params.get("expired") else ""
    return login_page(console, request, message=message)


async def login(console: Console, request: Request) -> Response:
    form = await request.form()
    username, password = str(form.get("username") or "")[:MAX_FIELD], str(form.get("password") or "")
    sent, expected = str(form.get("csrf") or ""), request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        return login_page(console, request, 403, "The sign-in form expired: please try again.", username)
    if not username or not password or len(password) > MAX_FIELD:
        return login_page(console, request, 401, "Unknown user or wrong password.", username)

    def check() -> Actor:
        with console.settings.db.session() as session:
            return authenticate(session, username, password)

    try:
        actor = await run_in_threadpool(check)
        session = console.sessions.start(actor.name, console.settings.clock())
    except PermissionDenied:
        return login_page(console, request, 401, "Unknown user or wrong password.", username)
    except DatabaseUnavailable as exc:
        log.warning("console sign-in: %s", exc)
        return login_page(console, request, 503,
                          "The records database cannot be reached: try again shortly.", username)
    response = RedirectResponse(_safe_next(str(form.get("next") or "")) or home_of(actor), status_code=303)
    set_cookie(console, response, SESSION_COOKIE, session.token, max_age=None)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


async def logout(console: Console, request: Request) -> Response:
    """Sign out (a POST with the session's CSRF token: a link elsewhere cannot sign anyone out)."""
    try:
        session, _ = console.sessions.find(request.cookies.get(SESSION_COOKIE), console.settings.clock())
        if session is not None:
            form = await request.form()
            if not session.csrf_ok(str(form.get("csrf") or "")):
                return Response("the form expired: reload the page", status_code=403)
            console.sessions.end(session.token)
    except DatabaseUnavailable as exc:
        log.warning("console sign-out: %s", exc)
        return Response("The records database cannot be reached: try again shortly.", status_code=503)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
