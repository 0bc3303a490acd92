"""What every detector is: a small unit that reads and updates state for an event.

A detector is built from the policy (`from_policy` returns None when the
policy switches it off), returns signals, and never raises on odd input.

Detecting happens in two steps so that the state of one event is updated in
one round trip to a shared store: `plan` says what to count (the engine sends
every detector's requests to the store at once), then `inspect` reads the
results and returns signals. A detector may also use the store directly in
`inspect` for what cannot be planned.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from scrapeguard.detectors.description import ControlDescription
from scrapeguard.events import Event
from scrapeguard.policy.model import Policy
from scrapeguard.stores.base import DistinctResult, History, StateStore, StoreRequest

#: Results of the store requests of every detector for this event, by (key, name).
Counted = Mapping[tuple[str, str], DistinctResult | History]


def distinct(counted: Counted, key: str, name: str) -> DistinctResult | None:
    """The result of a count request, if one was made."""
    result = counted.get((key, name))
    return result if isinstance(result, DistinctResult) else None


def history(counted: Counted, key: str, name: str) -> History | None:
    """The result of a history request, if one was made."""
    result = counted.get((key, name))
    return result if isinstance(result, History) else None


#: Signal.answered_by values.
BY_CHALLENGE = "challenge"
BY_LOGIN = "login"


@dataclass(frozen=True, slots=True)
class Signal:
    detector: str
    #: The key the evidence is about, e.g. "ip:192.0.2.7" or "account:42".
    key: str
    #: 0..1: how strongly this suggests scraping.
    score: float
    #: A sentence a person can read.
    detail: str
    evidence: dict[str, Any] = field(default_factory=dict)
    #: What answers this evidence when it is not the detector's usual kind (scrapeguard.risk):
    #: "challenge" (a bot suspect: a passed challenge answers it), "login" (an allowance for
    #: anonymous visitors: logging in answers it), or "" for the detector's usual kind.
    answered_by: str = ""


class Detector(ABC):
    #: Its name in reasons, in the registry (`detectors/__init__.py`) and in the policy ([detectors.NAME]).
    name: ClassVar[str]
    #: Its options: a dataclass of `option(...)`s read from [detectors.NAME] (see policy/options.py).
    options_class: ClassVar[type[Any]]

    # Hints that let the engine ask less (the ClassVars below and `exempts`, `strongest_score`,
    # `judges`, `held_keys`). Their defaults suit a detector that looks at requests for member data
    # only, as most do: such a detector says nothing of them.

    #: True if `plan` may ask for something on requests for no member data (pages, assets, logins);
    #: otherwise the engine does not call it there (tests/test_engine.py checks every detector that
    #: does not say so).
    plans_every_route: ClassVar[bool] = False
    #: True for weak evidence that is costly to look up: asked only to corroborate other signals
    #: (unless `strongest_score` alone reaches the throttle threshold). Nothing it says alone refuses,
    #: and allowed requests keep no reasons, so not asking it then changes no outcome.
    corroborates: ClassVar[bool] = False
    #: Route kinds beyond the member-data ones whose requests the penalties of this detector's own
    #: keys (`held_keys`) guard: failed_logins' guard the login routes. Other penalties do not.
    guards: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    @abstractmethod
    def from_policy(cls, policy: Policy, live: bool = True) -> Detector | None:
        """The detector configured by the policy, or None if the policy switches it off.
        `live` is False for replayed logs (nothing may be left to finish in the background)."""

    def exempts(self, event: Event) -> bool:
        """Whether the request comes from someone the policy never counts nor refuses
        (a verified search engine crawler, say)."""
        return False

    def strongest_score(self) -> float:
        """The highest risk its signals on one request can add up to. A detector that says so
        (`corroborates`) is asked only when another detector raised a signal, unless this alone
        could refuse."""
        return 1.0

    def judges(self, event: Event) -> bool:
        """Whether the detector may refuse this request although it asks for no member data (then
        what it plans for it is counted before judging, never deferred to the background)."""
        return False

    def held_keys(self, event: Event) -> list[str]:
        """For a request of a route kind in `guards`: the keys whose penalties refuse it."""
        return []

    def plan(self, event: Event) -> list[StoreRequest]:
        """What to count or record for this event (sent to the store with every other detector's)."""
        return []

    def after(self, event: Event, status: int) -> list[StoreRequest]:
        """What to record once the status of a served request is known. Live traffic only:
        replayed log lines carry their status, so `plan` sees it there."""
        return []

    @abstractmethod
    def inspect(self, event: Event, counted: Counted, store: StateStore) -> list[Signal]:
        """Read the counts (and the store, if need be) and return what they suggest (often nothing)."""

    @classmethod
    def describe(cls, policy: Policy) -> ControlDescription:
        """What this detector is and does under `policy`, in words: on or off, what it limits, its
        numbers and what a request over them gets (the regulator report asks every detector)."""
        raise NotImplementedError(f"detector {cls.name} does not describe itself: add describe()")
