"""Console test helpers: a team with one user per role, a settable clock, a signed-in client that
sends each form's CSRF token, and a browser launcher for Debian's chromium."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from scrapeguard.console.app import Console, build_console
from scrapeguard.console.settings import ConsoleSettings
from scrapeguard.console.web import SESSION_COOKIE
from scrapeguard.records.db import Database
from scrapeguard.records.users import GUARD, add_user

PASSWORD = "console password 1"
#: The team: user name -> role; two of some roles, for the four-eyes rules.
TEAM: dict[str, str] = {
    "ada": "admin", "abe": "admin", "ana": "analyst", "pia": "privacy_officer", "pat": "privacy_officer",
    "leo": "legal", "lou": "legal", "vic": "viewer", "sue": "support",
}
#: One user of each role.
BY_ROLE: dict[str, str] = {"admin": "ada", "analyst": "ana", "privacy_officer": "pia", "legal": "leo",
                           "viewer": "vic", "support": "sue"}
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
#: Screenshots of the console's pages, written by the browser tests.
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')


class FakeClock:
    """Seconds since the epoch that only move when a test moves them."""

    def __init__(self, now: float = 1_796_000_000.0) -> None:  # 2026-11-30
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def seed_team(db: Database) -> None:
    with db.session() as session:
        add_user(session, None, "ada", "admin", PASSWORD)
    with db.session() as session:
        for name, role in TEAM.items():
            if name != "ada":
                add_user(session, GUARD, name, role, PASSWORD)


class ConsoleClient:
    """A TestClient signed in as one user; `post` adds the session's CSRF token to the form."""

    def __init__(self, app: Any, console: Console) -> None:
        self.http = TestClient(app, base_url="https://console.test", follow_redirects=False,
                               client=("127.0.0.1", 50000))
        self.console = console

    def sign_in(self, name: str, password: str = PASSWORD) -> httpx.Response:
        form = self.http.get("/login")
        token = CSRF_RE.search(form.text)
        assert token, form.text
        return self.http.post("/login", data={"username": name, "password": password,
                                              "csrf": token.group(1)})

    @property
    def csrf(self) -> str:
        token = self.http.cookies.get(SESSION_COOKIE)
        session, _ = self.console.sessions.find(token, self.console.settings.clock())
        assert session is not None, "not signed in"
        return session.csrf

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def post(self, path: str, data: dict[str, Any] | None = None, files: Any = None,
             csrf: bool = True) -> httpx.Response:
        form = dict(data or {})
        if csrf:
            form["csrf"] = self.csrf
        return self.http.post(path, data=form, files=files)


@dataclass
class ConsoleHarness:
    """A console on a seeded records database, with a settable clock."""

    db: Database
    settings: ConsoleSettings
    app: Any
    clock: FakeClock

    @property
    def console(self) -> Console:
        inner = self.app
        while not hasattr(inner, "state"):
            inner = inner.app  # the guard's middleware around the console
        console: Console = inner.state.console
        return console

    def client(self, name: str | None = None) -> ConsoleClient:
        """A client, signed in as `name` when given."""
        client = ConsoleClient(self.app, self.console)
        if name is not None:
            response = client.sign_in(name)
            assert response.status_code == 303, response.text
        return client


def make_harness(db: Database, **settings: Any) -> ConsoleHarness:
    clock = settings.pop("clock", None) or FakeClock()
    console_settings = ConsoleSettings(db=db, clock=clock, **settings)
    return ConsoleHarness(db, console_settings, build_console(console_settings), clock)


def chromium_or_skip() -> str:
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        message = f"{CHROMIUM} is not installed (apt-get install -y chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM if Path(CHROMIUM).exists() else str(shutil.which("chromium"))


@contextmanager
def browser_page(base_url: str) -> Iterator[Any]:
    """A Playwright page in Debian's chromium (headless), for the console at `base_url`."""
    executable = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(base_url=base_url, viewport={"width": 1366, "height": 900})
            context.set_default_timeout(30_000)
            yield context.new_page()
        finally:
            browser.close()


def sign_in_browser(page: Any, name: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def screenshot(page: Any, name: str) -> Path:
    """Write the page's screenshot to test-artifacts/console/NAME.png, after checking the page's
    accessibility basics (tests/console/accessibility.py)."""
    from .accessibility import assert_accessible  # type: ignore[import-not-found]

    assert_accessible(page.content(), name)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
