"""ScrapeGuard in front of a Starlette app, as pure ASGI middleware (FastAPI: the same lines).

    pip install scrapeguard          # the ASGI middleware needs nothing more (Starlette is a dependency)
    uvicorn --factory examples.starlette_app:create_app

A small member site: a home page, a stylesheet, member profiles (HTML at /u/<name>, JSON at
/api/v1/members/<id>, the routes the default policy guards) and a login form. The guard asks the
app who is logged in (`logged_in`), so the app sends no account headers.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from scrapeguard.integrations.asgi import ScrapeGuardMiddleware
from scrapeguard.policy import Policy

MEMBERS: dict[int, dict[str, Any]] = {
    i: {"id": i, "username": f"member{i}", "name": f"Member {i}"} for i in range(1, 501)}
BY_NAME = {m["username"]: m for m in MEMBERS.values()}
SESSIONS: dict[str, int] = {}  # session token -> logged-in member id


def created(member_id: int) -> datetime:
    return datetime(2020, 1, 1, tzinfo=UTC) + timedelta(days=member_id)


def logged_in(scope: Any) -> tuple[str, datetime] | None:
    """The account resolver the guard asks: who is logged in on this request, if anyone."""
    member_id = SESSIONS.get(Request(scope).cookies.get("session", ""))
    return (str(member_id), created(member_id)) if member_id else None


async def home(request: Request) -> Response:
    return HTMLResponse('<link rel="stylesheet" href="/static/site.css"><h1>Members</h1>')


async def stylesheet(request: Request) -> Response:
    return PlainTextResponse("body { font-family: sans-serif }", media_type="text/css")


async def profile(request: Request) -> Response:
    member = BY_NAME.get(request.path_params["username"])
    if member is None:
        return HTMLResponse("<h1>No such member</h1>", status_code=404)
    return HTMLResponse(f'<article data-member-id="{member["id"]}"><h1>{member["name"]}</h1></article>')


async def member_json(request: Request) -> Response:
    member_id = request.path_params["id"]
    member = MEMBERS.get(int(member_id)) if member_id.isdigit() else None
    return JSONResponse(member) if member else JSONResponse({"error": "not found"}, status_code=404)


async def login(request: Request) -> Response:
    form = await request.form()
    member = BY_NAME.get(str(form.get("username", "")))
    if member is None:
        return HTMLResponse("<h1>Wrong name or password</h1>", status_code=401)
    token = secrets.token_urlsafe(16)
    SESSIONS[token] = int(member["id"])
    response = RedirectResponse("/", status_code=303)
    response.set_cookie("session", token, httponly=True, samesite="lax")
    return response


def create_app(policy: Policy | str | None = None, store: str = "memory://",
               trusted_proxies: tuple[str, ...] = (), decisions_out: str | None = None,
               clock: Callable[[], float] = time.time,
               guarded: bool = True) -> Any:
    """The site, guarded unless `guarded` is False (the bare app, e.g. behind the proxy)."""
    app = Starlette(routes=[Route("/", home), Route("/static/site.css", stylesheet),
                            Route("/u/{username}", profile), Route("/api/v1/members/{id}", member_json),
                            Route("/login", login, methods=["POST"])])
    if not guarded:
        return app
    return ScrapeGuardMiddleware(app, policy=policy, store=store, trusted_proxies=trusted_proxies,
                                 account=logged_in, decisions_out=decisions_out, clock=clock)
