"""In Debian's chromium: the viewer opens the Live view from the navigation and sees the charts
with their axis titles; screenshots of the dashboard and of the Live view."""

from __future__ import annotations

from typing import Any

from .helpers import browser_page, screenshot, sign_in_browser  # type: ignore[import-not-found]
from .test_live import seed  # type: ignore[import-not-found]


def test_a_viewer_opens_live_and_sees_the_charts_with_their_axes(live_console: Any) -> None:
    seed(live_console.harness)
    with browser_page(live_console.url) as page:
        sign_in_browser(page, "vic")
        page.get_by_role("heading", name="Dashboard").wait_for()
        screenshot(page, "dashboard")
        page.get_by_role("link", name="Live").click()
        page.get_by_role("heading", name="Live", exact=True).wait_for()
        actions = page.get_by_role("img", name="Refusals by action")
        actions.wait_for()
        assert actions.is_visible()
        assert actions.locator("text.axis-title", has_text="refusals per 1 h").is_visible()
        assert actions.locator("text.axis-title", has_text="time (UTC)").is_visible()
        assert page.get_by_role("img", name="Requests judged by the guard").is_visible()
        assert page.get_by_role("img", name="Refusals by route kind").is_visible()
        # the data tables are there for screen readers, not shown
        box = page.locator("div.sg-vh", has=page.locator("#chart-actions-data")).bounding_box()
        assert box is not None and box["width"] <= 1 and box["height"] <= 1
        assert page.get_by_role("link", name="ip:p-aaa").is_visible()
        screenshot(page, "live")
        # another span, chosen with the labelled select
        page.get_by_label("Span").select_option("1h")
        page.get_by_role("button", name="Show").click()
        page.wait_for_url("**/live?span=1h")
        assert page.get_by_role("img", name="Refusals by action") \
            .locator("text.axis-title", has_text="refusals per 5 min").is_visible()
