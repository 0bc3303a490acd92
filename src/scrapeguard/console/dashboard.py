"""The dashboard: what needs the team now. Open incidents with their nearest deadline, overdue
legal cases (the reminders), notices, letters and policy changes waiting for a second person's
approval, and whether the guard's store is healthy."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.responses import Response

from scrapeguard.console.countdown import Countdown, aware, countdown
from scrapeguard.console.web import Page, Routes
from scrapeguard.records import cases, incidents, notices, obligations, policy_changes
from scrapeguard.records.models import IncidentRecord, NoticeRecord

routes = Routes()


@dataclass(frozen=True)
class OpenIncident:
    incident: IncidentRecord
    reference: str
    owed: int
    next_deadline: Countdown | None
    next_what: str


@routes.get("/", "read")
async def dashboard(page: Page) -> Response:
    now = page.now_datetime
    with page.records() as session:
        open_incidents = []
        for incident in incidents.list_incidents(session, page.actor):
            if incident.state == incidents.CLOSED:
                continue
            owed = [o for o in obligations.obligations_of(session, incident.id) if o.owed]
            due = sorted(((aware(o.row.due), o) for o in owed if o.row.due is not None),
                         key=lambda pair: pair[0])
            first = due[0] if due else None
            open_incidents.append(OpenIncident(
                incident, incidents.public_id(incident.id), len(owed),
                countdown(first[0], now) if first else None,
                f"{first[1].row.regime} → {first[1].row.audience}" if first else ""))
        overdue = [(c, cases.public_id(c.id), countdown(aware(c.deadline), now))
                   for c in cases.overdue(session, now) if c.deadline is not None]
        waiting: list[NoticeRecord] = [n for n in notices.list_notices(session, page.actor)
                                       if n.state == notices.DRAFT]
        letters = [(letter, cases.public_id(case.id))
                   for case in cases.list_cases(session, page.actor) if case.status != cases.CLOSED
                   for letter in cases.letters_of(session, case.id) if letter.state == cases.LETTER_DRAFT]
        changes = [c for c in policy_changes.list_changes(session, page.actor)
                   if c.state == policy_changes.PROPOSED]
    return page.render("dashboard.html", open_incidents=open_incidents, overdue=overdue, waiting=waiting,
                       letters=letters, changes=changes,
                       store_health=page.store_health, incident_ref=incidents.public_id)
