"""new_account: how fast a young account looks other members up, judged against its age.

Accounts made for scraping sign up and start at once. In its first
`watch_hours` an account may look up `allowance_base` members plus
`allowance_per_hour` for every hour it has existed; everything that finds
other members counts: profiles viewed, contact lookups, listing and search
pages (each distinct one once). So an account that enumerates in its first
minutes is stopped after about ten look-ups, while one that settles in and
looks around over the day is never near its allowance. Needs the account's
creation time, which the site gives the guard (X-Account-Created).
"""

from __future__ import annotations

from dataclasses import dataclass

from scrapeguard.detectors.base import Counted, Detector, Signal, distinct
from scrapeguard.detectors.description import ControlDescription, Expectation, outcome, refused_alone
from scrapeguard.events import Event
from scrapeguard.policy.model import Policy
from scrapeguard.policy.options import option, table
from scrapeguard.routes import CONTACT_LOOKUP, LISTING, PROFILE
from scrapeguard.stores.base import UNLIMITED, CountRequest, StateStore, StoreRequest, Window

#: Name of the distinct set of look-ups.
SET = "early"


@dataclass(frozen=True, slots=True)
@table("detectors.new_account")
class NewAccountOptions:
    enabled: bool = option("Whether the detector runs.")
    watch_hours: float = option("How long after sign-up an account is watched.", lo=0, hi=24 * 30,
                                lo_open=True)
    allowance_base: int = option("Look-ups an account may make at once.", lo=1)
    allowance_per_hour: float = option("Look-ups added for every hour of the account's age.", lo=0)
    score: float = option("Risk score of a look-up beyond the allowance.", lo=0, hi=1)


class NewAccount(Detector):
    name = "new_account"
    options_class = NewAccountOptions

    def __init__(self, options: NewAccountOptions) -> None:
        self.options = options
        self.watch_seconds = options.watch_hours * 3600
        self._windows = (Window(self.watch_seconds, UNLIMITED),)

    @classmethod
    def from_policy(cls, policy: Policy, live: bool = True) -> NewAccount | None:
        options = policy.options(NewAccountOptions)
        return cls(options) if options.enabled else None

    def _age(self, event: Event) -> float | None:
        """The account's age in seconds, if it is young enough to be watched."""
        if event.account is None or event.account_created is None:
            return None
        age = event.ts - event.account_created
        return age if 0 <= age < self.watch_seconds else None

    def _looked_up(self, event: Event) -> str | None:
        """What this request looked up, or None if it looked nobody up."""
        route = event.route
        if route.kind in (PROFILE, CONTACT_LOOKUP) and route.subject is not None:
            if route.subject == f"id:{event.account}":
                return None  # one's own profile
            return route.subject
        if route.kind == LISTING:
            return f"listing:{event.path}?{event.query}"
        return None

    def allowance(self, age_seconds: float) -> int:
        o = self.options
        return int(o.allowance_base + o.allowance_per_hour * age_seconds / 3600)

    def plan(self, event: Event) -> list[StoreRequest]:
        if self._age(event) is None or (event.status is not None and event.status >= 400 and
                                        event.route.kind == PROFILE):
            return []
        looked_up = self._looked_up(event)
        if looked_up is None:
            return []
        return [CountRequest(f"account:{event.account}", SET, looked_up, self._windows)]

    def inspect(self, event: Event, counted: Counted, store: StateStore) -> list[Signal]:
        age = self._age(event)
        if age is None:
            return []
        key = f"account:{event.account}"
        result = distinct(counted, key, SET)
        if result is None or result.seen_before:
            return []
        looked_up, allowance = result.counts[0], self.allowance(age)
        if looked_up <= allowance:
            return []
        return [Signal(self.name, key, self.options.score,
                       f"new account (created {_age_words(age)} ago) looked up {looked_up} members, "
                       f"searches or listings already (allowance at its age: {allowance})",
                       {"age_seconds": round(age), "looked_up": looked_up, "allowance": allowance})]

    @classmethod
    def describe(cls, policy: Policy) -> ControlDescription:
        """The new-account allowance in words, from the policy (what the regulator report says of it)."""
        o = policy.new_account
        limits = ("watches how fast young accounts look other members up (profiles, contact look-ups, "
                  "listings and searches), judged against the account's age.")
        serves: tuple[Expectation, ...] = ("new_accounts",)
        if not o.enabled:
            return ControlDescription(cls.name, "New accounts", False, limits, serves=serves, refuses=False)
        rules = (f"In its first {o.watch_hours:g} hours an account may look up {o.allowance_base} members "
                 f"plus {o.allowance_per_hour:g} for every hour it has existed; beyond that: "
                 f"{outcome(policy, o.score)}.",
                 "It needs the account's creation time, which the site gives the guard.")
        return ControlDescription(cls.name, "New accounts", True, limits, rules, serves,
                                  refuses=refused_alone(policy, o.score))


def _age_words(seconds: float) -> str:
    if seconds < 120:
        return f"{int(seconds)} seconds"
    if seconds < 7200:
        return f"{int(seconds // 60)} minutes"
    return f"{seconds / 3600:.1f} hours"
