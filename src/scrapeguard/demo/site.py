"""The demo social network: what the demo, the drills and the end-to-end tests protect.

A small Starlette app with deterministic fake members (see `members.py`).
For a logged-in request it adds `X-Account-Id` and `X-Account-Created`
response headers, from which the guard learns who the session belongs to.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from scrapeguard.demo.members import LOCALES, Listing, Member, is_canary, make_listings, make_member

PAGE_SIZE = 50
#: Countries a member can say they live in (those the fake members come from).
COUNTRIES = sorted(set(LOCALES.values()))
SESSION_COOKIE = "session"
DEMO_PASSWORD = "demo"
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,29}$")

ROBOTS_TXT = """\
# The demo site welcomes search engines to public profiles, not to its API.
User-agent: *
Disallow: /api/
Disallow: /lookup
Disallow: /search
Disallow: /members/export/
"""


def _hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt${salt.hex()}${digest.hex()}"


def _check_password(password: str, stored: str) -> bool:
    _, salt, digest = stored.split("$")
    return hmac.compare_digest(_hash_password(password, bytes.fromhex(salt)).split("$")[2], digest)


@dataclass
class SiteData:
    """Members, content and sessions of one running demo site."""

    seed: int
    demo_logins: bool
    members: list[Member] = field(default_factory=list)
    by_username: dict[str, Member] = field(default_factory=dict)
    by_email: dict[str, Member] = field(default_factory=dict)
    passwords: dict[int, str] = field(default_factory=dict)
    #: session token -> member id (None: an anonymous visitor's session)
    sessions: dict[str, int | None] = field(default_factory=dict)
    jobs: list[Listing] = field(default_factory=list)
    events: list[Listing] = field(default_factory=list)
    posts: list[Listing] = field(default_factory=list)

    @classmethod
    def generate(cls, members: int, seed: int, demo_logins: bool) -> SiteData:
        data = cls(seed=seed, demo_logins=demo_logins)
        for member_id in range(1, members + 1):
            data.add(make_member(seed, member_id))
        data.jobs = make_listings(seed, "jobs", 20)
        data.events = make_listings(seed, "events", 12)
        data.posts = make_listings(seed, "blog", 8)
        return data

    def add(self, member: Member) -> None:
        self.members.append(member)
        self.by_username[member.username] = member
        self.by_email[member.email.lower()] = member

    def member(self, member_id: int) -> Member | None:
        return self.members[member_id - 1] if 1 <= member_id <= len(self.members) else None

    @property
    def listed(self) -> list[Member]:
        """Members the site links to (everyone but the canaries)."""
        return [m for m in self.members if not is_canary(m.id)]

    def account_of(self, request: Request) -> Member | None:
        token = request.cookies.get(SESSION_COOKIE)
        member_id = self.sessions.get(token) if token else None
        return self.member(member_id) if member_id else None


class DemoSite:
    def __init__(self, members: int = 1000, seed: int = 1, demo_logins: bool = False) -> None:
        if members < 1:
            raise ValueError("the demo site needs at least one member")
        self.data = SiteData.generate(members, seed, demo_logins)
        templates_dir = str(resources.files("scrapeguard.demo").joinpath("templates"))
        static_dir = str(resources.files("scrapeguard.demo").joinpath("static"))
        self.templates = Jinja2Templates(directory=templates_dir)
        routes = [
            Route("/", self.home),
            Route("/directory", self.directory),
            Route("/u/{username}", self.profile),
            Route("/api/v1/members/{member_id}", self.api_member),
            Route("/search", self.search),
            Route("/lookup", self.lookup),
            Route("/jobs", self.listing, name="jobs"),
            Route("/events", self.listing, name="events"),
            Route("/blog", self.listing, name="blog"),
            Route("/robots.txt", self.robots),
            Route("/members/export/{page}", self.export_trap),
            Route("/signup", self.signup, methods=["GET", "POST"]),
            Route("/login", self.login, methods=["GET", "POST"]),
            Route("/logout", self.logout, methods=["POST"]),
            Route("/static/avatars/{member_id}.svg", self.avatar),
            Mount("/static", StaticFiles(directory=static_dir), name="static"),
        ]
        self.app = Starlette(routes=routes, exception_handlers={404: self.not_found})

    # -- helpers -----------------------------------------------------------------

    def _finish(self, request: Request, response: Response) -> Response:
        """Give every visitor a session; tell the guard who a logged-in viewer is."""
        data = self.data
        token = request.cookies.get(SESSION_COOKIE)
        if token not in data.sessions and "set-cookie" not in response.headers:
            token = secrets.token_urlsafe(18)
            data.sessions[token] = None
            response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax")
        account = data.account_of(request)
        if account is not None:
            response.headers["X-Account-Id"] = str(account.id)
            response.headers["X-Account-Created"] = account.created_at.isoformat()
        return response

    def _page(self, request: Request, template: str, status: int = 200, **context: Any) -> Response:
        context.setdefault("viewer", self.data.account_of(request))
        context.setdefault("title", "")
        response = self.templates.TemplateResponse(request, template, context, status_code=status)
        return self._finish(request, response)

    # -- pages -----------------------------------------------------------------

    async def home(self, request: Request) -> Response:
        newest = sorted(self.data.listed, key=lambda m: m.created_at, reverse=True)[:6]
        return self._page(request, "home.html", members=newest, count=len(self.data.members),
                          posts=self.data.posts[:3])

    async def directory(self, request: Request) -> Response:
        listed = self.data.listed
        pages = max(1, math.ceil(len(listed) / PAGE_SIZE))
        try:
            page = int(request.query_params.get("page", "1"))
        except ValueError:
            page = 1
        page = min(max(page, 1), pages)
        start = (page - 1) * PAGE_SIZE
        return self._page(request, "directory.html", title="Directory",
                          members=listed[start : start + PAGE_SIZE], page=page, pages=pages)

    async def profile(self, request: Request) -> Response:
        member = self.data.by_username.get(request.path_params["username"])
        if member is None:
            return self._page(request, "not_found.html", status=404, title="Not found")
        return self._page(request, "profile.html", title=member.name, member=member)

    async def api_member(self, request: Request) -> Response:
        raw = request.path_params["member_id"]
        member = self.data.member(int(raw)) if raw.isascii() and raw.isdigit() else None
        if member is None:
            return self._finish(request, JSONResponse({"error": "no such member"}, status_code=404))
        viewer = self.data.account_of(request)
        return self._finish(request, JSONResponse(member.public_dict(members_only=viewer is not None)))

    async def search(self, request: Request) -> Response:
        q = request.query_params.get("q", "").strip().lower()[:100]
        results = []
        if q:
            for m in self.data.listed:
                if q in m.name.lower() or q in m.job_title.lower() or q in m.company.lower() \
                        or q in m.city.lower():
                    results.append(m)
                    if len(results) == PAGE_SIZE:
                        break
        return self._page(request, "search.html", title="Search", q=q, results=results)

    async def lookup(self, request: Request) -> Response:
        email = request.query_params.get("email", "").strip().lower()[:200]
        found = self.data.by_email.get(email) if email else None
        status = 404 if email and found is None else 200
        return self._page(request, "lookup.html", status=status, title="Find people you know",
                          email=email, found=found)

    async def listing(self, request: Request) -> Response:
        kind = request.url.path.strip("/")
        items = {"jobs": self.data.jobs, "events": self.data.events, "blog": self.data.posts}[kind]
        return self._page(request, "listing.html", title=kind.capitalize(), kind=kind, items=items)

    async def export_trap(self, request: Request) -> Response:
        """The target of the directory's hidden trap link (see the honeypot detector)."""
        return self._page(request, "not_found.html", status=404, title="Not found")

    async def robots(self, request: Request) -> Response:
        return PlainTextResponse(ROBOTS_TXT)

    async def avatar(self, request: Request) -> Response:
        raw = request.path_params["member_id"]
        member = self.data.member(int(raw)) if raw.isascii() and raw.isdigit() else None
        if member is None:
            return PlainTextResponse("no such avatar", status_code=404)
        svg = (
            '<svg xmlns="http://www.w3.org/2000/svg" width="96" height="96" viewBox="0 0 96 96">'
            f'<rect width="96" height="96" rx="48" fill="hsl({member.hue},45%,42%)"/>'
            '<text x="48" y="58" font-family="sans-serif" font-size="34" fill="#fff" '
            f'text-anchor="middle">{member.initials}</text></svg>'
        )
        return Response(svg, media_type="image/svg+xml",
                        headers={"Cache-Control": "public, max-age=86400"})

    async def not_found(self, request: Request, exc: Exception) -> Response:
        return self._page(request, "not_found.html", status=404, title="Not found")

    # -- accounts ----------------------------------------------------------------

    async def signup(self, request: Request) -> Response:
        if request.method == "GET":
            return self._page(request, "signup.html", title="Join", error="", countries=COUNTRIES)
        form = await request.form()
        username = str(form.get("username", "")).strip().lower()
        name = str(form.get("name", "")).strip()[:80]
        email = str(form.get("email", "")).strip().lower()[:200]
        password = str(form.get("password", ""))
        country = str(form.get("country", "")).strip().upper()
        error = ""
        if country not in COUNTRIES:
            error = "Choose the country you live in."
        elif not USERNAME_RE.match(username):
            error = "Choose a username of 3 to 30 letters, digits, dots, dashes or underscores."
        elif username in self.data.by_username:
            error = "That username is taken."
        elif "@" not in email or email in self.data.by_email:
            error = "Enter an email address that is not already registered."
        elif len(password) < 8:
            error = "Choose a password of at least 8 characters."
        if error:
            return self._page(request, "signup.html", status=400, title="Join", error=error,
                              countries=COUNTRIES,
                              form={"username": username, "name": name, "email": email, "country": country})
        member = Member(
            id=len(self.data.members) + 1, username=username, name=name or username,
            email=email, phone="", job_title="", company="", city="", country=country,
            bio="", created_at=datetime.now(UTC).replace(microsecond=0), hue=200,
        )
        self.data.add(member)
        self.data.passwords[member.id] = _hash_password(password)
        return self._log_in(request, member)

    async def login(self, request: Request) -> Response:
        if request.method == "GET":
            return self._page(request, "login.html", title="Log in", error="",
                              demo_logins=self.data.demo_logins)
        form = await request.form()
        username = str(form.get("username", "")).strip().lower()
        password = str(form.get("password", ""))
        member = self.data.by_username.get(username)
        ok = False
        if member is not None:
            stored = self.data.passwords.get(member.id)
            if stored is not None:
                ok = _check_password(password, stored)
            elif self.data.demo_logins:
                ok = hmac.compare_digest(password, DEMO_PASSWORD)
        if member is None or not ok:
            return self._page(request, "login.html", status=401, title="Log in",
                              error="Unknown username or wrong password.",
                              demo_logins=self.data.demo_logins)
        return self._log_in(request, member)

    def _log_in(self, request: Request, member: Member) -> Response:
        old = request.cookies.get(SESSION_COOKIE)
        if old:
            self.data.sessions.pop(old, None)
        token = secrets.token_urlsafe(18)
        self.data.sessions[token] = member.id
        response = RedirectResponse(f"/u/{member.username}", status_code=303)
        response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax")
        # The new session is logged in from this response on: tell the guard.
        response.headers["X-Account-Id"] = str(member.id)
        response.headers["X-Account-Created"] = member.created_at.isoformat()
        return response

    async def logout(self, request: Request) -> Response:
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            self.data.sessions.pop(token, None)
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response


def create_app(members: int = 1000, seed: int = 1, demo_logins: bool = False) -> Starlette:
    return DemoSite(members, seed, demo_logins).app
