"""The console application: the declared pages of every area behind the sign-in, the role check,
CSRF on every form, and the console's own guard on its sign-in form."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable
from importlib import resources
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from scrapeguard.console import auth
from scrapeguard.console.sessions import SessionStore
from scrapeguard.console.settings import ConsoleSettings
from scrapeguard.console.web import SESSION_COOKIE, Page, PageError, PageRoute, error_status, render
from scrapeguard.records.errors import DatabaseUnavailable, NotFound
from scrapeguard.records.users import get_actor

log = logging.getLogger(__name__)

#: The areas of the console, one module each; each has `routes` (a web.Routes).
AREAS = (
    "scrapeguard.console.dashboard",
    "scrapeguard.console.incidents",
    "scrapeguard.console.appeals",
    "scrapeguard.console.actors",
    "scrapeguard.console.policy",
    "scrapeguard.console.team",
    "scrapeguard.console.cases",
    "scrapeguard.console.live",
)


class Console:
    """The running console: its settings, its signed-in sessions and its pages."""

    def __init__(self, settings: ConsoleSettings) -> None:
        self.settings = settings
        self.sessions = SessionStore(settings.db, settings.idle_seconds, settings.max_session_seconds)
        self.pages: list[PageRoute] = [page for area in AREAS
                                       for page in importlib.import_module(area).routes.pages]

    def page_endpoint(self, routes: Iterable[PageRoute]) -> Callable[[Request], Any]:
        by_method = {route.method: route for route in routes}

        async def endpoint(request: Request) -> Response:
            route = by_method.get(request.method)
            if route is None:
                return Response("method not allowed", status_code=405,
                                headers={"Allow": ", ".join(sorted(by_method))})
            return await self.serve(route, request)

        return endpoint

    async def serve(self, route: PageRoute, request: Request) -> Response:
        """Sign-in, role and CSRF checks, then the page; a records error becomes an error page."""
        try:
            session, expired = self.sessions.find(request.cookies.get(SESSION_COOKIE), self.settings.clock())
            if session is None:
                target = quote(request.url.path, safe="/") if request.method == "GET" else ""
                query = "&".join(q for q in ("expired=1" if expired else "",
                                             f"next={target}" if target else "") if q)
                return RedirectResponse("/login" + (f"?{query}" if query else ""), status_code=303)
            try:
                with self.settings.db.session() as records:
                    actor = get_actor(records, session.user)  # disabled, or role changed: checked each time
            except NotFound:
                self.sessions.end_user(session.user)
                return RedirectResponse("/login", status_code=303)
        except DatabaseUnavailable as exc:  # sessions and users are in the records: nothing to serve
            log.warning("console page %s %s: %s", request.method, request.url.path, exc)
            return render(self, "error.html", status=503, status_code=503,
                          message=f"{exc}. Try again shortly.")
        page = Page(request, self, session, actor)
        try:
            if not page.can(route.permission):
                raise PageError(403, f"{actor.name} ({actor.role}) may not do this ({route.permission})")
            if request.method == "POST":
                form = await page.form()
                if not session.csrf_ok(str(form.get("csrf") or "")):
                    raise PageError(403, "the form expired or came from elsewhere: reload the page and "
                                         "try again")
            return await route.endpoint(page)
        except Exception as exc:  # records and page errors become error pages; others propagate
            status, message = error_status(exc)
            if status >= 500:
                log.warning("console page %s %s: %s", request.method, request.url.path, message)
            return render(self, "error.html", status=status, page=page, status_code=status, message=message)

    def routes(self) -> list[BaseRoute]:
        grouped: dict[str, list[PageRoute]] = {}
        for page in self.pages:
            grouped.setdefault(page.path, []).append(page)
        static = str(resources.files("scrapeguard.console") / "static")
        return [
            Route("/login", self._bound(auth.login_form), methods=["GET"]),
            Route("/login", self._bound(auth.login), methods=["POST"]),
            Route("/logout", self._bound(auth.logout), methods=["POST"]),
            Mount("/static", StaticFiles(directory=static), name="static"),
            *(Route(path, self.page_endpoint(pages), methods=sorted({p.method for p in pages}))
              for path, pages in grouped.items()),
        ]

    def _bound(self, function: Callable[[Console, Request], Any]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            response: Response = await function(self, request)
            return response
        return endpoint


def build_console(settings: ConsoleSettings, guarded: bool = True) -> Any:
    """The console as an ASGI app. With `guarded` (always, except in tests of the bare app) its
    sign-in form is watched by the guard's own failed_logins rule (`guarding.py`)."""
    console = Console(settings)
    app = Starlette(routes=console.routes())
    app.state.console = console
    if not guarded:
        return app
    from scrapeguard.console.guarding import guard_console

    return guard_console(app, trusted_proxies=settings.trusted_proxies, clock=settings.clock,
                         store=settings.signin_store)
