"""Legal cases against whoever is behind the scraping: letters (cease-and-desist, deletion demand)
from editable templates with the incident's evidence, deadlines, the reply, the confirmation of
deletion (with the SHA-256 of the document received), overdue reminders and a status history.

Documents received (the confirmation of deletion, attachments of replies) are kept in the records
themselves (`case_documents`), not only their name and SHA-256: the console serves them for download
from whatever host it runs on, with SQLite or PostgreSQL alike (a folder next to the database would
not exist for PostgreSQL, nor on a second console host). Their SHA-256 is in the audit entry of the
step that received them (and, for the confirmation, in the bound case row), and the bytes are checked
against it each time they are read (`document`).

Statuses: open -> letter_sent -> replied -> deletion_confirmed -> closed (a case may be closed
from any status, with a note). A case is overdue while its deadline has passed and deletion
is not confirmed.

A letter is drafted, approved by another person than its drafter (legal, privacy officer or admin),
then recorded as sent with the day and the channel it really went by: only then does the case
move to letter_sent, and its deadline runs from that day. Letters go to the respondent, who knows
addresses, not our pseudonyms: a case keeps the clear value of each pseudonymised actor the team
enters (`identify`, checked against the pseudonym with the records' key), and a letter naming an
actor whose clear value is not known cannot be approved.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from scrapeguard.compliance import CaseFacts, render_letter
from scrapeguard.compliance.categories import packaged_taxonomy
from scrapeguard.compliance.letters import case_facts_from_json, case_facts_to_json, deadline_after
from scrapeguard.logs.formats import LogRecord
from scrapeguard.policy.model import IncidentOptions
from scrapeguard.records import audit
from scrapeguard.records.decisions import decisions_of
from scrapeguard.records.errors import InvalidStep, NotFound, PermissionDenied, RecordsError
from scrapeguard.records.exposure import ledger
from scrapeguard.records.incidents import actors_of
from scrapeguard.records.incidents import get as get_incident
from scrapeguard.records.incidents import public_id as incident_ref
from scrapeguard.records.models import CaseDocument, CaseLetter, CaseRecord, CaseStep
from scrapeguard.records.notices import incident_facts
from scrapeguard.records.permissions import requires
from scrapeguard.records.privacy import ADDRESS_KEYS, Pseudonymiser
from scrapeguard.records.users import Actor

OPEN, LETTER_SENT, REPLIED, DELETION_CONFIRMED, CLOSED = (
    "open", "letter_sent", "replied", "deletion_confirmed", "closed")
STATUSES = (OPEN, LETTER_SENT, REPLIED, DELETION_CONFIRMED, CLOSED)
LETTER_KINDS = ("cease_and_desist", "deletion_demand")
#: Statuses in which a passed deadline makes a case overdue.
AWAITING = (OPEN, LETTER_SENT, REPLIED)
#: A letter's states.
LETTER_DRAFT, LETTER_APPROVED, LETTER_SENT_STATE = "draft", "approved", "sent"
#: What a letter says of an actor whose clear value the case does not hold.
UNIDENTIFIED = "not identified"


#: Kinds of case documents.
DELETION_CONFIRMATION, REPLY_ATTACHMENT = "deletion_confirmation", "reply"


@dataclass(frozen=True, slots=True)
class Document:
    """A document received: its file name as given and its bytes."""

    name: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @classmethod
    def read(cls, path: Path, what: str = "document") -> Document:
        try:
            return cls(path.name, path.read_bytes())
        except OSError as exc:
            raise RecordsError(f"cannot read the {what} {path}: {exc.strerror}") from exc


def _document_name(name: str) -> str:
    """The file name only (no folders a browser or a user put in front), never empty."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    return (base or "document")[:300]


def _keep(session: Session, case: CaseRecord, kind: str, document: Document, by: Actor,
          at: datetime) -> CaseDocument:
    if not document.data:
        raise RecordsError(f"the document {document.name!r} is empty")
    row = CaseDocument(case_id=case.id, kind=kind, name=_document_name(document.name),
                       sha256=document.sha256, size=len(document.data), data=document.data,
                       added_by=by.name, added_at=at)
    session.add(row)
    session.flush()
    return row


def public_id(case_id: int) -> str:
    return f"CASE-{case_id}"


def parse_id(text: str | int) -> int:
    value = str(text).strip().upper().removeprefix("CASE-")
    if not value.isdigit():
        raise RecordsError(f"{text!r} is not a case id (CASE-3 or 3)")
    return int(value)


@requires("read")
def read_case(session: Session, by: Actor, case_id: str | int) -> CaseRecord:
    """A case, for someone who may read the records."""
    return get(session, case_id)


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


@requires("case.manage")
def open_case(session: Session, by: Actor, respondent: str, address: str | None = None,
              incident_id: str | int | None = None, actors: set[str] | None = None,
              note: str = "", clear_actors: Mapping[str, str] | None = None,
              now: datetime | None = None) -> CaseRecord:
    """A case against a person, a company or "the unknown operator of ..." (accounts/addresses).

    `clear_actors`: pseudonymised actor -> the clear value the team entered (`ip:p-..` -> `ip:1.2.3.4`),
    for the letters."""
    if not respondent.strip():
        raise RecordsError("a case needs a respondent: a person, a company, or 'the unknown operator of ...'")
    linked = set(actors or ())
    incident = None
    if incident_id is not None:
        incident = get_incident(session, incident_id)
        linked |= actors_of(session, incident.id)
    now = now or datetime.now(UTC)
    case = CaseRecord(respondent=respondent.strip()[:300], respondent_address=address,
                      incident_id=incident.id if incident else None, actors=sorted(linked), status=OPEN,
                      opened_by=by.name, opened_at=now, deadline=None, reply=None, replied_at=None,
                      deletion_confirmed_at=None, deletion_document=None, deletion_sha256=None,
                      clear_actors={k: v for k, v in (clear_actors or {}).items() if k in linked})
    session.add(case)
    session.flush()
    _step(session, case, OPEN, by.name, now, note)
    audit.record(session, by.name, "case.open", "case", case.id,
                 {"respondent": case.respondent, "actors": case.actors, "note": note,
                  "incident": incident_ref(incident.id) if incident else None})
    return case


@requires("case.manage")
def identify(session: Session, by: Actor, case_id: str | int, clear: list[str],
             pseudonymiser: Pseudonymiser) -> CaseRecord:
    """Record the clear value of pseudonymised actors of the case ("ip:203.0.113.7"), each checked
    against the case's pseudonyms with the records' key; a value that matches none is refused."""
    case = get(session, case_id)
    known = dict(case.clear_actors or {})
    added = []
    for value in clear:
        name, sep, rest = value.partition(":")
        if not sep or not rest or name not in ADDRESS_KEYS:
            raise RecordsError(f"{value!r} is not a clear address key ({', '.join(sorted(ADDRESS_KEYS))}, "
                               "e.g. ip:203.0.113.7)")
        pseudonym = pseudonymiser.actor(value)
        if pseudonym == value:
            raise RecordsError(f"{value!r} is a pseudonym: give the clear address")
        if pseudonym not in actors_of_case(session, case):
            raise RecordsError(f"{value} is none of the actors of {public_id(case.id)} (with the records' "
                               "pseudonym key): check the address and the key")
        known[pseudonym] = value
        added.append(pseudonym)
    case.clear_actors = known
    audit.record(session, by.name, "case.identify", "case", case.id, {"actors": sorted(added)})
    return case


def addresses_in_logs(records: Iterable[LogRecord], wanted: set[str],
                      pseudonymiser: Pseudonymiser) -> dict[str, str]:
    """Look the pseudonymised addresses `wanted` ("ip:p-..") up in access log records: the clear
    address of each whose pseudonym (with the records' key) is one of them (IPv4-mapped IPv6 read
    as IPv4 too). Stops reading once every one is found."""
    found: dict[str, str] = {}
    seen: set[str] = set()
    for record in records:
        if not record.ip or record.ip in seen:
            continue
        seen.add(record.ip)
        forms = [record.ip]
        if ":" in record.ip:
            try:
                mapped = ipaddress.IPv6Address(record.ip).ipv4_mapped
            except ValueError:
                mapped = None
            if mapped is not None:
                forms.append(str(mapped))
        for form in forms:
            pseudonym = pseudonymiser.key("ip", form)
            if pseudonym in wanted and pseudonym not in found:
                found[pseudonym] = f"ip:{form}"
        if len(found) == len(wanted):
            break
    return found


def letter_actor(actor: str, clear: Mapping[str, str]) -> str:
    """How a letter names an actor: its clear value ("ip 203.0.113.7", "account 42"); a pseudonym
    whose clear value the case lacks is named as such, for counsel to fill in before approval."""
    name, _, value = clear.get(actor, actor).partition(":")
    if name in ADDRESS_KEYS and value.startswith("p-"):
        return (f"{name} address {UNIDENTIFIED} "
                f"[Counsel: identify {value[:10]}.. with `scrapeguard cases identify`]")
    return f"{name} {value}"


def actors_of_case(session: Session, case: CaseRecord) -> set[str]:
    """The case's actors and those of its incident (which may have grown since the case opened)."""
    actors = set(case.actors)
    if case.incident_id is not None:
        actors |= actors_of(session, case.incident_id)
    return actors


def unidentified(session: Session, case: CaseRecord) -> list[str]:
    """The pseudonymised actors of the case (and its incident) whose clear value it does not hold."""
    clear = case.clear_actors or {}
    out = []
    for actor in sorted(actors_of_case(session, case)):
        name, _, value = actor.partition(":")
        if name in ADDRESS_KEYS and value.startswith("p-") and actor not in clear:
            out.append(actor)
    return out


def evidence_lines(session: Session, case: CaseRecord) -> tuple[str, ...]:
    """What the letter states as evidence: when, how much, from which accounts/addresses, what data
    (addresses in clear, data categories in words)."""
    actors = set(case.actors)
    clear = case.clear_actors or {}
    members = ledger(session, actors)
    decisions = decisions_of(session, actors)
    lines = [f"Accounts and addresses: "
             f"{', '.join(letter_actor(a, clear) for a in sorted(actors)) or 'none recorded'}"]
    if members:
        first, last = min(m.first_at for m in members), max(m.last_at for m in members)
        taxonomy = packaged_taxonomy()
        categories = sorted({taxonomy.label(c) for m in members for c in m.categories})
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


@requires("case.manage")
def write_letter(session: Session, by: Actor, case_id: str | int,
                 kind: Literal["cease_and_desist", "deletion_demand"], deadline_days: int,
                 options: IncidentOptions, template_dir: Path | None = None,
                 now: datetime | None = None) -> CaseLetter:
    """Draft a letter from the (editable) templates, giving the respondent `deadline_days` calendar
    days from the day it is sent. The draft is dated `now`; it counts for nothing until another
    person approves it (`approve_letter`) and it is recorded as sent (`send_letter`)."""
    if kind not in LETTER_KINDS:
        raise RecordsError(f"{kind!r} is not a letter ({', '.join(LETTER_KINDS)})")
    if deadline_days < 1:
        raise RecordsError("a letter gives at least one day to comply (--deadline-days)")
    case = get(session, case_id)
    if case.status == CLOSED:
        raise InvalidStep(f"{public_id(case.id)} is closed")
    now = now or datetime.now(UTC)
    deadline = deadline_after(now, deadline_days)
    incident = get_incident(session, case.incident_id) if case.incident_id is not None else None
    clear = case.clear_actors or {}
    incident_part = None
    if incident is not None:
        incident_part = incident_facts(session, incident, options)
        incident_part = replace(incident_part, actors=tuple(
            letter_actor(a, clear) for a in sorted(actors_of(session, incident.id))))
    facts = CaseFacts(case_id=public_id(case.id), respondent=case.respondent,
                      respondent_address=case.respondent_address, organisation=options.organisation,
                      contact=options.contact, incident=incident_part,
                      evidence=evidence_lines(session, case), demands_deadline=deadline, sent_at=now)
    document = render_letter(kind, facts, template_dir)
    snapshot = {**case_facts_to_json(facts), "deadline_days": deadline_days,
                "templates": str(template_dir) if template_dir else None,
                "unidentified": unidentified(session, case)}
    letter = CaseLetter(case_id=case.id, kind=kind, title=document.title[:300], text=document.text,
                        sha256=hashlib.sha256(document.text.encode("utf-8")).hexdigest(),
                        created_by=by.name, created_at=now, deadline=deadline, state=LETTER_DRAFT,
                        facts=snapshot, approved_by=None, approved_at=None, sent_by=None, sent_at=None,
                        channel=None, final_text=None, final_sha256=None)
    session.add(letter)
    session.flush()
    _step(session, case, case.status, by.name, now, f"{kind} letter {letter.id} drafted")
    audit.record(session, by.name, "case.letter_draft", "case", case.id,
                 {"letter": letter.id, "kind": kind, "sha256": letter.sha256, "deadline_days": deadline_days})
    return letter


def get_letter(session: Session, letter_id: int) -> CaseLetter:
    letter = session.get(CaseLetter, letter_id)
    if letter is None:
        raise NotFound(f"no letter {letter_id}")
    return letter


@requires("case.manage")
def approve_letter(session: Session, by: Actor, letter_id: int, note: str = "",
                   now: datetime | None = None) -> CaseLetter:
    """Approve a drafted letter: by legal, a privacy officer or an admin, not by its drafter, and only
    when every address it names is in clear (`identify`)."""
    letter = get_letter(session, letter_id)
    if letter.state != LETTER_DRAFT:
        raise InvalidStep(f"letter {letter_id} is {letter.state}: only a draft can be approved")
    if letter.created_by == by.name:
        raise PermissionDenied(f"{by.name} drafted letter {letter_id} and so cannot approve it: "
                               "another person must (four eyes)")
    missing = (letter.facts or {}).get("unidentified") or []
    if missing:
        raise InvalidStep(f"letter {letter_id} names {len(missing)} address(es) not identified "
                          f"({', '.join(missing)}): record them with `scrapeguard cases identify`, "
                          "then draft the letter again")
    letter.state, letter.approved_by, letter.approved_at = LETTER_APPROVED, by.name, now or datetime.now(UTC)
    audit.record(session, by.name, "case.letter_approve", "case", letter.case_id,
                 {"letter": letter.id, "sha256": letter.sha256, "note": note})
    return letter


@requires("case.manage")
def send_letter(session: Session, by: Actor, letter_id: int, channel: str, at: datetime | None = None,
                now: datetime | None = None) -> CaseLetter:
    """Record that an approved letter was sent, `at` (default now) by `channel` (ScrapeGuard does not
    send it itself). The letter as sent is rendered from the approved facts, dated the day it was
    sent, and its deadline (`deadline_days` calendar days later) becomes the case's."""
    letter = get_letter(session, letter_id)
    if letter.state != LETTER_APPROVED:
        raise InvalidStep(f"letter {letter_id} is {letter.state}: only an approved letter can be sent")
    if not channel.strip():
        raise RecordsError("say how the letter was sent (--channel: email, post, courier, ...)")
    now = now or datetime.now(UTC)
    when = at or now
    if when.tzinfo is None:
        raise RecordsError("the sending time needs a time zone")
    if when > now:
        raise RecordsError(f"the sending time {when.isoformat()} is in the future: record a letter once sent")
    if letter.approved_at is not None and when < letter.approved_at:
        raise RecordsError(f"the sending time {when.isoformat()} is before the approval "
                           f"({letter.approved_at.isoformat()})")
    case = get(session, letter.case_id)
    if case.status == CLOSED:
        raise InvalidStep(f"{public_id(case.id)} is closed")
    snapshot = dict(letter.facts or {})
    deadline = deadline_after(when, int(snapshot.get("deadline_days", 14)))
    facts = replace(case_facts_from_json(snapshot), sent_at=when, demands_deadline=deadline)
    templates = snapshot.get("templates")
    document = render_letter(letter.kind, facts, Path(templates) if templates else None,  # type: ignore[arg-type]
                             final=True)
    letter.state, letter.sent_by, letter.sent_at, letter.channel = LETTER_SENT_STATE, by.name, when, \
        channel.strip()[:100]
    letter.final_text = document.text
    letter.final_sha256 = hashlib.sha256(document.text.encode("utf-8")).hexdigest()
    letter.deadline = deadline
    case.deadline = deadline
    details = {"letter": letter.id, "kind": letter.kind, "channel": letter.channel,
               "sha256": letter.final_sha256, "deadline": deadline.isoformat()}
    if case.status in (OPEN, LETTER_SENT, REPLIED):
        _move(session, by, case, LETTER_SENT, when,
              f"{letter.kind} letter {letter.id} sent by {letter.channel}", details)
    else:
        audit.record(session, by.name, "case.letter_sent", "case", case.id, details)
    return letter


@requires("case.manage")
def record_reply(session: Session, by: Actor, case_id: str | int, text: str,
                 at: datetime | None = None, attachment: Document | None = None) -> CaseRecord:
    """The respondent replied: its text, and the document attached to it if any (kept, with its
    SHA-256 in the audit entry)."""
    case = get(session, case_id)
    if case.status not in (OPEN, LETTER_SENT, REPLIED):
        raise InvalidStep(f"{public_id(case.id)} is {case.status}: no reply expected")
    if not text.strip():
        raise RecordsError("the reply is empty")
    when = at or datetime.now(UTC)
    details: dict[str, object] = {"sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}
    note = "reply received"
    if attachment is not None:
        kept = _keep(session, case, REPLY_ATTACHMENT, attachment, by, when)
        details["attachment"] = {"document": kept.id, "name": kept.name, "sha256": kept.sha256}
        note += f" with {kept.name}"
    case.reply = (case.reply + "\n\n---\n\n" if case.reply else "") + text.strip()
    case.replied_at = when
    _move(session, by, case, REPLIED, when, note, details)
    return case


@requires("case.manage")
def confirm_deletion(session: Session, by: Actor, case_id: str | int, document: Path | Document,
                     at: datetime | None = None, note: str = "") -> CaseRecord:
    """The respondent confirmed deletion; the document received (a file, or an upload's name and
    bytes) is kept in the records and fingerprinted (SHA-256)."""
    case = get(session, case_id)
    if case.status in (DELETION_CONFIRMED, CLOSED):
        raise InvalidStep(f"{public_id(case.id)} is {case.status}")
    received = Document.read(document, "confirmation document") if isinstance(document, Path) else document
    when = at or datetime.now(UTC)
    kept = _keep(session, case, DELETION_CONFIRMATION, received, by, when)
    case.deletion_confirmed_at, case.deletion_sha256 = when, kept.sha256
    case.deletion_document = kept.name[:500]
    _move(session, by, case, DELETION_CONFIRMED, when, note or f"deletion confirmed ({kept.name})",
          {"document": kept.name, "sha256": kept.sha256, "stored": kept.id})
    return case


@requires("case.manage")
def close_case(session: Session, by: Actor, case_id: str | int, note: str = "",
               at: datetime | None = None) -> CaseRecord:
    case = get(session, case_id)
    if case.status == CLOSED:
        raise InvalidStep(f"{public_id(case.id)} is closed already")
    if case.status != DELETION_CONFIRMED and not note.strip():
        raise RecordsError(f"{public_id(case.id)} has no confirmation of deletion: "
                           "say why it closes (--note)")
    _move(session, by, case, CLOSED, at or datetime.now(UTC), note)
    return case


def overdue(session: Session, now: datetime | None = None) -> list[CaseRecord]:
    now = now or datetime.now(UTC)
    rows = session.execute(select(CaseRecord).where(CaseRecord.status.in_(AWAITING),
                                                    CaseRecord.deadline.is_not(None))).scalars()
    return [c for c in rows if c.deadline is not None and c.deadline < now]


@requires("read")
def remind(session: Session, by: Actor, now: datetime | None = None) -> list[CaseRecord]:
    """Record a reminder on every overdue case (run it daily, e.g. from cron) and return them."""
    now = now or datetime.now(UTC)
    due = overdue(session, now)
    for case in due:
        assert case.deadline is not None
        days = (now - case.deadline).days
        _step(session, case, case.status, by.name, now, f"reminder: deadline passed {days} day(s) ago")
        audit.record(session, by.name, "case.reminder", "case", case.id,
                     {"deadline": case.deadline.isoformat(), "days_overdue": days})
    return due


@requires("read")
def list_cases(session: Session, by: Actor, status: str | None = None) -> list[CaseRecord]:
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


def documents_of(session: Session, case_id: int) -> list[CaseDocument]:
    """The documents a case received, oldest first (their bytes load when read)."""
    return list(session.execute(select(CaseDocument).where(CaseDocument.case_id == case_id)
                                .order_by(CaseDocument.id)).scalars())


@requires("read")
def document(session: Session, by: Actor, case_id: str | int, document_id: int | None = None) -> CaseDocument:
    """A document of a case, its bytes checked against the SHA-256 recorded when it was received:
    `document_id`, or (None) the confirmation of deletion."""
    case = get(session, case_id)
    if document_id is None:
        if case.deletion_sha256 is None:
            raise NotFound(f"{public_id(case.id)} has no confirmation of deletion")
        rows = [d for d in documents_of(session, case.id) if d.kind == DELETION_CONFIRMATION]
        if not rows:
            raise NotFound(f"the confirmation of deletion of {public_id(case.id)} was recorded before "
                           "documents were kept: only its name and SHA-256 are in the records")
        row = rows[-1]
        expected = case.deletion_sha256
    else:
        found = session.get(CaseDocument, document_id)
        if found is None or found.case_id != case.id:
            raise NotFound(f"{public_id(case.id)} has no document {document_id}")
        row, expected = found, found.sha256
    if hashlib.sha256(row.data).hexdigest() != expected or row.sha256 != expected:
        raise RecordsError(f"document {row.id} of {public_id(case.id)} ({row.name}) does not match the "
                           f"SHA-256 recorded when it was received ({expected}): it was altered in the "
                           "database; run `scrapeguard audit verify`")
    return row
