"""A viewer in a real browser (Debian's chromium): reads every page it may, and cannot change
anything — every action of the console, posted from the viewer's own signed-in browser with its
valid CSRF token, is refused with 403 by the server (not just hidden buttons)."""

from __future__ import annotations

from scrapeguard.records.users import PERMISSIONS

from .conftest import LiveConsole  # type: ignore[import-not-found]
from .helpers import browser_page, screenshot, sign_in_browser  # type: ignore[import-not-found]
from .test_roles import concrete  # type: ignore[import-not-found]


def test_a_viewer_reads_but_every_change_is_refused_by_the_server(live_console: LiveConsole) -> None:
    pages = live_console.harness.console.pages
    viewer = PERMISSIONS["viewer"]
    actions = [p for p in pages if p.method == "POST" and p.permission not in viewer]
    # the only form a viewer may post changes nothing: the actor look-up (a POST to keep addresses
    # out of URLs)
    assert [p.path for p in pages if p.method == "POST" and p.permission in viewer] == ["/actors/look-up"]
    forbidden_reads = [p for p in pages if p.method == "GET" and p.permission not in viewer]
    with browser_page(live_console.url) as page:
        sign_in_browser(page, "vic")
        assert page.get_by_role("heading", name="Dashboard").is_visible()
        assert page.get_by_text("vic (viewer)").is_visible()
        screenshot(page, "dashboard")
        # keyboard only: the first Tab reaches "Skip to content", Enter moves the focus to the page's
        # content; the navigation is reachable and followed with Enter
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Skip to content"
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "main"
        page.goto("/")
        for _ in range(4):  # the skip link, then the links Dashboard, Live, Actors (the brand is text)
            page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Actors"
        page.keyboard.press("Enter")
        page.wait_for_url("**/actors")
        assert page.get_by_role("heading", name="Actors and campaigns").is_visible()
        page.goto("/")
        # the viewer's own CSRF token, from the sign-out form of the page it is on
        csrf = page.locator('form.signout input[name="csrf"]').get_attribute("value")
        assert csrf
        refused = []
        for action in actions:
            response = page.request.post(live_console.url + concrete(action.path), form={"csrf": csrf},
                                         max_redirects=0)
            refused.append((action.path, response.status))
        assert refused and all(status == 403 for _, status in refused), refused
        for read in forbidden_reads:
            response = page.goto(concrete(read.path))
            assert response is not None and response.status == 403, read.path
            assert page.get_by_role("heading", name="Not allowed").is_visible()
        # still signed in, and nothing it did changed its own standing
        page.goto("/")
        assert page.get_by_role("heading", name="Dashboard").is_visible()
