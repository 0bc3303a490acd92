"""A headless Chromium scraper (Playwright driving the system's Chromium): a strategy plug-in that
runs only where both are installed (`playwright` importable, `/usr/bin/chromium`); elsewhere it is
skipped with a note. Never `playwright install`: the browser is the distribution's."""

from __future__ import annotations

import importlib.util
import random
import shutil
from pathlib import Path

import httpx

from scrapeguard.drill.client import PROFILE_LINK, Tally
from scrapeguard.drill.strategies import Result, Target, strategy

CHROMIUM = Path("/usr/bin/chromium")
#: Flags for a headless Chromium in a container: no sandbox, GPU, QUIC or background traffic.
CHROMIUM_FLAGS = ("--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")


class Unavailable(Exception):
    """A strategy that cannot run here (a tool it drives is not installed): the drill notes why."""


def chromium_missing() -> str | None:
    """Why the Chromium strategy cannot run here, or None if it can."""
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (pip install playwright; never `playwright install`)"
    if not (CHROMIUM.exists() or shutil.which("chromium")):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    return None


def headless_chromium(target: Target, count: int = 60, seed: int = 17) -> Result:
    """Chromium opens the directory, then profiles from it in random order with 2-6 s pauses,
    running the pages' scripts and loading their assets like any browser."""
    reason = chromium_missing()
    if reason is not None:
        raise Unavailable(reason)
    from playwright.sync_api import sync_playwright

    tally = Tally()
    pace = random.Random(seed)
    executable = str(CHROMIUM if CHROMIUM.exists() else shutil.which("chromium"))

    def go(url: str) -> httpx.Response | None:
        """Open a page (within the drill's bounds) and tally what came back."""
        gate = getattr(target.clock, "before_request", None)
        if gate is not None:
            gate(tally)
        return see(page.goto(url))

    def see(page_response: object) -> httpx.Response | None:
        from playwright.sync_api import Response as PageResponse

        if not isinstance(page_response, PageResponse):
            return None
        response = httpx.Response(page_response.status, headers=page_response.headers,
                                  content=page_response.body())
        tally.see(response, target.clock.time())
        return response

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True,
                                             args=list(CHROMIUM_FLAGS))
        try:
            page = browser.new_page()
            first = go(f"{target.url}/directory?page=1")
            names = list(dict.fromkeys(PROFILE_LINK.findall(first.text))) if first is not None else []
            pace.shuffle(names)
            for name in names[:count]:
                target.clock.sleep(pace.uniform(2, 6))
                go(f"{target.url}/u/{name}")
        finally:
            browser.close()
    return Result("", tally)


@strategy("headless-chromium", "a headless Chromium (Playwright) opening 50 profiles from the directory, "
          "2-6 s apart, scripts and assets and all (skipped where not installed)")
def _headless_chromium(target: Target) -> Result:
    return headless_chromium(target, count=50)
