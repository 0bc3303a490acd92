"""Legal cases: the list (overdue first), a case's page (respondent, incident, actors and whether
each is identified, letters with their four-eyes approval, replies, the confirmation of deletion
with its SHA-256 and download, the steps and the reminders), and the steps of a case as forms.

Every action calls `records.cases` (the rules live there: four eyes on letters, which status
allows which step, deadlines, overdue); this module reads forms and shows what the records say.
Documents uploaded here (a reply's attachment, the confirmation of deletion) are kept in the
records by `records.cases` (table `case_documents`; see that module for why not a folder).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from scrapeguard.console.countdown import Countdown, aware, countdown
from scrapeguard.console.incidents import console_policy_of
from scrapeguard.console.times import ZONES, field_value, stated_time
from scrapeguard.console.web import Page, PageError, Routes, attachment
from scrapeguard.policy.model import IncidentOptions
from scrapeguard.records import audit, cases, incidents
from scrapeguard.records.models import CaseRecord
from scrapeguard.records.privacy import Pseudonymiser

routes = Routes()

#: How the list and the page name a status.
STATUS_WORDS = {cases.OPEN: "open", cases.LETTER_SENT: "letter sent", cases.REPLIED: "replied",
                cases.DELETION_CONFIRMED: "deletion confirmed", cases.CLOSED: "closed"}
LETTER_WORDS = {"cease_and_desist": "Cease and desist", "deletion_demand": "Deletion demand"}


@dataclass(frozen=True)
class CaseRow:
    case: CaseRecord
    reference: str
    due: Countdown | None
    overdue: bool


def _ref(page: Page) -> str:
    return cases.public_id(cases.parse_id(page.param("ref")))


def _incident_options(page: Page) -> IncidentOptions:
    """The organisation and contact the letters name: the policy the console runs with."""
    return console_policy_of(page.console.settings).incidents


@routes.get("/cases", "read")
async def case_list(page: Page) -> Response:
    now = page.now_datetime
    with page.records() as session:
        late = {c.id for c in cases.overdue(session, now)}
        rows = [CaseRow(c, cases.public_id(c.id),
                        countdown(aware(c.deadline), now) if c.deadline is not None else None, c.id in late)
                for c in cases.list_cases(session, page.actor)]
        open_incidents = [(incidents.public_id(i.id), i.title) for i in incidents.list_incidents(
            session, page.actor) if i.state != incidents.CLOSED]
    # overdue first (the longest overdue on top), then by deadline, then the newest
    rows.sort(key=lambda r: (not r.overdue, r.case.status == cases.CLOSED,
                             r.due.seconds_left if r.due is not None else float("inf"), -r.case.id))
    chosen = page.request.query_params.get("incident", "")
    return page.render("cases.html", rows=rows, open_incidents=open_incidents, chosen=chosen,
                       status_words=STATUS_WORDS, incident_ref=incidents.public_id)


@routes.get("/cases/{ref}", "read")
async def case_page(page: Page) -> Response:
    now = page.now_datetime
    with page.records() as session:
        case = cases.read_case(session, page.actor, page.param("ref"))
        reference = cases.public_id(case.id)
        actors = sorted(cases.actors_of_case(session, case))
        missing = set(cases.unidentified(session, case))
        clear = case.clear_actors or {}
        letters = cases.letters_of(session, case.id)
        steps = cases.steps_of(session, case.id)
        documents = cases.documents_of(session, case.id)
        reminders = [(e.at, e.actor, json.loads(e.details).get("days_overdue"))
                     for e in audit.entries_for(session, "case", case.id) if e.action == "case.reminder"]
        late = case.id in {c.id for c in cases.overdue(session, now)}
    due = countdown(aware(case.deadline), now) if case.deadline is not None else None
    return page.render(
        "case.html", case=case, reference=reference, due=due, overdue=late,
        actors=[(a, clear.get(a), a in missing) for a in actors], unidentified=len(missing),
        letters=letters, steps=steps,
        documents=documents, reminders=reminders, status_words=STATUS_WORDS, letter_words=LETTER_WORDS,
        letter_kinds=cases.LETTER_KINDS, incident_ref=incidents.public_id,
        manage=page.can("case.manage"), closed=case.status == cases.CLOSED,
        can_reply=case.status in cases.AWAITING,
        can_confirm=case.status not in (cases.DELETION_CONFIRMED, cases.CLOSED),
        now_field=field_value(page.now_datetime), zone_names=ZONES)


@routes.post("/cases/open", "case.manage")
async def open_case(page: Page) -> Response:
    respondent = await page.field("respondent")
    address = await page.field("address", required=False) or None
    incident = await page.field("incident", required=False) or None
    note = await page.field("note", required=False)
    with page.records() as session:
        case = cases.open_case(session, page.actor, respondent, address, incident, note=note,
                               now=page.now_datetime)
        reference = cases.public_id(case.id)
    return page.redirect(f"/cases/{reference}", f"{reference} opened against {respondent}.")


@routes.post("/cases/remind", "case.manage")
async def remind(page: Page) -> Response:
    """Record a reminder on every overdue case. (records.cases.remind needs only "read", for the
    daily cron job of `scrapeguard cases remind`; in the console it is a change like any other, so
    it takes the legal team's permission: a viewer changes nothing.)"""
    with page.records() as session:
        due = [cases.public_id(c.id) for c in cases.remind(session, page.actor, page.now_datetime)]
    if not due:
        return page.redirect("/cases", "No case is overdue: no reminder recorded.")
    return page.redirect("/cases", f"Reminder recorded on {len(due)} overdue case(s): {', '.join(due)}.",
                         "warn")


@routes.post("/cases/{ref}/identify", "case.manage")
async def identify(page: Page) -> Response:
    reference = _ref(page)
    text = await page.field("addresses")
    clear = [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]
    db = page.console.settings.db
    with page.records() as session:
        pseudonymiser = Pseudonymiser(db.record_keys(session).pseudonym)
        cases.identify(session, page.actor, reference, clear, pseudonymiser)
    return page.redirect(f"/cases/{reference}", f"{len(clear)} address(es) identified.")


@routes.post("/cases/{ref}/letter", "case.manage")
async def write_letter(page: Page) -> Response:
    reference = _ref(page)
    kind = await page.field("kind")
    days_text = await page.field("deadline_days", required=False, default="14")
    if not days_text.isdigit():
        raise PageError(400, f"{days_text!r} is not a number of days")
    with page.records() as session:
        letter = cases.write_letter(session, page.actor, reference, kind,  # type: ignore[arg-type]
                                    int(days_text), _incident_options(page), now=page.now_datetime)
        number = letter.id
    return page.redirect(f"/cases/{reference}#letter-{number}",
                         f"Letter {number} drafted: another person must approve it.")


async def _letter_id(page: Page) -> int:
    text = await page.field("letter")
    if not text.isdigit():
        raise PageError(400, f"{text!r} is not a letter number")
    return int(text)


def _letter_of(session: Any, reference: str, letter_id: int) -> None:
    """The letter must be one of this case's (a form cannot act on another case's letter)."""
    letter = cases.get_letter(session, letter_id)
    if cases.public_id(letter.case_id) != reference:
        raise PageError(404, f"{reference} has no letter {letter_id}")


@routes.post("/cases/{ref}/approve", "case.manage")
async def approve_letter(page: Page) -> Response:
    reference = _ref(page)
    letter_id = await _letter_id(page)
    note = await page.field("note", required=False)
    with page.records() as session:
        _letter_of(session, reference, letter_id)
        cases.approve_letter(session, page.actor, letter_id, note, now=page.now_datetime)
    return page.redirect(f"/cases/{reference}#letter-{letter_id}", f"Letter {letter_id} approved.")


@routes.post("/cases/{ref}/send", "case.manage")
async def send_letter(page: Page) -> Response:
    reference = _ref(page)
    letter_id = await _letter_id(page)
    channel = await page.field("channel")
    when = stated_time(await page.field("sent_at", required=False), await page.field("zone", required=False),
                       "when it was sent", blank=page.now_datetime)
    with page.records() as session:
        _letter_of(session, reference, letter_id)
        letter = cases.send_letter(session, page.actor, letter_id, channel, when, now=page.now_datetime)
        deadline = letter.deadline
    return page.redirect(f"/cases/{reference}#letter-{letter_id}",
                         f"Letter {letter_id} recorded as sent by {channel}; the respondent has until "
                         f"{deadline:%Y-%m-%d %H:%M} UTC.")


@routes.post("/cases/{ref}/reply", "case.manage")
async def record_reply(page: Page) -> Response:
    reference = _ref(page)
    text = await page.field("reply")
    upload = await page.upload("attachment", required=False)
    attachment = cases.Document(*upload) if upload else None
    with page.records() as session:
        cases.record_reply(session, page.actor, reference, text, page.now_datetime, attachment)
    return page.redirect(f"/cases/{reference}", "Reply recorded" + (
        f" with {upload[0]}." if upload else "."))


@routes.post("/cases/{ref}/deletion", "case.manage")
async def confirm_deletion(page: Page) -> Response:
    reference = _ref(page)
    upload = await page.upload("document")
    note = await page.field("note", required=False)
    assert upload is not None
    with page.records() as session:
        case = cases.confirm_deletion(session, page.actor, reference, cases.Document(*upload),
                                      page.now_datetime, note)
        digest = case.deletion_sha256
    return page.redirect(f"/cases/{reference}", f"Deletion confirmed; {upload[0]} kept, SHA-256 {digest}.")


@routes.post("/cases/{ref}/close", "case.manage")
async def close_case(page: Page) -> Response:
    reference = _ref(page)
    note = await page.field("note", required=False)
    with page.records() as session:
        cases.close_case(session, page.actor, reference, note, page.now_datetime)
    return page.redirect(f"/cases/{reference}", f"{reference} closed.")


@routes.get("/cases/{ref}/deletion", "read")
async def deletion_document(page: Page) -> Response:
    with page.records() as session:
        document = cases.document(session, page.actor, page.param("ref"))
        name, data = document.name, document.data
    return attachment(data, name)


@routes.get("/cases/{ref}/documents/{document_id}", "read")
async def case_document(page: Page) -> Response:
    text = page.param("document_id")
    if not text.isdigit():
        raise PageError(404, f"no document {text}")
    with page.records() as session:
        document = cases.document(session, page.actor, page.param("ref"), int(text))
        name, data = document.name, document.data
    return attachment(data, name)
