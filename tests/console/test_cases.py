"""The legal cases pages: the list (overdue first), a case from an auto-opened incident through
letter, four-eyes approval, sending, reply with an attachment, confirmation of deletion with an
upload (kept, hashed, downloadable) and closing, all through the console's forms."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from scrapeguard.records import audit, cases

from .case_helpers import (  # type: ignore[import-not-found]
    LEO,
    SCRAPER_IP,
    auto_opened_incident,
    case_with_sent_letter,
)
from .helpers import ConsoleHarness  # type: ignore[import-not-found]


def _letter_ids(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'id="letter-(\d+)"', html)]


def test_a_case_from_an_auto_opened_incident_to_closing_through_the_forms(harness: ConsoleHarness) -> None:
    now = harness.clock()
    incident = auto_opened_incident(harness.db, now - 86400)
    leo, lou = harness.client("leo"), harness.client("lou")
    form = leo.get(f"/cases?incident=INC-{incident}").text
    assert f'<option value="INC-{incident}" selected>' in form
    opened = leo.post("/cases/open", {"incident": f"INC-{incident}", "respondent": "Data Harvest Inc.",
                                      "address": "1 Main St", "note": "scraped 8 members"})
    assert opened.status_code == 303
    ref = opened.headers["location"].removeprefix("/cases/")
    page = leo.get(f"/cases/{ref}").text
    assert "Data Harvest Inc." in page and f"/incidents/INC-{incident}" in page
    assert "not identified" in page  # the auto-opened incident's address is a pseudonym
    # a letter drafted by lou, with the address still unknown: approval is refused with the reason
    drafted = lou.post(f"/cases/{ref}/letter", {"kind": "cease_and_desist", "deadline_days": "14"})
    assert drafted.status_code == 303
    first = _letter_ids(lou.get(f"/cases/{ref}").text)[0]
    refused = leo.post(f"/cases/{ref}/approve", {"letter": str(first)})
    assert refused.status_code == 409 and "not identified" in refused.text
    wrong = leo.post(f"/cases/{ref}/identify", {"addresses": "ip:198.51.100.1"})
    assert wrong.status_code == 400 and "none of the actors" in wrong.text
    assert leo.post(f"/cases/{ref}/identify", {"addresses": f"ip:{SCRAPER_IP}"}).status_code == 303
    page = leo.get(f"/cases/{ref}").text
    assert f"ip:{SCRAPER_IP}" in page and "not identified</span>" not in page
    lou.post(f"/cases/{ref}/letter", {"kind": "cease_and_desist", "deadline_days": "14"})
    letter = _letter_ids(lou.get(f"/cases/{ref}").text)[-1]
    page = lou.get(f"/cases/{ref}").text
    assert "You drafted this letter: another person must approve it." in page
    assert SCRAPER_IP in page  # the draft names the address the respondent knows
    # four eyes: the drafter is refused by the records layer, and the page says why
    own = lou.post(f"/cases/{ref}/approve", {"letter": str(letter)})
    assert own.status_code == 403 and "lou drafted letter" in own.text and "four eyes" in own.text
    assert leo.post(f"/cases/{ref}/approve", {"letter": str(letter), "note": "ok"}).status_code == 303
    # recorded two days later: sent the day after the approval, stated in Berlin time (UTC+1 then)
    harness.clock.advance(2 * 86400)
    leo = harness.client("leo")  # (signed in again: the idle timeout passed)
    berlin = datetime.fromtimestamp(now + 86400, ZoneInfo("Europe/Berlin"))
    sent = leo.post(f"/cases/{ref}/send", {"letter": str(letter), "channel": "registered post",
                                            "sent_at": f"{berlin:%Y-%m-%dT%H:%M}", "zone": "Europe/Berlin"})
    assert sent.status_code == 303, sent.text
    future = leo.post(f"/cases/{ref}/send", {"letter": str(letter), "channel": "email"})
    assert future.status_code == 409  # sent already: the records layer says so
    with harness.db.session() as s:
        row = cases.get_letter(s, letter)
        assert row.sent_at == berlin.replace(second=0, microsecond=0).astimezone(UTC)
        assert row.sent_at.utcoffset() == timedelta(0) and berlin.utcoffset() == timedelta(hours=1)
        assert row.approved_by == "leo" and row.created_by == "lou" and row.channel == "registered post"
    page = leo.get(f"/cases/{ref}").text
    assert "letter sent" in page and "by registered post" in page and "approved" in page
    # the reply, with an attachment
    replied = leo.post(f"/cases/{ref}/reply", {"reply": "We deleted everything."},
                       files={"attachment": ("reply.txt", b"scanned reply", "text/plain")})
    assert replied.status_code == 303
    page = leo.get(f"/cases/{ref}").text
    assert "We deleted everything." in page and hashlib.sha256(b"scanned reply").hexdigest() in page
    link = re.search(rf'href="(/cases/{ref}/documents/\d+)"', page)
    assert link and leo.get(link.group(1)).content == b"scanned reply"
    # the confirmation of deletion, uploaded: kept, hashed, downloadable by any reader
    pdf = b"%PDF-1.4\n% confirmation of deletion, signed\n"
    assert leo.post(f"/cases/{ref}/deletion", {"note": ""}).status_code == 400  # no file chosen
    confirmed = leo.post(f"/cases/{ref}/deletion", {"note": "signed by their DPO"},
                         files={"document": ("confirmation.pdf", pdf, "application/pdf")})
    assert confirmed.status_code == 303
    page = leo.get(f"/cases/{ref}").text
    assert hashlib.sha256(pdf).hexdigest() in page and "deletion confirmed" in page
    download = harness.client("vic").get(f"/cases/{ref}/deletion")
    assert download.status_code == 200 and download.content == pdf
    assert download.headers["content-type"] == "application/octet-stream"
    assert 'filename="confirmation.pdf"' in download.headers["content-disposition"]
    assert harness.client("vic").post(f"/cases/{ref}/close", {"note": "x"}).status_code == 403
    assert leo.post(f"/cases/{ref}/close", {}).status_code == 303
    page = leo.get(f"/cases/{ref}").text
    assert "closed" in page and "Record reply" not in page and "Close " + ref not in page
    with harness.db.session() as s:
        assert cases.get(s, ref).status == "closed"
        assert audit.verify(s).ok


def test_the_list_shows_overdue_cases_first_and_reminders_are_recorded(harness: ConsoleHarness) -> None:
    now = datetime.fromtimestamp(harness.clock(), UTC)
    incident = auto_opened_incident(harness.db, harness.clock() - 40 * 86400)
    late, _ = case_with_sent_letter(harness.db, incident, now - timedelta(days=20))
    recent, _ = case_with_sent_letter(harness.db, incident, now - timedelta(days=1))
    with harness.db.session() as s:
        fresh = cases.open_case(s, LEO, "No Letter Yet Ltd").id
    listing = harness.client("vic").get("/cases").text
    order = [int(x) for x in re.findall(r'<td><a href="/cases/CASE-(\d+)">', listing)]
    assert order[0] == late and set(order) == {late, recent, fresh}
    # sent 20 days ago with 14 days to comply (to the end of the day): 5 days past its deadline
    assert '<span class="badge bad">overdue by 5 d</span>' in listing
    assert "no letter sent yet" in listing
    assert harness.client("vic").post("/cases/remind").status_code == 403  # a viewer changes nothing
    reminded = harness.client("leo").post("/cases/remind")
    assert reminded.status_code == 303
    assert f"CASE-{late}" in harness.client("vic").get("/cases").text
    page = harness.client("vic").get(f"/cases/CASE-{late}").text
    assert "deadline passed 5 day(s) before" in page
    assert "Approve" not in page and "Draft letter" not in page  # a viewer sees no forms...
    refused = harness.client("vic").post(f"/cases/CASE-{late}/letter", {"kind": "deletion_demand"})
    assert refused.status_code == 403  # ...and is refused by the server
    dashboard = harness.client("leo").get("/").text
    assert f"CASE-{late}" in dashboard and f"CASE-{recent}" not in dashboard


def test_a_letter_of_another_case_cannot_be_acted_on_through_this_case(harness: ConsoleHarness) -> None:
    now = datetime.fromtimestamp(harness.clock(), UTC)
    incident = auto_opened_incident(harness.db, harness.clock() - 86400)
    first, letter = case_with_sent_letter(harness.db, incident, now)
    second, _ = case_with_sent_letter(harness.db, incident, now)
    response = harness.client("leo").post(f"/cases/CASE-{second}/approve", {"letter": str(letter)})
    assert response.status_code == 404 and f"CASE-{second} has no letter {letter}" in response.text
    assert harness.client("leo").get(f"/cases/CASE-{first}/deletion").status_code == 404
    bad_zone = harness.client("leo").post(f"/cases/CASE-{first}/send", {
        "letter": str(letter), "channel": "post", "sent_at": "2026-11-01T10:00", "zone": "Mars/Olympus"})
    assert bad_zone.status_code == 400 and "not a time zone" in bad_zone.text

