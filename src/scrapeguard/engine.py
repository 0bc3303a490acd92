"""The engine: Event -> detectors -> signals -> risk -> Decision, with escalation.

One engine serves live traffic and replayed logs: every time it uses is the
event's own. Integrations call `decide(event)` before serving a request and
enforce the decision only when the policy's mode is "enforce".
"""

from __future__ import annotations

import ipaddress
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeVar

from scrapeguard.decisions import (
    ALLOW,
    BLOCK,
    CHALLENGE,
    LOGIN,
    THROTTLE,
    Decision,
    Reason,
    evidence_text,
    new_decision_id,
)
from scrapeguard.detectors import Detector, Signal, build_detectors
from scrapeguard.detectors.base import Counted, distinct
from scrapeguard.events import Event, network_of
from scrapeguard.policy.model import Policy
from scrapeguard.risk import Risk, assess
from scrapeguard.routes import MEMBER_DATA_KINDS
from scrapeguard.stores.base import (
    CountRequest,
    Escalation,
    Observation,
    ReasonTuple,
    StateStore,
    StoreRequest,
    Window,
)
from scrapeguard.stores.memory import MemoryStore

log = logging.getLogger(__name__)
T = TypeVar("T")
NOTHING_SEEN = Observation()

#: Keys a penalty can be held against. Networks are penalised only through
#: signals about "net:" keys, which only the network quota raises, so they are
#: checked only when it is on.
PENALTY_KEYS = ("ip", "account", "session")
#: Penalties guard the routes that show member data. Pages, assets and login stay open, so a
#: throttled visitor can still read the site and log in (and an office whose shared address
#: is throttled does not lose its stylesheets).
GUARDED_KINDS = MEMBER_DATA_KINDS
#: Keys that do not hold a logged-in viewer to account: their address is shared with others.
ADDRESS_KEYS = frozenset({"ip", "net"})
#: The distinct set under "clearance:<id>" that counts a clearance's uses.
CLEARANCE_USES = "uses"


@dataclass(slots=True)
class _Step:
    """What deciding one request works with, between its steps."""

    #: A request for member data (penalties guard it; every detector plans for it).
    guarded: bool
    keys: dict[str, str]
    #: Keys whose penalties are looked up (and whose penalties refuse the request).
    held: list[str]
    inspecting: tuple[Detector, ...]
    requests: list[StoreRequest]
    decision_id: str
    #: The request counting a use of the client's clearance, if it has one.
    clearance: CountRequest | None


class Engine:
    def __init__(
        self,
        policy: Policy,
        store: StateStore | None = None,
        detectors: list[Detector] | None = None,
        live: bool = True,
    ) -> None:
        """`live` is False for replayed logs. Set `defer` (a callable taking the event and its
        store requests) to have what requests off the guarded routes record (page and asset
        histories) written in the background instead of waited for: the proxy does this with a
        shared store, so that a stylesheet never waits on Redis."""
        self.policy = policy
        self.defer: Callable[[Event, list[StoreRequest]], None] | None = None
        self.store = store if store is not None else MemoryStore(policy.store.max_keys,
                                                                 policy.store.max_members_per_key)
        self.detectors = build_detectors(policy, live) if detectors is None else detectors
        self.enforcing = policy.enforcing
        #: Detectors that may refuse requests for no member data (see Detector.judges).
        self._judging_every_route = tuple(d for d in self.detectors if type(d).judges is not Detector.judges)
        #: Detectors asked only when others raised a signal (see Detector.corroborates); the rest first.
        # (what alone reaches the challenge threshold is asked first: it could challenge alone)
        alone = min(policy.risk.throttle, policy.risk.challenge) if policy.challenge.enabled \
            else policy.risk.throttle
        corroborating = [d for d in self.detectors if d.corroborates and d.strongest_score() < alone]
        self._primary = tuple(d for d in self.detectors if d not in corroborating)
        self._corroborating = tuple(corroborating)
        self._order = {d.name: i for i, d in enumerate(self.detectors)}
        #: Detectors that may plan something for requests for no member data.
        self._planning_every_route = tuple(d for d in self.detectors if d.plans_every_route)
        self.penalty_keys = (*PENALTY_KEYS, "net") if policy.profile_quota.network_enabled else PENALTY_KEYS
        #: Off the member-data routes: by route kind, the detectors whose own penalties guard it.
        self._holding = {kind: tuple(d for d in self.detectors if kind in d.guards)
                         for kind in {k for d in self.detectors for k in d.guards}}
        a = policy.actions
        self.escalation = Escalation(
            throttle_seconds=a.throttle_seconds, escalate_after=a.escalate_after,
            strike_window=a.strike_window_seconds, block_seconds=a.block_seconds,
            block_growth=a.block_growth, block_max_seconds=a.block_max_seconds,
            offender_memory=a.offender_memory_seconds,
            reason=("escalation", "", 1.0,
                    f"{a.escalate_after} refused requests within {_duration(a.strike_window_seconds)}: "
                    "throttling escalated to a block",
                    evidence_text({"refusals": a.escalate_after, "window_seconds": a.strike_window_seconds})),
        )
        self.counts: Counter[str] = Counter()
        c = policy.challenge
        self.challenging = c.enabled
        self._clearance_window = (Window(c.clearance_seconds, c.clearance_requests),)
        self._challenge_seconds = c.challenge_seconds
        self._young_seconds = policy.profile_quota.new_account_max_age_days * 86400
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
        """Decide what to do with one request. Never raises on odd input.

        Raises StoreUnavailable only when a shared store is down and the
        policy says to fail closed.
        """
        self.counts["events"] += 1
        if self.allowlisted(event):
            self.counts["allowlisted"] += 1
            return self._allow(event)
        guarded = event.route.kind in GUARDED_KINDS
        if guarded and self._exempt(event):
            return self._allow(event)
        step = self._on_member_data(event) if guarded else self._elsewhere(event)
        pardon_keys = self.pardon_keys(event)
        seen = self._observe(event, step, pardon_keys)
        if seen.pardoned:
            return self._pardoned(event)
        if seen.penalty is not None:
            return self._under_penalty(event, step.keys, seen, step.decision_id)
        signals = self._inspect(event, step, seen.counted)
        if not signals:
            return self._allow(event)
        if not guarded:
            # exemptions (a verified search engine's crawler) are asked only when a request off the
            # member-data routes would be refused: most never are
            if self._exempt(event):
                return self._allow(event)
            if not (step.held or step.requests) and pardon_keys and self.store.observe(
                    event.ts, [], [], self.escalation, "", pardon_keys).pardoned:
                # the store was not asked (nothing to count or look up here), so the pardon was not
                # either: asked now, only for a request that would be refused (failed logins, traps)
                return self._pardoned(event)
            step.keys, step.decision_id = event.keys(), new_decision_id()
        return self._respond(event, step, assess(signals, step.held), signals, seen.counted)

    @staticmethod
    def pardon_keys(event: Event) -> list[str]:
        """The keys an operator may pardon (allowlist for a time: `StateStore.pardon`), as the event
        names them: its address, network and account."""
        keys = []
        if event.ip:
            keys.append(f"ip:{event.ip}")
            net = network_of(event.ip)
            if net:
                keys.append(f"net:{net}")
        if event.account:
            keys.append(f"account:{event.account}")
        return keys

    def _pardoned(self, event: Event) -> Decision:
        self.counts["pardoned"] += 1
        return self._allow(event)

    def _exempt(self, event: Event) -> bool:
        """Whether a detector says the policy never counts nor refuses this client (counted)."""
        for detector in self.detectors:
            try:
                exempt = detector.exempts(event)
            except Exception:  # (not exempt: a failing detector exempts no one)
                self._detector_failed(detector, event)
                continue
            if exempt:
                self.counts[f"exempt.{detector.name}"] += 1
                return True
        return False

    def _on_member_data(self, event: Event) -> _Step:
        """On the member-data routes every detector plans, the primary ones inspect, and the
        client's own keys are held to their penalties."""
        keys = event.keys()
        # a logged-in viewer answers for their account, not for their (shared) address
        held = [f"{name}:{keys[name]}" for name in self.penalty_keys
                if name in keys and not (event.account is not None and name in ADDRESS_KEYS)]
        decision_id = new_decision_id()
        requests = self._plans(self.detectors, event)
        clearance = None
        if event.clearance is not None and self.challenging:
            # a clearance is good for a bounded number of member-data requests
            clearance = CountRequest(f"clearance:{event.clearance}", CLEARANCE_USES, decision_id,
                                     self._clearance_window)
            requests.append(clearance)
        return _Step(True, keys, held, self._primary, requests, decision_id, clearance)

    def _elsewhere(self, event: Event) -> _Step:
        """Off the member-data routes only the detectors that judge this request inspect it; what the
        others plan is only recorded (in the background, with `defer`). Penalties are held only where
        a detector guards the route kind (failed_logins: the login routes)."""
        inspecting = self._judging(event)
        held = [k for d in self._holding.get(event.route.kind, ())
                for k in self._asked(d, d.held_keys, event, list[str]())]
        planning = self._planning_every_route
        others = [d for d in planning if d not in inspecting] if inspecting else planning
        recorded = self._plans(others, event)
        judged = self._plans([d for d in planning if d in inspecting], event) if inspecting else []
        if recorded and self.defer is not None:
            self.defer(event, recorded)
            recorded = []
        # (the keys and a decision id are worked out if the request is refused: most never are)
        return _Step(False, event.keys() if held else {}, held, inspecting, recorded + judged,
                     new_decision_id() if held else "", None)

    def _plans(self, detectors: Iterable[Detector], event: Event) -> list[StoreRequest]:
        requests: list[StoreRequest] = []
        for detector in detectors:
            try:
                requests += detector.plan(event)
            except Exception:  # a detector must never take the guard down
                self._detector_failed(detector, event)
        return requests

    def _observe(self, event: Event, step: _Step, pardon_keys: list[str]) -> Observation:
        """One store round trip: look up the client's pardons and the held keys' penalties, count what
        the detectors planned."""
        if not (step.held or step.requests):
            return NOTHING_SEEN
        return self.store.observe(event.ts, step.held, step.requests, self.escalation, step.decision_id,
                                  pardon_keys)

    def _inspect(self, event: Event, step: _Step, counted: Counted) -> list[Signal]:
        """The signals of the inspecting detectors and, on member-data routes when they raised any,
        of the corroborating ones (weak, costly evidence: asked only when it can matter)."""
        signals = self._signals(step.inspecting, event, counted)
        if signals and step.guarded and self._corroborating:
            signals += self._signals(self._corroborating, event, counted)
            signals.sort(key=lambda s: self._order.get(s.detector, 0))  # reasons in detector order
        return signals

    def _signals(self, detectors: tuple[Detector, ...], event: Event, counted: Counted) -> list[Signal]:
        signals: list[Signal] = []
        for detector in detectors:
            try:
                signals.extend(detector.inspect(event, counted, self.store))
            except Exception:
                self._detector_failed(detector, event)
        return signals

    def _respond(self, event: Event, step: _Step, risk: Risk, signals: list[Signal],
                 counted: Counted) -> Decision:
        """The response ladder ([risk] in defaults.toml): more evidence never gives a lighter outcome."""
        thresholds = self.policy.risk
        if risk.total >= thresholds.block:
            return self._penalize(event, step, risk, signals, BLOCK, risk.key)
        if risk.behaviour >= thresholds.throttle:
            # what the client does (quotas, sweeps): a challenge would not answer it
            return self._penalize(event, step, risk, signals, THROTTLE, risk.behaviour_key)
        if risk.login and event.account is None and step.guarded and (
                self.challenging or risk.total < thresholds.throttle):
            # over the anonymous allowance: logging in answers it (no penalty, no strike); not when
            # challenges are off and the whole risk throttles (below: a throttle, not a lighter answer)
            return self._answer(event, step, LOGIN, risk.login + risk.reasons, None, risk)
        if step.guarded and self._challenged(event, risk):
            if self._cleared(step, counted):
                self.counts["cleared"] += 1
                return self._allow(event)
            # a challenge holds no state: until the client passes, each such request is challenged
            until = event.ts + self._challenge_seconds
            return self._answer(event, step, CHALLENGE, risk.reasons, until, risk)
        if risk.total >= thresholds.throttle:
            # (no challenge here: off the member-data routes, for an established account, or
            # challenges off)
            return self._penalize(event, step, risk, signals, THROTTLE, risk.key)
        return self._allow(event)

    def _challenged(self, event: Event, risk: Risk) -> bool:
        """Suspected of being a bot: a challenge answers that (a browser passes it, an HTTP library
        does not)."""
        thresholds = self.policy.risk
        return self.challenging and self._challengeable(event) and (
            risk.bot >= thresholds.challenge or risk.total >= thresholds.throttle)

    @staticmethod
    def _cleared(step: _Step, counted: Counted) -> bool:
        """Whether the client passed a challenge and its clearance has uses left. (A cleared client
        is judged without its bot evidence, and its behaviour alone is below the throttle threshold
        here.)"""
        clearance = step.clearance
        uses = distinct(counted, clearance.key, clearance.name) if clearance is not None else None
        return uses is not None and uses.admitted

    def _penalize(self, event: Event, step: _Step, risk: Risk, signals: list[Signal], action: str,
                  key: str) -> Decision:
        """Hold a penalty against `key` (the store escalates repeat offenders) and say so."""
        reasons = risk.reasons
        penalty, _ = self.store.penalize(
            event.ts, key, action, step.decision_id,
            tuple(r.as_tuple() for r in reasons), self.escalation)
        decision = self._decision(event, step.keys, penalty.action, reasons_of(penalty.reasons),
                                  penalty.until, step.decision_id)
        decision.risk = risk.total
        decision.related = related_actors(signals)
        return decision

    def _answer(self, event: Event, step: _Step, action: str, reasons: tuple[Reason, ...],
                until: float | None, risk: Risk) -> Decision:
        """A decision that holds no penalty (the login wall, a challenge)."""
        self.counts[action] += 1
        return Decision(action=action, ts=event.ts, reasons=reasons, until=until, id=step.decision_id,
                        enforced=self.enforcing, keys=step.keys, route=event.route.kind,
                        subject=event.route.subject, path=event.path, risk=risk.total)

    def _challengeable(self, event: Event) -> bool:
        """Whether bot evidence about this client is answered with a challenge: anonymous visitors
        and young accounts. An established account (or one whose age the site does not say)
        answers for itself through its quotas, so that a member whose browser runs no JavaScript
        gets through by logging in."""
        if event.account is None:
            return True
        created = event.account_created
        return created is not None and event.ts - created < self._young_seconds

    # -- after the response ------------------------------------------------------

    def after_requests(self, event: Event, status: int) -> list[StoreRequest]:
        """What the detectors want recorded about a served request's status (cheap; no store call)."""
        requests: list[StoreRequest] = []
        for detector in self.detectors:
            try:
                requests.extend(detector.after(event, status))
            except Exception:
                self._detector_failed(detector, event)
        return requests

    def record(self, event: Event, requests: list[StoreRequest]) -> None:
        """Record what `after_requests` returned. Never raises: a lost record weakens one signal,
        it must not fail a response that was already served. (A pardoned client's outcomes are
        recorded too: a pardon is looked up before refusing, not here, so that this write, often in
        the background, costs no more than before.)"""
        try:
            self.store.observe(event.ts, [], requests, self.escalation, "")
        except Exception:
            self.counts["errors.record"] += 1
            log.warning("could not record the outcome of %s %s", event.method, event.path, exc_info=True)

    def _judging(self, event: Event) -> tuple[Detector, ...]:
        """The detectors that judge this request off the member-data routes (see Detector.judges)."""
        judging = []
        for detector in self._judging_every_route:
            try:
                if detector.judges(event):
                    judging.append(detector)
            except Exception:
                self._detector_failed(detector, event)
        return tuple(judging)

    def _asked(self, detector: Detector, question: Callable[[Event], T], event: Event, failed: T) -> T:
        """A detector's answer to one of the engine's rarer questions (`held_keys`), or `failed` if it
        raises: like `plan` and `inspect`, a failing detector is counted and logged, never allowed to
        take the guard down."""
        try:
            return question(event)
        except Exception:
            self._detector_failed(detector, event)
            return failed

    def _detector_failed(self, detector: Detector, event: Event) -> None:
        self.counts[f"errors.{detector.name}"] += 1
        log.exception("detector %s failed on %s %s", detector.name, event.method, event.path)

    def _under_penalty(self, event: Event, keys: dict[str, str], seen: Observation,
                       decision_id: str) -> Decision:
        """A key already throttled or blocked asked again (the store counted the strike and
        escalated the penalty if it was due)."""
        penalty = seen.penalty
        assert penalty is not None
        return self._decision(event, keys, penalty.action, reasons_of(penalty.reasons), penalty.until,
                              decision_id)

    def _decision(
        self, event: Event, keys: dict[str, str], action: str, reasons: tuple[Reason, ...],
        until: float, decision_id: str,
    ) -> Decision:
        self.counts[action] += 1
        return Decision(
            action=action, ts=event.ts, reasons=reasons, until=until, id=decision_id,
            enforced=self.enforcing, keys=keys, route=event.route.kind,
            subject=event.route.subject, path=event.path,
        )

    def _allow(self, event: Event) -> Decision:
        self.counts[ALLOW] += 1
        return Decision(ALLOW, event.ts, enforced=self.enforcing, route=event.route.kind,
                        subject=event.route.subject, path=event.path)


def related_actors(signals: list[Signal]) -> tuple[str, ...]:
    """Other actors the signals tie to this client (a campaign's earlier actors), in order."""
    related: dict[str, None] = {}
    for s in signals:
        for key in s.evidence.get("related", ()) if s.evidence else ():
            related[str(key)] = None
    return tuple(related)


@lru_cache(maxsize=4096)
def reasons_of(raw: tuple[ReasonTuple, ...]) -> tuple[Reason, ...]:
    """A penalty's reasons as the store keeps them, as Reasons (cached: a penalised client asks again
    and again under the one penalty)."""
    return tuple(Reason(*r) for r in raw)


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
