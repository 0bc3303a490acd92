"""Breach assessment of a recorded incident, its notices (draft -> approved -> sent, and whoever
drafts one cannot approve it), the breach register, and the export of the affected members.

The rules and the documents are the compliance package's; this module feeds it the incident's
facts from the records and keeps what comes back, audited.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from scrapeguard.compliance import AffectedMember, Assessment, IncidentFacts, RuleSet, assess, draft_notice
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
    public_id,
)
from scrapeguard.records.models import IncidentRecord, NoticeRecord
from scrapeguard.records.users import Actor, require

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
        data_was_public=incident.data_was_public, aggregated=incident.aggregated,
        organisation=options.organisation, contact=options.contact)


def assess_incident(session: Session, by: Actor, incident_id: str | int, options: IncidentOptions,
                    rules: RuleSet | None = None) -> Assessment:
    """Assess (or re-assess) an incident against the jurisdiction rules; kept with the incident and
    in the breach register. A contained incident moves to "assessed"."""
    require(by, "incident.assess")
    incident = get(session, incident_id)
    if incident.state == CLOSED:
        raise InvalidStep(f"{public_id(incident.id)} is closed")
    result = assess(incident_facts(session, incident, options), rules)
    now = datetime.now(UTC)
    incident.assessment = result.to_dict()
    incident.assessed_at = now
    incident.notifiable = result.notifiable
    incident.reasoning = result.reasoning
    if incident.state == CONTAINED:
        incident.state = ASSESSED
        _step(session, incident, ASSESSED, by.name, now, "assessed")
    audit.record(session, by.name, "incident.assess", "incident", incident.id, {
        "notifiable": result.notifiable, "severity": result.severity.to_dict(),
        "regimes": {r.regime: {"regulator": r.notify_regulator.verdict,
                               "individuals": r.notify_individuals.verdict} for r in result.regimes},
        "affected": result.affected_total, "reasoning": result.reasoning})
    return result


def assessment_of(incident: IncidentRecord) -> Assessment:
    if incident.assessment is None:
        raise InvalidStep(f"{public_id(incident.id)} has not been assessed yet (`incidents assess`)")
    return Assessment.from_dict(incident.assessment)


def draft(session: Session, by: Actor, incident_id: str | int, regime: str,
          audience: Literal["regulator", "individuals"], options: IncidentOptions) -> NoticeRecord:
    require(by, "notice.draft")
    if audience not in AUDIENCES:
        raise RecordsError(f"{audience!r} is not an audience ({', '.join(AUDIENCES)})")
    incident = get(session, incident_id)
    assessment = assessment_of(incident)
    known = [r.regime for r in assessment.regimes]
    if regime not in known:
        raise RecordsError(f"{public_id(incident.id)} affects no members under {regime!r} "
                           f"(regimes in its assessment: {', '.join(known) or 'none'})")
    document = draft_notice(assessment, incident_facts(session, incident, options), regime, audience)
    notice = NoticeRecord(incident_id=incident.id, regime=regime, audience=audience,
                          title=document.title[:300],
                          text=document.text, state=DRAFT, drafted_by=by.name, drafted_at=datetime.now(UTC),
                          approved_by=None, approved_at=None, sent_by=None, sent_at=None)
    session.add(notice)
    session.flush()
    audit.record(session, by.name, "notice.draft", "notice", notice.id,
                 {"incident": public_id(incident.id), "regime": regime, "audience": audience})
    return notice


def get_notice(session: Session, notice_id: int) -> NoticeRecord:
    notice = session.get(NoticeRecord, notice_id)
    if notice is None:
        raise NotFound(f"no notice {notice_id}")
    return notice


def approve(session: Session, by: Actor, notice_id: int, note: str = "") -> NoticeRecord:
    require(by, "notice.approve")
    notice = get_notice(session, notice_id)
    if notice.state != DRAFT:
        raise InvalidStep(f"notice {notice_id} is {notice.state}, only a draft can be approved")
    if notice.drafted_by == by.name:
        raise PermissionDenied(f"{by.name} drafted notice {notice_id} and so cannot approve it: "
                               "another person must (four eyes)")
    notice.state, notice.approved_by, notice.approved_at = APPROVED, by.name, datetime.now(UTC)
    audit.record(session, by.name, "notice.approve", "notice", notice.id, {"note": note})
    return notice


def send(session: Session, by: Actor, notice_id: int, note: str = "") -> NoticeRecord:
    """Record that an approved notice was sent (ScrapeGuard does not send it itself)."""
    require(by, "notice.send")
    notice = get_notice(session, notice_id)
    if notice.state != APPROVED:
        raise InvalidStep(f"notice {notice_id} is {notice.state}: only an approved notice can be sent")
    notice.state, notice.sent_by, notice.sent_at = SENT, by.name, datetime.now(UTC)
    audit.record(session, by.name, "notice.send", "notice", notice.id, {"note": note})
    return notice


def notices_of(session: Session, incident_id: int) -> list[NoticeRecord]:
    return list(session.execute(select(NoticeRecord).where(NoticeRecord.incident_id == incident_id)
                                .order_by(NoticeRecord.id)).scalars())


def sent_notices(session: Session, incident_id: int) -> list[NoticeRecord]:
    return [n for n in notices_of(session, incident_id) if n.state == SENT]


def register(session: Session, by: Actor) -> list[dict[str, Any]]:
    """The breach register (GDPR Art. 33(5)): every incident, the ones judged not notifiable
    too, with the reasoning, the facts and the notices sent."""
    require(by, "read")
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
            "notices_sent": [{"regime": n.regime, "audience": n.audience, "sent_at": n.sent_at.isoformat()}
                             for n in sent_notices(session, incident.id) if n.sent_at],
        })
    return out


def affected_members(session: Session, by: Actor, incident_id: str | int) -> list[dict[str, Any]]:
    """The affected members (for notifying them); the export itself is audited."""
    require(by, "affected.export")
    incident = get(session, incident_id)
    members = ledger(session, actors_of(session, incident.id))
    audit.record(session, by.name, "incident.export_affected", "incident", incident.id,
                 {"members": len(members)})
    return [m.to_dict() for m in members]
