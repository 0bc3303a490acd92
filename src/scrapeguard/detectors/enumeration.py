"""enumeration: sweeping the member space.

Covered so far: contact lookups. Finding members by a contact detail (routes
of kind "contact_lookup", e.g. /lookup?email=) is how the largest real
scraping incidents harvested data (phone-number matching), so the distinct
contact details one actor looks up get their own small quota per hour and per
day: per account when logged in, per client IP (or session) otherwise. Failed
look-ups count too, since guessing contact details is the attack.
"""

from __future__ import annotations

from scrapeguard.detectors.base import Counted, Detector, Signal, distinct
from scrapeguard.detectors.windows import anonymous_key, hour_and_day, over_quota_detail
from scrapeguard.events import Event
from scrapeguard.policy.model import EnumerationOptions, Policy
from scrapeguard.routes import CONTACT_LOOKUP
from scrapeguard.stores.base import CountRequest, StateStore, StoreRequest, Window

#: Name of the distinct set this detector counts in.
SET = "lookups"


class Enumeration(Detector):
    name = "enumeration"

    def __init__(self, options: EnumerationOptions) -> None:
        self.options = options
        self._anonymous = hour_and_day(options.lookups_anonymous)
        self._account = hour_and_day(options.lookups_account)

    @classmethod
    def from_policy(cls, policy: Policy, live: bool = True) -> Enumeration | None:
        return cls(policy.enumeration) if policy.enumeration.enabled else None

    def _who(self, event: Event) -> tuple[str, str, tuple[Window, Window]] | None:
        if event.account is not None:
            return f"account:{event.account}", "account", self._account
        anonymous = anonymous_key(event)
        return (*anonymous, self._anonymous) if anonymous else None

    def plan(self, event: Event) -> list[StoreRequest]:
        if event.route.kind != CONTACT_LOOKUP or event.route.subject is None:
            return []
        who = self._who(event)
        return [CountRequest(who[0], SET, event.route.subject, who[2])] if who else []

    def inspect(self, event: Event, counted: Counted, store: StateStore) -> list[Signal]:
        who = self._who(event)
        if who is None or event.route.kind != CONTACT_LOOKUP:
            return []
        result = distinct(counted, who[0], SET)
        if result is None or result.admitted:
            return []
        detail = over_quota_detail(who[1], "looked up {n} members by contact details", result, who[2])
        per_hour, per_day = result.counts
        return [Signal(self.name, who[0], self.options.score, detail,
                       {"per_hour": per_hour, "per_day": per_day})]
