"""Legal counsel's main path in a real browser (Debian's chromium): a case against the scraper of an
incident the guard opened by itself, its letter drafted by lou, approved by leo and sent; leo
records the respondent's reply and the confirmation of deletion (an uploaded PDF), sees its
SHA-256 as hashlib computes it, downloads it back, and closes the case."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from scrapeguard.records import cases

from .case_helpers import auto_opened_incident, case_with_sent_letter  # type: ignore[import-not-found]
from .conftest import LiveConsole  # type: ignore[import-not-found]
from .helpers import browser_page, screenshot, sign_in_browser  # type: ignore[import-not-found]

PDF = (b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n"
       b"% We confirm the deletion of all data. Signed.\n%%EOF\n")


def test_legal_records_the_reply_and_the_confirmation_of_deletion_then_closes(
        live_console: LiveConsole, tmp_path: Path) -> None:
    harness = live_console.harness
    now = datetime.fromtimestamp(harness.clock(), UTC)
    incident = auto_opened_incident(harness.db, harness.clock() - 5 * 86400)
    number, letter = case_with_sent_letter(harness.db, incident, now - timedelta(days=2))
    ref = f"CASE-{number}"
    with browser_page(live_console.url) as page:
        sign_in_browser(page, "leo")
        page.get_by_role("link", name="Cases").click()
        page.get_by_role("heading", name="Legal cases").wait_for()
        row = page.get_by_role("row").filter(has_text=ref)
        assert "letter sent" in row.inner_text() and "due in" in row.inner_text()
        screenshot(page, "cases")
        page.get_by_role("link", name=ref).click()
        page.get_by_role("heading", name=f"{ref}: Data Harvest Inc.").wait_for()
        letter_card = page.locator(f"#letter-{letter}")
        text = letter_card.inner_text()
        assert "by lou" in text and "approved" in text and "by leo" in text and "registered post" in text
        assert page.get_by_role("link", name=f"INC-{incident}").count() == 1

        page.get_by_label("Reply received").fill("We have deleted the data and attach our confirmation.")
        page.get_by_label("Attachment (optional)").set_input_files(
            {"name": "reply.txt", "mimeType": "text/plain", "buffer": b"our reply, scanned"})
        page.get_by_role("button", name="Record reply").click()
        page.get_by_role("status").filter(has_text="Reply recorded with reply.txt").wait_for()

        page.get_by_label("Confirmation document received").set_input_files(
            {"name": "confirmation.pdf", "mimeType": "application/pdf", "buffer": PDF})
        page.get_by_label("Note on the confirmation").fill("signed by their DPO")
        page.get_by_role("button", name="Record confirmation of deletion").click()
        page.get_by_role("status").filter(has_text="Deletion confirmed").wait_for()
        shown = page.get_by_test_id("deletion-sha256").inner_text().strip()
        assert shown == hashlib.sha256(PDF).hexdigest()
        with page.expect_download() as download:
            page.get_by_role("link", name="Download confirmation.pdf").click()
        saved = tmp_path / "downloaded.pdf"
        download.value.save_as(saved)
        assert saved.read_bytes() == PDF and download.value.suggested_filename == "confirmation.pdf"
        screenshot(page, "case")

        page.get_by_label("Closing note").fill("deletion confirmed, nothing further")
        page.get_by_role("button", name=f"Close {ref}").click()
        page.get_by_role("status").filter(has_text=f"{ref} closed.").wait_for()
        assert "Status: closed" in page.get_by_role("main").inner_text()
        assert page.get_by_role("button", name="Record reply").count() == 0
    with harness.db.session() as s:
        case = cases.get(s, number)
        assert case.status == "closed" and case.deletion_sha256 == hashlib.sha256(PDF).hexdigest()
        steps = [x.status for x in cases.steps_of(s, number)]
        assert steps[-3:] == ["replied", "deletion_confirmed", "closed"]
