"""Appeals: a refused person quotes the reference of the refusal page (`sg-` and 12 hex digits,
`decisions.new_decision_id`); the support team looks it up and resolves it.

`look_up` says what was decided and why, in words (each detector's own title and description,
`Detector.describe`, and the reason's own sentence), under which keys (addresses pseudonymised,
as the records keep them), what else the same client did around it, and how earlier appeals of it
ended. `record_outcome` notes how an appeal ended. Outcomes are audit entries (entity "appeal", id
the reference): the audit log is append-only and hash-chained, which is what an outcome needs, and
they need no table of their own. The audit log never holds a clear address: a note that names one
is refused.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from scrapeguard.decisions import BLOCK, CHALLENGE, LOGIN, THROTTLE
from scrapeguard.events import network_of
from scrapeguard.records import actor_actions, audit
from scrapeguard.records.decisions import decisions_of
from scrapeguard.records.errors import NotFound, RecordsError
from scrapeguard.records.models import AuditEntry, DecisionRecord
from scrapeguard.records.permissions import requires

if TYPE_CHECKING:
    from scrapeguard.records.users import Actor
    from scrapeguard.stores.base import StateStore

#: What a reference looks like (decisions.new_decision_id).
REFERENCE = re.compile(r"sg-[0-9a-f]{12}")
REFERENCE_EXAMPLE = "sg-1a2b3c4d5e6f"
#: How an appeal can end.
LIFTED, ALLOWLISTED, UPHELD, NO_ACTION = "penalty lifted", "allowlisted", "refusal upheld", "no action needed"
OUTCOMES = (LIFTED, ALLOWLISTED, UPHELD, NO_ACTION)
#: The audit entries of appeals.
ENTITY, OUTCOME_ACTION = "appeal", "appeal.outcome"
#: "What else that client did": the decisions about its actors this long before and after.
AROUND = timedelta(hours=12)
#: At most this many of them are shown (a busy shared address has many).
MAX_AROUND = 200
MAX_NOTE = 2000

#: An action in words, as support reads it to the person.
ACTION_WORDS = {
    THROTTLE: "throttled (slowed down for a while)",
    BLOCK: "blocked (access paused for a while)",
    CHALLENGE: "asked to pass a challenge (a check that a person is there)",
    LOGIN: "asked to log in to see more profiles",
}
#: The keys a decision is counted under, in words.
KEY_WORDS = {"ip": "address", "net": "network", "account": "account", "session": "browser session",
             "asn": "network operator", "fingerprint": "browser fingerprint"}
#: Reasons that come from the engine, not from a detector.
ENGINE_REASONS = {
    "escalation": ("Repeat refusals", "turns throttling into a block when a client keeps going after "
                                      "being slowed down."),
}


@dataclass(frozen=True, slots=True)
class ReasonInWords:
    detector: str
    #: The detector's name as a phrase ("Profile quotas").
    title: str
    #: What that control does, one sentence.
    control: str
    #: The reason's own sentence (the detector's detail).
    detail: str
    #: The key it is about (pseudonymised address, clear account), in words and as kept.
    key: str
    key_words: str
    score: float


@dataclass(frozen=True, slots=True)
class Refusal:
    """One decision row (a reference may be shown on several: each request refused under one
    penalty carries the penalty's reference)."""

    reference: str
    at: datetime
    action: str
    action_words: str
    enforced: bool
    mode: str
    route: str
    path: str
    subject: str | None
    reasons: tuple[ReasonInWords, ...]
    #: key name -> value as kept (ip and net pseudonymised, account clear).
    keys: dict[str, str]
    actors: tuple[str, ...]
    campaign: str | None


@dataclass(frozen=True, slots=True)
class Outcome:
    reference: str
    at: datetime
    by: str
    outcome: str
    note: str
    #: What was done in the guard's store with it, if anything (e.g. {"key": "ip:p-..", "until": ...}).
    action: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Appeal:
    reference: str
    #: The decisions with this reference, oldest first.
    refusals: tuple[Refusal, ...]
    #: The actors they are about (pseudonymised addresses, clear accounts).
    actors: tuple[str, ...]
    #: The key names and values of the first refusal, in words: (name in words, kept value).
    keys: tuple[tuple[str, str, str], ...]
    #: Other decisions about the same actors within `AROUND` of the refusals, oldest first.
    around: tuple[Refusal, ...]
    #: Whether `around` was cut at MAX_AROUND.
    around_cut: bool
    outcomes: tuple[Outcome, ...]

    @property
    def first(self) -> Refusal:
        return self.refusals[0]

    @property
    def last(self) -> Refusal:
        return self.refusals[-1]


def check_reference(reference: str) -> str:
    """The reference as typed, trimmed and lower-cased; RecordsError if it is not one."""
    cleaned = reference.strip().lower()
    if not REFERENCE.fullmatch(cleaned):
        raise RecordsError(f"{reference.strip()[:40]!r} is not a reference: a reference looks like "
                           f"{REFERENCE_EXAMPLE} (sg- and 12 digits or letters a-f)")
    return cleaned


@lru_cache(maxsize=64)
def detector_words(detector: str) -> tuple[str, str]:
    """(title, what the control does) of a detector, in the words the regulator report uses
    (`Detector.describe` under the built-in policy); engine reasons and unknown names get a phrase."""
    from scrapeguard.controls import challenge_action
    from scrapeguard.detectors import REGISTRY
    from scrapeguard.policy.loading import default_policy

    if detector in ENGINE_REASONS:
        return ENGINE_REASONS[detector]
    if detector in REGISTRY:
        described = REGISTRY[detector].describe(default_policy())
        return described.title, described.limits
    if detector == "challenge":
        described = challenge_action(default_policy())
        return described.title, described.limits
    return detector.replace("_", " ").strip().capitalize() or "Unknown", ""


def key_words(key: str) -> str:
    """"ip:p-3f9a.." -> "address p-3f9a.. (pseudonymised)"; "account:42" -> "account 42"."""
    name, sep, value = key.partition(":")
    if not sep:
        return key
    if name == "campaign":
        return f"campaign {value}"
    words = KEY_WORDS.get(name, name)
    if value.startswith("p-"):
        return f"{words} {value} (pseudonymised)"
    return f"{words} {value}"


def _reason(raw: Any) -> ReasonInWords:
    data = raw if isinstance(raw, dict) else {}
    detector = str(data.get("detector") or "")
    title, control = detector_words(detector)
    key = str(data.get("key") or "")
    try:
        score = float(data.get("score") or 0.0)
    except (TypeError, ValueError):
        score = 0.0
    return ReasonInWords(detector, title, control, str(data.get("detail") or ""), key,
                         key_words(key) if key else "", score)


def refusal_of(row: DecisionRecord) -> Refusal:
    """A decision row in words."""
    mode = ("enforced: the request was refused" if row.enforced
            else "observe mode: decided and logged, but the request was served")
    return Refusal(row.decision_id, row.at, row.action, ACTION_WORDS.get(row.action, row.action),
                   row.enforced, mode, row.route, row.path, row.subject,
                   tuple(_reason(r) for r in row.reasons or ()),
                   {str(k): str(v) for k, v in (row.keys or {}).items()},
                   tuple(str(a) for a in row.actors or ()), row.campaign)


@requires("appeal.resolve")
def look_up(session: Session, by: Actor, reference: str) -> Appeal:
    """Everything support needs to answer an appeal of `reference`. RecordsError for a malformed
    reference, NotFound when the records hold no decision with it."""
    reference = check_reference(reference)
    rows = list(session.execute(select(DecisionRecord).where(DecisionRecord.decision_id == reference)
                                .order_by(DecisionRecord.at, DecisionRecord.id)).scalars())
    if not rows:
        raise NotFound(f"no refusal with the reference {reference} in the records (it may be older than "
                       "the records keep, or mistyped: a reference looks like "
                       f"{REFERENCE_EXAMPLE})")
    refusals = tuple(refusal_of(r) for r in rows)
    actors = tuple(dict.fromkeys(a for r in refusals for a in r.actors))
    first = refusals[0]
    keys = tuple((KEY_WORDS.get(name, name), name, value) for name, value in first.keys.items())
    own = {r.id for r in rows}
    start, end = rows[0].at - AROUND, rows[-1].at + AROUND
    nearby = [r for r in decisions_of(session, set(actors), between=(start, end), limit=MAX_AROUND + 1)
              if r.id not in own] if actors else []
    return Appeal(reference, refusals, actors, keys, tuple(refusal_of(r) for r in nearby[:MAX_AROUND]),
                  len(nearby) > MAX_AROUND, tuple(outcomes_of(session, reference)))


def _outcome(entry: AuditEntry) -> Outcome:
    try:
        details = json.loads(entry.details)
    except json.JSONDecodeError:
        details = {}
    if not isinstance(details, dict):
        details = {}
    action = details.get("action")
    return Outcome(entry.entity_id, entry.at, entry.actor, str(details.get("outcome", "")),
                   str(details.get("note", "")), action if isinstance(action, dict) else {})


def outcomes_of(session: Session, reference: str) -> list[Outcome]:
    """How earlier appeals of `reference` ended, oldest first."""
    return [_outcome(e) for e in audit.entries_for(session, ENTITY, reference) if e.action == OUTCOME_ACTION]


@requires("appeal.resolve")
def latest_outcomes(session: Session, by: Actor, limit: int = 20) -> list[Outcome]:
    """The latest outcomes of all appeals, newest first."""
    entries = session.execute(select(AuditEntry).where(AuditEntry.entity == ENTITY,
                                                       AuditEntry.action == OUTCOME_ACTION)
                              .order_by(AuditEntry.seq.desc()).limit(limit)).scalars()
    return [_outcome(e) for e in entries]


_ADDRESS_LIKE = re.compile(r"[0-9A-Fa-f:.]*[.:][0-9A-Fa-f:./]*")


def clear_addresses_in(text: str) -> list[str]:
    """The IP addresses or networks written in `text` (a note must not carry them into the audit log)."""
    found = []
    for token in _ADDRESS_LIKE.findall(text):
        for candidate in dict.fromkeys((token, token.rstrip("."), token.rstrip(".:"))):
            if _is_address(candidate):
                found.append(candidate)
                break
    return found


def _is_address(text: str) -> bool:
    try:
        if "/" in text:
            ipaddress.ip_network(text, strict=False)
        else:
            ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def check_note(session: Session, note: str) -> str:
    """A note as the audit log keeps it: addresses pseudonymised (`actor_actions.scrub`, as every
    note of the console); a network or an address left clear after that is refused."""
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise RecordsError(f"a note has at most {MAX_NOTE} characters")
    note = actor_actions.scrub(note, actor_actions.pseudonymiser_of(session))
    addresses = clear_addresses_in(note)
    if addresses:
        raise RecordsError(f"the note names an address ({addresses[0]}): the audit log keeps no clear "
                           "address; refer to it by the reference or its pseudonym instead")
    return note


def _require_decision(session: Session, reference: str) -> None:
    found = session.execute(select(DecisionRecord.id).where(DecisionRecord.decision_id == reference)
                            .limit(1)).first()
    if found is None:
        raise NotFound(f"no refusal with the reference {reference} in the records")


def _add_outcome(session: Session, by: Actor, reference: str, outcome: str, note: str,
                action: dict[str, Any] | None = None, at: datetime | None = None) -> None:
    """`record_outcome` without the permission check, for the records functions that resolve an
    appeal and check it themselves."""
    reference = check_reference(reference)
    if outcome not in OUTCOMES:
        raise RecordsError(f"{outcome!r} is not an outcome ({', '.join(OUTCOMES)})")
    note = check_note(session, note)
    _require_decision(session, reference)
    details: dict[str, Any] = {"outcome": outcome, "note": note}
    if action:
        details["action"] = action
    audit.record(session, by.name, OUTCOME_ACTION, ENTITY, reference, details, at=at)


@requires("appeal.resolve")
def record_outcome(session: Session, by: Actor, reference: str, outcome: str, note: str,
                   at: datetime | None = None) -> None:
    """Note how the appeal of `reference` ended (one of OUTCOMES), audited."""
    _add_outcome(session, by, reference, outcome, note, at=at)


# -- acting on an appeal in the guard's store (records/actor_actions.py does the store's part) ------


@dataclass(frozen=True, slots=True)
class KeyState:
    """What the guard's store holds now against one key of an appeal."""

    #: The key as the records keep it ("ip:p-..", "account:42").
    actor: str
    words: str
    #: The penalty's action and end, if one is in force.
    penalty: str | None
    penalty_until: datetime | None
    #: The end of the key's allowlisting (pardon), if one is in force.
    pardon_until: datetime | None


def appeal_keys(appeal: Appeal) -> list[str]:
    """The keys of the appeal's refusals the team may act on in the guard's store (address, network,
    account: `actor_actions.ACTIONABLE`), as the records keep them."""
    keys: dict[str, None] = {}
    for refusal in appeal.refusals:
        for name in actor_actions.ACTIONABLE:
            if name in refusal.keys:
                keys[f"{name}:{refusal.keys[name]}"] = None
    return list(keys)


def _clear(session: Session, store: StateStore | None, appeal: Appeal, now: datetime) -> dict[str, str]:
    """{key as kept: clear store key} for the appeal's keys the store holds something about."""
    return actor_actions.clear_keys(store, actor_actions.pseudonymiser_of(session), appeal_keys(appeal), now)


@requires("appeal.resolve")
def store_state(session: Session, by: Actor, store: StateStore | None, appeal: Appeal,
                now: datetime) -> list[KeyState] | None:
    """The penalties and pardons in force now against the appeal's keys (None: no store connected)."""
    if store is None:
        return None
    clear = _clear(session, store, appeal, now)
    ts = now.timestamp()
    penalties = {p.key: p for p in store.penalties(ts)}
    pardons = dict(store.pardons(ts))
    states = []
    for actor in appeal_keys(appeal):
        key = clear.get(actor)
        penalty = penalties.get(key) if key else None
        pardon = pardons.get(key) if key else None
        states.append(KeyState(actor, key_words(actor), penalty.action if penalty else None,
                               datetime.fromtimestamp(penalty.until, UTC) if penalty else None,
                               datetime.fromtimestamp(pardon, UTC) if pardon else None))
    return states


@requires("appeal.resolve")
def lift_penalties(session: Session, by: Actor, store: StateStore | None, reference: str, note: str,
                   now: datetime, only: str | None = None) -> list[str]:
    """Lift the penalties the guard holds against the keys of the appeal of `reference` (every one,
    or `only` that key, as the records keep it: one of the appeal's keys), and record the outcome
    "penalty lifted". Returns the keys lifted, as the records keep them. RecordsError when none is
    in force."""
    note = check_note(session, note)
    appeal = look_up(session, by, reference)
    keys = appeal_keys(appeal)
    if only is not None and only not in keys:
        raise RecordsError(f"{only!r} is not a key of the refusal {appeal.reference} ({', '.join(keys)})")
    clear = _clear(session, store, appeal, now)
    ts = now.timestamp()
    held = {p.key for p in store.penalties(ts)} if store is not None else set()
    lifted = []
    for actor in [only] if only is not None else keys:
        key = clear.get(actor)
        if key in held and actor_actions.lift(session, by, store, key, note, now) is not None:
            lifted.append(actor)
    if not lifted:
        raise RecordsError(f"the guard holds no penalty against {key_words(only) if only else 'the keys'} "
                           f"of {appeal.reference} now (it may have ended): nothing to lift")
    _add_outcome(session, by, appeal.reference, LIFTED, note, {"lifted": lifted}, at=now)
    return lifted


@requires("appeal.resolve")
def allowlist_client(session: Session, by: Actor, store: StateStore | None, reference: str, which: str,
                     until: datetime, note: str, now: datetime) -> tuple[str, datetime]:
    """Allowlist the account ("account") or the network ("net") of the appeal of `reference` in the
    guard until `until` (`actor_actions.allowlist`: at most 90 days, with a note), and record the
    outcome "allowlisted". The store needs the network's clear value, which the records do not keep:
    it is found from the address the guard holds a penalty or pardon against (checked against the
    network's pseudonym), so a network is allowlisted from here only while the guard still knows the
    address. Returns (key as kept, until)."""
    if which not in ("account", "net"):
        raise RecordsError(f"{which!r}: only the account or the network (net) is allowlisted")
    note = check_note(session, note)
    appeal = look_up(session, by, reference)
    keys = appeal.first.keys
    if which not in keys:
        raise RecordsError(f"the refusal {appeal.reference} names no {KEY_WORDS[which]}")
    actor = f"{which}:{keys[which]}"
    clear = _clear(session, store, appeal, now)
    key = actor if which == "account" else _clear_network(session, appeal, clear, actor)
    actor_actions.allowlist(session, by, store, key, until, note, now)
    _add_outcome(session, by, appeal.reference, ALLOWLISTED, note,
                 {"key": actor, "until": until.astimezone(UTC).isoformat()}, at=now)
    return actor, until


def _clear_network(session: Session, appeal: Appeal, clear: dict[str, str], actor: str) -> str:
    if actor in clear:
        return clear[actor]
    pseudonymiser = actor_actions.pseudonymiser_of(session)
    for kept in appeal_keys(appeal):
        address = clear.get(kept, "")
        if kept.startswith("ip:") and address.startswith("ip:"):
            network = network_of(address.partition(":")[2])
            if network and pseudonymiser.key("net", network) == actor:
                return f"net:{network}"
    raise RecordsError("the guard no longer holds anything against this address, so its network cannot "
                       "be named (the records keep it pseudonymised only): allowlist the account, or an "
                       "analyst allowlists the network from the Actors page")
