"""Legal cases against whoever is behind the scraping: letters (cease-and-desist, deletion demand)
from editable templates with the incident's evidence, deadlines, the reply, the confirmation of
deletion (with the SHA-256 of the document received), overdue reminders and a status history.

Statuses: open -> letter_sent -> replied -> deletion_confirmed -> closed (a case may be closed
from any status, with a note). A case is overdue while its deadline has passed and deletion
is not confirmed.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from scrapeguard.compliance import CaseFacts, render_letter
from scrapeguard.policy.model import IncidentOptions
from scrapeguard.records import audit
from scrapeguard.records.decisions import decisions_of
from scrapeguard.records.errors import InvalidStep, NotFound, RecordsError
from scrapeguard.records.exposure import ledger
from scrapeguard.records.incidents import actors_of
from scrapeguard.records.incidents import get as get_incident
from scrapeguard.records.incidents import public_id as incident_ref
from scrapeguard.records.models import CaseLetter, CaseRecord, CaseStep
from scrapeguard.records.notices import incident_facts, readable_actor
from scrapeguard.records.users import Actor, require

OPEN, LETTER_SENT, REPLIED, DELETION_CONFIRMED, CLOSED = (
    "open", "letter_sent", "replied", "deletion_confirmed", "closed")
STATUSES = (OPEN, LETTER_SENT, REPLIED, DELETION_CONFIRMED, CLOSED)
LETTER_KINDS = ("cease_and_desist", "deletion_demand")
#: Statuses in which a passed deadline makes a case overdue.
AWAITING = (OPEN, LETTER_SENT, REPLIED)


def public_id(case_id: int) -> str:
    return f"CASE-{case_id}"


def parse_id(text: str | int) -> int:
    value = str(text).strip().upper().removeprefix("CASE-")
    if not value.isdigit():
        raise RecordsError(f"{text!r} is not a case id (CASE-3 or 3)")
    return int(value)


def get(session: Session, case_id: str | int) -> CaseRecord:
    row = session.get(CaseRecord, parse_id(case_id))
    if row is None:
        raise NotFound(f"no case {public_id(parse_id(case_id))}")
    return row


def _step(session: Session, case: CaseRecord, status: str, by: str, at: datetime, note: str = "") -> None:
    session.add(CaseStep(case_id=case.id, status=status, by=by, at=at, note=note))


def _move(session: Session, by: Actor, case: CaseRecord, status: str, at: datetime, note: str,
          details: dict[str, object] | None = None) -> None:
    before = case.status
    case.status = status
    _step(session, case, status, by.name, at, note)
    audit.record(session, by.name, f"case.{status}", "case", case.id,
                 {"from": before, "to": status, "at": at.isoformat(), "note": note, **(details or {})})


def open_case(session: Session, by: Actor, respondent: str, address: str | None = None,
              incident_id: str | int | None = None, actors: set[str] | None = None,
              note: str = "") -> CaseRecord:
    """A case against a person, a company or "the unknown operator of ..." (accounts/addresses)."""
    require(by, "case.manage")
    if not respondent.strip():
        raise RecordsError("a case needs a respondent: a person, a company, or 'the unknown operator of ...'")
    linked = set(actors or ())
    incident = None
    if incident_id is not None:
        incident = get_incident(session, incident_id)
        linked |= actors_of(session, incident.id)
    now = datetime.now(UTC)
    case = CaseRecord(respondent=respondent.strip()[:300], respondent_address=address,
                      incident_id=incident.id if incident else None, actors=sorted(linked), status=OPEN,
                      opened_by=by.name, opened_at=now, deadline=None, reply=None, replied_at=None,
                      deletion_confirmed_at=None, deletion_document=None, deletion_sha256=None)
    session.add(case)
    session.flush()
    _step(session, case, OPEN, by.name, now, note)
    audit.record(session, by.name, "case.open", "case", case.id,
                 {"respondent": case.respondent, "actors": case.actors, "note": note,
                  "incident": incident_ref(incident.id) if incident else None})
    return case


def evidence_lines(session: Session, case: CaseRecord) -> tuple[str, ...]:
    """What the letter states as evidence: when, how much, from which accounts/addresses, what data."""
    actors = set(case.actors)
    members = ledger(session, actors)
    decisions = decisions_of(session, actors)
    lines = [f"Accounts and addresses (pseudonymised where marked): "
             f"{', '.join(readable_actor(a) for a in sorted(actors)) or 'none recorded'}"]
    if members:
        first, last = min(m.first_at for m in members), max(m.last_at for m in members)
        categories = sorted({c for m in members for c in m.categories})
        lines.append(f"Between {first:%Y-%m-%d %H:%M} and {last:%Y-%m-%d %H:%M} UTC these received the "
                     f"personal data of {len(members)} members ({sum(m.count for m in members)} responses).")
        lines.append(f"Data categories: {', '.join(categories)}.")
        lines.append(f"Pages: {', '.join(sorted({r for m in members for r in m.routes}))}.")
    if decisions:
        lines.append(f"Our systems refused {len(decisions)} of their requests from "
                     f"{decisions[0].at:%Y-%m-%d %H:%M} UTC (first refusal id {decisions[0].decision_id}).")
    if case.incident_id is not None:
        lines.append(f"Incident reference: {incident_ref(case.incident_id)}.")
    return tuple(lines)


def write_letter(session: Session, by: Actor, case_id: str | int,
                 kind: Literal["cease_and_desist", "deletion_demand"], deadline: datetime,
                 options: IncidentOptions, template_dir: Path | None = None) -> CaseLetter:
    """Generate a letter from the (editable) templates and record it; the case's deadline is the
    letter's. Sending it is recorded with it: the letter is dated now."""
    require(by, "case.manage")
    if kind not in LETTER_KINDS:
        raise RecordsError(f"{kind!r} is not a letter ({', '.join(LETTER_KINDS)})")
    case = get(session, case_id)
    if case.status == CLOSED:
        raise InvalidStep(f"{public_id(case.id)} is closed")
    now = datetime.now(UTC)
    if deadline <= now:
        raise RecordsError("the deadline must be in the future")
    incident = get_incident(session, case.incident_id) if case.incident_id is not None else None
    facts = CaseFacts(case_id=public_id(case.id), respondent=case.respondent,
                      respondent_address=case.respondent_address, organisation=options.organisation,
                      contact=options.contact,
                      incident=incident_facts(session, incident, options) if incident else None,
                      evidence=evidence_lines(session, case), demands_deadline=deadline, sent_at=now)
    document = render_letter(kind, facts, template_dir)
    letter = CaseLetter(case_id=case.id, kind=kind, title=document.title[:300], text=document.text,
                        sha256=hashlib.sha256(document.text.encode("utf-8")).hexdigest(),
                        created_by=by.name, created_at=now, deadline=deadline)
    session.add(letter)
    session.flush()
    case.deadline = deadline
    if case.status in (OPEN, LETTER_SENT, REPLIED):
        _move(session, by, case, LETTER_SENT, now, f"{kind} letter {letter.id}",
              {"letter": letter.id, "kind": kind, "sha256": letter.sha256, "deadline": deadline.isoformat()})
    return letter


def record_reply(session: Session, by: Actor, case_id: str | int, text: str,
                 at: datetime | None = None) -> CaseRecord:
    require(by, "case.manage")
    case = get(session, case_id)
    if case.status not in (OPEN, LETTER_SENT, REPLIED):
        raise InvalidStep(f"{public_id(case.id)} is {case.status}: no reply expected")
    if not text.strip():
        raise RecordsError("the reply is empty")
    when = at or datetime.now(UTC)
    case.reply = (case.reply + "\n\n---\n\n" if case.reply else "") + text.strip()
    case.replied_at = when
    _move(session, by, case, REPLIED, when, "reply received",
          {"sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()})
    return case


def confirm_deletion(session: Session, by: Actor, case_id: str | int, document: Path,
                     at: datetime | None = None, note: str = "") -> CaseRecord:
    """The respondent confirmed deletion; the document received is fingerprinted (SHA-256)."""
    require(by, "case.manage")
    case = get(session, case_id)
    if case.status in (DELETION_CONFIRMED, CLOSED):
        raise InvalidStep(f"{public_id(case.id)} is {case.status}")
    try:
        digest = hashlib.sha256(document.read_bytes()).hexdigest()
    except OSError as exc:
        raise RecordsError(f"cannot read the confirmation document {document}: {exc.strerror}") from exc
    when = at or datetime.now(UTC)
    case.deletion_confirmed_at, case.deletion_sha256 = when, digest
    case.deletion_document = document.name[:500]
    _move(session, by, case, DELETION_CONFIRMED, when, note or f"deletion confirmed ({document.name})",
          {"document": document.name, "sha256": digest})
    return case


def close_case(session: Session, by: Actor, case_id: str | int, note: str = "") -> CaseRecord:
    require(by, "case.manage")
    case = get(session, case_id)
    if case.status == CLOSED:
        raise InvalidStep(f"{public_id(case.id)} is closed already")
    if case.status != DELETION_CONFIRMED and not note.strip():
        raise RecordsError(f"{public_id(case.id)} has no confirmation of deletion: "
                           "say why it closes (--note)")
    _move(session, by, case, CLOSED, datetime.now(UTC), note)
    return case


def overdue(session: Session, now: datetime | None = None) -> list[CaseRecord]:
    now = now or datetime.now(UTC)
    rows = session.execute(select(CaseRecord).where(CaseRecord.status.in_(AWAITING),
                                                    CaseRecord.deadline.is_not(None))).scalars()
    return [c for c in rows if c.deadline is not None and c.deadline < now]


def remind(session: Session, by: Actor, now: datetime | None = None) -> list[CaseRecord]:
    """Record a reminder on every overdue case (run it daily, e.g. from cron) and return them."""
    require(by, "read")
    now = now or datetime.now(UTC)
    due = overdue(session, now)
    for case in due:
        assert case.deadline is not None
        days = (now - case.deadline).days
        _step(session, case, case.status, by.name, now, f"reminder: deadline passed {days} day(s) ago")
        audit.record(session, by.name, "case.reminder", "case", case.id,
                     {"deadline": case.deadline.isoformat(), "days_overdue": days})
    return due


def list_cases(session: Session, by: Actor, status: str | None = None) -> list[CaseRecord]:
    require(by, "read")
    query = select(CaseRecord).order_by(CaseRecord.id)
    if status:
        if status not in STATUSES:
            raise RecordsError(f"{status!r} is not a status ({', '.join(STATUSES)})")
        query = query.where(CaseRecord.status == status)
    return list(session.execute(query).scalars())


def steps_of(session: Session, case_id: int) -> list[CaseStep]:
    return list(session.execute(select(CaseStep).where(CaseStep.case_id == case_id)
                                .order_by(CaseStep.id)).scalars())


def letters_of(session: Session, case_id: int) -> list[CaseLetter]:
    return list(session.execute(select(CaseLetter).where(CaseLetter.case_id == case_id)
                                .order_by(CaseLetter.id)).scalars())
