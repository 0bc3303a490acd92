"""An analyst's main path in a real browser (Debian's chromium): the guard has blocked an address
after a sweep; the analyst opens Actors, opens the actor, clicks Unblock and sees the confirmation;
the guard then serves that address's next request."""

from __future__ import annotations

from typing import Any

import pytest

from scrapeguard.decisions import ALLOW, BLOCK
from scrapeguard.records.db import Database
from scrapeguard.stores import MemoryStore

from .actors_seed import sweep  # type: ignore[import-not-found]
from .helpers import (  # type: ignore[import-not-found]
    ConsoleHarness,
    browser_page,
    make_harness,
    screenshot,
    sign_in_browser,
)


@pytest.fixture
def harness(team_db: Database) -> ConsoleHarness:
    """The console with the guard's store (the live console of conftest serves this harness)."""
    return make_harness(team_db, store=MemoryStore())


def test_an_analyst_unblocks_an_actor(harness: ConsoleHarness, live_console: Any) -> None:
    store = harness.settings.store
    assert isinstance(store, MemoryStore)
    now = harness.clock.now
    swept = sweep(harness.db, store, now - 600)
    assert swept.request(now).action == BLOCK

    with browser_page(live_console.url) as page:
        sign_in_browser(page, "ana")
        page.get_by_role("link", name="Actors", exact=True).click()
        page.get_by_role("heading", name="Top actors, last 24 hours").wait_for()
        penalties = page.get_by_role("table").filter(has_text="Reference")
        assert penalties.get_by_text("block", exact=True).count() == 1
        screenshot(page, "actors")

        page.get_by_role("link", name=swept.pseudonym).first.click()
        page.get_by_role("heading", name=f"Actor {swept.pseudonym}").wait_for()
        assert page.get_by_text("20 member names in alphabetical order").count() > 0  # reasons in words
        page.get_by_label("Note (optional)").fill("a university study, agreed with the team")
        screenshot(page, "actor")

        page.get_by_role("button", name="Unblock").click()
        confirmation = page.get_by_role("status").filter(has_text="Unblocked")
        confirmation.wait_for()
        assert swept.pseudonym in confirmation.inner_text()
        assert page.get_by_text("No penalty and no allowlisting in force.").count() == 1

    assert store.penalties(now) == []
    assert swept.request(now + 1).action == ALLOW  # the guard serves the address at once
