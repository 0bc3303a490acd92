"""How a console page is declared and served: the permission it needs, the signed-in user, CSRF on
every form, and the records' errors turned into pages.

An area module declares its pages on a `Routes`:

    routes = Routes()

    @routes.get("/incidents", "read")
    async def incidents(page: Page) -> Response:
        with page.records() as session:
            rows = incidents.list_incidents(session, page.actor)
        return page.render("incidents.html", incidents=rows)

    @routes.post("/incidents/{ref}/assess", "incident.assess")
    async def assess(page: Page) -> Response:
        form = await page.form()          # CSRF already checked
        ...
        return page.redirect(f"/incidents/{ref}", "Assessed.")

The permission is checked before the endpoint runs (403 otherwise), for every method: the role
walk test (`tests/console/test_roles.py`) reads every declared page and tries it as every role. The
records function the endpoint calls checks the permission again (`@requires`), so a page that
declares too little still cannot act beyond the user's role.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from scrapeguard.records.errors import (
    DatabaseUnavailable,
    InvalidStep,
    NotFound,
    PermissionDenied,
    RecordsError,
)
from scrapeguard.records.users import Actor

if TYPE_CHECKING:
    from scrapeguard.console.app import Console
    from scrapeguard.console.sessions import ConsoleSession

#: The cookie that carries the session token.
SESSION_COOKIE = "sg_console"
#: The cookie that carries the sign-in form's CSRF token (before there is a session).
LOGIN_CSRF_COOKIE = "sg_console_login"
#: Largest upload the console takes (a final notice, a deletion confirmation).
MAX_UPLOAD = 20 * 1024 * 1024
#: Pseudo-permission of the pages every signed-in user may see (their own account, sign-out).
SIGNED_IN = "signed-in"

Endpoint = Callable[["Page"], Awaitable[Response]]

#: The navigation: (label, path, permission needed to see the link). A link is shown only to roles
#: that may open it; the page itself checks the permission again.
NAV: tuple[tuple[str, str, str], ...] = (
    ("Dashboard", "/", "read"),
    ("Appeals", "/appeals", "appeal.resolve"),
    ("Live", "/live", "read"),
    ("Actors", "/actors", "read"),
    ("Incidents", "/incidents", "read"),
    ("Cases", "/cases", "read"),
    ("Policy", "/policy", "read"),
    ("Team", "/team", "read"),
)


class PageError(Exception):
    """A page refuses a request with a status and a message shown to the user."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class PageRoute:
    """One declared page: path, method, the permission it needs, its endpoint."""

    path: str
    method: str
    permission: str
    endpoint: Endpoint
    #: Example path parameters for the role walk (a page whose record does not exist answers 404
    #: to a role that may see it, and 403 to one that may not).
    name: str = ""


class Routes:
    """The pages of one area of the console."""

    def __init__(self) -> None:
        self.pages: list[PageRoute] = []

    def get(self, path: str, permission: str) -> Callable[[Endpoint], Endpoint]:
        return self._add(path, "GET", permission)

    def post(self, path: str, permission: str) -> Callable[[Endpoint], Endpoint]:
        return self._add(path, "POST", permission)

    def _add(self, path: str, method: str, permission: str) -> Callable[[Endpoint], Endpoint]:
        def add(endpoint: Endpoint) -> Endpoint:
            self.pages.append(PageRoute(path, method, permission, endpoint, endpoint.__name__))
            return endpoint
        return add


def format_time(value: datetime | float | None) -> str:
    """A time as the console shows it: UTC, to the minute ('2026-12-03 16:04 UTC')."""
    if value is None:
        return "—"
    if isinstance(value, int | float):
        value = datetime.fromtimestamp(value, UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _templates() -> Environment:
    folder = str(resources.files("scrapeguard.console") / "templates")
    env = Environment(loader=FileSystemLoader(folder), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["when"] = format_time
    env.filters["tojson_pretty"] = lambda v: json.dumps(v, indent=2, ensure_ascii=False, default=str)
    env.filters["urlquote"] = lambda v: quote(str(v), safe="")
    return env


TEMPLATES = _templates()


@dataclass
class Page:
    """One request to a console page, by a signed-in user whose permission was checked."""

    request: Request
    console: Console
    session: ConsoleSession
    actor: Actor
    _form: FormData | None = field(default=None)

    @property
    def now(self) -> float:
        return self.console.settings.clock()

    @property
    def now_datetime(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC)

    def param(self, name: str) -> str:
        return str(self.request.path_params[name])

    @contextmanager
    def records(self) -> Iterator[Session]:
        """A unit of work on the records (committed at the end, rolled back on an error)."""
        with self.console.settings.db.session() as session:
            yield session

    async def form(self) -> FormData:
        """The submitted form (its CSRF token was checked before the endpoint ran)."""
        if self._form is None:
            self._form = await self.request.form(max_part_size=MAX_UPLOAD)
        return self._form

    async def field(self, name: str, required: bool = True, default: str = "") -> str:
        value = (await self.form()).get(name)
        if isinstance(value, UploadFile) or value is None or not str(value).strip():
            if required:
                raise PageError(400, f"the form lacks {name.replace('_', ' ')}")
            return default
        return str(value).strip()

    async def upload(self, name: str, required: bool = True) -> tuple[str, bytes] | None:
        """(file name, contents) of an uploaded file field."""
        value = (await self.form()).get(name)
        if not isinstance(value, UploadFile) or not value.filename:
            if required:
                raise PageError(400, f"choose a file for {name.replace('_', ' ')}")
            return None
        data = await value.read()
        if len(data) > MAX_UPLOAD:
            raise PageError(413, f"the file is larger than {MAX_UPLOAD // (1024 * 1024)} MB")
        return value.filename, data

    @property
    def store_health(self) -> str:
        """The guard's state store as the console sees it: ok, degraded, or not connected."""
        store = self.console.settings.store
        return "not connected" if store is None else ("degraded" if store.degraded else "ok")

    @property
    def back(self) -> str:
        """Where "Back" goes from an error: the page a form was on, else the user's home."""
        path = self.request.url.path
        if self.request.method == "POST" and path.count("/") > 1:
            return path.rsplit("/", 1)[0]
        return "/appeals" if not self.actor.can("read") else "/"

    def can(self, permission: str) -> bool:
        return permission == SIGNED_IN or self.actor.can(permission)

    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        return render(self.console, template, status=status, page=self, **values)

    def redirect(self, url: str, message: str | None = None, kind: str = "ok") -> RedirectResponse:
        """After a change: back to a page (303, so a reload does not post again), with a message."""
        if message:
            self.session.flash(message, kind)
        return RedirectResponse(url, status_code=303)


def render(console: Console, template: str, status: int = 200, page: Page | None = None,
           **values: Any) -> HTMLResponse:
    nav = [(label, path) for label, path, permission in NAV if page is not None and page.can(permission)]
    html = TEMPLATES.get_template(template).render(
        page=page, nav=nav, user=page.actor if page else None, csrf=page.session.csrf if page else "",
        flashes=page.session.take_flashes() if page else [], current=page.request.url.path if page else "",
        **values)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


#: Sent with every console page: no framing, no sniffing, no referrer, only the console's own files.
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                               "script-src 'self'; form-action 'self'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
}


def attachment(data: bytes, name: str, media_type: str = "application/octet-stream") -> Response:
    """A download: saved under its own name (an ASCII fallback, and the name itself as UTF-8), with
    the console's security headers, never sniffed into something a browser would run."""
    ascii_name = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in name)
    ascii_name = ascii_name.strip("._") or "download"
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"
    return Response(data, media_type=media_type,
                    headers={**SECURITY_HEADERS, "Content-Disposition": disposition})


#: A command-line option named in a records message ("give the reason (--reason)"), with its value
#: placeholder and the punctuation after it. The console's own options (--store, --policy, --db)
#: are kept: the person who started the console is the one to act on them.
COMMAND_OPTION = re.compile(r"(?<![\w'\"-])--(?!store\b|policy\b|db\b)[a-z][a-z-]*(?: [A-Z]+\b)?[:,]?\s*")


def console_words(message: str) -> str:
    """A records message as a page shows it: the records layer speaks to the command line too, and
    its hints name options ("(--reason)") that mean nothing in a form, where the field has a label."""
    return re.sub(r"\s*\(\s*\)", "", COMMAND_OPTION.sub("", message))


def error_status(exc: Exception) -> tuple[int, str]:
    """The page status and message for an error of the records layer or of the page."""
    if isinstance(exc, PageError):
        return exc.status, exc.message
    if isinstance(exc, PermissionDenied):
        return 403, console_words(str(exc))
    if isinstance(exc, NotFound):
        return 404, console_words(str(exc))
    if isinstance(exc, DatabaseUnavailable):
        return 503, str(exc)
    if isinstance(exc, InvalidStep | RecordsError):
        return 409 if isinstance(exc, InvalidStep) else 400, console_words(str(exc))
    raise exc
