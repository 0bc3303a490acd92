"""In-process state store: bounded in total and per key, entries expire.

All entries live in one insertion-ordered dict used as an LRU list: touching
an entry moves it to the end, and when there are more than `max_keys`
entries the least recently used go first (expired ones are dropped on the
way). So a flood of a million new client IPs costs at most `max_keys`
entries, and an actor that keeps coming back keeps its state.

The Redis store (redis.py and its Lua) implements the same semantics.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from scrapeguard.decisions import BLOCK, THROTTLE
from scrapeguard.stores.base import (
    DistinctResult,
    Escalation,
    History,
    HistoryRequest,
    Observation,
    Penalty,
    ReasonTuple,
    StateStore,
    StoreRequest,
    Window,
    check_hold,
    stricter,
)


class _Distinct:
    """Per set: for each window, member -> last time seen, oldest first."""

    __slots__ = ("expires", "seen")

    def __init__(self, n_windows: int) -> None:
        self.seen: list[dict[str, float]] = [{} for _ in range(n_windows)]
        self.expires = 0.0


class _History:
    """Per history: (time, value), oldest first, at most `keep`. A plain list, not a deque: a
    deque allocates a block of 64 slots at once, and most actors have one or two entries."""

    __slots__ = ("entries", "expires", "keep")

    def __init__(self, keep: int) -> None:
        self.entries: list[tuple[float, str]] = []
        self.keep = keep
        self.expires = 0.0


class _Counter:
    __slots__ = ("expires", "value")

    def __init__(self, expires: float) -> None:
        self.value = 0
        self.expires = expires


class _Value:
    __slots__ = ("expires", "value")

    def __init__(self, value: str | Penalty, expires: float) -> None:
        self.value = value
        self.expires = expires


_Entry = _Distinct | _History | _Counter | _Value

PARDONED = Observation(pardoned=True)


@dataclass(frozen=True, slots=True)
class MemoryStats:
    entries: int
    evicted: int
    expired: int


class MemoryStore(StateStore):
    def __init__(self, max_keys: int = 200_000, max_members_per_key: int = 4096) -> None:
        if max_keys < 1 or max_members_per_key < 1:
            raise ValueError("max_keys and max_members_per_key must be positive")
        self.max_keys = max_keys
        self.max_members_per_key = max_members_per_key
        self._data: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self._evicted = 0
        self._expired = 0

    # -- LRU bookkeeping ---------------------------------------------------

    def _get(self, key: str, now: float) -> _Entry | None:
        entry = self._data.pop(key, None)
        if entry is None:
            return None
        if entry.expires <= now:
            self._expired += 1
            return None
        self._data[key] = entry  # most recently used
        return entry

    def _put(self, key: str, entry: _Entry, now: float) -> None:
        self._data.pop(key, None)
        while len(self._data) >= self.max_keys:
            oldest = next(iter(self._data))
            if self._data.pop(oldest).expires <= now:
                self._expired += 1
            else:
                self._evicted += 1
        self._data[key] = entry

    def stats(self) -> MemoryStats:
        return MemoryStats(len(self._data), self._evicted, self._expired)

    def footprint(self) -> int:
        """Characters of text held: entry keys, set members, history values, values and
        penalties (their keys, ids and reasons). The part of the store's size that clients
        choose; it walks every entry, so it is for tests and diagnostics, not the hot path."""
        with self._lock:
            total = 0
            for key, entry in self._data.items():
                total += len(key)
                if isinstance(entry, _Distinct):
                    total += sum(len(member) for seen in entry.seen for member in seen)
                elif isinstance(entry, _History):
                    total += sum(len(value) for _, value in entry.entries)
                elif isinstance(entry, _Value):
                    value = entry.value
                    if isinstance(value, str):
                        total += len(value)
                    else:
                        total += len(value.key) + len(value.decision_id) + sum(
                            len(r[0]) + len(r[1]) + len(r[3]) + len(r[4]) for r in value.reasons)
            return total

    def __len__(self) -> int:
        return len(self._data)

    # -- primitives (called with the lock held) -----------------------------------

    def _admit(self, set_key: str, member: str, now: float, windows: Sequence[Window]) -> DistinctResult:
        entry = self._get(set_key, now)
        if not isinstance(entry, _Distinct) or len(entry.seen) != len(windows):
            entry = _Distinct(len(windows))
            self._put(set_key, entry, now)
        admitted = True
        counts = []
        for seen, window in zip(entry.seen, windows, strict=True):
            horizon = now - window.seconds
            while seen:
                first = next(iter(seen))
                if seen[first] > horizon:
                    break
                del seen[first]
            counts.append(len(seen))
            if member not in seen and len(seen) >= window.limit:
                admitted = False
        seen_before = member in entry.seen[0]
        if admitted:
            counts = []
            for seen in entry.seen:
                seen.pop(member, None)
                seen[member] = now
                while len(seen) > self.max_members_per_key:
                    del seen[next(iter(seen))]
                counts.append(len(seen))
            entry.expires = now + max(w.seconds for w in windows)
        return DistinctResult(admitted, tuple(counts), seen_before)

    def _record(self, history_key: str, r: HistoryRequest, now: float) -> History:
        entry = self._get(history_key, now)
        keep = max(1, r.keep)
        if not isinstance(entry, _History) or entry.keep != keep:
            entry = _History(keep)
            self._put(history_key, entry, now)
        entries = entry.entries
        horizon = now - r.seconds
        stale = 0
        while stale < len(entries) and entries[stale][0] <= horizon:
            stale += 1
        if stale:
            del entries[:stale]
        before = History(tuple(entries))
        entries.append((now, r.value))
        if len(entries) > keep:
            del entries[: len(entries) - keep]
        entry.expires = now + r.seconds
        return before

    def _apply(self, r: StoreRequest, now: float) -> DistinctResult | History:
        if isinstance(r, HistoryRequest):
            return self._record(f"h|{r.key}|{r.name}", r, now)
        return self._admit(f"d|{r.key}|{r.name}", r.member, now, r.windows)

    def _incr(self, key: str, now: float, ttl: float) -> int:
        entry = self._get(key, now)
        if not isinstance(entry, _Counter):
            entry = _Counter(now + ttl)
            self._put(key, entry, now)
        entry.value += 1
        return entry.value

    def _penalty(self, key: str, now: float) -> Penalty | None:
        entry = self._get("p|" + key, now)
        if isinstance(entry, _Value) and isinstance(entry.value, Penalty):
            return entry.value
        return None

    def _escalate(self, key: str, now: float, escalation: Escalation, decision_id: str,
                  reasons: tuple[ReasonTuple, ...]) -> Penalty:
        earlier = self._incr("b|" + key, now, escalation.offender_memory) - 1
        until = now + escalation.block_length(earlier)
        reason = (escalation.reason[0], key, *escalation.reason[2:])
        penalty = Penalty(key, BLOCK, until, decision_id, (*reasons, reason))
        self._put("p|" + key, _Value(penalty, until), now)
        return penalty

    # -- StateStore ----------------------------------------------------------

    def observe(
        self, now: float, keys: Sequence[str], requests: Sequence[StoreRequest],
        escalation: Escalation, decision_id: str, pardon_keys: Sequence[str] = (),
    ) -> Observation:
        with self._lock:
            for key in pardon_keys:
                if self._get("a|" + key, now) is not None:
                    return PARDONED  # allowlisted for a time by an operator: nothing happens
            found: Penalty | None = None
            escalated = False
            for key in keys:
                penalty = self._penalty(key, now)
                if penalty is None:
                    continue
                strikes = self._incr("s|" + key, now, escalation.strike_window)
                key_escalated = False
                if penalty.action == THROTTLE and strikes >= escalation.escalate_after:
                    penalty = self._escalate(key, now, escalation, decision_id, penalty.reasons)
                    key_escalated = True
                if found is None or stricter(penalty, found):
                    found, escalated = penalty, key_escalated
            if found is not None:
                return Observation(found, escalated, {})  # refused: nothing is counted anywhere
            counted = {(r.key, r.name): self._apply(r, now) for r in requests}
            return Observation(None, False, counted)

    def penalize(
        self, now: float, key: str, action: str, decision_id: str, reasons: tuple[ReasonTuple, ...],
        escalation: Escalation,
    ) -> tuple[Penalty, bool]:
        with self._lock:
            current = self._penalty(key, now)
            if current is not None and current.action == BLOCK:
                return current, False  # a block in force: no strike, no longer block (see StateStore)
            strikes = self._incr("s|" + key, now, escalation.strike_window)
            if action == THROTTLE and strikes >= escalation.escalate_after:
                return self._escalate(key, now, escalation, decision_id, reasons), True
            if action == BLOCK:
                earlier = self._incr("b|" + key, now, escalation.offender_memory) - 1
                until = now + escalation.block_length(earlier)
            else:
                until = now + escalation.throttle_seconds
            penalty = Penalty(key, action, until, decision_id, reasons)
            current = self._penalty(key, now)
            if current is not None and not stricter(penalty, current):
                return current, False
            self._put("p|" + key, _Value(penalty, until), now)
            return penalty, False

    # -- what operators do --------------------------------------------------------

    def _in_force(self, prefix: str, now: float, limit: int) -> list[tuple[str, _Entry]]:
        """Entries under `prefix` that have not expired (a walk of the whole store: operators ask
        for this now and then, the guard never does)."""
        found = []
        for name, entry in list(self._data.items()):
            if name.startswith(prefix) and entry.expires > now:
                found.append((name[len(prefix):], entry))
                if len(found) >= limit:
                    break
        return found

    def penalties(self, now: float, limit: int = 1000) -> list[Penalty]:
        with self._lock:
            return [entry.value for _, entry in self._in_force("p|", now, limit)
                    if isinstance(entry, _Value) and isinstance(entry.value, Penalty)]

    def lift(self, now: float, key: str) -> Penalty | None:
        with self._lock:
            penalty = self._penalty(key, now)
            self._data.pop("p|" + key, None)
            self._data.pop("s|" + key, None)
            return penalty

    def hold(self, now: float, key: str, action: str, until: float, decision_id: str,
             reasons: tuple[ReasonTuple, ...]) -> Penalty:
        check_hold(now, action, until)
        penalty = Penalty(key, action, until, decision_id, reasons)
        with self._lock:
            self._put("p|" + key, _Value(penalty, until), now)
        return penalty

    def pardon(self, now: float, key: str, until: float) -> None:
        if until <= now:
            raise ValueError("a pardon must end after now")
        with self._lock:
            self._put("a|" + key, _Value("pardon", until), now)

    def unpardon(self, now: float, key: str) -> bool:
        with self._lock:
            entry = self._data.pop("a|" + key, None)
            return entry is not None and entry.expires > now

    def pardons(self, now: float, limit: int = 1000) -> list[tuple[str, float]]:
        with self._lock:
            return [(key, entry.expires) for key, entry in self._in_force("a|", now, limit)]

    def put_value(self, key: str, value: str, now: float, ttl: float) -> None:
        with self._lock:
            self._put("v|" + key, _Value(value, now + ttl), now)

    def get_value(self, key: str, now: float) -> str | None:
        with self._lock:
            entry = self._get("v|" + key, now)
            if isinstance(entry, _Value) and isinstance(entry.value, str):
                return entry.value
            return None
