"""campaign: distributed, low-and-slow scraping seen as one actor, whatever it wears.

A campaign spreads a sweep of the member space over many IPs (or accounts),
each staying under every quota, and changes what is cheap to change: its
user agent, its addresses. What it cannot change without losing its purpose
is what it does: each of its actors walks member ids (or names) in order, and
the actors take disjoint slices of the member space. So:

1. every actor keeps a short history of the member pages it asked for;
2. an actor whose latest pages form a sweep (ids in sequence: two in a row
   are enough, since people follow links, not ids; names in alphabetical
   order: eight) joins the group of that kind of sweep on that route,
   counted in the store under "campaign:<ids|names>-<route>": which networks,
   which members, which (actor, member) views, which actors. The user agent
   and headers are no part of the group: rotating them changes nothing;
3. once a group spans `min_networks` networks and `min_members` members
   within `window_seconds`, and its actors took disjoint slices (distinct
   members at least `min_disjoint_share` of the views: people reading the same
   directory in order overlap), it is a campaign: each sweeping request of it
   is refused, the campaign key and the actor both named, with its reach;
4. the actors that swept before the campaign was recognised are named too
   (the decision's `related` actors), so that the incident lists every
   member the campaign received, not only what it took after;
5. while a campaign is active, a new anonymous client asking for a member
   page on its route *the way the campaign asks* (the same request headers
   apart from the user agent) is suspected of being its next address: bot
   evidence, answered by a challenge, which a person's browser passes. This is
   what stops a campaign that hands each address only a few ids.

Only sweeping actors are counted or refused: a person who follows links is
never part of a campaign; nor is an established account (older than the
new-account age), which answers for itself through its own quotas.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from typing import Any

from scrapeguard.detectors.base import BY_CHALLENGE, Counted, Detector, Signal, distinct, history
from scrapeguard.detectors.description import ControlDescription, Expectation, outcome, refused_alone
from scrapeguard.detectors.enumeration import find_sweep
from scrapeguard.detectors.windows import anonymous_key
from scrapeguard.events import Event
from scrapeguard.policy.model import Policy
from scrapeguard.policy.options import option, table
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
#: Request headers that, without the user agent, say how a client asks (when the integration sees
#: them): a campaign rotating user agents keeps sending the same ones.
MANNER_HEADERS = ("accept", "accept-language", "accept-encoding", "sec-fetch-mode", "sec-ch-ua")
#: The group's recent sweeping actors (a history, deduplicated when read): so many are kept.
ROSTER_KEEP = 512
#: Campaigns recognised by this process, remembered for their window: at most so many.
ACTIVE_LIMIT = 256
#: A suspected new address of a campaign is challenged: bot evidence at this score.
SUSPECT_SCORE = 0.5


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogateescape"), digest_size=6).hexdigest()


def manner(event: Event) -> str | None:
    """A short hash of how the client asks, apart from its user agent; None without headers (logs)."""
    if event.headers is None:
        return None
    return _digest("\n".join(event.headers.get(name, "") for name in MANNER_HEADERS))


def is_campaign(networks: int, members: int, views: int, options: CampaignOptions) -> bool:
    """The one definition of a campaign, for the engine and log analysis: a group of actors spanning
    `min_networks` networks and `min_members` members, each actor its own slice (distinct members
    at least `min_disjoint_share` of the (actor, member) views)."""
    return networks >= options.min_networks and members >= options.min_members \
        and members >= options.min_disjoint_share * views


def campaign_detail(group: str, networks: int, members: int, how: str, within: str) -> str:
    """The words of a campaign's signal, for the engine and log analysis: `how` its actors ask,
    `within` which time."""
    return f"part of {group}: {networks} networks {how}, each its own slice, {members} members reached " \
        f"{within}"


def group_key(kind: str, pattern: str | None) -> str:
    """The campaign key of a kind of sweep ("ids", "names") on a route."""
    return f"campaign:{kind}-{_digest(pattern or '')}"


@dataclass(frozen=True, slots=True)
@table("detectors.campaign")
class CampaignOptions:
    enabled: bool = option("Whether the detector runs.")
    window_seconds: float = option("The window a campaign's reach is counted in.", lo=60, hi=7 * 86400)
    min_networks: int = option("Networks a group of sweepers must span.", lo=2)
    min_members: int = option("Members a group of sweepers must reach.", lo=2)
    score: float = option("Risk score of a campaign's sweeping request.", lo=0, hi=1)
    #: Distinct members at least this share of the group's (actor, member) views: disjoint slices.
    min_disjoint_share: float = option("Distinct members as a share of the group's views (disjoint "
                                       "slices).", lo=0, hi=1)


class Campaign(Detector):
    name = "campaign"
    options_class = CampaignOptions

    def __init__(self, options: CampaignOptions, young_seconds: float = 7 * 86400) -> None:
        self.options = options
        self.young_seconds = young_seconds
        self._window = (Window(options.window_seconds, UNLIMITED),)
        #: (route pattern, manner) of the campaigns this process recognised -> (key, until).
        self._active: dict[tuple[str, str], tuple[str, float]] = {}
        #: Actors already named as related, per campaign (so that each is named once per process).
        self._named: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_policy(cls, policy: Policy, live: bool = True) -> Campaign | None:
        options = policy.options(CampaignOptions)
        if not options.enabled:
            return None
        return cls(options, policy.profile_quota.new_account_max_age_days * 86400)

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
            return self._suspect(event, who, past.values)
        # a sweeper: count it into its group (a second store call, sweepers only)
        group = group_key(sweep.kind, event.route.pattern)
        where = event.net or event.ip or who
        counts: list[StoreRequest] = [CountRequest(group, "networks", where, self._window),
                                      CountRequest(group, "members", subject, self._window),
                                      CountRequest(group, "views", f"{who}|{subject}", self._window)]
        if sweep.length == (IDS_IN_A_ROW if sweep.kind == "ids" else NAMES_IN_A_ROW):
            # it joins: with what it took before it was a sweeper, and on the group's roster
            counts += [CountRequest(group, "members", sweep.first, self._window),
                       CountRequest(group, "views", f"{who}|{sweep.first}", self._window),
                       HistoryRequest(group, "roster", who, ROSTER_KEEP, self.options.window_seconds)]
        seen = store.observe(event.ts, [], counts, NO_ESCALATION, "")
        networks = distinct(seen.counted, group, "networks")
        members = distinct(seen.counted, group, "members")
        views = distinct(seen.counted, group, "views")
        if networks is None or members is None or views is None:
            return []
        n_networks, n_members, n_views = networks.counts[0], members.counts[0], views.counts[0]
        o = self.options
        if not is_campaign(n_networks, n_members, n_views, o):
            return []
        self._remember(event, group)
        detail = campaign_detail(group, n_networks, n_members,
                                 f"sweeping member pages in order (by {sweep.kind})",
                                 f"within {_minutes(o.window_seconds)}")
        evidence: dict[str, Any] = {"campaign": group, "networks": n_networks, "members": n_members,
                                    "views": n_views, "sweep": sweep.kind, "window_seconds": o.window_seconds}
        related = self._newly_related(group, who, self._roster(event, group, who, store))
        if related:
            evidence["related"] = related
        # the actor first: with equal risk the client's own key is the one penalised, so that its
        # next requests are refused before any counting
        return [Signal(self.name, who, o.score, detail, evidence),
                Signal(self.name, group, o.score, detail, evidence)]

    def _remember(self, event: Event, group: str) -> None:
        """A campaign recognised: how its actors ask is watched on its route for its window."""
        how = manner(event)
        if how is None:
            return
        with self._lock:
            if len(self._active) >= ACTIVE_LIMIT:
                self._active = {k: v for k, v in self._active.items() if v[1] > event.ts}
                if len(self._active) >= ACTIVE_LIMIT:
                    self._active.clear()
            self._active[(event.route.pattern or "", how)] = (group, event.ts + self.options.window_seconds)

    def _suspect(self, event: Event, who: str, past: tuple[str, ...]) -> list[Signal]:
        """A client that is not (yet) sweeping, asking the way an active campaign on this route
        asks: bot evidence (a challenge answers it; a person's browser passes)."""
        if not self._active:
            return []
        how = manner(event)
        if how is None:
            return []
        active = self._active.get((event.route.pattern or "", how))
        if active is None or active[1] <= event.ts:
            return []
        group = active[0]
        detail = (f"asks for member pages with the same request headers as {group}, which is sweeping "
                  "this route now")
        evidence = {"campaign": group, "suspect": True}
        # (the group's key too, so that the records count the attempt to the campaign)
        return [Signal(self.name, who, SUSPECT_SCORE, detail, evidence, answered_by=BY_CHALLENGE),
                Signal(self.name, group, SUSPECT_SCORE, detail, evidence, answered_by=BY_CHALLENGE)]

    def _roster(self, event: Event, group: str, who: str, store: StateStore) -> tuple[str, ...]:
        """The group's recent actors, read the first time this process recognises the campaign (a
        third store call, once per campaign and process; later joiners are refused themselves)."""
        with self._lock:
            if group in self._named:
                return ()
        seen = store.observe(event.ts, [], [HistoryRequest(group, "roster", who, ROSTER_KEEP,
                                                           self.options.window_seconds)], NO_ESCALATION, "")
        roster = history(seen.counted, group, "roster")
        return roster.values if roster is not None else ()

    def _newly_related(self, group: str, who: str, roster: tuple[str, ...]) -> list[str]:
        """The group's actors this process has not named yet (the first time: all that swept
        before the campaign was recognised)."""
        with self._lock:
            named = self._named.setdefault(group, set())
            if len(self._named) > ACTIVE_LIMIT:
                self._named = {group: named}
            fresh = [a for a in dict.fromkeys(roster) if a != who and a not in named]
            named.update(fresh)
            named.add(who)
            if len(named) > 4 * ROSTER_KEEP:
                named.clear()
            return fresh

    @classmethod
    def describe(cls, policy: Policy) -> ControlDescription:
        """Campaign detection in words, from the policy (what the regulator report says of it)."""
        o = policy.campaign
        limits = ("sees scraping spread over many addresses or accounts, each under every quota, as one "
                  "campaign.")
        serves: tuple[Expectation, ...] = ("bot_patterns", "suspicious_ips")
        if not o.enabled:
            return ControlDescription(cls.name, "Campaigns", False, limits, serves=serves, refuses=False)
        rules = (f"Clients sweeping the member space from {o.min_networks} networks or more, "
                 f"{o.min_members} members or more within {o.window_seconds / 60:g} minutes, taking disjoint "
                 f"slices (distinct members at least {o.min_disjoint_share:.0%} of the views): each sweeping "
                 f"request is {outcome(policy, o.score)}.",)
        return ControlDescription(cls.name, "Campaigns", True, limits, rules, serves,
                                  refuses=refused_alone(policy, o.score))


def _minutes(seconds: float) -> str:
    return f"{round(seconds / 60)} minutes" if seconds < 7200 else f"{seconds / 3600:g} hours"
