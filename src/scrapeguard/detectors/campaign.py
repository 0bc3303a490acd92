"""campaign: distributed, low-and-slow scraping seen as one actor.

A campaign spreads a sweep of the member space over many IPs (or accounts),
each staying under every quota. What its members share is how they ask
(the same client fingerprint: user agent and a few headers) and what they do
(each walks member ids, or names, in order). So:

1. every actor keeps a short history of the member pages it asked for;
2. an actor whose latest pages form a sweep (ids in sequence: two in a row
   are enough, since people follow links, not ids; names in alphabetical
   order: eight) joins the group of its fingerprint, counted in the store
   under "campaign:<fingerprint>": which networks, which members;
3. once a group spans `min_networks` networks and `min_members` members
   within `window_seconds`, it is a campaign: each sweeping request of it is
   refused, the campaign key and the actor both named, with the campaign's
   reach so far.

Only sweeping actors are counted or refused: a person who shares a popular
browser's fingerprint but follows links is never part of a campaign; nor is
an established account (older than the new-account age), which answers for
itself through its own quotas.
"""

from __future__ import annotations

import hashlib

from scrapeguard.detectors.base import Counted, Detector, Signal, distinct, history
from scrapeguard.detectors.enumeration import find_sweep
from scrapeguard.detectors.windows import anonymous_key
from scrapeguard.events import Event
from scrapeguard.policy.model import CampaignOptions, Policy
from scrapeguard.routes import PROFILE
from scrapeguard.stores.base import (
    NO_ESCALATION,
    UNLIMITED,
    CountRequest,
    HistoryRequest,
    StateStore,
    StoreRequest,
    Window,
)

#: Name of each actor's short history of member pages.
HISTORY = "sweep"
KEEP = 8
#: Steps between ids that still count as "in sequence".
MAX_STEP = 3
#: Pages in order that make an actor a sweeper.
IDS_IN_A_ROW = 2
NAMES_IN_A_ROW = 8
#: Headers that, with the user agent, make a client's fingerprint (when the integration sees them).
FINGERPRINT_HEADERS = ("accept", "accept-language", "accept-encoding", "sec-ch-ua")


def fingerprint(event: Event) -> str:
    """A short hash of how the client asks: its user agent and a few headers."""
    parts = [event.user_agent]
    if event.headers is not None:
        parts += [event.headers.get(name, "") for name in FINGERPRINT_HEADERS]
    return hashlib.blake2b("\n".join(parts).encode("utf-8", "surrogateescape"), digest_size=6).hexdigest()


class Campaign(Detector):
    name = "campaign"
    plans_member_data_only = True

    def __init__(self, options: CampaignOptions, young_seconds: float = 7 * 86400) -> None:
        self.options = options
        self.young_seconds = young_seconds
        self._window = (Window(options.window_seconds, UNLIMITED),)

    @classmethod
    def from_policy(cls, policy: Policy, live: bool = True) -> Campaign | None:
        if not policy.campaign.enabled:
            return None
        return cls(policy.campaign, policy.profile_quota.new_account_max_age_days * 86400)

    def _who(self, event: Event) -> str | None:
        if event.account is not None:
            created = event.account_created
            young = created is not None and event.ts - created < self.young_seconds
            return f"account:{event.account}" if young else None
        anonymous = anonymous_key(event)
        return anonymous[0] if anonymous else None

    def plan(self, event: Event) -> list[StoreRequest]:
        if event.route.kind != PROFILE or event.route.subject is None:
            return []
        if event.status is not None and event.status >= 400:
            return []
        who = self._who(event)
        if who is None:
            return []
        return [HistoryRequest(who, HISTORY, event.route.subject, KEEP, self.options.window_seconds)]

    def inspect(self, event: Event, counted: Counted, store: StateStore) -> list[Signal]:
        who = self._who(event)
        subject = event.route.subject
        if who is None or subject is None or event.route.kind != PROFILE:
            return []
        past = history(counted, who, HISTORY)
        if past is None:
            return []
        sweep = find_sweep([*past.values, subject], MAX_STEP)
        if sweep is None or sweep.length < (IDS_IN_A_ROW if sweep.kind == "ids" else NAMES_IN_A_ROW):
            return []
        # a sweeper: count it into its fingerprint's group (a second store call, sweepers only)
        group = f"campaign:{fingerprint(event)}"
        where = event.net or event.ip or who
        seen = store.observe(event.ts, [], [CountRequest(group, "networks", where, self._window),
                                             CountRequest(group, "members", subject, self._window)],
                             NO_ESCALATION, "")
        networks = distinct(seen.counted, group, "networks")
        members = distinct(seen.counted, group, "members")
        if networks is None or members is None:
            return []
        n_networks, n_members = networks.counts[0], members.counts[0]
        o = self.options
        if n_networks < o.min_networks or n_members < o.min_members:
            return []
        detail = (f"part of {group}: {n_networks} networks sweeping member pages in order with the same "
                  f"client fingerprint, {n_members} members reached within {_minutes(o.window_seconds)}")
        evidence = {"campaign": group, "networks": n_networks, "members": n_members}
        # the actor first: with equal risk the first key is the one penalised, so that its next
        # requests are refused before any counting
        return [Signal(self.name, who, o.score, detail, evidence),
                Signal(self.name, group, o.score, detail, evidence)]


def _minutes(seconds: float) -> str:
    return f"{round(seconds / 60)} minutes" if seconds < 7200 else f"{seconds / 3600:g} hours"
