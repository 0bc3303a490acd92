"""The challenge page in a real headless browser (Debian's chromium driven by Playwright):
the vendored ALTCHA widget solves the proof-of-work and the browser lands on the page it asked
for. Screenshots go to test-artifacts/ (printed)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# Headless Chromium names itself ("HeadlessChrome"): a declared automation tool asking for member
# data is challenged at its first member page.
POLICY = """
[challenge]
difficulty = 20000
difficulty_max = 40000
"""


def _chromium_or_skip() -> str:
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        message = f"{CHROMIUM} is not installed (apt-get install -y chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM if Path(CHROMIUM).exists() else str(shutil.which("chromium"))


def test_browser_solves_the_challenge_and_continues(demo_site: str, make_guard: Callable) -> None:
    executable = _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    guard = make_guard(demo_site, POLICY)
    html = httpx.get(f"{demo_site}/directory?page=1").text
    second = list(dict.fromkeys(re.findall(r'href="/u/([^"]+)"', html)))[1]
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        # Without JavaScript (switched off in Blink itself, so <noscript> renders): the page
        # explains how to go on (screenshot).
        no_js = p.chromium.launch(executable_path=executable, headless=True,
                                  args=[*ARGS, "--blink-settings=scriptEnabled=false"])
        try:
            page = no_js.new_page()
            page.goto(f"{guard.url}/")
            response = page.goto(f"{guard.url}/u/{second}")
            assert response is not None and response.status == 403
            text = page.inner_text("main")  # what is rendered: <noscript> shown, the form hidden
            assert "This check needs JavaScript" in text and "log in" in text and "sg-" in text
            assert not page.is_visible("#sg-challenge-form")
            challenge_shot = ARTIFACTS / "challenge-page-without-javascript.png"
            page.screenshot(path=str(challenge_shot), full_page=True)
        finally:
            no_js.close()
        browser = p.chromium.launch(executable_path=executable, args=ARGS, headless=True)
        try:
            # With JavaScript: the widget solves the puzzle and the page continues by itself.
            page = browser.new_page()
            submitted: list[str] = []
            page.on("request", lambda r: submitted.append(r.post_data or "")
                    if r.url.endswith("/.well-known/scrapeguard/challenge") else None)
            page.goto(f"{guard.url}/")
            response = page.goto(f"{guard.url}/u/{second}", wait_until="commit")
            assert response is not None and response.status == 403
            page.wait_for_selector("[data-member-id]", timeout=30_000)
            assert page.url == f"{guard.url}/u/{second}"
            landed_shot = ARTIFACTS / "after-challenge.png"
            page.screenshot(path=str(landed_shot), full_page=True)
            cookies = {c["name"]: c for c in page.context.cookies()}
            assert cookies["scrapeguard_clearance"]["httpOnly"] is True
        finally:
            browser.close()
    assert len(submitted) == 1 and "altcha=ey" in submitted[0]  # the widget's base64 JSON proof
    print(f"screenshots: {challenge_shot} {landed_shot}")
    assert challenge_shot.stat().st_size > 1000 and landed_shot.stat().st_size > 1000
    assert guard.proxy.counts["challenge_cleared"] == 1
    first = guard.decisions()[0]
    assert first["action"] == "challenge" and "HeadlessChrome" in first["reasons"][0]["detail"]
