"""The engine: Event -> detectors -> signals -> risk -> Decision, with escalation.

One engine serves live traffic and replayed logs: every time it uses is the
event's own. Integrations call `decide(event)` before serving a request and
enforce the decision only when the policy's mode is "enforce".
"""

from __future__ import annotations

import ipaddress
import logging
from collections import Counter
from functools import lru_cache

from scrapeguard.decisions import ALLOW, BLOCK, THROTTLE, Decision, Reason, new_decision_id
from scrapeguard.detectors import Detector, Signal, build_detectors
from scrapeguard.events import Event
from scrapeguard.policy.model import Policy
from scrapeguard.stores.base import Penalty, StateStore
from scrapeguard.stores.memory import MemoryStore

log = logging.getLogger(__name__)

#: Keys a penalty can be held against. (Networks are penalised only through
#: signals about "net:" keys, which the network quota raises.)
PENALTY_KEYS = ("ip", "account", "session", "net")


class Engine:
    def __init__(
        self,
        policy: Policy,
        store: StateStore | None = None,
        detectors: list[Detector] | None = None,
    ) -> None:
        self.policy = policy
        self.store = store or MemoryStore(policy.store.max_keys, policy.store.max_members_per_key)
        self.detectors = build_detectors(policy) if detectors is None else detectors
        self.enforcing = policy.enforcing
        self.counts: Counter[str] = Counter()
        self._allow_accounts = policy.allowlist.accounts
        self._allow_nets = policy.allowlist.cidrs
        self._in_allowlist = lru_cache(maxsize=65536)(self._ip_in_allowlist)

    # -- allowlist -------------------------------------------------------------

    def _ip_in_allowlist(self, ip: str) -> bool:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(addr in net for net in self._allow_nets)

    def allowlisted(self, event: Event) -> bool:
        if event.account is not None and event.account in self._allow_accounts:
            return True
        return bool(self._allow_nets and event.ip and self._in_allowlist(event.ip))

    # -- deciding --------------------------------------------------------------

    def decide(self, event: Event) -> Decision:
        """Decide what to do with one request. Never raises on odd input."""
        self.counts["events"] += 1
        if self.allowlisted(event):
            self.counts["allowlisted"] += 1
            return self._allow(event)
        keys = event.keys()
        now = event.ts
        held = [f"{name}:{keys[name]}" for name in PENALTY_KEYS if name in keys]
        penalty = self.store.active_penalty(held, now) if held else None
        if penalty is not None:
            return self._under_penalty(event, keys, penalty)

        signals: list[Signal] = []
        for detector in self.detectors:
            try:
                signals.extend(detector.inspect(event, self.store))
            except Exception:  # a detector must never take the guard down
                self.counts[f"errors.{detector.name}"] += 1
                log.exception("detector %s failed on %s %s", detector.name, event.method, event.path)
        if not signals:
            return self._allow(event, keys)

        key, risk, reasons = self._riskiest(signals)
        thresholds = self.policy.risk
        if risk >= thresholds.block:
            action = BLOCK
        elif risk >= thresholds.throttle:
            action = THROTTLE
        else:
            return self._allow(event, keys)
        return self._refuse(event, keys, key, action, reasons)

    def _riskiest(self, signals: list[Signal]) -> tuple[str, float, tuple[Reason, ...]]:
        """Combine signals per key as independent evidence; the riskiest key wins."""
        by_key: dict[str, list[Signal]] = {}
        for s in signals:
            by_key.setdefault(s.key, []).append(s)
        best_key, best_risk = "", -1.0
        for key, group in by_key.items():
            remaining = 1.0
            for s in group:
                remaining *= 1.0 - min(1.0, max(0.0, s.score))
            risk = 1.0 - remaining
            if risk > best_risk:
                best_key, best_risk = key, risk
        reasons = tuple(Reason(s.detector, s.key, s.score, s.detail) for s in signals)
        return best_key, best_risk, reasons

    def _refuse(
        self, event: Event, keys: dict[str, str], key: str, action: str,
        reasons: tuple[Reason, ...],
    ) -> Decision:
        now = event.ts
        a = self.policy.actions
        strikes = self.store.incr("strikes|" + key, now, a.strike_window_seconds)
        if action == THROTTLE and strikes >= a.escalate_after:
            action = BLOCK
            reasons = (*reasons, self._escalation_reason(key, strikes))
        until = now + (self._block_seconds(key, now) if action == BLOCK else a.throttle_seconds)
        decision = self._decision(event, keys, action, reasons, until)
        self.store.put_penalty(Penalty(key, action, until, decision.id,
                                       tuple((r.detector, r.key, r.score, r.detail) for r in reasons)),
                               now)
        return decision

    def _under_penalty(self, event: Event, keys: dict[str, str], penalty: Penalty) -> Decision:
        """A key already throttled or blocked asks again: refuse, and escalate if it insists."""
        now = event.ts
        a = self.policy.actions
        reasons = tuple(Reason(*r) for r in penalty.reasons)
        action, until = penalty.action, penalty.until
        strikes = self.store.incr("strikes|" + penalty.key, now, a.strike_window_seconds)
        if action == THROTTLE and strikes >= a.escalate_after:
            action = BLOCK
            reasons = (*reasons, self._escalation_reason(penalty.key, strikes))
            until = now + self._block_seconds(penalty.key, now)
        decision = self._decision(event, keys, action, reasons, until)
        if action != penalty.action:
            self.store.put_penalty(
                Penalty(penalty.key, action, until, decision.id,
                        tuple((r.detector, r.key, r.score, r.detail) for r in reasons)),
                now,
            )
        return decision

    def _escalation_reason(self, key: str, strikes: int) -> Reason:
        window = self.policy.actions.strike_window_seconds
        return Reason("escalation", key, 1.0,
                      f"{strikes} refused requests within {_duration(window)}: "
                      "throttling escalated to a block")

    def _block_seconds(self, key: str, now: float) -> float:
        a = self.policy.actions
        earlier = self.store.incr("blocks|" + key, now, a.offender_memory_seconds) - 1
        return float(min(a.block_max_seconds, a.block_seconds * a.block_growth ** earlier))

    def _decision(
        self, event: Event, keys: dict[str, str], action: str, reasons: tuple[Reason, ...],
        until: float,
    ) -> Decision:
        self.counts[action] += 1
        return Decision(
            action=action, ts=event.ts, reasons=reasons, until=until, id=new_decision_id(),
            enforced=self.enforcing, keys=keys, route=event.route.kind,
            subject=event.route.subject, path=event.path,
        )

    def _allow(self, event: Event, keys: dict[str, str] | None = None) -> Decision:
        self.counts[ALLOW] += 1
        return Decision(ALLOW, event.ts, enforced=self.enforcing, route=event.route.kind,
                        subject=event.route.subject, path=event.path)


def _duration(seconds: float) -> str:
    if seconds % 86400 == 0:
        n, unit = int(seconds // 86400), "day"
    elif seconds % 3600 == 0:
        n, unit = int(seconds // 3600), "hour"
    elif seconds % 60 == 0:
        n, unit = int(seconds // 60), "minute"
    else:
        n, unit = int(seconds), "second"
    return f"{n} {unit}{'s' if n != 1 else ''}"
