"""What the team does to an actor in the guard's state store, audited: block, unblock, lift a penalty
after an appeal, allowlist for a time (a pardon), and notes about the actor.

The store holds clear keys ("ip:203.0.113.7"), the records pseudonymised ones ("ip:p-3f9a…", see
`privacy.py`). The console shows the records' form; `clear_keys` finds the clear key of an actor the
store holds something about (a penalty, a pardon), and `resolve_key` checks an address a person types
against the pseudonym. The audit log never holds a clear address: every entry names the pseudonymised
key, and addresses typed into a note are pseudonymised before it is written.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scrapeguard.decisions import BLOCK, new_decision_id
from scrapeguard.records import audit
from scrapeguard.records.errors import RecordsError
from scrapeguard.records.exposure import distinct_members
from scrapeguard.records.models import DecisionActor, DecisionRecord, IncidentActor, IncidentRecord
from scrapeguard.records.permissions import requires
from scrapeguard.records.privacy import ADDRESS_KEYS, Pseudonymiser
from scrapeguard.stores.base import Penalty, StateStore, StoreUnavailable

if TYPE_CHECKING:
    from scrapeguard.records.users import Actor

NO_STORE = "the console is not connected to the guard's store (--store)"
#: Keys a person may block or allowlist: an address, a network, an account.
ACTIONABLE = ("ip", "net", "account")
#: The longest allowlisting (and block) a person may set.
MAX_DAYS = 90
MAX_NOTE = 2000
#: The audit entity of these entries; its id is the pseudonymised actor key.
ENTITY = "actor"
BLOCKED, UNBLOCKED, LIFTED, ALLOWLISTED, NOTED = (
    "actor.block", "actor.unblock", "actor.lift", "actor.allowlist", "actor.note")
#: The reason a block held by a person carries (what the refused client is told, with its reference).
OPERATOR_REASON = "blocked by the site's anti-scraping team"


def pseudonymiser_of(session: Session) -> Pseudonymiser:
    """The pseudonymiser of the database this session belongs to."""
    return Pseudonymiser(audit.record_keys(session).pseudonym)


def _store(store: StateStore | None) -> StateStore:
    if store is None:
        raise RecordsError(NO_STORE)
    return store


def _timestamp(now: datetime) -> float:
    if now.tzinfo is None or now.utcoffset() is None:
        raise RecordsError("the time of an action must carry its zone")
    return now.timestamp()


def entity_id(actor: str) -> str:
    """An actor key as the audit log's entity id (at most 100 characters: a long account id is cut
    and completed with a digest, so that it stays unique)."""
    if len(actor) <= 100:
        return actor
    return actor[:67] + "#" + sha256(actor.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def check_key(key: str) -> tuple[str, str]:
    """(name, value) of a key a person may act on: ip:, net: or account:, in the store's (clear) form."""
    name, sep, value = key.strip().partition(":")
    if not sep or name not in ACTIONABLE or not value:
        raise RecordsError(f"{key!r} is not an address, network or account key "
                           "(ip:203.0.113.7, net:203.0.113.0/24, account:42)")
    if name in ADDRESS_KEYS and value.startswith("p-"):
        raise RecordsError(f"{key!r} is pseudonymised: the guard's store needs the address itself")
    if name == "ip":
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise RecordsError(f"{value!r} is not an IP address") from None
    if name == "net":
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise RecordsError(f"{value!r} is not a network (203.0.113.0/24)") from None
    return name, value


def _audit(session: Session, by: Actor, action: str, pseudonymised: str, details: dict[str, Any],
           now: datetime) -> None:
    audit.record(session, by.name, action, ENTITY, entity_id(pseudonymised),
                 {"actor": pseudonymised, **details}, at=now)


def _penalty_details(penalty: Penalty | None) -> dict[str, Any] | None:
    if penalty is None:
        return None
    return {"action": penalty.action, "until": datetime.fromtimestamp(penalty.until, UTC).isoformat(),
            "decision_id": penalty.decision_id}


_ADDRESS_LIKE = re.compile(r"[0-9A-Fa-f:.]*[.:][0-9A-Fa-f:.]*")


def scrub(text: str, pseudonymiser: Pseudonymiser) -> str:
    """A person's text with every IP address in it pseudonymised ("ip:p-…")."""
    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        core = token.strip(".:")
        try:
            ipaddress.ip_address(core)
        except ValueError:
            return token
        keyed = token.startswith(":") and match.string[max(0, match.start() - 2):match.start()] == "ip"
        return token.replace(core, pseudonymiser.value(core) if keyed else pseudonymiser.key("ip", core))
    return _ADDRESS_LIKE.sub(replace, text)


def _note(text: str, pseudonymiser: Pseudonymiser, required: bool) -> str:
    text = text.strip()
    if required and not text:
        raise RecordsError("say why in the note (it goes into the audit log)")
    if len(text) > MAX_NOTE:
        raise RecordsError(f"a note is at most {MAX_NOTE} characters")
    return scrub(text, pseudonymiser)


# -- acting on the store --------------------------------------------------------------------


@requires("actor.act")
def block(session: Session, by: Actor, store: StateStore | None, key: str, minutes: int, note: str,
          now: datetime) -> Penalty:
    """Block `key` (clear form) for `minutes`, replacing whatever penalty is in force."""
    guard = _store(store)
    name, value = check_key(key)
    if not 1 <= minutes <= MAX_DAYS * 24 * 60:
        raise RecordsError(f"a block lasts 1 minute to {MAX_DAYS} days ({MAX_DAYS * 24 * 60} minutes)")
    pseudonymiser = pseudonymiser_of(session)
    text = _note(note, pseudonymiser, required=True)
    ts = _timestamp(now)
    reason = ("operator", f"{name}:{value}", 1.0, OPERATOR_REASON, json.dumps({"minutes": minutes}))
    try:
        penalty = guard.hold(ts, f"{name}:{value}", BLOCK, ts + minutes * 60, new_decision_id(), (reason,))
    except StoreUnavailable as exc:
        raise RecordsError(f"the block was not written: {exc}") from exc
    _audit(session, by, BLOCKED, pseudonymiser.key(name, value),
           {"minutes": minutes, "note": text, "penalty": _penalty_details(penalty)}, now)
    return penalty


def _lift(session: Session, by: Actor, store: StateStore | None, key: str, note: str, now: datetime,
          action: str) -> Penalty | None:
    guard = _store(store)
    name, value = check_key(key)
    pseudonymiser = pseudonymiser_of(session)
    text = _note(note, pseudonymiser, required=False)
    try:
        lifted = guard.lift(_timestamp(now), f"{name}:{value}")
    except StoreUnavailable as exc:
        raise RecordsError(f"nothing was lifted: {exc}") from exc
    _audit(session, by, action, pseudonymiser.key(name, value),
           {"note": text, "lifted": _penalty_details(lifted)}, now)
    return lifted


@requires("actor.act")
def unblock(session: Session, by: Actor, store: StateStore | None, key: str, note: str,
            now: datetime) -> Penalty | None:
    """Remove `key`'s penalty (block or throttle) and its strikes; returns what was in force."""
    return _lift(session, by, store, key, note, now, UNBLOCKED)


@requires("appeal.resolve")
def lift(session: Session, by: Actor, store: StateStore | None, key: str, note: str,
         now: datetime) -> Penalty | None:
    """Support lifts a penalty after an appeal (the same store call as `unblock`)."""
    return _lift(session, by, store, key, note, now, LIFTED)


@requires("appeal.resolve")
def allowlist(session: Session, by: Actor, store: StateStore | None, key: str, until: datetime, note: str,
              now: datetime) -> None:
    """Allowlist `key` (an address, network or account, clear form) until `until`, at most 90 days:
    the guard neither counts nor refuses it meanwhile (a penalty in force is kept, not applied)."""
    guard = _store(store)
    name, value = check_key(key)
    ts = _timestamp(now)
    end = _timestamp(until)
    if end <= ts:
        raise RecordsError("the allowlisting must end in the future")
    if until - now > timedelta(days=MAX_DAYS):
        raise RecordsError(f"an allowlisting lasts at most {MAX_DAYS} days (a longer one belongs in the "
                           "policy's [allowlist], changed with an approval)")
    pseudonymiser = pseudonymiser_of(session)
    text = _note(note, pseudonymiser, required=True)
    try:
        guard.pardon(ts, f"{name}:{value}", end)
    except StoreUnavailable as exc:
        raise RecordsError(f"the allowlisting was not written: {exc}") from exc
    _audit(session, by, ALLOWLISTED, pseudonymiser.key(name, value),
           {"until": until.astimezone(UTC).isoformat(), "note": text}, now)


@requires("actor.act")
def annotate(session: Session, by: Actor, actor: str, text: str, now: datetime | None = None) -> None:
    """A note about an actor (records form, or clear: it is pseudonymised), in the audit log."""
    pseudonymiser = pseudonymiser_of(session)
    key = pseudonymiser.actor(actor.strip())
    if ":" not in key or len(key) > 300:
        raise RecordsError(f"{actor!r} is not an actor key (ip:…, net:…, account:…, campaign:…)")
    note = _note(text, pseudonymiser, required=True)
    audit.record(session, by.name, NOTED, ENTITY, entity_id(key), {"actor": key, "note": note},
                 at=now or datetime.now(UTC))


# -- reading --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ActorEntry:
    """One thing the team did about an actor (from the audit log)."""

    at: datetime
    by: str
    action: str
    note: str
    details: dict[str, Any]

    @property
    def what(self) -> str:
        return self.action.removeprefix("actor.")


def history_of(session: Session, actor: str) -> list[ActorEntry]:
    """What the team did about an actor (pseudonymised key), oldest first."""
    out = []
    for entry in audit.entries_for(session, ENTITY, entity_id(actor)):
        details = json.loads(entry.details)
        if details.get("actor") != actor:
            continue
        out.append(ActorEntry(entry.at if entry.at.tzinfo else entry.at.replace(tzinfo=UTC), entry.actor,
                              entry.action, str(details.get("note", "")), details))
    return out


def notes_of(session: Session, actor: str) -> list[ActorEntry]:
    """The notes about an actor, oldest first."""
    return [e for e in history_of(session, actor) if e.action == NOTED]


def clear_keys(store: StateStore | None, pseudonymiser: Pseudonymiser, actors: Iterable[str],
               now: datetime) -> dict[str, str]:
    """{pseudonymised actor: its clear key in the store} for the actors the store holds a penalty or a
    pardon for (found by pseudonymising the store's keys); accounts are the same in both."""
    guard = _store(store)
    ts = _timestamp(now)
    wanted = set(actors)
    found = {a: a for a in wanted if a.partition(":")[0] not in ADDRESS_KEYS and ":" in a}
    if wanted - set(found):
        held = [p.key for p in guard.penalties(ts)] + [key for key, _ in guard.pardons(ts)]
        for key in held:
            pseudonymised = pseudonymiser.actor(key)
            if pseudonymised in wanted:
                found[pseudonymised] = key
    return found


def resolve_key(store: StateStore | None, pseudonymiser: Pseudonymiser, actor: str, typed: str,
                now: datetime) -> str:
    """The clear store key of a (pseudonymised) actor: found in the store, or `typed` by a person
    ("203.0.113.7" or "ip:203.0.113.7"), which must be the address the pseudonym stands for."""
    name = actor.partition(":")[0]
    if name not in ACTIONABLE:
        raise RecordsError(f"{actor!r} cannot be acted on in the store (only ip:, net: and account: keys)")
    if name not in ADDRESS_KEYS:
        check_key(actor)
        return actor
    typed = typed.strip()
    if typed:
        key = typed if typed.startswith(f"{name}:") else f"{name}:{typed}"
        check_key(key)
        if pseudonymiser.actor(key) != actor:
            raise RecordsError(f"{typed} is not the address of {actor} (its pseudonym differs)")
        return key
    clear = clear_keys(store, pseudonymiser, [actor], now).get(actor)
    if clear is None:
        raise RecordsError(f"the store holds nothing about {actor}, so its address is not known here: "
                           "type the address (it is checked against the pseudonym)")
    return clear


# -- queries for the console's Actors pages -------------------------------------------------


@dataclass(frozen=True, slots=True)
class ActorSummary:
    """One actor of the last hours: its refusals, the members it reached, its campaign and incident."""

    actor: str
    refusals: int
    last_at: datetime
    members: int
    campaign: str | None
    incident_id: int | None
    incident_state: str | None


@dataclass(frozen=True, slots=True)
class CampaignSummary:
    campaign: str
    refusals: int
    actors: int
    last_at: datetime


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def incidents_of(session: Session, actors: Iterable[str]) -> dict[str, tuple[int, str]]:
    """{actor: (incident id, state)} of the latest incident naming each actor."""
    names = sorted(set(actors))
    if not names:
        return {}
    rows = session.execute(
        select(IncidentActor.actor, IncidentRecord.id, IncidentRecord.state)
        .join(IncidentRecord, IncidentRecord.id == IncidentActor.incident_id)
        .where(IncidentActor.actor.in_(names)).order_by(IncidentRecord.id))
    return {actor: (incident_id, state) for actor, incident_id, state in rows}


def campaigns_of(session: Session, actors: Iterable[str]) -> dict[str, str]:
    """{actor: the campaign its latest decision naming one was part of}."""
    names = sorted(set(actors))
    if not names:
        return {}
    rows = session.execute(
        select(DecisionActor.actor, DecisionRecord.campaign)
        .join(DecisionRecord, DecisionRecord.id == DecisionActor.decision_pk)
        .where(DecisionActor.actor.in_(names), DecisionRecord.campaign.is_not(None))
        .order_by(DecisionRecord.at, DecisionRecord.id))
    return {actor: str(campaign) for actor, campaign in rows}


def top_actors(session: Session, since: datetime, limit: int = 25,
               campaign: str | None = None) -> list[ActorSummary]:
    """The actors with the most refusals since `since` (of one campaign, when given), most first."""
    count = func.count(DecisionRecord.id)
    query = (select(DecisionActor.actor, count, func.max(DecisionRecord.at))
             .join(DecisionRecord, DecisionRecord.id == DecisionActor.decision_pk)
             .where(DecisionRecord.at >= since).group_by(DecisionActor.actor)
             .order_by(count.desc(), DecisionActor.actor).limit(limit))
    if campaign is not None:
        query = query.where(DecisionRecord.campaign == campaign)
    rows = session.execute(query).all()
    actors = [row[0] for row in rows]
    campaigns, incidents = campaigns_of(session, actors), incidents_of(session, actors)
    out = []
    for actor, refusals, last_at in rows:
        incident = incidents.get(actor)
        out.append(ActorSummary(actor, int(refusals), _aware(last_at), distinct_members(session, {actor}),
                                campaigns.get(actor), incident[0] if incident else None,
                                incident[1] if incident else None))
    return out


def campaigns_since(session: Session, since: datetime, limit: int = 25) -> list[CampaignSummary]:
    """Campaigns (actors acting together) with refusals since `since`, most refusals first."""
    count = func.count(DecisionRecord.id)
    rows = session.execute(
        select(DecisionRecord.campaign, count, func.max(DecisionRecord.at))
        .where(DecisionRecord.at >= since, DecisionRecord.campaign.is_not(None))
        .group_by(DecisionRecord.campaign).order_by(count.desc(), DecisionRecord.campaign).limit(limit)).all()
    out = []
    for campaign, refusals, last_at in rows:
        actors = session.execute(
            select(func.count(func.distinct(DecisionActor.actor)))
            .join(DecisionRecord, DecisionRecord.id == DecisionActor.decision_pk)
            .where(DecisionRecord.campaign == campaign)).scalar_one()
        out.append(CampaignSummary(str(campaign), int(refusals), int(actors), _aware(last_at)))
    return out
