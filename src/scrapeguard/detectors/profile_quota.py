"""profile_quota: distinct other members' profiles viewed per hour, per day and per week.

The regulators' first ask. Counted per account for logged-in viewers (with
stricter quotas for young accounts). Anonymous viewers are counted per
browser session when the site itself issued the session (so that twenty
colleagues behind one office address each get their own quota), else per
client IP; all anonymous sessions of one address together have a larger
shared quota, and a second session of one address using up its quota within
an hour is cookie rotation, which refuses the address. Optionally per
network too. Re-viewing a profile already counted does not count. A view
that would go over a quota is not counted (it is refused instead), so counts
reflect what was actually served. The weekly quota (optional per table) stops
a scraper that stays just under the daily quota day after day.

Group member lists (`member_lists`: listing routes such as a chat room's members) count too: each
distinct page as the members it shows, against the same quotas divided by that number, in a set of
their own (a page names no member the guard could tell apart from the profiles).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scrapeguard.detectors.base import Counted, Detector, Signal, distinct
from scrapeguard.detectors.description import ControlDescription, Expectation, outcome, quota, refused_alone
from scrapeguard.detectors.windows import (
    DAY,
    HOUR,
    WEEK,
    anonymous_key,
    exhausted_period,
    hour_and_day,
    quota_detail,
    quota_evidence,
)
from scrapeguard.events import Event
from scrapeguard.policy.model import Policy, Quota
from scrapeguard.policy.options import option, table
from scrapeguard.routes import LISTING, PROFILE
from scrapeguard.stores.base import NO_ESCALATION, CountRequest, StateStore, StoreRequest, Window

#: Name of the distinct set this detector counts in.
SET = "profiles"
#: Name of the set of one address's anonymous sessions together.
SHARED = "shared"
#: Name of the distinct set of group member list pages.
MEMBER_LISTS = "member_lists"
#: Name of the set of an address's sessions that used up the anonymous quota.
EXHAUSTED = "exhausted"
#: What the quota counts, in words ("{n}": how many).
VIEWED = "viewed {n} distinct member profiles"
VIEWED_LISTS = "viewed {n} distinct pages of group member lists"


def over_quota(who: str, quota: str, period: str, count: int, limit: int,
               span: str = "", viewed: str = VIEWED) -> tuple[str, dict[str, Any]]:
    """A profile quota gone over, as the engine and log analysis say it: the detail for people and
    the evidence for programs. `quota` names the policy's table (anonymous, account, new_account,
    shared_address, network), `period` "hour", "day" or "week"; `span` as in `quota_detail`."""
    return quota_detail(who, viewed, count, limit, period, span), quota_evidence(quota, period, count, limit)


def quota_windows(quota: Quota) -> tuple[Window, ...]:
    """The sliding windows of a quota: hour and day, and the week when it has a weekly quota."""
    hour_day = hour_and_day(quota)
    return (*hour_day, Window(WEEK, quota.per_week)) if quota.per_week else hour_day


@dataclass(frozen=True, slots=True)
@table("detectors.profile_quota")
class ProfileQuotaOptions:
    enabled: bool = option("Whether the detector runs.")
    score: float = option("Risk score of a view that would go over a quota.", lo=0, hi=1)
    anonymous: Quota = option("Visitors without an account (per issued browser session, else per IP).")
    account: Quota = option("Logged-in accounts, per account.")
    new_account: Quota = option("Accounts younger than new_account_max_age_days, per account.")
    new_account_max_age_days: float = option("Age below which an account is new.",
                                             key="new_account.max_age_days", lo=0)
    network_enabled: bool = option("Whether views are also counted per network (/24, /64).",
                                   key="network.enabled")
    network: Quota = option("All views from one network, when network_enabled.")
    #: All anonymous browser sessions of one address together (see profile_quota).
    shared_address: Quota = option("All anonymous browser sessions of one address together.")
    rotation_score: float = option("Risk score of cookie rotation (a second session of an address "
                                   "using up its quota within the hour).", lo=0, hi=1)
    member_list_patterns: tuple[str, ...] = option(
        "Listing route patterns ([[routes]]) of group member lists, counted as the members a page shows.",
        key="member_lists.patterns")
    member_list_page: int = option("Members one page of a group member list shows (0: not counted).",
                                   key="member_lists.members_per_page", lo=0)

    def counted_per_key(self) -> tuple[int, ...]:
        quotas = [self.anonymous, self.account, self.shared_address, self.new_account]
        if self.network_enabled:
            quotas.append(self.network)
        return tuple(max(q.per_day, q.per_week) for q in quotas)


class ProfileQuota(Detector):
    name = "profile_quota"
    options_class = ProfileQuotaOptions

    def __init__(self, options: ProfileQuotaOptions) -> None:
        self.options = options
        self.score = options.score
        self.new_account_seconds = options.new_account_max_age_days * DAY
        self._anonymous = quota_windows(options.anonymous)
        self._account = quota_windows(options.account)
        self._new_account = quota_windows(options.new_account)
        self._shared = quota_windows(options.shared_address)
        self._network = quota_windows(options.network) if options.network_enabled else None
        #: At most one exhausted session per address and hour: the second is rotation.
        self._exhausted = (Window(HOUR, 1),)
        #: Route patterns of group member lists (none when their pages are not counted).
        self._member_lists = frozenset(options.member_list_patterns if options.member_list_page else ())

    @classmethod
    def from_policy(cls, policy: Policy, live: bool = True) -> ProfileQuota | None:
        options = policy.options(ProfileQuotaOptions)
        return cls(options) if options.enabled else None

    def _who(self, event: Event) -> tuple[str, str, str, tuple[Window, ...]] | None:
        """The key the view counts against, who that is in words, the quota's name and its windows."""
        if event.account is not None:
            young = (event.account_created is not None
                     and event.ts - event.account_created < self.new_account_seconds)
            if young:
                return f"account:{event.account}", "new account", "new_account", self._new_account
            return f"account:{event.account}", "account", "account", self._account
        if event.session is not None and event.session_issued:
            return f"session:{event.session}", "anonymous browser session", "anonymous", self._anonymous
        anonymous = anonymous_key(event)
        return (*anonymous, "anonymous", self._anonymous) if anonymous else None

    def _shares_address(self, event: Event) -> bool:
        """Whether the view also counts in its address's shared anonymous quota."""
        return event.account is None and event.session_issued and event.session is not None \
            and event.ip is not None

    def _member_list_windows(self, windows: tuple[Window, ...]) -> tuple[Window, ...]:
        """A quota's windows in member list pages: its limits divided by the members a page shows."""
        page = self.options.member_list_page
        return tuple(Window(w.seconds, max(1, w.limit // page)) for w in windows)

    def _is_member_list(self, event: Event) -> bool:
        return event.route.kind == LISTING and event.route.pattern in self._member_lists \
            and (event.status is None or event.status < 400)

    def plan(self, event: Event) -> list[StoreRequest]:
        route = event.route
        if self._is_member_list(event):
            who = self._who(event)
            if who is None:
                return []
            page = f"{event.path}?{event.query}"
            return [CountRequest(who[0], MEMBER_LISTS, page, self._member_list_windows(who[3]))]
        if route.kind != PROFILE or route.subject is None:
            return []
        if event.status is not None and event.status >= 400:
            return []  # nothing was served (replayed logs know the status)
        if event.account is not None and route.subject == f"id:{event.account}":
            return []  # one's own profile
        who = self._who(event)
        if who is None:
            return []
        requests: list[StoreRequest] = [CountRequest(who[0], SET, route.subject, who[3])]
        if self._shares_address(event):
            requests.append(CountRequest(f"ip:{event.ip}", SHARED, route.subject, self._shared))
        if self._network is not None and event.ip:
            net = event.net
            if net:
                requests.append(CountRequest(f"net:{net}", SET, route.subject, self._network))
        return requests

    def inspect(self, event: Event, counted: Counted, store: StateStore) -> list[Signal]:
        signals = []
        who = self._who(event)
        if who is not None and self._is_member_list(event):
            signal = self._judge(who[0], MEMBER_LISTS, who[1], who[2], self._member_list_windows(who[3]),
                                 counted, VIEWED_LISTS)
            return [signal] if signal else []
        if who is not None:
            signal = self._judge(who[0], SET, who[1], who[2], who[3], counted)
            if signal:
                signals.append(signal)
                if who[0].startswith("session:") and event.ip:
                    signals += self._rotation(event, store)
        if self._shares_address(event):
            signal = self._judge(f"ip:{event.ip}", SHARED, "address shared by anonymous browser sessions",
                                 "shared_address", self._shared, counted)
            if signal:
                signals.append(signal)
        if self._network is not None and event.ip:
            signal = self._judge(f"net:{event.net}", SET, "network", "network", self._network, counted)
            if signal:
                signals.append(signal)
        return signals

    def _rotation(self, event: Event, store: StateStore) -> list[Signal]:
        """A browser session used up its quota: the second within an hour from one address is
        cookie rotation (a second store call, made only when a session reaches its quota)."""
        key = f"ip:{event.ip}"
        request = CountRequest(key, EXHAUSTED, str(event.session), self._exhausted)
        seen = store.observe(event.ts, [], [request], NO_ESCALATION, "")
        result = distinct(seen.counted, key, EXHAUSTED)
        if result is None or result.admitted or self.options.rotation_score <= 0:
            return []
        return [Signal(self.name, key, self.options.rotation_score,
                       f"another browser session from {event.ip} used up the anonymous quota within the "
                       "hour: cookies are being thrown away for fresh quotas", {"rotation": True})]

    def _judge(self, key: str, name: str, who: str, quota: str, windows: tuple[Window, ...],
               counted: Counted, viewed: str = VIEWED) -> Signal | None:
        result = distinct(counted, key, name)
        if result is None or result.admitted:
            return None
        hour, day = windows[0], windows[1]
        per_hour, per_day = result.counts[0], result.counts[1]
        evidence = {"per_hour": per_hour, "per_day": per_day,
                    "quota_per_hour": hour.limit, "quota_per_day": day.limit}
        if len(windows) > 2 and len(result.counts) > 2:
            week, per_week = windows[2], result.counts[2]
            evidence |= {"per_week": per_week, "quota_per_week": week.limit}
            if per_hour < hour.limit and per_day < day.limit:  # only the week is full
                detail, facts = over_quota(who, quota, "week", per_week, week.limit, viewed=viewed)
                return Signal(self.name, key, self.score, detail, evidence | facts)
        period = exhausted_period(result._replace(counts=(per_hour, per_day)), (hour, day))
        count, limit = (per_hour, hour.limit) if period == "hour" else (per_day, day.limit)
        detail, facts = over_quota(who, quota, period, count, limit, viewed=viewed)
        return Signal(self.name, key, self.score, detail, evidence | facts)

    @classmethod
    def describe(cls, policy: Policy) -> ControlDescription:
        """The profile quotas in words, from the policy (what the regulator report says of them)."""
        o = policy.profile_quota
        limits = "limits how many distinct other members' profiles one account, browser or address views."
        serves: tuple[Expectation, ...] = ("profile_limits", "new_accounts", "suspicious_ips")
        if not o.enabled:
            return ControlDescription(cls.name, "Profile quotas", False, limits, serves=serves, refuses=False)
        rules = [
            f"An account: at most {quota(o.account, 'profiles')}.",
            f"An account younger than {o.new_account_max_age_days:g} days: at most "
            f"{quota(o.new_account, 'profiles')}.",
            f"An anonymous visitor (per browser session the site issued, else per IP address): at most "
            f"{quota(o.anonymous, 'profiles')}; all anonymous visitors of one address together at most "
            f"{quota(o.shared_address, 'profiles')}.",
            f"A view over a quota is {outcome(policy, o.score)}.",
            f"A second browser session of one address using up its quota within an hour (cookie rotation) is "
            f"{outcome(policy, o.rotation_score)}.",
        ]
        if o.member_list_page and o.member_list_patterns:
            rules.append(f"Each page of a group member list counts as the {o.member_list_page} members it "
                         "shows (the same quotas, in pages).")
        off: tuple[str, ...] = ()
        if o.network_enabled:
            rules.append(f"All visitors of one network (IPv4 /24, IPv6 /64) together: at most "
                         f"{quota(o.network, 'profiles')}.")
        else:
            off = ("Whole networks (IPv4 /24, IPv6 /64) are not counted together: the per-network quota is "
                   "off.",)
        return ControlDescription(cls.name, "Profile quotas", True, limits, tuple(rules), serves, off,
                                  ("suspicious_ips",) if off else (), refused_alone(policy, o.score))
