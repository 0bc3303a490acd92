"""The state store interface: what detectors and escalation need to remember.

Two implementations share these semantics exactly: the in-process memory
store (default) and a Redis store for many guard instances. All times are
event times passed in by the caller (`now`), never the store's own clock, so
replayed logs and live traffic behave alike. Every entry expires.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Window:
    """A sliding window of `seconds` in which at most `limit` distinct members may be counted."""

    seconds: float
    limit: int


@dataclass(frozen=True, slots=True)
class DistinctResult:
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
    """An action in force against one key until `until`."""

    key: str
    action: str
    until: float
    decision_id: str
    #: The reasons, as (detector, key, score, detail) tuples, kept with the penalty.
    reasons: tuple[tuple[str, str, float, str], ...]


class StateStore(ABC):
    """Bounded, expiring state keyed by strings like "ip:192.0.2.7"."""

    @abstractmethod
    def admit_distinct(
        self, key: str, member: str, now: float, windows: Sequence[Window]
    ) -> DistinctResult:
        """Count `member` under `key` in every window, unless that would exceed a window's limit.

        A member already counted in a window is not counted again (its time is
        refreshed); windows slide. Atomic per key.
        """

    @abstractmethod
    def incr(self, key: str, now: float, ttl: float) -> int:
        """Add one to a counter that expires `ttl` seconds after its first increment; return it."""

    @abstractmethod
    def put_penalty(self, penalty: Penalty, now: float) -> None:
        """Record a penalty; it expires at `penalty.until`. A stricter or longer one already
        in force for the same key is kept."""

    @abstractmethod
    def active_penalty(self, keys: Iterable[str], now: float) -> Penalty | None:
        """The strictest penalty in force for any of `keys` (the longest among equals)."""

    @abstractmethod
    def put_value(self, key: str, value: str, now: float, ttl: float) -> None:
        """Remember a small string (e.g. session -> account) for `ttl` seconds."""

    @abstractmethod
    def get_value(self, key: str, now: float) -> str | None: ...

    def close(self) -> None:  # noqa: B027 - optional for stores without resources
        """Release connections; the memory store has none."""
