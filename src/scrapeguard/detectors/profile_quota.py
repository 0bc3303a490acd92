"""profile_quota: distinct other members' profiles viewed per hour and per day.

The regulators' first ask. Counted per account for logged-in viewers (with
stricter quotas for young accounts), per client IP for anonymous ones, and
optionally per network. Re-viewing a profile already counted does not count.
A view that would go over a quota is not counted (it is refused instead),
so counts reflect what was actually served.
"""

from __future__ import annotations

from scrapeguard.detectors.base import Detector, Signal
from scrapeguard.events import Event
from scrapeguard.policy.model import Policy, ProfileQuotaOptions, Quota
from scrapeguard.routes import PROFILE
from scrapeguard.stores.base import StateStore, Window

HOUR = 3600.0
DAY = 86400.0


def _windows(q: Quota) -> tuple[Window, Window]:
    return (Window(HOUR, q.per_hour), Window(DAY, q.per_day))


class ProfileQuota(Detector):
    name = "profile_quota"

    def __init__(self, options: ProfileQuotaOptions) -> None:
        self.options = options
        self.score = options.score
        self.new_account_seconds = options.new_account_max_age_days * DAY
        self._anonymous = _windows(options.anonymous)
        self._account = _windows(options.account)
        self._new_account = _windows(options.new_account)
        self._network = _windows(options.network) if options.network_enabled else None

    @classmethod
    def from_policy(cls, policy: Policy) -> ProfileQuota | None:
        return cls(policy.profile_quota) if policy.profile_quota.enabled else None

    def inspect(self, event: Event, store: StateStore) -> list[Signal]:
        route = event.route
        if route.kind != PROFILE or route.subject is None:
            return []
        if event.status is not None and event.status >= 400:
            return []  # nothing was served (replayed logs know the status)
        if event.account is not None and route.subject == f"id:{event.account}":
            return []  # one's own profile
        signals = []
        if event.account is not None:
            young = (
                event.account_created is not None
                and event.ts - event.account_created < self.new_account_seconds
            )
            windows, who = (self._new_account, "new account") if young else (self._account, "account")
            key = f"account:{event.account}"
        elif event.ip:
            windows, who, key = self._anonymous, "anonymous visitor", f"ip:{event.ip}"
        elif event.session:
            windows, who, key = self._anonymous, "anonymous session", f"session:{event.session}"
        else:
            return []
        signal = self._count(key, who, windows, event, store)
        if signal:
            signals.append(signal)
        if self._network is not None and event.ip:
            net = event.net
            if net:
                signal = self._count(f"net:{net}", "network", self._network, event, store)
                if signal:
                    signals.append(signal)
        return signals

    def _count(
        self, key: str, who: str, windows: tuple[Window, Window], event: Event, store: StateStore
    ) -> Signal | None:
        assert event.route.subject is not None
        result = store.admit_distinct("pq|" + key, event.route.subject, event.ts, windows)
        if result.admitted:
            return None
        hour, day = windows
        per_hour, per_day = result.counts
        if per_hour >= hour.limit:
            detail = (f"{who} viewed {per_hour} distinct member profiles in the last hour "
                      f"(quota {hour.limit}/hour)")
        else:
            detail = (f"{who} viewed {per_day} distinct member profiles in the last day "
                      f"(quota {day.limit}/day)")
        return Signal(self.name, key, self.score, detail,
                      {"per_hour": per_hour, "per_day": per_day,
                       "quota_per_hour": hour.limit, "quota_per_day": day.limit})
