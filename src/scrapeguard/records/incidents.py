"""Incidents: opened by the guard when an actor's or a campaign's exposure crosses the policy
threshold (or by a person), one per campaign, and moved through their lifecycle
detected -> contained -> assessed -> notified -> closed, each step with who and when.

The law cannot be skipped: closing needs an assessment or a recorded reason (a false positive), and
a privacy officer; `notified` needs every notification obligation met (`obligations.py`); a closed
incident can be reopened (with a reason) and then stands where it stood before it was closed, as far
as the law is concerned: "assessed" when it has an assessment (so `notified` is checked again against
the re-derived obligations), else "contained" or "detected". Times a person gives (detection,
awareness, a step) carry a zone and are not in the future.

Grouping: a decision whose reasons name a `campaign:<id>` key belongs to that campaign's
incident; any other refused actor's decisions belong to the open incident that already names
one of its keys (its address or account), or to a new one keyed by the actor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scrapeguard.policy.model import IncidentOptions
from scrapeguard.records import audit
from scrapeguard.records.db import Database
from scrapeguard.records.errors import InvalidStep, NotFound, RecordsError
from scrapeguard.records.exposure import ledger
from scrapeguard.records.models import DecisionRecord, IncidentActor, IncidentRecord, IncidentStep
from scrapeguard.records.permissions import requires
from scrapeguard.records.users import GUARD, Actor

DETECTED, CONTAINED, ASSESSED, NOTIFIED, CLOSED = "detected", "contained", "assessed", "notified", "closed"
STATES = (DETECTED, CONTAINED, ASSESSED, NOTIFIED, CLOSED)
#: state -> the states a person may move it to, and the permission each move needs.
STEPS: dict[str, dict[str, str]] = {
    DETECTED: {CONTAINED: "incident.contain", CLOSED: "incident.close"},
    CONTAINED: {CLOSED: "incident.close"},  # to "assessed": by `assess`
    ASSESSED: {NOTIFIED: "incident.notify", CLOSED: "incident.close"},
    NOTIFIED: {CLOSED: "incident.close"},
    CLOSED: {},
}


#: How far a given time may lie ahead of the clock (clock skew between machines), and no further.
CLOCK_SKEW = timedelta(minutes=5)
TIME_FORM = "2026-12-01T10:00+00:00"


def given_time(value: datetime, what: str, now: datetime | None = None) -> datetime:
    """A time a person states: it must carry its zone and must not lie in the future."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise RecordsError(f"{what} {value.isoformat()} has no time zone: give it with its offset, "
                           f"e.g. {TIME_FORM}")
    clock = now or datetime.now(UTC)
    if value > clock + CLOCK_SKEW:
        raise RecordsError(f"{what} {value.isoformat()} is in the future (now {clock.isoformat()})")
    return value.astimezone(UTC)


def public_id(incident_id: int) -> str:
    return f"INC-{incident_id}"


def parse_id(text: str | int) -> int:
    """"INC-7", "7" or 7 -> 7."""
    value = str(text).strip().upper().removeprefix("INC-")
    if not value.isdigit():
        raise RecordsError(f"{text!r} is not an incident id (INC-7 or 7)")
    return int(value)


@requires("read")
def read_incident(session: Session, by: Actor, incident_id: str | int) -> IncidentRecord:
    """An incident, for someone who may read the records."""
    return get(session, incident_id)


def get(session: Session, incident_id: str | int) -> IncidentRecord:
    row = session.get(IncidentRecord, parse_id(incident_id))
    if row is None:
        raise NotFound(f"no incident {public_id(parse_id(incident_id))}")
    return row


def actors_of(session: Session, incident_id: int) -> set[str]:
    return set(session.execute(select(IncidentActor.actor)
                               .where(IncidentActor.incident_id == incident_id)).scalars())


def _add_actors(session: Session, incident: IncidentRecord, actors: set[str], at: datetime) -> set[str]:
    new = actors - actors_of(session, incident.id)
    session.add_all(IncidentActor(incident_id=incident.id, actor=a, added_at=at) for a in sorted(new))
    session.flush()
    return new


def _step(session: Session, incident: IncidentRecord, state: str, by: str, at: datetime, note: str) -> None:
    session.add(IncidentStep(incident_id=incident.id, state=state, by=by, at=at, note=note))


@requires("incident.open")
def open_incident(session: Session, by: Actor, title: str, actors: set[str], group_key: str | None = None,
                  started_at: datetime | None = None, detected_at: datetime | None = None,
                  note: str = "", now: datetime | None = None) -> IncidentRecord:
    """Open an incident about these (pseudonymised) actors. A person opens one with a title and
    the actors, and the true detection (and start) time when it was found earlier; the guard
    opens one per campaign or lone actor (group_key)."""
    if not title.strip():
        raise RecordsError("an incident needs a title")
    now = now or datetime.now(UTC)
    if detected_at is not None:
        detected_at = given_time(detected_at, "the detection time", now)
    if started_at is not None:
        started_at = given_time(started_at, "the start time", now)
        if detected_at is not None and started_at > detected_at:
            raise RecordsError(f"the start ({started_at.isoformat()}) cannot come after the detection "
                               f"({detected_at.isoformat()})")
    detected = detected_at or now
    key = group_key or f"manual:{now.isoformat()}:{sorted(actors)[:1]}"
    if session.execute(select(IncidentRecord).where(IncidentRecord.group_key == key)).scalar_one_or_none():
        raise RecordsError(f"an incident for {key} exists already")
    exposure = ledger(session, actors)
    started = started_at or (min(m.first_at for m in exposure) if exposure else detected)
    incident = IncidentRecord(title=title.strip()[:300], group_key=key[:300], state=DETECTED,
                              opened_by=by.name,
                              started_at=started, detected_at=detected, aware_at=None, aware_by=None,
                              contained_at=None, closed_at=None, data_was_public=True, public_stated=False,
                              aggregated=True,
                              assessment=None, assessed_at=None, notifiable=None, reasoning=None)
    session.add(incident)
    session.flush()
    _add_actors(session, incident, actors, detected)
    _step(session, incident, DETECTED, by.name, detected, note)
    audit.record(session, by.name, "incident.open", "incident", incident.id,
                 {"title": incident.title, "group": key, "actors": sorted(actors),
                  "members": len(exposure), "note": note})
    return incident


#: The permission to move an incident to each state (the same from every state it can be reached from).
STEP_PERMISSIONS: dict[str, str] = {to: needed for steps in STEPS.values() for to, needed in steps.items()}


@requires(STEP_PERMISSIONS, chosen_by="to_state")
def advance(session: Session, by: Actor, incident_id: str | int, to_state: str, note: str = "",
            at: datetime | None = None, reason: str = "", now: datetime | None = None) -> IncidentRecord:
    """Move an incident on. Closing an incident that was never assessed needs `reason` (why no
    assessment is owed, e.g. a false positive). `now`: the caller's clock (the console's), else the
    wall clock; `at` (the time of the step) may not lie after it."""
    incident = get(session, incident_id)
    allowed = STEPS[incident.state]
    if to_state not in allowed:
        hint = ("run `incidents assess` to move it to assessed" if to_state == ASSESSED
                else f"from {incident.state} it can go to: {', '.join(allowed) or 'nothing (closed)'}")
        raise InvalidStep(f"{public_id(incident.id)} is {incident.state}; {hint}")
    clock = now or datetime.now(UTC)
    when = given_time(at, "the time of the step", clock) if at is not None else clock
    if to_state in (NOTIFIED, CLOSED) and incident.assessment is not None:
        from scrapeguard.records.obligations import describe, outstanding

        unmet = outstanding(session, incident.id)
        if unmet:
            raise InvalidStep(f"{public_id(incident.id)} cannot be {to_state}: {len(unmet)} notification "
                              "obligation(s) are neither sent nor waived: "
                              + "; ".join(describe(o) for o in unmet)
                              + " (send the notices, or `incidents waive` with a reason)")
    if to_state == CLOSED and incident.assessment is None and not reason.strip():
        raise InvalidStep(f"{public_id(incident.id)} has not been assessed: assess it (`incidents assess`) "
                          "or give the reason no assessment is owed (--reason, e.g. \"false positive: ...\")")
    if to_state == NOTIFIED:
        from scrapeguard.records.notices import sent_notices

        if not sent_notices(session, incident.id):
            raise InvalidStep(f"{public_id(incident.id)}: no notice has been sent yet "
                              "(`notices approve` then `notices send`)")
    if to_state == CLOSED and incident.state != NOTIFIED and incident.notifiable:
        raise InvalidStep(f"{public_id(incident.id)} was assessed as notifiable: send the notices and move "
                          "it to notified before closing it")
    if to_state == CONTAINED:
        incident.contained_at = when
    if to_state == CLOSED:
        incident.closed_at = when
    before = incident.state
    incident.state = to_state
    step_note = "; ".join(x for x in (f"reason: {reason.strip()}" if reason.strip() else "", note) if x)
    _step(session, incident, to_state, by.name, when, step_note)
    details: dict[str, Any] = {"from": before, "to": to_state, "at": when.isoformat(), "note": note}
    if reason.strip():
        details["reason"] = reason.strip()
    audit.record(session, by.name, f"incident.{to_state}", "incident", incident.id, details)
    return incident


@requires("incident.close")
def reopen(session: Session, by: Actor, incident_id: str | int, reason: str,
           now: datetime | None = None) -> IncidentRecord:
    """Reopen a closed incident (new facts, a wrong close): back to "assessed" when it has an
    assessment, else "contained" or "detected"."""
    incident = get(session, incident_id)
    if incident.state != CLOSED:
        raise InvalidStep(f"{public_id(incident.id)} is {incident.state}, not closed")
    if not reason.strip():
        raise RecordsError("reopening needs a reason (--reason)")
    when = now or datetime.now(UTC)
    target = ASSESSED if incident.assessment is not None else CONTAINED if incident.contained_at else DETECTED
    closed_at, incident.closed_at, incident.state = incident.closed_at, None, target
    _step(session, incident, target, by.name, when, f"reopened: {reason.strip()}")
    audit.record(session, by.name, "incident.reopen", "incident", incident.id,
                 {"to": target, "reason": reason.strip(), "was_closed_at": closed_at.isoformat()
                  if closed_at else None})
    return incident


@requires("incident.aware")
def mark_aware(session: Session, by: Actor, incident_id: str | int, at: datetime | None = None,
               note: str = "", reason: str = "", now: datetime | None = None) -> IncidentRecord:
    """Record the controller's decision that it is aware of a breach: notification clocks start here.
    An awareness earlier than the recorded detection needs `reason` (e.g. a member reported it first)."""
    incident = get(session, incident_id)
    if incident.state == CLOSED:
        raise InvalidStep(f"{public_id(incident.id)} is closed: reopen it (`incidents reopen`) first")
    clock = now or datetime.now(UTC)
    when = given_time(at, "the awareness time", clock) if at is not None else clock
    early = when < incident.detected_at
    if early and not reason.strip():
        raise RecordsError(f"awareness ({when.isoformat()}) comes before the recorded detection "
                           f"({incident.detected_at.isoformat()}): give the reason (--reason)")
    previous = incident.aware_at
    incident.aware_at, incident.aware_by = when, by.name
    details: dict[str, Any] = {"at": when.isoformat(), "previous": previous.isoformat() if previous else None,
                               "note": note}
    if reason.strip():
        details["reason"] = reason.strip()
        details["before_detection"] = early
    audit.record(session, by.name, "incident.aware", "incident", incident.id, details)
    return incident


@requires("incident.assess")
def set_circumstances(session: Session, by: Actor, incident_id: str | int, data_was_public: bool | None,
                      aggregated: bool | None, note: str = "") -> IncidentRecord:
    """The scraping-specific facts the severity adjusts for (recorded and audited)."""
    incident = get(session, incident_id)
    if data_was_public is not None:
        incident.data_was_public, incident.public_stated = data_was_public, True
    if aggregated is not None:
        incident.aggregated = aggregated
    audit.record(session, by.name, "incident.circumstances", "incident", incident.id,
                 {"data_was_public": incident.data_was_public if incident.public_stated else None,
                  "aggregated": incident.aggregated,
                  "note": note})
    return incident


@requires("read")
def list_incidents(session: Session, by: Actor, state: str | None = None) -> list[IncidentRecord]:
    query = select(IncidentRecord).order_by(IncidentRecord.id)
    if state:
        if state not in STATES:
            raise RecordsError(f"{state!r} is not a state ({', '.join(STATES)})")
        query = query.where(IncidentRecord.state == state)
    return list(session.execute(query).scalars())


def steps_of(session: Session, incident_id: int) -> list[IncidentStep]:
    return list(session.execute(select(IncidentStep).where(IncidentStep.incident_id == incident_id)
                                .order_by(IncidentStep.id)).scalars())


# -- opened by the guard --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Group:
    key: str
    actors: frozenset[str]
    detected_at: datetime


def _groups(batch: list[dict[str, Any]]) -> dict[str, _Group]:
    groups: dict[str, _Group] = {}
    for r in batch:
        if r.get("type") != "decision" or not r.get("actors"):
            continue
        key = r.get("campaign") or r["actors"][0]
        at = datetime.fromtimestamp(float(r["ts"]), UTC)
        old = groups.get(key)
        actors = frozenset(r["actors"]) | (old.actors if old else frozenset())
        groups[key] = _Group(key, actors, min(at, old.detected_at) if old else at)
    return groups


def detect(session: Session, batch: list[dict[str, Any]], options: IncidentOptions) -> list[IncidentRecord]:
    """After a batch of decisions: attach actors to their open incident, or open one when the
    exposure of the actor reaches `open_at_members` (of all the campaign's actors:
    `open_at_campaign_members`)."""
    opened = []
    for group in _groups(batch).values():
        actors = set(group.actors)
        if group.key.startswith("campaign:"):
            for row in session.execute(select(DecisionRecord.actors)
                                       .where(DecisionRecord.campaign == group.key)).scalars():
                actors.update(row)
        incident = session.execute(select(IncidentRecord).where(
            IncidentRecord.group_key == group.key, IncidentRecord.state != CLOSED)).scalar_one_or_none()
        if incident is None and not group.key.startswith("campaign:"):
            incident = session.execute(
                select(IncidentRecord).join(IncidentActor, IncidentActor.incident_id == IncidentRecord.id)
                .where(IncidentActor.actor.in_(sorted(actors)), IncidentRecord.state != CLOSED)
                .order_by(IncidentRecord.id).limit(1)).scalar_one_or_none()
        if incident is not None:
            new = _add_actors(session, incident, actors, group.detected_at)
            if new:
                audit.record(session, GUARD.name, "incident.actors", "incident", incident.id,
                             {"added": sorted(new)})
            continue
        members = len(ledger(session, actors))
        campaign = group.key.startswith("campaign:")
        threshold = options.open_at_campaign_members if campaign else options.open_at_members
        if members < threshold:
            continue
        if session.execute(select(func.count()).select_from(IncidentRecord)
                           .where(IncidentRecord.group_key == group.key)).scalar_one():
            group_key = f"{group.key}#{group.detected_at.isoformat()}"  # the earlier one was closed
        else:
            group_key = group.key
        what = f"campaign {group.key[9:]}" if group.key.startswith("campaign:") else group.key
        opened.append(open_incident(
            session, GUARD, f"Scraping by {what}: {members} members' data received", actors,
            group_key=group_key, detected_at=group.detected_at,
            note=f"opened by the guard: {members} members >= incidents."
                 f"{'open_at_campaign_members' if campaign else 'open_at_members'} ({threshold})"))
    return opened


def detector(options: IncidentOptions) -> Callable[[Database, list[dict[str, Any]]], None]:
    """The sink's after-batch hook: incident detection in its own transaction."""

    def after_batch(db: Database, batch: list[dict[str, Any]]) -> None:
        if any(r.get("type") == "decision" for r in batch):
            with db.session() as session:
                detect(session, batch, options)

    return after_batch
