"""ScrapeGuard in front of a Flask app, as WSGI middleware.

    pip install 'scrapeguard[flask]'
    flask --app 'examples.flask_app:create_app()' run

The same small member site as the Starlette example. The guard runs before Flask sees the request,
so the account resolver reads the WSGI environ (the app's own session cookie), not flask.request.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, Response, jsonify, make_response, redirect, request
from werkzeug.wrappers import Request

from scrapeguard.integrations.wsgi import ScrapeGuardWSGI
from scrapeguard.policy import Policy

MEMBERS: dict[int, dict[str, Any]] = {
    i: {"id": i, "username": f"member{i}", "name": f"Member {i}"} for i in range(1, 501)}
BY_NAME = {m["username"]: m for m in MEMBERS.values()}
SESSIONS: dict[str, int] = {}  # session token -> logged-in member id


def created(member_id: int) -> datetime:
    return datetime(2020, 1, 1, tzinfo=UTC) + timedelta(days=member_id)


def logged_in(environ: dict[str, Any]) -> tuple[str, datetime] | None:
    """The account resolver the guard asks: who is logged in on this request, if anyone."""
    member_id = SESSIONS.get(Request(environ).cookies.get("session", ""))
    return (str(member_id), created(member_id)) if member_id else None


def create_app(policy: Policy | str | None = None, store: str = "memory://",
               trusted_proxies: tuple[str, ...] = (), decisions_out: str | None = None,
               clock: Callable[[], float] = time.time) -> Flask:
    app = Flask(__name__)

    @app.get("/")
    def home() -> str:
        return '<link rel="stylesheet" href="/static/site.css"><h1>Members</h1>'

    @app.get("/static/site.css")
    def stylesheet() -> Response:
        return Response("body { font-family: sans-serif }", mimetype="text/css")

    @app.get("/u/<username>")
    def profile(username: str) -> tuple[str, int]:
        member = BY_NAME.get(username)
        if member is None:
            return "<h1>No such member</h1>", 404
        return f'<article data-member-id="{member["id"]}"><h1>{member["name"]}</h1></article>', 200

    @app.get("/api/v1/members/<member_id>")
    def member_json(member_id: str) -> tuple[Response, int]:
        member = MEMBERS.get(int(member_id)) if member_id.isdigit() else None
        return (jsonify(member), 200) if member else (jsonify(error="not found"), 404)

    @app.post("/login")
    def login() -> Any:
        member = BY_NAME.get(request.form.get("username", ""))
        if member is None:
            return "<h1>Wrong name or password</h1>", 401
        token = secrets.token_urlsafe(16)
        SESSIONS[token] = int(member["id"])
        response = make_response(redirect("/", code=303))
        response.set_cookie("session", token, httponly=True, samesite="Lax")
        return response

    app.wsgi_app = ScrapeGuardWSGI(  # type: ignore[method-assign]
        app.wsgi_app, policy=policy, store=store, trusted_proxies=trusted_proxies, account=logged_in,
        decisions_out=decisions_out, clock=clock)
    return app
