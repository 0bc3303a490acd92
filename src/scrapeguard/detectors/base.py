"""What every detector is: a small unit that reads and updates state for an event.

A detector is built from the policy (`from_policy` returns None when the
policy switches it off), returns signals, and never raises on odd input.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from scrapeguard.events import Event
from scrapeguard.policy.model import Policy
from scrapeguard.stores.base import StateStore


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
    def from_policy(cls, policy: Policy) -> Detector | None:
        """The detector configured by the policy, or None if the policy switches it off."""

    @abstractmethod
    def inspect(self, event: Event, store: StateStore) -> list[Signal]:
        """Update state for the event and return what it suggests (often nothing)."""
