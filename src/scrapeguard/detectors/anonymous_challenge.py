"""anonymous_challenge: every anonymous visitor passes a challenge before member profiles.

Off by default. The answer to a residential-proxy pool, where each address takes a few profiles
and shows no evidence of its own: the challenge is asked of everyone, once per clearance (30
minutes, 100 member-data requests by default), and a person's browser passes it without the person
noticing, while an HTTP library cannot. Logged-in members are never asked; people without
JavaScript get the challenge page's way on (log in). Its signal is bot evidence at exactly the
challenge threshold, so a cleared client passes and nothing else changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from scrapeguard.detectors.base import BY_CHALLENGE, Counted, Detector, Signal
from scrapeguard.detectors.description import ControlDescription, Expectation
from scrapeguard.detectors.windows import actor
from scrapeguard.events import Event
from scrapeguard.policy.model import Policy
from scrapeguard.policy.options import option, table
from scrapeguard.routes import MEMBER_DATA_KINDS
from scrapeguard.stores.base import StateStore


@dataclass(frozen=True, slots=True)
@table("detectors.anonymous_challenge")
class AnonymousChallengeOptions:
    """Challenge every anonymous visitor on these route kinds."""

    enabled: bool = option("Whether anonymous visitors are challenged before member data.")
    route_kinds: tuple[str, ...] = option("Member-data route kinds where they are.", nonempty=True,
                                          choices=tuple(sorted(MEMBER_DATA_KINDS)),
                                          items="member-data route kinds")


class AnonymousChallenge(Detector):
    name = "anonymous_challenge"
    options_class = AnonymousChallengeOptions

    def __init__(self, score: float, kinds: frozenset[str]) -> None:
        self.score = score
        self.kinds = kinds

    @classmethod
    def from_policy(cls, policy: Policy, live: bool = True) -> AnonymousChallenge | None:
        o = policy.options(AnonymousChallengeOptions)
        if not o.enabled or not policy.challenge.enabled:
            return None
        return cls(policy.risk.challenge, frozenset(o.route_kinds))

    def inspect(self, event: Event, counted: Counted, store: StateStore) -> list[Signal]:
        if event.account is not None or event.route.kind not in self.kinds:
            return []
        who = actor(event)
        if who is None:
            return []
        return [Signal(self.name, who[0], self.score,
                       "anonymous visitors pass a check before member profiles (policy)",
                       {"route": event.route.kind}, answered_by=BY_CHALLENGE)]

    @classmethod
    def describe(cls, policy: Policy) -> ControlDescription:
        """The challenge for every anonymous visitor in words (what the regulator report says of it)."""
        o = policy.anonymous_challenge
        limits = "asks every anonymous visitor to pass a challenge before member data."
        serves: tuple[Expectation, ...] = ("challenges",)
        if not o.enabled or not policy.challenge.enabled:
            return ControlDescription(cls.name, "Challenge for every anonymous visitor", False, limits,
                                      serves=serves, refuses=False)
        c = policy.challenge
        rules = (f"On routes of kind {', '.join(o.route_kinds)}: once per clearance "
                 f"({c.clearance_seconds / 60:g} minutes or {c.clearance_requests} requests); members are "
                 "never asked.",)
        return ControlDescription(cls.name, "Challenge for every anonymous visitor", True, limits, rules,
                                  serves)

