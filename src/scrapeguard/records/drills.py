"""Drills in the records: a scorecard kept (audited, with its policy's SHA-256) and the latest one,
which the regulator report cites."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from scrapeguard.drill.scorecard import Scorecard, citation
from scrapeguard.records import audit
from scrapeguard.records.models import DrillRecord
from scrapeguard.records.permissions import requires
from scrapeguard.records.users import Actor


@requires("drill.record")
def may_record(session: Session, by: Actor) -> None:
    """Refuse a user who may not record drills before the drill runs (it takes minutes), not after."""


@requires("drill.record")
def record_drill(session: Session, by: Actor, card: Scorecard) -> DrillRecord:
    """Keep `card`; the audit log notes who recorded it and its summary."""
    row = DrillRecord(ran_at=card.started_at, recorded_by=by.name, target=card.target,
                      policy_source=card.policy, policy_sha256=card.policy_hash, strategies=len(card.ran),
                      max_profiles=card.max_profiles, people_refused=card.people_refused,
                      scorecard=card.to_dict())
    session.add(row)
    session.flush()
    audit.record_change(session, by.name, "drill.recorded", row,
                        {"policy_sha256": card.policy_hash, "summary": card.summary()})
    return row


def latest_drill(session: Session, before: datetime | None = None) -> DrillRecord | None:
    """The drill run last (by when it ran), or last before `before`."""
    query = select(DrillRecord).order_by(DrillRecord.ran_at.desc(), DrillRecord.id.desc()).limit(1)
    if before is not None:
        query = query.where(DrillRecord.ran_at < before)
    return session.scalars(query).first()


def drill_citation(row: DrillRecord) -> str:
    """What the regulator report says of it."""
    return citation(row.ran_at, row.strategies, row.max_profiles, row.people_refused)
