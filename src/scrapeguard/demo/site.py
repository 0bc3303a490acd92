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
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
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

from scrapeguard.demo.chats import ROOM_COUNT, Room, make_rooms
from scrapeguard.demo.members import LOCALES, Listing, Member, is_canary, make_listings, make_member

PAGE_SIZE = 50
#: Chat rooms a page of /chats lists, and messages a page of a room shows.
ROOMS_PAGE_SIZE = 20
MESSAGES_PAGE_SIZE = 30
#: A member search in a room shows at most this many members.
ROOM_SEARCH_LIMIT = 10
#: Countries a member can say they live in (those the fake members come from).
COUNTRIES = sorted(set(LOCALES.values()))
SESSION_COOKIE = "session"
DEMO_PASSWORD = "demo"
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,29}$")
#: Passwords longer than this are refused (sign-up) or fail (login) unhashed: hashing is costly.
MAX_PASSWORD = 1024
#: Logged-in sessions end after this long unused, and this long after the login whatever happens.
SESSION_IDLE_SECONDS = 12 * 3600.0
SESSION_MAX_SECONDS = 7 * 86400.0
#: At most this many logged-in sessions are kept; the least recently used go first.
MAX_SESSIONS = 10_000
#: Mails the demo "sends" (kept for the tests and the curious), the latest this many.
OUTBOX_SIZE = 1000
#: What the sign-up and reset forms answer, whether or not the address has an account.
RESET_SENT = "If that address has an account, we sent it a link to choose a new password."

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
    # (surrogatepass: a form may decode to lone surrogates; any text hashes, none raises)
    digest = hashlib.scrypt(password.encode("utf-8", "surrogatepass"), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt${salt.hex()}${digest.hex()}"


def _same_text(a: str, b: str) -> bool:
    """Constant-time comparison of any two strings (hmac.compare_digest takes ASCII str only)."""
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))


@dataclass
class Session:
    """A logged-in session (anonymous visitors have none: see SiteData.anonymous_token)."""

    member_id: int
    created: float
    last_seen: float


@dataclass
class Mail:
    to: str
    subject: str
    link: str = ""


def _paging(request: Request, items: int, page_size: int) -> tuple[int, int, int]:
    """The page asked for by `?page=N` (clamped to the pages there are), the number of pages, and
    the index of the page's first item."""
    pages = max(1, math.ceil(items / page_size))
    try:
        page = int(request.query_params.get("page", "1"))
    except ValueError:
        page = 1
    page = min(max(page, 1), pages)
    return page, pages, (page - 1) * page_size


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
    #: Logged-in sessions by token, least recently used first (bounded: MAX_SESSIONS, and expiring).
    sessions: OrderedDict[str, Session] = field(default_factory=OrderedDict)
    max_sessions: int = MAX_SESSIONS
    #: The site's clock (seconds); tests set their own.
    clock: Callable[[], float] = time.time
    #: Signs anonymous visitors' session tokens, which the site keeps nothing about.
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    #: Links sent by mail that are not used yet: token -> (member id, address), and reset links.
    confirmations: dict[str, tuple[int, str]] = field(default_factory=dict)
    outbox: deque[Mail] = field(default_factory=lambda: deque(maxlen=OUTBOX_SIZE))
    jobs: list[Listing] = field(default_factory=list)
    events: list[Listing] = field(default_factory=list)
    posts: list[Listing] = field(default_factory=list)
    room_count: int = ROOM_COUNT

    @classmethod
    def generate(cls, members: int, seed: int, demo_logins: bool, rooms: int = ROOM_COUNT) -> SiteData:
        data = cls(seed=seed, demo_logins=demo_logins, room_count=rooms)
        for member_id in range(1, members + 1):
            data.add(make_member(seed, member_id))
        data.jobs = make_listings(seed, "jobs", 20)
        data.events = make_listings(seed, "events", 12)
        data.posts = make_listings(seed, "blog", 8)
        return data

    def add(self, member: Member) -> None:
        self.members.append(member)
        self.by_username[member.username] = member
        if member.email:  # (a new member's address is theirs once confirmed)
            self.by_email[member.email.lower()] = member

    def member(self, member_id: int) -> Member | None:
        return self.members[member_id - 1] if 1 <= member_id <= len(self.members) else None

    @property
    def listed(self) -> list[Member]:
        """Members the site links to (everyone but the canaries)."""
        return [m for m in self.members if not is_canary(m.id)]

    @cached_property
    def rooms(self) -> dict[str, Room]:
        """The chat rooms by slug, made on first use (most sites in the tests never show one)."""
        return {room.slug: room for room in make_rooms(self.seed, [m.id for m in self.listed],
                                                       self.room_count)}

    def rooms_for(self, viewer: Member) -> list[Room]:
        """The rooms a member sees: every open room, and the private rooms they are in."""
        return [r for r in self.rooms.values() if not r.private or r.has_member(viewer.id)]

    def room_for(self, slug: str, viewer: Member) -> Room | None:
        """A room the member may see (a private room of others is as if it did not exist)."""
        room = self.rooms.get(slug)
        return room if room is not None and (not room.private or room.has_member(viewer.id)) else None

    # -- sessions ---------------------------------------------------------------------

    def anonymous_token(self) -> str:
        """A session token for an anonymous visitor: random and signed, so that the site knows its
        own tokens without keeping anything per visitor (a flood of cookie-less requests costs no
        memory)."""
        nonce = secrets.token_urlsafe(12)
        return f"{nonce}.{self._sign(nonce)}"

    def _sign(self, nonce: str) -> str:
        return hmac.new(self.secret, nonce.encode(), hashlib.sha256).hexdigest()[:20]

    def is_anonymous_token(self, token: str) -> bool:
        nonce, _, mac = token.rpartition(".")
        return bool(nonce) and hmac.compare_digest(mac.encode("utf-8", "surrogatepass"),
                                                   self._sign(nonce).encode())

    def session(self, token: str | None) -> Session | None:
        """The logged-in session of a token, if it is one and has not expired (then it is used now)."""
        if not token:
            return None
        session = self.sessions.get(token)
        if session is None:
            return None
        now = self.clock()
        if now - session.last_seen > SESSION_IDLE_SECONDS or now - session.created > SESSION_MAX_SECONDS:
            del self.sessions[token]
            return None
        session.last_seen = now
        self.sessions.move_to_end(token)
        return session

    def start_session(self, member_id: int) -> str:
        """A new logged-in session; expired and (beyond max_sessions) least recently used ones go."""
        now = self.clock()
        while self.sessions:
            oldest = next(iter(self.sessions.values()))
            if now - oldest.last_seen <= SESSION_IDLE_SECONDS and len(self.sessions) < self.max_sessions:
                break
            self.sessions.popitem(last=False)
        token = secrets.token_urlsafe(18)
        self.sessions[token] = Session(member_id, now, now)
        return token

    def account_of(self, request: Request) -> Member | None:
        session = self.session(request.cookies.get(SESSION_COOKIE))
        return self.member(session.member_id) if session is not None else None


class DemoSite:
    def __init__(self, members: int = 1000, seed: int = 1, demo_logins: bool = False,
                 rooms: int = ROOM_COUNT) -> None:
        if members < 1:
            raise ValueError("the demo site needs at least one member")
        if rooms < 0:
            raise ValueError("the demo site cannot have a negative number of chat rooms")
        self.data = SiteData.generate(members, seed, demo_logins, rooms)
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
            Route("/chats", self.chats),
            Route("/chats/{room}", self.chat_room),
            Route("/chats/{room}/members", self.chat_members),
            Route("/chats/{room}/search", self.chat_search),
            Route("/api/v1/chats", self.api_chats),
            Route("/api/v1/chats/{room}", self.api_chat_room),
            Route("/api/v1/chats/{room}/members", self.api_chat_members),
            Route("/api/v1/chats/{room}/search", self.api_chat_search),
            Route("/robots.txt", self.robots),
            Route("/members/export/{page}", self.export_trap),
            Route("/signup", self.signup, methods=["GET", "POST"]),
            Route("/confirm", self.confirm),
            Route("/reset", self.reset, methods=["GET", "POST"]),
            Route("/login", self.login, methods=["GET", "POST"]),
            Route("/logout", self.logout, methods=["POST"]),
            Route("/static/avatars/{member_id}.svg", self.avatar),
            Mount("/static", StaticFiles(directory=static_dir), name="static"),
        ]
        self.app = Starlette(routes=routes, exception_handlers={404: self.not_found})

    # -- helpers -----------------------------------------------------------------

    def _finish(self, request: Request, response: Response) -> Response:
        """Give every visitor a session token (an anonymous one is signed, not stored); tell the
        guard who a logged-in viewer is."""
        data = self.data
        token = request.cookies.get(SESSION_COOKIE)
        known = bool(token) and (token in data.sessions or data.is_anonymous_token(str(token)))
        if not known and "set-cookie" not in response.headers:
            response.set_cookie(SESSION_COOKIE, data.anonymous_token(), httponly=True, samesite="lax")
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
        page, pages, start = _paging(request, len(listed), PAGE_SIZE)
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

    # -- daily chats (members only) ----------------------------------------------------

    def _chat_viewer(self, request: Request, api: bool) -> Member | Response:
        """The logged-in member, or what an anonymous visitor gets instead: the login page or a
        401 JSON answer."""
        viewer = self.data.account_of(request)
        if viewer is not None:
            return viewer
        if api:
            return self._finish(request, JSONResponse({"error": "log in to see the chats"}, status_code=401))
        return self._page(request, "login.html", status=401, title="Log in",
                          error="Log in to see the chats.", demo_logins=self.data.demo_logins)

    def _chat_room(self, request: Request, api: bool) -> tuple[Member, Room] | Response:
        """The viewer and the room of the path, or the answer when there is none for them."""
        viewer = self._chat_viewer(request, api)
        if isinstance(viewer, Response):
            return viewer
        room = self.data.room_for(request.path_params["room"], viewer)
        if room is not None:
            return viewer, room
        if api:
            return self._finish(request, JSONResponse({"error": "no such room"}, status_code=404))
        return self._page(request, "not_found.html", status=404, title="Not found")

    def _room_messages(self, request: Request, room: Room) -> dict[str, Any]:
        page, pages, start = _paging(request, len(room.messages), MESSAGES_PAGE_SIZE)
        now = datetime.fromtimestamp(self.data.clock(), UTC).replace(microsecond=0)
        messages = []
        for message in room.messages[start : start + MESSAGES_PAGE_SIZE]:
            author = self.data.member(message.author_id)
            assert author is not None  # (rooms are made of the site's own members)
            posted = now - timedelta(days=message.days_ago, seconds=message.seconds_ago)
            messages.append({"author": author, "text": message.text, "posted": posted})
        return {"page": page, "pages": pages, "messages": messages}

    def _room_members(self, request: Request, room: Room) -> dict[str, Any]:
        page, pages, start = _paging(request, len(room.member_ids), PAGE_SIZE)
        members = [m for i in room.member_ids[start : start + PAGE_SIZE] if (m := self.data.member(i))]
        return {"page": page, "pages": pages, "members": members}

    def _room_search(self, request: Request, room: Room) -> tuple[str, list[Member]]:
        q = request.query_params.get("q", "").strip().lower()[:100]
        results: list[Member] = []
        if q:
            for member_id in room.member_ids:
                m = self.data.member(member_id)
                if m is not None and (q in m.name.lower() or q in m.username or q in m.job_title.lower()):
                    results.append(m)
                    if len(results) == ROOM_SEARCH_LIMIT:
                        break
        return q, results

    @staticmethod
    def _room_dict(room: Room, viewer: Member) -> dict[str, object]:
        return {"slug": room.slug, "title": room.title, "topic": room.topic, "private": room.private,
                "members": len(room.member_ids), "joined": room.has_member(viewer.id)}

    @staticmethod
    def _card(member: Member) -> dict[str, object]:
        """What a room's member list shows of a member (no contact details)."""
        return {"id": member.id, "username": member.username, "name": member.name,
                "job_title": member.job_title, "city": member.city}

    async def chats(self, request: Request) -> Response:
        viewer = self._chat_viewer(request, api=False)
        if isinstance(viewer, Response):
            return viewer
        rooms = self.data.rooms_for(viewer)
        page, pages, start = _paging(request, len(rooms), ROOMS_PAGE_SIZE)
        return self._page(request, "chats.html", title="Chats", viewer=viewer,
                          rooms=rooms[start : start + ROOMS_PAGE_SIZE], page=page, pages=pages)

    async def chat_room(self, request: Request) -> Response:
        found = self._chat_room(request, api=False)
        if isinstance(found, Response):
            return found
        viewer, room = found
        return self._page(request, "chat_room.html", title=room.title, viewer=viewer, room=room,
                          **self._room_messages(request, room))

    async def chat_members(self, request: Request) -> Response:
        found = self._chat_room(request, api=False)
        if isinstance(found, Response):
            return found
        viewer, room = found
        return self._page(request, "chat_members.html", title=f"{room.title}: members", viewer=viewer,
                          room=room, **self._room_members(request, room))

    async def chat_search(self, request: Request) -> Response:
        found = self._chat_room(request, api=False)
        if isinstance(found, Response):
            return found
        viewer, room = found
        q, results = self._room_search(request, room)
        return self._page(request, "chat_search.html", title=f"{room.title}: search", viewer=viewer,
                          room=room, q=q, results=results, limit=ROOM_SEARCH_LIMIT)

    async def api_chats(self, request: Request) -> Response:
        viewer = self._chat_viewer(request, api=True)
        if isinstance(viewer, Response):
            return viewer
        rooms = self.data.rooms_for(viewer)
        page, pages, start = _paging(request, len(rooms), ROOMS_PAGE_SIZE)
        return self._finish(request, JSONResponse({
            "page": page, "pages": pages,
            "rooms": [self._room_dict(r, viewer) for r in rooms[start : start + ROOMS_PAGE_SIZE]],
        }))

    async def api_chat_room(self, request: Request) -> Response:
        found = self._chat_room(request, api=True)
        if isinstance(found, Response):
            return found
        viewer, room = found
        listed = self._room_messages(request, room)
        messages = [{"author": m["author"].username, "name": m["author"].name, "text": m["text"],
                     "posted": m["posted"].isoformat()} for m in listed["messages"]]
        return self._finish(request, JSONResponse({**self._room_dict(room, viewer), "page": listed["page"],
                                                   "pages": listed["pages"], "messages": messages}))

    async def api_chat_members(self, request: Request) -> Response:
        found = self._chat_room(request, api=True)
        if isinstance(found, Response):
            return found
        _, room = found
        listed = self._room_members(request, room)
        return self._finish(request, JSONResponse({
            "room": room.slug, "page": listed["page"], "pages": listed["pages"],
            "members": [self._card(m) for m in listed["members"]],
        }))

    async def api_chat_search(self, request: Request) -> Response:
        found = self._chat_room(request, api=True)
        if isinstance(found, Response):
            return found
        _, room = found
        q, results = self._room_search(request, room)
        return self._finish(request, JSONResponse({"room": room.slug, "q": q,
                                                   "members": [self._card(m) for m in results]}))

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
        """Sign-up answers alike whether or not the address has an account (it is confirmed by a
        mailed link; its owner is told instead): the form is no way to test addresses."""
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
            error = "That username is taken."  # (usernames are public: /u/<username>)
        elif "@" not in email or email.startswith("@") or email.endswith("@"):
            error = "Enter your email address."
        elif not 8 <= len(password) <= MAX_PASSWORD:
            error = f"Choose a password of at least 8 characters (at most {MAX_PASSWORD})."
        if error:
            return self._page(request, "signup.html", status=400, title="Join", error=error,
                              countries=COUNTRIES,
                              form={"username": username, "name": name, "email": email, "country": country})
        member = Member(
            id=len(self.data.members) + 1, username=username, name=name or username,
            email="", phone="", job_title="", company="", city="", country=country,
            bio="", created_at=datetime.now(UTC).replace(microsecond=0), hue=200,
        )
        self.data.add(member)
        self.data.passwords[member.id] = _hash_password(password)
        owner = self.data.by_email.get(email)
        if owner is None:
            link = secrets.token_urlsafe(18)
            self.data.confirmations[link] = (member.id, email)
            self.data.outbox.append(Mail(email, "Confirm your email address", f"/confirm?token={link}"))
        else:
            self.data.outbox.append(Mail(owner.email, "Someone tried to join with your address"))
        return self._log_in(request, member)

    async def confirm(self, request: Request) -> Response:
        """The link mailed at sign-up: the address is the account's from now on (if still free)."""
        found = self.data.confirmations.pop(request.query_params.get("token", ""), None)
        member = self.data.member(found[0]) if found else None
        if found is None or member is None or found[1] in self.data.by_email:
            return self._page(request, "message.html", status=400, title="Link not valid",
                              message="This link is not valid (any more).")
        member.email = found[1]
        self.data.by_email[found[1]] = member
        return self._page(request, "message.html", title="Address confirmed",
                          message="Your email address is confirmed.")

    async def reset(self, request: Request) -> Response:
        """Password reset: the same answer whatever the address (RESET_SENT), then a link by mail."""
        if request.method == "GET":
            sent = request.query_params.get("sent") == "1"
            return self._page(request, "reset.html", title="Reset your password", sent=sent,
                              message=RESET_SENT)
        form = await request.form()
        email = str(form.get("email", "")).strip().lower()[:200]
        owner = self.data.by_email.get(email) if email else None
        if owner is not None:
            self.data.outbox.append(Mail(owner.email, "Choose a new password",
                                         f"/reset/{secrets.token_urlsafe(18)}"))
        # Post/redirect/get: the answer is the same redirect, whether or not anything was sent.
        return self._finish(request, RedirectResponse("/reset?sent=1", status_code=303))

    async def login(self, request: Request) -> Response:
        if request.method == "GET":
            return self._page(request, "login.html", title="Log in", error="",
                              demo_logins=self.data.demo_logins)
        form = await request.form()
        username = str(form.get("username", "")).strip().lower()
        password = str(form.get("password", ""))
        member = self.data.by_username.get(username)
        ok = False
        if member is not None and len(password) <= MAX_PASSWORD:
            stored = self.data.passwords.get(member.id)
            if stored is not None:
                ok = _check_password(password, stored)
            elif self.data.demo_logins:
                ok = _same_text(password, DEMO_PASSWORD)
        if member is None or not ok:
            response = self._page(request, "login.html", status=401, title="Log in",
                                  error="Unknown username or wrong password.",
                                  demo_logins=self.data.demo_logins)
            # The guard counts failed logins by this status, or by this header (detector failed_logins).
            response.headers["X-Login-Failed"] = "1"
            return response
        return self._log_in(request, member)

    def _log_in(self, request: Request, member: Member) -> Response:
        old = request.cookies.get(SESSION_COOKIE)
        if old:
            self.data.sessions.pop(old, None)
        token = self.data.start_session(member.id)
        response = RedirectResponse(f"/u/{member.username}", status_code=303)
        response.set_cookie(SESSION_COOKIE, token, max_age=int(SESSION_MAX_SECONDS), httponly=True,
                            samesite="lax")
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


def create_app(members: int = 1000, seed: int = 1, demo_logins: bool = False,
               rooms: int = ROOM_COUNT) -> Starlette:
    return DemoSite(members, seed, demo_logins, rooms).app
