"""An admin's main path in a real browser: ada switches observe -> enforce and allowlists a network,
reads the diff and what would change, and proposes; abe signs in and approves; the file is written.
Screenshots: "policy", "team"."""

from __future__ import annotations

from pathlib import Path

import pytest

from scrapeguard.policy import load_policy_text
from scrapeguard.records.db import Database

from .helpers import (  # type: ignore[import-not-found]
    ConsoleHarness,
    browser_page,
    make_harness,
    screenshot,
    sign_in_browser,
)
from .test_policy import POLICY, seed_observed_refusals  # type: ignore[import-not-found]


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(POLICY, "utf-8")
    return path


@pytest.fixture
def harness(team_db: Database, policy_file: Path) -> ConsoleHarness:
    """The console with a policy file to edit (live_console serves this harness)."""
    harness = make_harness(team_db, policy_path=policy_file)
    seed_observed_refusals(harness)
    return harness


def test_two_admins_switch_to_enforce_and_allowlist_a_network(live_console: object,
                                                              policy_file: Path) -> None:
    url = live_console.url  # type: ignore[attr-defined]
    with browser_page(url) as page:
        sign_in_browser(page, "ada")
        page.goto("/policy")
        page.get_by_role("link", name="Change the mode or the allowlist").click()
        page.get_by_label("Enforce (refuse as decided)").check()
        page.get_by_label("Allowlisted networks (one CIDR a line)").fill("192.0.2.0/24")
        page.get_by_role("button", name="Preview the change").click()
        diff = page.get_by_role("table", name="Diff of the policy file")
        diff.get_by_role("row", name='+ added mode = "enforce"').wait_for()
        diff.get_by_role("row", name='− removed mode = "observe"').wait_for()
        preview = page.get_by_role("region", name="Preview")
        said = preview.inner_text()
        assert "1 refusal would have been enforced" in said
        assert "would have let through 1 of these refusals (1 by network, 0 by account)" in said
        page.get_by_label("Summary (why this change)").fill("enforce after a week; trust the office")
        page.get_by_role("button", name="Propose this change").click()
        page.get_by_text("Policy change 1 proposed: another admin must approve it.").wait_for()
        page.get_by_text("You proposed this change: another admin must approve it").wait_for()
        assert page.get_by_role("button", name="Approve change 1 and write the file").count() == 0
        screenshot(page, "policy")
        assert policy_file.read_text("utf-8") == POLICY

        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url("**/login")
        sign_in_browser(page, "abe")
        page.goto("/policy")
        page.get_by_label("Note (optional)").fill("replay checked")
        page.get_by_role("button", name="Approve change 1 and write the file").click()
        page.get_by_text("Policy change 1 approved").wait_for()
        page.get_by_text("No change is waiting.").wait_for()
        policy = load_policy_text(policy_file.read_text("utf-8"))
        assert policy.mode == "enforce" and [str(c) for c in policy.allowlist.cidrs] == ["192.0.2.0/24"]

        page.goto("/team")
        page.get_by_role("table", name="Users of the console").wait_for()
        page.get_by_label("User name").fill("nia")
        page.get_by_label("Role", exact=True).select_option("analyst")
        page.get_by_label("Password (at least 10 characters)").fill("a long enough password")
        page.get_by_label("Password again").fill("a long enough password")
        page.get_by_role("button", name="Add user").click()
        page.get_by_text("User nia added as analyst.").wait_for()
        screenshot(page, "team")
