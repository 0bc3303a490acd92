"""The privacy officer's path in a real browser (Debian's chromium), no terminal: an incident the
guard's detection opened, notices an analyst drafted, then "pia" opens the incident from the list,
records awareness, assesses, reads the obligations, approves each notice (the four-eyes rule: she
did not draft them), records their sending with the final document uploaded, waives what is still
owed with a reason, and marks the incident notified."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pytest

from scrapeguard.records import incidents, notices
from scrapeguard.records.db import Database

from .helpers import (  # type: ignore[import-not-found]
    ConsoleHarness,
    browser_page,
    make_harness,
    screenshot,
    sign_in_browser,
)
from .incident_seed import auto_opened_incident  # type: ignore[import-not-found]

POLICY = """[incidents]
organisation = "Example Social Ltd"
contact = "dpo@example.org"
controller_country = "DE"
"""


@pytest.fixture
def harness(team_db: Database, tmp_path: Path) -> ConsoleHarness:
    """The console with the guard's policy file (the controller's name and establishment)."""
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY, "utf-8")
    made: ConsoleHarness = make_harness(team_db, policy_path=policy)
    made.clock.now -= made.clock.now % 60
    return made


def test_a_privacy_officer_goes_from_an_auto_opened_incident_to_sent_notices(
        harness: ConsoleHarness, live_console: Any, tmp_path: Path) -> None:
    ref = incidents.public_id(auto_opened_incident(harness.db, tmp_path, harness.clock.now - 2 * 3600))
    # the analyst: contains, assesses and drafts the regulator notices (in the console, as a client)
    ana = harness.client("ana")
    for path, form in ((f"/incidents/{ref}/contain", {"note": "address blocked"}),
                       (f"/incidents/{ref}/assess", {"data_was_public": "yes"}),
                       (f"/incidents/{ref}/notices", {"regime": "eu_gdpr", "audience": "regulator"}),
                       (f"/incidents/{ref}/notices", {"regime": "uk_gdpr", "audience": "regulator"})):
        response = ana.post(path, form)
        assert response.status_code == 303, (path, response.text[-800:])
    harness.clock.advance(20 * 60)  # the privacy officer comes to it twenty minutes later
    final = tmp_path / "filed-notice.pdf"
    final.write_bytes(b"%PDF-1.4\n% the notice as filed with the regulator\n")
    digest = hashlib.sha256(final.read_bytes()).hexdigest()

    with browser_page(live_console.url) as page:
        sign_in_browser(page, "pia")
        page.get_by_role("link", name="Incidents").click()
        page.get_by_role("heading", name="Incidents").wait_for()
        assert page.get_by_role("cell", name="assessed", exact=True).count() == 1
        screenshot(page, "incidents")
        page.get_by_role("link", name=ref).click()
        page.get_by_role("heading", name=re.compile(rf"^{ref}:")).wait_for()
        assert "not recorded: the notification clocks have not started" in page.content()

        # awareness: the date-and-time picker comes filled with now, its zone field with UTC
        aware = page.locator("#aware-at")
        assert aware.get_attribute("type") == "datetime-local"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d", aware.input_value())
        assert page.locator("#aware-at-zone").input_value() == "UTC"
        page.get_by_role("button", name="Record awareness").click()
        page.get_by_role("status").filter(has_text="aware since").wait_for()

        # assessment again, now that the clocks run: the deadlines; the open questions are listed
        assert page.get_by_label("Was the data public before it was scraped?").input_value() == "yes"
        page.get_by_role("button", name="Assess again").click()
        page.get_by_role("status").filter(has_text="Assessed").wait_for()
        assert page.get_by_role("heading", name=re.compile(r"^Open questions \(\d+\)")).is_visible()
        obligations = page.locator("#obligations")
        # one row per audience: the regulator and the individuals
        assert obligations.get_by_role("cell", name="eu_gdpr", exact=True).count() == 2

        for number in (1, 2):
            notice = page.locator(f"#notice-{number}")
            assert "approval must come from someone other than ana" in notice.inner_text()
            assert "Drafted before the latest assessment" in notice.inner_text()
            notice.get_by_role("button", name=f"Approve notice {number}").click()
            page.get_by_role("status").filter(has_text=f"Notice {number} approved").wait_for()
            notice = page.locator(f"#notice-{number}")
            assert "Approved by pia" in notice.inner_text()
            notice.get_by_label("Channel").fill("regulator portal")
            notice.get_by_label("Final document sent (optional)").set_input_files(str(final))
            notice.get_by_role("button", name=f"Record sending of notice {number}").click()
            page.get_by_role("status").filter(has_text=f"Notice {number} recorded as sent").wait_for()
            assert digest in page.locator(f"#notice-{number}").inner_text()

        # what is still owed (open questions included) is waived with counsel's reason
        waive = page.get_by_role("button", name=re.compile(r"^Waive "))
        while waive.count():
            label = waive.first.inner_text().removeprefix("Waive ")
            page.get_by_label(f"Reason to waive {label}").fill("counsel: public profile data, memo 12")
            waive.first.click()
            page.get_by_role("status").filter(has_text=f"{label}: waived").wait_for()
        assert page.locator("#obligations").get_by_text("owed", exact=True).count() == 0

        page.get_by_role("button", name="Mark notified").click()
        page.get_by_role("status").filter(has_text=f"{ref} is notified").wait_for()
        screenshot(page, "incident")

    with harness.db.session() as s:
        assert incidents.get(s, ref).state == "notified"
        sent = notices.notices_of(s, incidents.parse_id(ref))
        assert [(n.state, n.drafted_by, n.approved_by, n.sent_by, n.final_sha256) for n in sent] == [
            ("sent", "ana", "pia", "pia", digest)] * 2
