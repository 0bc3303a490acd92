"""An incident's notification obligations: for each regime and audience (regulator, individuals)
whether telling them is required, likely, not required or an open question, why, and by when.

They are derived from the assessment each time `incidents assess` runs; a re-assessment updates the
status and the reasoning and keeps how an obligation was met. An obligation is met by a sent notice
for its regime and audience, or waived by a privacy officer with a reason (audited). `notified`
(and closing an assessed incident) is refused while a required, likely or open-question obligation
is neither: "likely" counts because it is the verdict the severity mapping gives when the legal
test is met, and an open question is a decision still owed (waiving it records the reasoning, as
the breach register needs).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from scrapeguard.compliance.assessment import BLOCKING, Assessment
from scrapeguard.records import audit
from scrapeguard.records.errors import InvalidStep, NotFound, RecordsError
from scrapeguard.records.incidents import CLOSED, get, public_id
from scrapeguard.records.models import IncidentObligation, NoticeRecord
from scrapeguard.records.permissions import requires
from scrapeguard.records.users import Actor

AUDIENCES = ("regulator", "individuals")


@dataclass(frozen=True, slots=True)
class ObligationState:
    """An obligation with how it stands: met by a sent notice, waived, or still owed."""

    row: IncidentObligation
    notice_id: int | None  # the sent notice that meets it
    sent_at: datetime | None

    @property
    def met(self) -> str | None:
        if self.notice_id is not None:
            return "sent"
        return "waived" if self.row.waived_at is not None else None

    @property
    def owed(self) -> bool:
        return self.met is None and self.row.status in BLOCKING

    def to_dict(self) -> dict[str, object]:
        r = self.row
        return {"regime": r.regime, "audience": r.audience, "status": r.status, "reasoning": r.reasoning,
                "due": r.due.isoformat() if r.due else None, "deadline": r.deadline, "met": self.met,
                "notice": self.notice_id, "sent_at": self.sent_at.isoformat() if self.sent_at else None,
                "waived_by": r.waived_by, "waived_at": r.waived_at.isoformat() if r.waived_at else None,
                "waiver_reason": r.waiver_reason, "owed": self.owed}


def derive(session: Session, incident_id: int, assessment: Assessment, now: datetime | None = None
           ) -> list[IncidentObligation]:
    """Store the obligations of a (re-)assessment; waivers are kept. A regime no longer in the
    assessment stays listed as not required, with the reason."""
    when = now or datetime.now(UTC)
    rows = {(o.regime, o.audience): o for o in _rows(session, incident_id)}
    for ob in assessment.obligations():
        row = rows.pop((ob.regime, ob.audience), None)
        if row is None:
            row = IncidentObligation(incident_id=incident_id, regime=ob.regime, audience=ob.audience,
                                     waived_by=None, waived_at=None, waiver_reason=None)
            session.add(row)
        row.status, row.reasoning, row.due, row.deadline = ob.status, ob.reasoning, ob.due, ob.deadline
        row.derived_at = when
    for row in rows.values():
        row.status, row.due, row.derived_at = "not required", None, when
        row.reasoning = "No affected member falls under this regime in the latest assessment."
    session.flush()
    return _rows(session, incident_id)


def _rows(session: Session, incident_id: int) -> list[IncidentObligation]:
    query = (select(IncidentObligation).where(IncidentObligation.incident_id == incident_id)
             .order_by(IncidentObligation.regime, IncidentObligation.audience))
    return list(session.execute(query).scalars())


def obligations_of(session: Session, incident_id: int) -> list[ObligationState]:
    sent: dict[tuple[str, str], NoticeRecord] = {}
    for notice in session.execute(select(NoticeRecord).where(NoticeRecord.incident_id == incident_id,
                                                             NoticeRecord.state == "sent")
                                  .order_by(NoticeRecord.id)).scalars():
        sent.setdefault((notice.regime, notice.audience), notice)
    out = []
    for row in _rows(session, incident_id):
        met_by = sent.get((row.regime, row.audience))
        out.append(ObligationState(row, met_by.id if met_by else None, met_by.sent_at if met_by else None))
    return out


def outstanding(session: Session, incident_id: int) -> list[ObligationState]:
    """The obligations that block `notified`: required, likely or open, neither sent nor waived."""
    return [o for o in obligations_of(session, incident_id) if o.owed]


def describe(state: ObligationState) -> str:
    row = state.row
    due = f", due {row.due.isoformat()}" if row.due else ""
    return f"{row.regime} {row.audience} ({row.status}{due})"


@requires("incident.notify")
def waive(session: Session, by: Actor, incident_id: str | int, regime: str, audience: str, reason: str,
          now: datetime | None = None) -> ObligationState:
    """Record that an obligation will not be met by a notice, and why (a privacy officer's call)."""
    incident = get(session, incident_id)
    if incident.state == CLOSED:
        raise InvalidStep(f"{public_id(incident.id)} is closed")
    if audience not in AUDIENCES:
        raise RecordsError(f"{audience!r} is not an audience ({', '.join(AUDIENCES)})")
    if not reason.strip():
        raise RecordsError("a waiver needs its reason (--reason)")
    states = {(o.row.regime, o.row.audience): o for o in obligations_of(session, incident.id)}
    state = states.get((regime, audience))
    if state is None:
        known = ", ".join(sorted({r for r, _ in states})) or "none: run `incidents assess` first"
        raise NotFound(f"{public_id(incident.id)} has no {regime} obligation (regimes: {known})")
    if state.notice_id is not None:
        raise InvalidStep(f"{describe(state)} was met by notice {state.notice_id}: nothing to waive")
    row = state.row
    row.waived_by, row.waived_at, row.waiver_reason = by.name, now or datetime.now(UTC), reason.strip()
    audit.record(session, by.name, "incident.waive", "incident", incident.id,
                 {"regime": regime, "audience": audience, "status": row.status, "reason": row.waiver_reason})
    return ObligationState(row, None, None)
