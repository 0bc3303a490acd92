"""profile_quota: distinct other members' profiles viewed per hour and per day.

The regulators' first ask. Counted per account for logged-in viewers (with
stricter quotas for young accounts), per client IP for anonymous ones, and
optionally per network. Re-viewing a profile already counted does not count.
A view that would go over a quota is not counted (it is refused instead),
so counts reflect what was actually served.
"""

from __future__ import annotations

from scrapeguard.detectors.base import Counted, Detector, Signal, distinct
from scrapeguard.detectors.windows import DAY, anonymous_key, hour_and_day, over_quota_detail
from scrapeguard.events import Event
from scrapeguard.policy.model import Policy, ProfileQuotaOptions
from scrapeguard.routes import PROFILE
from scrapeguard.stores.base import CountRequest, StateStore, StoreRequest, Window

#: Name of the distinct set this detector counts in.
SET = "profiles"


class ProfileQuota(Detector):
    name = "profile_quota"

    def __init__(self, options: ProfileQuotaOptions) -> None:
        self.options = options
        self.score = options.score
        self.new_account_seconds = options.new_account_max_age_days * DAY
        self._anonymous = hour_and_day(options.anonymous)
        self._account = hour_and_day(options.account)
        self._new_account = hour_and_day(options.new_account)
        self._network = hour_and_day(options.network) if options.network_enabled else None

    @classmethod
    def from_policy(cls, policy: Policy, live: bool = True) -> ProfileQuota | None:
        return cls(policy.profile_quota) if policy.profile_quota.enabled else None

    def _who(self, event: Event) -> tuple[str, str, tuple[Window, Window]] | None:
        """The key the view counts against, who that is in words, and the quota."""
        if event.account is not None:
            young = (event.account_created is not None
                     and event.ts - event.account_created < self.new_account_seconds)
            if young:
                return f"account:{event.account}", "new account", self._new_account
            return f"account:{event.account}", "account", self._account
        anonymous = anonymous_key(event)
        return (*anonymous, self._anonymous) if anonymous else None

    def plan(self, event: Event) -> list[StoreRequest]:
        route = event.route
        if route.kind != PROFILE or route.subject is None:
            return []
        if event.status is not None and event.status >= 400:
            return []  # nothing was served (replayed logs know the status)
        if event.account is not None and route.subject == f"id:{event.account}":
            return []  # one's own profile
        who = self._who(event)
        if who is None:
            return []
        requests: list[StoreRequest] = [CountRequest(who[0], SET, route.subject, who[2])]
        if self._network is not None and event.ip:
            net = event.net
            if net:
                requests.append(CountRequest(f"net:{net}", SET, route.subject, self._network))
        return requests

    def inspect(self, event: Event, counted: Counted, store: StateStore) -> list[Signal]:
        signals = []
        who = self._who(event)
        if who is not None:
            signal = self._judge(who[0], who[1], who[2], counted)
            if signal:
                signals.append(signal)
        if self._network is not None and event.ip:
            signal = self._judge(f"net:{event.net}", "network", self._network, counted)
            if signal:
                signals.append(signal)
        return signals

    def _judge(self, key: str, who: str, windows: tuple[Window, Window], counted: Counted) -> Signal | None:
        result = distinct(counted, key, SET)
        if result is None or result.admitted:
            return None
        hour, day = windows
        per_hour, per_day = result.counts
        detail = over_quota_detail(who, "viewed {n} distinct member profiles", result, windows)
        return Signal(self.name, key, self.score, detail,
                      {"per_hour": per_hour, "per_day": per_day,
                       "quota_per_hour": hour.limit, "quota_per_day": day.limit})
