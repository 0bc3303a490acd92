"""What happens when the shared store is unreachable or slow: the policy's `store.fail`.

`open`: keep serving with a local memory store (limits then hold per
instance) and report the degraded state; `closed`: raise StoreUnavailable
(the proxy answers 503). Either way, after a failure the shared store is
left alone for `retry_seconds` (so requests do not each wait for the
timeout), then tried again: recovery is automatic.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

import redis

from scrapeguard.stores.base import (
    Escalation,
    Observation,
    Penalty,
    ReasonTuple,
    StateStore,
    StoreRequest,
    StoreUnavailable,
)
from scrapeguard.stores.memory import MemoryStore

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Errors that mean "the shared store cannot serve us now": unreachable, slow, out of
#: memory, loading, read-only, a cluster in flux... Every Redis error goes through the
#: failure policy rather than failing the request (a script error is logged as such).
UNREACHABLE = (redis.exceptions.RedisError, OSError)
#: A Redis Cluster slot being moved (a reshard): the store is reachable, only the actors of that
#: slot cannot be served until the move ends. Those calls alone go to the failure policy; the
#: shared store is not left alone for `retry_seconds` (with `fail = "closed"`, the whole site would
#: answer 503 for every slot move).
SLOT_MOVING = (redis.exceptions.AskError, redis.exceptions.TryAgainError)


class FailoverStore(StateStore):
    def __init__(self, primary: StateStore, fallback: MemoryStore, fail_open: bool,
                 retry_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.primary = primary
        self.fallback = fallback
        self.fail_open = fail_open
        self.retry_seconds = retry_seconds
        self.clock = clock
        self._down_until = 0.0
        self._healthy = True
        self.failures = 0
        self.fallback_calls = 0
        #: Told (operation, seconds) after each call to the shared store, failed ones too (metrics).
        self.on_call: Callable[[str, float], None] | None = None

    @property
    def degraded(self) -> bool:
        """True from a failure until a call to the shared store succeeds again."""
        return not self._healthy

    def _timed(self, operation: str, on_primary: Callable[[], T]) -> T:
        if self.on_call is None:
            return on_primary()
        start = time.perf_counter()
        try:
            return on_primary()
        finally:
            self.on_call(operation, time.perf_counter() - start)

    def _call(self, operation: str, on_primary: Callable[[], T], on_fallback: Callable[[], T]) -> T:
        if self._down_until <= self.clock():
            try:
                result = self._timed(operation, on_primary)
            except SLOT_MOVING as exc:
                self.failures += 1
                log.warning("shared store: a slot is being moved (%s: %s); %s for this request",
                            type(exc).__name__, exc, "the local fallback" if self.fail_open else "refused")
                if not self.fail_open:
                    raise StoreUnavailable("the shared state store is moving this client's state") from exc
                self.fallback_calls += 1
                return on_fallback()
            except UNREACHABLE as exc:
                self.failures += 1
                self._healthy = False
                self._down_until = self.clock() + self.retry_seconds
                level = logging.ERROR if isinstance(exc, redis.exceptions.ResponseError) else logging.WARNING
                log.log(level, "shared store failed (%s: %s); %s for %g s", type(exc).__name__, exc,
                        "using the local fallback" if self.fail_open else "refusing requests",
                        self.retry_seconds)
            else:
                if not self._healthy:
                    log.warning("shared store is back")
                    self._healthy = True
                return result
        if not self.fail_open:
            raise StoreUnavailable("the shared state store is unreachable")
        self.fallback_calls += 1
        return on_fallback()

    def observe(
        self, now: float, keys: Sequence[str], requests: Sequence[StoreRequest],
        escalation: Escalation, decision_id: str, pardon_keys: Sequence[str] = (),
    ) -> Observation:
        return self._call(
            "observe",
            lambda: self.primary.observe(now, keys, requests, escalation, decision_id, pardon_keys),
            lambda: self.fallback.observe(now, keys, requests, escalation, decision_id, pardon_keys))

    def penalize(
        self, now: float, key: str, action: str, decision_id: str, reasons: tuple[ReasonTuple, ...],
        escalation: Escalation,
    ) -> tuple[Penalty, bool]:
        return self._call(
            "penalize", lambda: self.primary.penalize(now, key, action, decision_id, reasons, escalation),
            lambda: self.fallback.penalize(now, key, action, decision_id, reasons, escalation))

    # -- what operators do: on the shared store or not at all ----------------------------
    # (the local fallback of the process that asks, the console's, is not the guard's: an
    # operator's block written there would not take effect, so an unreachable store is an error)

    def _shared(self, operation: str, call: Callable[[], T]) -> T:
        try:
            result = self._timed(operation, call)
        except UNREACHABLE as exc:
            self.failures += 1
            raise StoreUnavailable(f"the shared state store is unreachable ({type(exc).__name__}: {exc})") \
                from exc
        if not self._healthy:
            log.warning("shared store is back")
            self._healthy, self._down_until = True, 0.0
        return result

    def penalties(self, now: float, limit: int = 1000) -> list[Penalty]:
        return self._shared("penalties", lambda: self.primary.penalties(now, limit))

    def lift(self, now: float, key: str) -> Penalty | None:
        return self._shared("lift", lambda: self.primary.lift(now, key))

    def hold(self, now: float, key: str, action: str, until: float, decision_id: str,
             reasons: tuple[ReasonTuple, ...]) -> Penalty:
        return self._shared("hold", lambda: self.primary.hold(now, key, action, until, decision_id, reasons))

    def pardon(self, now: float, key: str, until: float) -> None:
        self._shared("pardon", lambda: self.primary.pardon(now, key, until))

    def unpardon(self, now: float, key: str) -> bool:
        return self._shared("unpardon", lambda: self.primary.unpardon(now, key))

    def pardons(self, now: float, limit: int = 1000) -> list[tuple[str, float]]:
        return self._shared("pardons", lambda: self.primary.pardons(now, limit))

    def put_value(self, key: str, value: str, now: float, ttl: float) -> None:
        self.fallback.put_value(key, value, now, ttl)  # kept locally too, for when the store is down
        # remembered locally if the shared store is down; it learns it again on a later response
        with contextlib.suppress(StoreUnavailable):
            self._call("put_value", lambda: self.primary.put_value(key, value, now, ttl), lambda: None)

    def get_value(self, key: str, now: float) -> str | None:
        return self._call("get_value", lambda: self.primary.get_value(key, now),
                          lambda: self.fallback.get_value(key, now))

    def close(self) -> None:
        self.primary.close()
