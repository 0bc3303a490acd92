"""The engine: Event -> detectors -> signals -> risk -> Decision, with escalation.

One engine serves live traffic and replayed logs: every time it uses is the
event's own. Integrations call `decide(event)` before serving a request and
enforce the decision only when the policy's mode is "enforce".
"""

from __future__ import annotations

import ipaddress
import logging
from collections import Counter
from collections.abc import Callable
from functools import lru_cache
from typing import TypeVar

from scrapeguard.decisions import ALLOW, BLOCK, CHALLENGE, LOGIN, THROTTLE, Decision, Reason, new_decision_id
from scrapeguard.detectors import Detector, Signal, build_detectors
from scrapeguard.detectors.base import distinct
from scrapeguard.events import Event
from scrapeguard.policy.model import Policy
from scrapeguard.risk import assess
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
        self._planning_every_route = tuple(d for d in self.detectors if not d.plans_member_data_only)
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
                    "throttling escalated to a block"),
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
        if guarded:
            for detector in self.detectors:
                try:
                    exempt = detector.exempts(event)
                except Exception:  # (not exempt: a failing detector exempts no one)
                    self._detector_failed(detector, event)
                    continue
                if exempt:
                    self.counts[f"exempt.{detector.name}"] += 1
                    return self._allow(event)
        now = event.ts
        if guarded:
            keys = event.keys()
            # a logged-in viewer answers for their account, not for their (shared) address
            held = [f"{name}:{keys[name]}" for name in self.penalty_keys
                    if name in keys and not (event.account is not None and name in ADDRESS_KEYS)]
            inspecting = self._primary
        else:
            # off the member-data routes only the detectors that judge this request look at it
            keys, held = {}, []  # (the keys are worked out if the request is refused)
            inspecting = self._judging(event)
            if event.route.kind in self._holding:  # (a login route: failed_logins' penalties)
                held = [k for d in self._holding[event.route.kind]
                        for k in self._asked(d, d.held_keys, event, list[str]())]
                keys = event.keys() if held else keys
        requests: list[StoreRequest] = []
        judged: list[StoreRequest] = []  # off the guarded routes: what the inspecting detectors asked for
        for detector in self.detectors if guarded else self._planning_every_route:
            try:
                planned = detector.plan(event)
            except Exception:  # a detector must never take the guard down
                self._detector_failed(detector, event)
                continue
            if planned:
                (requests if guarded or detector not in inspecting else judged).extend(planned)
        # (off the guarded routes no penalty can be found nor escalated: an id is made if one is refused)
        decision_id = new_decision_id() if guarded or held else ""
        if requests and not guarded and self.defer is not None:
            # off the guarded routes the other detectors' requests are only recorded, in the background
            self.defer(event, requests)
            requests = []
        requests.extend(judged)
        clearance = None
        if guarded and event.clearance is not None and self.challenging:
            # a clearance is good for a bounded number of member-data requests
            clearance = CountRequest(f"clearance:{event.clearance}", CLEARANCE_USES, decision_id,
                                     self._clearance_window)
            requests.append(clearance)
        if held or requests:
            seen = self.store.observe(now, held, requests, self.escalation, decision_id)
            if seen.penalty is not None:
                return self._under_penalty(event, keys, seen, decision_id)
        else:
            seen = NOTHING_SEEN

        signals: list[Signal] = []
        for detector in inspecting:
            try:
                signals.extend(detector.inspect(event, seen.counted, self.store))
            except Exception:
                self._detector_failed(detector, event)
        if not signals:
            return self._allow(event)
        if guarded and self._corroborating:
            for detector in self._corroborating:
                try:
                    signals.extend(detector.inspect(event, seen.counted, self.store))
                except Exception:
                    self._detector_failed(detector, event)
            signals.sort(key=lambda s: self._order.get(s.detector, 0))  # reasons in detector order
        if not guarded:
            keys, decision_id = event.keys(), new_decision_id()
            # exemptions (a verified search engine's crawler) are asked here, only when a
            # request off the member-data routes would be refused: most never are
            exempting = next((d for d in self.detectors if self._asked(d, d.exempts, event, False)), None)
            if exempting is not None:
                self.counts[f"exempt.{exempting.name}"] += 1
                return self._allow(event)

        risk = assess(signals, held)
        thresholds = self.policy.risk
        if risk.total >= thresholds.block:
            action, key = BLOCK, risk.key
        elif risk.behaviour >= thresholds.throttle:
            # what the client does (quotas, sweeps): a challenge would not answer it
            action, key = THROTTLE, risk.behaviour_key
        elif risk.login and event.account is None and guarded and (
                self.challenging or risk.total < thresholds.throttle):
            # over the anonymous allowance: logging in answers it (no penalty, no strike); not when
            # challenges are off and the whole risk throttles (more evidence, never a lighter outcome)
            self.counts[LOGIN] += 1
            return Decision(action=LOGIN, ts=now, reasons=risk.login + risk.reasons, until=None,
                            id=decision_id, enforced=self.enforcing, keys=keys, route=event.route.kind,
                            subject=event.route.subject, path=event.path, risk=risk.total)
        elif guarded and self.challenging and self._challengeable(event) and (
                risk.bot >= thresholds.challenge or risk.total >= thresholds.throttle):
            # Suspected of being a bot: the challenge answers that (a browser passes it, an HTTP
            # library does not). A client that passed one is judged without the bot evidence, and
            # its behaviour alone is below the throttle threshold here.
            uses = distinct(seen.counted, clearance.key, clearance.name) if clearance is not None else None
            if uses is not None and uses.admitted:
                self.counts["cleared"] += 1
                return self._allow(event)
            self.counts[CHALLENGE] += 1
            # a challenge holds no state: until the client passes, each such request is challenged
            return Decision(action=CHALLENGE, ts=now, reasons=risk.reasons,
                            until=now + self._challenge_seconds, id=decision_id, enforced=self.enforcing,
                            keys=keys, route=event.route.kind, subject=event.route.subject,
                            path=event.path, risk=risk.total)
        elif risk.total >= thresholds.throttle:
            # (no challenge here: off the member-data routes, for an established account, or
            # challenges off; more evidence never gives a lighter outcome than less)
            action, key = THROTTLE, risk.key
        else:
            return self._allow(event)
        reasons = risk.reasons
        penalty, _ = self.store.penalize(
            now, key, action, decision_id, tuple((r.detector, r.key, r.score, r.detail) for r in reasons),
            self.escalation)
        decision = self._decision(event, keys, penalty.action, reasons_of(penalty.reasons),
                                  penalty.until, decision_id)
        decision.risk = risk.total
        decision.related = related_actors(signals)
        return decision

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
        it must not fail a response that was already served."""
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
        """A detector's answer to one of the engine's rarer questions (`exempts`, `held_keys`), or
        `failed` if it raises: like `plan` and `inspect`, a failing detector is counted and logged,
        never allowed to take the guard down (nor to exempt anyone)."""
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
