"""Incidents: the privacy officer's and the analyst's workplace. The list with each owed
notification's countdown per regime and audience; an incident's page with its times, actors,
affected members, assessment, obligations, notices (draft | approval | sent) and timeline; and the
steps, each a POST that calls the records function that owns the rule (states, four eyes,
deadlines, obligations are the records layer's, never re-checked here).

Times the records keep are the console's clock (`settings.clock`), passed as `now`."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from starlette.responses import RedirectResponse, Response

from scrapeguard.compliance.rules import packaged_rules
from scrapeguard.console.countdown import Countdown, aware, countdown
from scrapeguard.console.settings import ConsoleSettings
from scrapeguard.console.times import ZONES, field_value, stated_time
from scrapeguard.console.web import Page, PageError, Routes, attachment
from scrapeguard.policy import Policy, PolicyError, default_policy, load_policy
from scrapeguard.records import audit, incidents, notices, obligations
from scrapeguard.records.errors import InvalidStep
from scrapeguard.records.evidence import build_pack
from scrapeguard.records.exposure import ledger
from scrapeguard.records.models import IncidentRecord, NoticeRecord

routes = Routes()

AUDIENCES: tuple[Literal["regulator", "individuals"], ...] = ("regulator", "individuals")
#: Answers of the assessment form's yes / no / unknown questions.
ANSWERS = {"yes": True, "no": False, "unknown": None}


def console_policy_of(settings: ConsoleSettings) -> Policy:
    """The policy the console works with: the guard's policy file, or the built-in defaults."""
    if settings.policy_path is None:
        return default_policy()
    try:
        return load_policy(settings.policy_path)
    except PolicyError as exc:
        raise PageError(503, f"the policy file cannot be used, fix it first: {exc}") from exc


@dataclass(frozen=True)
class Deadline:
    """One owed obligation of an incident, as the list and the page show it."""

    regime: str
    audience: str
    status: str
    due: datetime | None
    countdown: Countdown | None


def owed_deadlines(session: Any, incident: IncidentRecord, now: datetime) -> list[Deadline]:
    out = []
    for state in obligations.obligations_of(session, incident.id):
        if not state.owed:
            continue
        due = aware(state.row.due) if state.row.due is not None else None
        out.append(Deadline(state.row.regime, state.row.audience, state.row.status, due,
                            countdown(due, now) if due is not None else None))
    return sorted(out, key=lambda d: (d.due is None, d.due or now, d.regime, d.audience))


# -- reading ------------------------------------------------------------------------------


@routes.get("/incidents", "read")
async def incident_list(page: Page) -> Response:
    state = page.request.query_params.get("state") or None
    now = page.now_datetime
    with page.records() as session:
        rows = [(i, incidents.public_id(i.id), owed_deadlines(session, i, now))
                for i in incidents.list_incidents(session, page.actor, state)]
    return page.render("incidents.html", rows=rows, states=incidents.STATES, state=state or "")


@dataclass(frozen=True)
class TimelineItem:
    at: datetime
    who: str
    what: str
    source: str


#: Audit details too long for a timeline line (they stay in the audit log and the evidence pack).
LONG_DETAILS = {"reasoning", "severity", "inputs", "regimes", "files"}


def _details_text(details: dict[str, Any]) -> str:
    """An audit entry's details in one short line: plain values, flat tables, no long texts."""
    parts = []
    for key, value in details.items():
        if key in LONG_DETAILS or value in (None, "", [], {}):
            continue
        if isinstance(value, bool):
            value = "yes" if value else "no"
        elif isinstance(value, dict):
            if any(isinstance(v, dict | list) for v in value.values()):
                continue
            value = ", ".join(f"{k} {v}" for k, v in value.items())
        elif isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        text = f"{key.replace('_', ' ')}: {value}"
        parts.append(text if len(text) <= 200 else text[:197] + "…")
    return "; ".join(parts)


def timeline_of(session: Any, incident: IncidentRecord, notice_rows: list[NoticeRecord]
                ) -> list[TimelineItem]:
    """The incident's steps and every audit entry about it and its notices, in time order."""
    items = [TimelineItem(aware(s.at), s.by, f"{s.state}" + (f": {s.note}" if s.note else ""), "step")
             for s in incidents.steps_of(session, incident.id)]
    entries = audit.entries_for(session, "incident", incident.id)
    for notice in notice_rows:
        entries += audit.entries_for(session, "notice", notice.id)
    for entry in entries:
        subject = f" (notice {entry.entity_id})" if entry.entity == "notice" else ""
        details = _details_text(json.loads(entry.details))
        items.append(TimelineItem(aware(entry.at), entry.actor,
                                  f"{entry.action}{subject}" + (f": {details}" if details else ""),
                                  f"audit log #{entry.seq}"))
    return sorted(items, key=lambda item: item.at)


@routes.get("/incidents/{ref}", "read")
async def incident_page(page: Page) -> Response:
    now = page.now_datetime
    with page.records() as session:
        incident = incidents.read_incident(session, page.actor, page.param("ref"))
        ref = incidents.public_id(incident.id)
        actors = sorted(incidents.actors_of(session, incident.id))
        members = len(ledger(session, actors))
        states = obligations.obligations_of(session, incident.id)
        checklist = [(o, countdown(aware(o.row.due), now) if o.row.due is not None and o.owed else None)
                     for o in states]
        notice_rows = notices.list_notices(session, page.actor, incident.id)
        timeline = timeline_of(session, incident, notice_rows)
        steps = set(incidents.STEPS[incident.state])
        page_values: dict[str, Any] = dict(
            incident=incident, ref=ref, actors=actors, members=members, checklist=checklist,
            notices=notice_rows, timeline=timeline, steps=steps,
            assessment=incident.assessment,
            public=(None if not incident.public_stated else incident.data_was_public),
            regimes=[r.id for r in packaged_rules().regimes],
            assessed_regimes=[r["regime"] for r in (incident.assessment or {}).get("regimes", [])],
            audiences=AUDIENCES, now_field=field_value(now), zone_names=ZONES,
            closed=incident.state == incidents.CLOSED)
    return page.render("incident.html", **page_values)


@routes.get("/incidents/{ref}/affected.csv", "affected.export")
async def affected_csv(page: Page) -> Response:
    with page.records() as session:
        incident = incidents.get(session, page.param("ref"))
        rows = notices.affected_members(session, page.actor, incident.id)
        name = f"{incidents.public_id(incident.id)}-affected-members.csv"
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["member", "country", "categories", "first", "last", "count"])
    for r in rows:
        writer.writerow([r["member"], r["country"] or "", " ".join(r["categories"]), r["first"], r["last"],
                         r["count"]])
    return attachment(buffer.getvalue().encode("utf-8"), name, "text/csv; charset=utf-8")


@routes.get("/incidents/{ref}/evidence.zip", "evidence.export")
async def evidence_zip(page: Page) -> Response:
    with page.records() as session:
        name, data = build_pack(session, page.actor, incident_id=page.param("ref"))
    return attachment(data, name, "application/zip")


@routes.get("/notices/{id}", "read")
async def notice_page(page: Page) -> Response:
    """A notice is shown on its incident's page."""
    with page.records() as session:
        notice = notices.read_notice(session, page.actor, _notice_id(page))
        ref = incidents.public_id(notice.incident_id)
    return RedirectResponse(f"/incidents/{ref}#notice-{notice.id}", status_code=303)


@routes.get("/notices/{id}/final", "read")
async def notice_final(page: Page) -> Response:
    """What was really sent: the uploaded final document, or the approved text as sent."""
    with page.records() as session:
        notice = notices.read_notice(session, page.actor, _notice_id(page))
        if notice.state != notices.SENT:
            raise InvalidStep(f"notice {notice.id} is {notice.state}: it has no final document until it "
                              "is sent")
        if notice.final_document is not None:
            data, name = notice.final_document, notice.final_document_name or f"notice-{notice.id}-final"
            kind = "application/octet-stream"
        else:
            data = (notice.final_text or "").encode("utf-8")
            name = f"notice-{notice.id}-{notice.regime}-{notice.audience}-final.md"
            kind = "text/markdown; charset=utf-8"
    return attachment(data, name, kind)


def _notice_id(page: Page) -> int:
    value = page.param("id")
    if not value.isdigit():
        raise PageError(404, f"no notice {value}")
    return int(value)


# -- the incident's steps -----------------------------------------------------------------


def _back(ref: str | int, anchor: str = "") -> str:
    return f"/incidents/{incidents.public_id(incidents.parse_id(ref))}" + (f"#{anchor}" if anchor else "")


async def _optional_time(page: Page, name: str, what: str) -> datetime | None:
    text = await page.field(name, required=False)
    return stated_time(text, await page.field("zone", required=False), what) if text.strip() else None


@routes.post("/incidents/{ref}/aware", "incident.aware")
async def mark_aware(page: Page) -> Response:
    ref = page.param("ref")
    when = stated_time(await page.field("aware_at", required=False), await page.field("zone", required=False),
                       "when you became aware")
    note = await page.field("note", required=False)
    reason = await page.field("reason", required=False)
    with page.records() as session:
        incident = incidents.mark_aware(session, page.actor, ref, when, note, reason, now=page.now_datetime)
        text = (f"{incidents.public_id(incident.id)}: aware since {when.astimezone(UTC):%Y-%m-%d %H:%M} "
                "UTC; the notification clocks run from there (assess again to update the deadlines).")
    return page.redirect(_back(ref), text)


async def _advance(page: Page, to_state: str) -> Response:
    ref = page.param("ref")
    note = await page.field("note", required=False)
    reason = await page.field("reason", required=False)
    at = await _optional_time(page, "at", "the time of the step")
    with page.records() as session:
        incident = incidents.advance(session, page.actor, ref, to_state, note, at, reason,
                                     now=page.now_datetime)
        text = f"{incidents.public_id(incident.id)} is {incident.state}."
    return page.redirect(_back(ref), text)


@routes.post("/incidents/{ref}/contain", "incident.contain")
async def contain(page: Page) -> Response:
    return await _advance(page, incidents.CONTAINED)


@routes.post("/incidents/{ref}/notified", "incident.notify")
async def notified(page: Page) -> Response:
    return await _advance(page, incidents.NOTIFIED)


@routes.post("/incidents/{ref}/close", "incident.close")
async def close(page: Page) -> Response:
    return await _advance(page, incidents.CLOSED)


@routes.post("/incidents/{ref}/reopen", "incident.close")
async def reopen(page: Page) -> Response:
    ref = page.param("ref")
    reason = await page.field("reason")
    with page.records() as session:
        incident = incidents.reopen(session, page.actor, ref, reason, now=page.now_datetime)
        text = f"{incidents.public_id(incident.id)} reopened: {incident.state}."
    return page.redirect(_back(ref), text)


async def _answer(page: Page, name: str) -> bool | None:
    value = await page.field(name, required=False, default="unknown")
    if value not in ANSWERS:
        raise PageError(400, f"{name.replace('_', ' ')}: answer yes, no or unknown")
    return ANSWERS[value]


@routes.post("/incidents/{ref}/assess", "incident.assess")
async def assess(page: Page) -> Response:
    ref = page.param("ref")
    public = await _answer(page, "data_was_public")
    aggregated = await _answer(page, "aggregated")
    options = console_policy_of(page.console.settings).incidents
    with page.records() as session:
        if public is not None or aggregated is not None:
            incidents.set_circumstances(session, page.actor, ref, public, aggregated)
        result = notices.assess_incident(session, page.actor, ref, options, now=page.now_datetime)
        questions = len(result.open_questions)
    text = (f"Assessed: {'notifiable' if result.notifiable else 'not notifiable'} "
            f"({len(result.regimes)} regime(s)); {questions} open question(s) listed below.")
    return page.redirect(_back(ref, "assessment"), text, "ok" if not questions else "warn")


async def _audience(page: Page) -> Literal["regulator", "individuals"]:
    value = await page.field("audience")
    for audience in AUDIENCES:
        if value == audience:
            return audience
    raise PageError(400, f"{value!r} is not an audience ({', '.join(AUDIENCES)})")


@routes.post("/incidents/{ref}/waive", "incident.notify")
async def waive(page: Page) -> Response:
    ref = page.param("ref")
    regime = await page.field("regime")
    audience = await _audience(page)
    reason = await page.field("reason")
    with page.records() as session:
        obligations.waive(session, page.actor, ref, regime, audience, reason, now=page.now_datetime)
    return page.redirect(_back(ref, "obligations"), f"{regime} {audience}: waived ({reason}).")


@routes.post("/incidents/{ref}/notices", "notice.draft")
async def draft(page: Page) -> Response:
    ref = page.param("ref")
    regime = await page.field("regime")
    audience = await _audience(page)
    options = console_policy_of(page.console.settings).incidents
    with page.records() as session:
        notice = notices.draft(session, page.actor, ref, regime, audience, options, now=page.now_datetime)
        missing = notices.missing_in(session, notice, options)
        number = notice.id
    if missing:
        return page.redirect(_back(ref, f"notice-{number}"),
                             f"Notice {number} drafted; it lacks required content: {'; '.join(missing)}.",
                             "warn")
    return page.redirect(_back(ref, f"notice-{number}"),
                         f"Notice {number} drafted: another person must approve it.")


@routes.post("/notices/{id}/approve", "notice.approve")
async def approve(page: Page) -> Response:
    note = await page.field("note", required=False)
    with page.records() as session:
        notice = notices.approve(session, page.actor, _notice_id(page), note, now=page.now_datetime)
        number, incident_id = notice.id, notice.incident_id
    return page.redirect(_back(incident_id, f"notice-{number}"), f"Notice {number} approved.")


@routes.post("/notices/{id}/send", "notice.send")
async def send(page: Page) -> Response:
    channel = await page.field("channel")
    sent_at = stated_time(await page.field("sent_at", required=False),
                          await page.field("zone", required=False), "when it was sent")
    note = await page.field("note", required=False)
    upload = await page.upload("final_document", required=False)
    with page.records() as session:
        notice = notices.send(session, page.actor, _notice_id(page), channel, sent_at, note,
                              upload[1] if upload else None, upload[0] if upload else None,
                              now=page.now_datetime)
        number, incident_id, digest = notice.id, notice.incident_id, notice.final_sha256
    return page.redirect(_back(incident_id, f"notice-{number}"),
                         f"Notice {number} recorded as sent (SHA-256 {digest}).")
