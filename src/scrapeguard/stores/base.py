"""The state store interface: what detectors and escalation need to remember.

Two implementations share these semantics exactly (one conformance suite
runs against both): the in-process memory store (default) and Redis, shared
by many guard instances. All state is grouped by *actor key* ("ip:192.0.2.7",
"account:42"): everything about one actor is updated atomically, and in Redis
lives in one hash slot, so Redis Cluster works.

All times are event times passed in by the caller (`now`), never the store's
own clock, so replayed logs and live traffic behave alike. Every entry expires.

Per event the engine makes one `observe` call (one round trip to Redis) and,
only when it newly refuses a request, one `penalize` call.

Operators act on the store too (the console, through `records/actor_actions.py`): they list the
penalties in force, lift one, hold a penalty of their own (`hold`), and pardon a key for a time
(`pardon`): while a pardon is in force, an event with that key is neither counted nor refused.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

# (ReasonTuple: a reason kept with a penalty, (detector, key, score, detail, evidence JSON))
from scrapeguard.decisions import NO_EVIDENCE, SEVERITY
from scrapeguard.decisions import ReasonTuple as ReasonTuple


class StoreUnavailable(RuntimeError):
    """The shared store cannot be reached and the policy says to fail closed."""


# The request and result types below are named tuples, not frozen dataclasses: as immutable, and a
# third of the cost to create (several are made for every request the guard sees).


@dataclass(frozen=True, slots=True)
class Window:
    """A sliding window of `seconds` in which at most `limit` distinct members may be counted."""

    seconds: float
    limit: int


class CountRequest(NamedTuple):
    """Count `member` in the distinct set `name` of actor `key`, within `windows`."""

    key: str
    name: str
    member: str
    windows: tuple[Window, ...]


class HistoryRequest(NamedTuple):
    """Append `value` to the recent history `name` of actor `key` and return what was there.

    Histories hold what distinct counts cannot: the order and timing of an
    actor's last requests (which member ids, how far apart in time)."""

    key: str
    name: str
    value: str
    #: At most this many entries are kept; the oldest go first.
    keep: int
    #: Entries older than this many seconds (event time) are forgotten.
    seconds: float


#: What the engine asks the store to record for one event.
StoreRequest = CountRequest | HistoryRequest


class History(NamedTuple):
    """An actor's history before this event: (time, value) pairs, oldest first."""

    entries: tuple[tuple[float, str], ...] = ()

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(v for _, v in self.entries)


class DistinctResult(NamedTuple):
    #: False if counting the member would have put a window over its limit;
    #: the member was then not counted.
    admitted: bool
    #: Distinct members in each window (same order as the windows asked for),
    #: including the new one if it was admitted.
    counts: tuple[int, ...]
    #: Whether the member was already counted in the shortest window.
    seen_before: bool


@dataclass(frozen=True, slots=True)
class Penalty:
    """An action in force against one actor key until `until`."""

    key: str
    action: str
    until: float
    decision_id: str
    reasons: tuple[ReasonTuple, ...]


@dataclass(frozen=True, slots=True)
class Escalation:
    """How refusals turn into blocks (from the policy's [actions]); stores apply it atomically.

    Every refusal is a strike against the key. A throttled key reaching
    `escalate_after` strikes within `strike_window` seconds is blocked. A
    block lasts `block_seconds * block_growth ** n` (n: earlier blocks of the
    key within `offender_memory` seconds), at most `block_max_seconds`.
    """

    throttle_seconds: float
    escalate_after: int
    strike_window: float
    block_seconds: float
    block_growth: float
    block_max_seconds: float
    offender_memory: float
    #: The reason added to a penalty when it escalates.
    reason: ReasonTuple = ("escalation", "", 1.0, "throttling escalated to a block", NO_EVIDENCE)

    def block_length(self, earlier_blocks: int) -> float:
        return float(min(self.block_max_seconds, self.block_seconds * self.block_growth ** earlier_blocks))


#: A window limit that never refuses admission: for counts a detector judges itself.
UNLIMITED = 10**9
#: Escalation settings for observe calls that check no key's penalties (they are never used).
NO_ESCALATION = Escalation(1, 1, 1, 1, 1, 1, 1)


@dataclass(frozen=True, slots=True)
class Observation:
    """What `observe` found for one event."""

    #: The strictest penalty in force for any of the event's keys (after escalation), or None.
    penalty: Penalty | None = None
    #: Whether that penalty was escalated to a block by this very event.
    escalated: bool = False
    #: Results of the requests, by (key, name): a DistinctResult for a count request, a History
    #: for a history request. Empty when a penalty was found.
    counted: Mapping[tuple[str, str], DistinctResult | History] = field(default_factory=dict)
    #: Whether one of the event's pardon keys has a pardon in force: then nothing was counted and no
    #: penalty applies (`penalty` is None).
    pardoned: bool = False


class StateStore(ABC):
    """Bounded, expiring state about actors."""

    @abstractmethod
    def observe(
        self, now: float, keys: Sequence[str], requests: Sequence[StoreRequest],
        escalation: Escalation, decision_id: str, pardon_keys: Sequence[str] = (),
    ) -> Observation:
        """One event: find penalties in force for `keys`; if there are none, apply the requests.

        If any of `pardon_keys` has a pardon in force, nothing else happens: no strike, nothing
        counted, and the observation says `pardoned`. Otherwise, for each key with a penalty in
        force: add a strike and, if it is a throttle and the strikes reach the limit, escalate it
        to a block (with `decision_id`). If any key is penalised the request will be refused, so
        nothing is counted nor recorded (under any key); otherwise every request is applied.
        Requests may name keys that are not in `keys`.
        """

    @abstractmethod
    def penalize(
        self, now: float, key: str, action: str, decision_id: str, reasons: tuple[ReasonTuple, ...],
        escalation: Escalation,
    ) -> tuple[Penalty, bool]:
        """Refuse `key`: add a strike, escalate a throttle to a block if the strikes reach the
        limit, and record the penalty unless a stricter one is already in force.
        Returns the penalty in force afterwards and whether this call escalated.

        While a block is in force for `key`, nothing changes and the block is returned: requests
        refused off the member-data routes (where penalties are not looked up first) must not
        lengthen it with every refusal."""

    # -- what operators do (the console) ---------------------------------------

    @abstractmethod
    def penalties(self, now: float, limit: int = 1000) -> list[Penalty]:
        """The penalties in force at `now` (at most `limit`, in no particular order)."""

    @abstractmethod
    def lift(self, now: float, key: str) -> Penalty | None:
        """Remove `key`'s penalty and its strikes (so that its next refusal does not escalate at
        once); returns the penalty that was in force, or None. Earlier blocks are still
        remembered (a repeat offender's next block is still longer)."""

    @abstractmethod
    def hold(self, now: float, key: str, action: str, until: float, decision_id: str,
             reasons: tuple[ReasonTuple, ...]) -> Penalty:
        """An operator's penalty (block or throttle) against `key` until `until`, replacing
        whatever is in force."""

    @abstractmethod
    def pardon(self, now: float, key: str, until: float) -> None:
        """Pardon `key` until `until`: events with it as a pardon key are neither counted nor
        refused (its penalty, if any, is kept but not applied while the pardon lasts)."""

    @abstractmethod
    def unpardon(self, now: float, key: str) -> bool:
        """End `key`'s pardon; whether one was in force."""

    @abstractmethod
    def pardons(self, now: float, limit: int = 1000) -> list[tuple[str, float]]:
        """(key, until) of the pardons in force at `now` (at most `limit`)."""

    @abstractmethod
    def put_value(self, key: str, value: str, now: float, ttl: float) -> None:
        """Remember a small string (e.g. session -> account) for `ttl` seconds."""

    @abstractmethod
    def get_value(self, key: str, now: float) -> str | None: ...

    @property
    def degraded(self) -> bool:
        """True while a shared store is unreachable and a local fallback is used."""
        return False

    def close(self) -> None:  # noqa: B027 - optional for stores without resources
        """Release connections; the memory store has none."""



#: What an operator may hold against a key.
HOLD_ACTIONS = ("block", "throttle")


def check_hold(now: float, action: str, until: float) -> None:
    """Refuse an operator's penalty that is not a block or throttle, or that ends before `now`."""
    if action not in HOLD_ACTIONS:
        raise ValueError(f"an operator's penalty is a block or a throttle, not {action!r}")
    if until <= now:
        raise ValueError("an operator's penalty must end after now")


def stricter(a: Penalty, b: Penalty) -> bool:
    """Is `a` stricter than `b` (a harsher action, or the same action lasting longer)?"""
    return (SEVERITY[a.action], a.until) > (SEVERITY[b.action], b.until)
