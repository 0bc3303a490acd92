"""Breach assessment of a recorded incident, its notices (draft -> approved -> sent, and whoever
drafts one cannot approve it), the breach register, and the export of the affected members.

A sent notice records what really went out: the approved draft without its draft-only parts (or
the final document attached, stored with its SHA-256), the channel and the time it was sent.

The rules and the documents are the compliance package's; this module feeds it the incident's
facts from the records and keeps what comes back, audited.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scrapeguard.compliance import AffectedMember, Assessment, IncidentFacts, RuleSet, assess, draft_notice
from scrapeguard.compliance.notices import NotFinal, final_text, missing_contents
from scrapeguard.policy.model import IncidentOptions
from scrapeguard.records import audit
from scrapeguard.records.errors import InvalidStep, NotFound, PermissionDenied, RecordsError
from scrapeguard.records.exposure import ledger
from scrapeguard.records.incidents import (
    ASSESSED,
    CLOSED,
    CONTAINED,
    _step,
    actors_of,
    get,
    given_time,
    public_id,
)
from scrapeguard.records.models import CaseRecord, IncidentRecord, NoticeRecord
from scrapeguard.records.obligations import derive
from scrapeguard.records.permissions import requires
from scrapeguard.records.users import Actor

DRAFT, APPROVED, SENT = "draft", "approved", "sent"
AUDIENCES = ("regulator", "individuals")


def readable_actor(actor: str) -> str:
    """"ip:p-3f9a.." -> "ip p-3f9a.. (pseudonymised)"; "account:42" -> "account 42"."""
    name, _, value = actor.partition(":")
    return f"{name} {value} (pseudonymised)" if value.startswith("p-") else f"{name} {value}"


def incident_facts(session: Session, incident: IncidentRecord, options: IncidentOptions) -> IncidentFacts:
    actors = actors_of(session, incident.id)
    members = ledger(session, actors)
    return IncidentFacts(
        incident_id=public_id(incident.id), title=incident.title, started_at=incident.started_at,
        detected_at=incident.detected_at, aware_at=incident.aware_at, contained_at=incident.contained_at,
        actors=tuple(readable_actor(a) for a in sorted(actors)),
        affected=tuple(AffectedMember(m.member, m.country, m.categories) for m in members),
        data_was_public=incident.data_was_public if incident.public_stated else None,
        aggregated=incident.aggregated,
        organisation=options.organisation, contact=options.contact,
        legal_action=session.execute(select(func.count()).select_from(CaseRecord)
                                     .where(CaseRecord.incident_id == incident.id)).scalar_one() > 0,
        controller_country=options.controller_country or None,
        eu_representative=options.eu_representative, uk_representative=options.uk_representative)


@requires("incident.assess")
def assess_incident(session: Session, by: Actor, incident_id: str | int, options: IncidentOptions,
                    rules: RuleSet | None = None, now: datetime | None = None) -> Assessment:
    """Assess (or re-assess) an incident against the jurisdiction rules; kept with the incident and
    in the breach register. A contained incident moves to "assessed". `now`: the caller's clock
    (the console's), else the wall clock."""
    incident = get(session, incident_id)
    if incident.state == CLOSED:
        raise InvalidStep(f"{public_id(incident.id)} is closed")
    result = assess(incident_facts(session, incident, options), rules)
    now = now or datetime.now(UTC)
    incident.assessment = result.to_dict()
    incident.assessed_at = now
    incident.notifiable = result.notifiable
    incident.reasoning = result.reasoning
    obligations = derive(session, incident.id, result, now)
    if incident.state == CONTAINED:
        incident.state = ASSESSED
        _step(session, incident, ASSESSED, by.name, now, "assessed")
    audit.record(session, by.name, "incident.assess", "incident", incident.id, {
        "notifiable": result.notifiable, "severity": result.severity.to_dict(),
        "regimes": {r.regime: {"regulator": r.notify_regulator.verdict,
                               "individuals": r.notify_individuals.verdict} for r in result.regimes},
        "obligations": {f"{o.regime}/{o.audience}": o.status for o in obligations},
        "inputs": result.inputs, "open_questions": len(result.open_questions),
        "affected": result.affected_total, "reasoning": result.reasoning})
    return result


def assessment_of(incident: IncidentRecord) -> Assessment:
    if incident.assessment is None:
        raise InvalidStep(f"{public_id(incident.id)} has not been assessed yet (`incidents assess`)")
    return Assessment.from_dict(incident.assessment)


@requires("notice.draft")
def draft(session: Session, by: Actor, incident_id: str | int, regime: str,
          audience: Literal["regulator", "individuals"], options: IncidentOptions,
          now: datetime | None = None) -> NoticeRecord:
    if audience not in AUDIENCES:
        raise RecordsError(f"{audience!r} is not an audience ({', '.join(AUDIENCES)})")
    incident = get(session, incident_id)
    assessment = assessment_of(incident)
    known = [r.regime for r in assessment.regimes]
    if regime not in known:
        raise RecordsError(f"{public_id(incident.id)} affects no members under {regime!r} "
                           f"(regimes in its assessment: {', '.join(known) or 'none'})")
    facts = incident_facts(session, incident, options)
    document = draft_notice(assessment, facts, regime, audience)
    missing = missing_contents(document.text, facts, assessment, regime, audience)
    notice = NoticeRecord(incident_id=incident.id, regime=regime, audience=audience,
                          title=document.title[:300],
                          text=document.text, state=DRAFT, drafted_by=by.name,
                          drafted_at=now or datetime.now(UTC),
                          approved_by=None, approved_at=None, sent_by=None, sent_at=None)
    session.add(notice)
    session.flush()
    audit.record(session, by.name, "notice.draft", "notice", notice.id,
                 {"incident": public_id(incident.id), "regime": regime, "audience": audience,
                  "missing_contents": missing})
    return notice


def missing_in(session: Session, notice: NoticeRecord, options: IncidentOptions, text: str | None = None
               ) -> list[str]:
    """The contents the notice's regime requires that its text (or `text`) lacks."""
    incident = get(session, notice.incident_id)
    return missing_contents(notice.text if text is None else text, incident_facts(session, incident, options),
                            assessment_of(incident), notice.regime, notice.audience)  # type: ignore[arg-type]


def get_notice(session: Session, notice_id: int) -> NoticeRecord:
    notice = session.get(NoticeRecord, notice_id)
    if notice is None:
        raise NotFound(f"no notice {notice_id}")
    return notice


@requires("notice.approve")
def approve(session: Session, by: Actor, notice_id: int, note: str = "", now: datetime | None = None
            ) -> NoticeRecord:
    notice = get_notice(session, notice_id)
    if notice.state != DRAFT:
        raise InvalidStep(f"notice {notice_id} is {notice.state}, only a draft can be approved")
    if notice.drafted_by == by.name:
        raise PermissionDenied(f"{by.name} drafted notice {notice_id} and so cannot approve it: "
                               "another person must (four eyes)")
    notice.state, notice.approved_by, notice.approved_at = APPROVED, by.name, now or datetime.now(UTC)
    audit.record(session, by.name, "notice.approve", "notice", notice.id, {"note": note})
    return notice


@requires("notice.send")
def send(session: Session, by: Actor, notice_id: int, channel: str, sent_at: datetime, note: str = "",
         final_document: bytes | None = None, document_name: str | None = None,
         now: datetime | None = None) -> NoticeRecord:
    """Record that an approved notice was sent (ScrapeGuard does not send it itself): when it really
    went out, how, and what was sent: the approved draft without its draft-only parts, or the final
    document that was sent instead (kept with its SHA-256)."""
    notice = get_notice(session, notice_id)
    if notice.state != APPROVED:
        raise InvalidStep(f"notice {notice_id} is {notice.state}: only an approved notice can be sent")
    if not channel.strip():
        raise RecordsError("say how the notice was sent (--channel, e.g. \"regulator portal\", \"email\")")
    when = given_time(sent_at, "the sending time", now)
    if when < notice.approved_at:  # type: ignore[operator]
        raise RecordsError(f"the sending time {when.isoformat()} is before the approval "
                           f"({notice.approved_at.isoformat() if notice.approved_at else '?'})")
    if final_document is not None:
        if not final_document:
            raise RecordsError("the final document is empty")
        notice.final_document, notice.final_text = final_document, None
        notice.final_document_name = (document_name or "final")[:300]
        notice.final_sha256 = hashlib.sha256(final_document).hexdigest()
    else:
        try:
            notice.final_text = final_text(notice.text)
        except NotFinal as exc:
            raise RecordsError(f"notice {notice_id}: {exc} (--final-file)") from exc
        notice.final_sha256 = hashlib.sha256(notice.final_text.encode("utf-8")).hexdigest()
    notice.state, notice.sent_by, notice.sent_at, notice.channel = SENT, by.name, when, channel.strip()[:100]
    audit.record(session, by.name, "notice.send", "notice", notice.id,
                 {"note": note, "channel": notice.channel, "sent_at": when.isoformat(),
                  "sha256": notice.final_sha256, "document": notice.final_document_name})
    return notice


@requires("read")
def read_notice(session: Session, by: Actor, notice_id: int) -> NoticeRecord:
    """A notice, for someone who may read the records."""
    return get_notice(session, notice_id)


@requires("read")
def list_notices(session: Session, by: Actor, incident_id: str | int | None = None) -> list[NoticeRecord]:
    """Every notice in order, or one incident's."""
    query = select(NoticeRecord).order_by(NoticeRecord.id)
    if incident_id is not None:
        query = query.where(NoticeRecord.incident_id == get(session, incident_id).id)
    return list(session.execute(query).scalars())


def notices_of(session: Session, incident_id: int) -> list[NoticeRecord]:
    return list(session.execute(select(NoticeRecord).where(NoticeRecord.incident_id == incident_id)
                                .order_by(NoticeRecord.id)).scalars())


def sent_notices(session: Session, incident_id: int) -> list[NoticeRecord]:
    return [n for n in notices_of(session, incident_id) if n.state == SENT]


@requires("read")
def register(session: Session, by: Actor) -> list[dict[str, Any]]:
    """The breach register (GDPR Art. 33(5)): every incident, the ones judged not notifiable
    too, with the reasoning, the facts and the notices sent."""
    out = []
    for incident in session.execute(select(IncidentRecord).order_by(IncidentRecord.id)).scalars():
        out.append({
            "incident": public_id(incident.id), "title": incident.title, "state": incident.state,
            "started_at": incident.started_at.isoformat(), "detected_at": incident.detected_at.isoformat(),
            "aware_at": incident.aware_at.isoformat() if incident.aware_at else None,
            "contained_at": incident.contained_at.isoformat() if incident.contained_at else None,
            "assessed_at": incident.assessed_at.isoformat() if incident.assessed_at else None,
            "notifiable": incident.notifiable,
            "reasoning": incident.reasoning or "not assessed yet",
            "notices_sent": [{"regime": n.regime, "audience": n.audience, "sent_at": n.sent_at.isoformat(),
                              "channel": n.channel, "sha256": n.final_sha256}
                             for n in sent_notices(session, incident.id) if n.sent_at],
        })
    return out


@requires("affected.export")
def affected_members(session: Session, by: Actor, incident_id: str | int) -> list[dict[str, Any]]:
    """The affected members (for notifying them); the export itself is audited."""
    incident = get(session, incident_id)
    members = ledger(session, actors_of(session, incident.id))
    audit.record(session, by.name, "incident.export_affected", "incident", incident.id,
                 {"members": len(members)})
    return [m.to_dict() for m in members]
