"""honeypot: traps no person reaches.

- Trap paths: links a person never sees (hidden, and disallowed in
  robots.txt), which only a crawler following every link finds.
- Canary members: fake profiles seeded into the site and linked nowhere, so
  that only enumeration reaches them. A visit is strong evidence; and because
  their data (names, e-mail addresses) exists nowhere else, finding it in a
  leaked dataset later proves the dataset was scraped from this site.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from scrapeguard.detectors.automation import HISTORY as AUTOMATION_HISTORY
from scrapeguard.detectors.base import Counted, Detector, Signal, history
from scrapeguard.detectors.description import ControlDescription, Expectation, outcome, refused_alone
from scrapeguard.detectors.windows import actor, anonymous_key
from scrapeguard.events import Event
from scrapeguard.policy.model import Policy
from scrapeguard.policy.options import OptionProblem, option, table
from scrapeguard.stores.base import StateStore


@dataclass(frozen=True, slots=True)
@table("detectors.honeypot")
class HoneypotOptions:
    enabled: bool = option("Whether the detector runs.")
    trap_paths: tuple[str, ...] = option('Paths no person reaches ("*" at the end: a prefix).')
    trap_score: float = option("Risk score of following a trap link.", lo=0, hi=1)
    canary_members: frozenset[str] = option('Decoy members ("id:N", "username:NAME") linked nowhere.',
                                            convert=lambda names: frozenset(n.lower() for n in names))
    canary_score: float = option("Risk score of asking for a canary member.", lo=0, hi=1)

    def check(self) -> Iterator[OptionProblem]:
        for i, path in enumerate(self.trap_paths):
            if not path.startswith("/"):
                yield OptionProblem(f"trap_paths[{i}]", f"{path!r} must be a path starting with '/'",
                                    '"/trap/" or "/members/all*"')
        for subject in sorted(self.canary_members):
            name, _, value = subject.partition(":")
            if not name or not value:
                yield OptionProblem("canary_members", f"{subject!r} is not a member subject",
                                    '"id:N" or "username:NAME" (the route map\'s subject name and value)')


class Honeypot(Detector):
    name = "honeypot"
    options_class = HoneypotOptions

    def __init__(self, options: HoneypotOptions) -> None:
        self.options = options
        self._exact = frozenset(p for p in options.trap_paths if not p.endswith("*"))
        self._prefixes = tuple(p[:-1] for p in options.trap_paths if p.endswith("*"))

    @classmethod
    def from_policy(cls, policy: Policy, live: bool = True) -> Honeypot | None:
        o = policy.options(HoneypotOptions)
        if not o.enabled or not (o.trap_paths or o.canary_members):
            return None  # nothing to watch
        return cls(o)

    def is_trap(self, path: str) -> bool:
        return path in self._exact or (bool(self._prefixes) and path.startswith(self._prefixes))

    @staticmethod
    def _read_robots(event: Event, counted: Counted) -> bool:
        """Whether the automation detector's history shows this client fetched robots.txt."""
        who = actor(event)  # where the automation detector keeps the client's history
        past = history(counted, who[0], AUTOMATION_HISTORY) if who is not None else None
        return past is not None and "r" in past.values

    def judges(self, event: Event) -> bool:
        """Trap paths are judged on any route (they are usually plain pages)."""
        return self.options.trap_score > 0 and self.is_trap(event.path)

    def inspect(self, event: Event, counted: Counted, store: StateStore) -> list[Signal]:
        o = self.options
        if event.account is not None:
            key, who = f"account:{event.account}", "account"
        else:
            anonymous = anonymous_key(event)
            if anonymous is None:
                return []
            key, who = anonymous
        if self.is_trap(event.path) and o.trap_score > 0:
            read_robots = self._read_robots(event, counted)
            after = ", after reading robots.txt, which disallows it" if read_robots else ""
            return [Signal(self.name, key, o.trap_score,
                           f"{who} followed a trap link no person sees ({event.path}){after}",
                           {"trap": event.path, "read_robots_txt": read_robots})]
        subject = event.route.subject
        if subject is not None and subject.lower() in o.canary_members and o.canary_score > 0:
            return [Signal(self.name, key, o.canary_score,
                           f"{who} asked for canary member {subject}, a decoy profile linked nowhere "
                           "(only enumeration finds it)", {"canary": subject})]
        return []

    @classmethod
    def describe(cls, policy: Policy) -> ControlDescription:
        """The traps in words, from the policy (what the regulator report says of them)."""
        o = policy.honeypot
        limits = "sets traps no person reaches: hidden links, and canary profiles linked nowhere."
        serves: tuple[Expectation, ...] = ("bot_patterns",)
        on = o.enabled and bool(o.trap_paths or o.canary_members)
        if not on:
            return ControlDescription(cls.name, "Honeypots", False, limits, serves=serves, refuses=False)
        rules = []
        if o.trap_paths:
            rules.append(f"{len(o.trap_paths)} trap path(s): a visit is {outcome(policy, o.trap_score)}.")
        if o.canary_members:
            rules.append(f"{len(o.canary_members)} canary member(s): a visit is "
                         f"{outcome(policy, o.canary_score)}.")
        return ControlDescription(cls.name, "Honeypots", True, limits, tuple(rules), serves,
                                  refuses=refused_alone(policy, max(o.trap_score, o.canary_score)))
