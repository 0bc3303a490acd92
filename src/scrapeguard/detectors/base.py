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

from scrapeguard.events import Event
from scrapeguard.policy.model import Policy
from scrapeguard.stores.base import CountRequest, DistinctResult, StateStore

#: Results of count requests, by (key, name).
Counted = Mapping[tuple[str, str], DistinctResult]


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


class Detector(ABC):
    name: ClassVar[str]

    @classmethod
    @abstractmethod
    def from_policy(cls, policy: Policy, live: bool = True) -> Detector | None:
        """The detector configured by the policy, or None if the policy switches it off.
        `live` is False for replayed logs (nothing may be left to finish in the background)."""

    def exempts(self, event: Event) -> bool:
        """Whether the request comes from someone the policy never counts nor refuses
        (a verified search engine crawler, say)."""
        return False

    def plan(self, event: Event) -> list[CountRequest]:
        """What to count for this event (sent to the store with every other detector's)."""
        return []

    @abstractmethod
    def inspect(self, event: Event, counted: Counted, store: StateStore) -> list[Signal]:
        """Read the counts (and the store, if need be) and return what they suggest (often nothing)."""
