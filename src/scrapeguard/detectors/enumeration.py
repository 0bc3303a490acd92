"""enumeration: sweeping the member space.

Judged per actor (the account when logged in, else the client IP, else the
session), over the member pages it asked for in the last hour:

- sweeps: member ids in sequence (17, 18, 20, 21...: each within a small step
  of the one before), or names in strictly alphabetical order. People follow
  links and search results; scripts walk the id space.
- probing: many member pages that do not exist (404), i.e. guessing names,
  in the last hour or in a burst of a few seconds (nobody types wrong member
  addresses that fast, and a site's links lead to members who exist).
- contact lookups: finding members by a contact detail (routes of kind
  "contact_lookup", e.g. /lookup?email=) is how the largest real scraping
  incidents harvested data (phone-number matching), so the distinct contact
  details one actor looks up get their own small quota per hour and per day.
  Failed look-ups count too, since guessing contact details is the attack.

The recent member pages live in a store history ("members"): the subject of
each page, and a "!"-marked entry for each that was not found (from the
status of a replayed line, or recorded after the response for live traffic).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from scrapeguard.detectors.base import Counted, Detector, Signal, distinct, history
from scrapeguard.detectors.description import ControlDescription, Expectation, outcome, quota, refused_alone
from scrapeguard.detectors.windows import (
    HOUR,
    anonymous_key,
    exhausted_period,
    hour_and_day,
    quota_detail,
    quota_evidence,
)
from scrapeguard.events import Event
from scrapeguard.policy.model import Policy, Quota
from scrapeguard.policy.options import option, table
from scrapeguard.routes import CONTACT_LOOKUP, PROFILE
from scrapeguard.stores.base import CountRequest, HistoryRequest, StateStore, StoreRequest, Window

#: Name of the distinct set of contact details looked up.
SET = "lookups"
#: Name of the history of member pages asked for.
HISTORY = "members"
#: Member pages remembered per actor (enough for the longest run the policy may ask for).
KEEP = 64
#: Marks a member page that was not found.
MISS = "!"
#: What the contact look-up quota counts, in words ("{n}": how many).
LOOKED_UP = "looked up {n} members by contact details"


def over_lookup_quota(who: str, quota: str, period: str, count: int, limit: int,
                      span: str = "") -> tuple[str, dict[str, Any]]:
    """A contact look-up quota gone over, as the engine and log analysis say it: the detail and the
    evidence (`quota`: lookups_anonymous or lookups_account; the rest as in `quota_detail`)."""
    detail = quota_detail(who, LOOKED_UP, count, limit, period, span)
    return detail, quota_evidence(quota, period, count, limit)


@dataclass(frozen=True, slots=True)
class Sweep:
    """A run of member pages in order, ending with the current one."""

    length: int
    first: str
    last: str
    kind: str  # "ids" or "names"


@dataclass(frozen=True, slots=True)
@table("detectors.enumeration")
class EnumerationOptions:
    enabled: bool = option("Whether the detector runs.")
    score: float = option("Risk score of a contact look-up over its quota.", lo=0, hi=1)
    lookups_anonymous: Quota = option("Contact look-ups of visitors without an account, per IP.",
                                      key="contact_lookups.anonymous")
    lookups_account: Quota = option("Contact look-ups of logged-in accounts, per account.",
                                    key="contact_lookups.account")
    sweep_views: int = option("Member ids in a row, each near the one before, that make a sweep.", lo=3)
    sweep_max_step: int = option("The largest step between ids of a sweep.", lo=1)
    alphabetical_views: int = option("Member names in alphabetical order, in a row, that make a sweep.",
                                     lo=3)
    sweep_score: float = option("Risk score of a sweep.", lo=0, hi=1)
    probe_misses: int = option("Member pages not found within the hour that make probing.", lo=1)
    probe_share: float = option("Share of the member pages asked for that must be misses.", lo=0, hi=1)
    probe_score: float = option("Risk score of probing.", lo=0, hi=1)
    probe_burst_misses: int = option("Member pages not found within probe_burst_seconds that make probing.",
                                     lo=2)
    probe_burst_seconds: float = option("The window of a probing burst.", lo=1, hi=3600)

    def counted_per_key(self) -> tuple[int, ...]:
        return (self.lookups_anonymous.per_day, self.lookups_account.per_day)


class Enumeration(Detector):
    name = "enumeration"
    options_class = EnumerationOptions

    def __init__(self, options: EnumerationOptions) -> None:
        self.options = options
        self._anonymous = hour_and_day(options.lookups_anonymous)
        self._account = hour_and_day(options.lookups_account)

    @classmethod
    def from_policy(cls, policy: Policy, live: bool = True) -> Enumeration | None:
        options = policy.options(EnumerationOptions)
        return cls(options) if options.enabled else None

    def _who(self, event: Event) -> tuple[str, str, tuple[Window, Window]] | None:
        if event.account is not None:
            return f"account:{event.account}", "account", self._account
        anonymous = anonymous_key(event)
        return (*anonymous, self._anonymous) if anonymous else None

    # -- recording -----------------------------------------------------------------

    def plan(self, event: Event) -> list[StoreRequest]:
        subject = event.route.subject
        if subject is None:
            return []
        who = self._who(event)
        if who is None:
            return []
        if event.route.kind == CONTACT_LOOKUP:
            return [CountRequest(who[0], SET, subject, who[2])]
        if event.route.kind == PROFILE:
            if event.account is not None and subject == f"id:{event.account}":
                return []  # one's own profile
            value = MISS + subject if event.status == 404 else subject
            return [HistoryRequest(who[0], HISTORY, value, KEEP, HOUR)]
        return []

    def after(self, event: Event, status: int) -> list[StoreRequest]:
        if status != 404 or event.route.kind != PROFILE or event.route.subject is None:
            return []
        who = self._who(event)
        return [HistoryRequest(who[0], HISTORY, MISS + event.route.subject, KEEP, HOUR)] if who else []

    # -- judging -------------------------------------------------------------------

    def inspect(self, event: Event, counted: Counted, store: StateStore) -> list[Signal]:
        who = self._who(event)
        if who is None:
            return []
        if event.route.kind == CONTACT_LOOKUP:
            return self._lookups(who, counted)
        if event.route.kind != PROFILE or event.route.subject is None:
            return []
        past = history(counted, who[0], HISTORY)
        if past is None:
            return []
        current = MISS + event.route.subject if event.status == 404 else event.route.subject
        pages = [*past.values, current]
        signals = []
        sweep = find_sweep(pages, self.options.sweep_max_step)
        o = self.options
        needed = o.sweep_views if sweep is not None and sweep.kind == "ids" else o.alphabetical_views
        if sweep is not None and sweep.length >= needed and o.sweep_score > 0:
            order = "member ids in sequence" if sweep.kind == "ids" else "member names in alphabetical order"
            signals.append(Signal(
                self.name, who[0], o.sweep_score,
                f"{who[1]} viewed {sweep.length} {order} ({sweep.first} … {sweep.last})",
                {"sweep": sweep.length, "first": sweep.first, "last": sweep.last}))
        asked, missed = probe_counts(pages, at_least=min(o.probe_misses, o.probe_burst_misses))
        if missed >= o.probe_misses and missed >= o.probe_share * asked and o.probe_score > 0:
            signals.append(Signal(
                self.name, who[0], o.probe_score,
                f"{who[1]} asked for {missed} member pages that do not exist, of {asked} in the last hour",
                {"missed": missed, "asked": asked}))
        elif missed >= o.probe_burst_misses and o.probe_score > 0:  # (the hour's misses bound the burst's)
            since = event.ts - o.probe_burst_seconds
            recent = [value for ts, value in past.entries if ts >= since]
            asked, missed = probe_counts([*recent, current])
            if missed >= o.probe_burst_misses and missed >= o.probe_share * asked:
                signals.append(Signal(
                    self.name, who[0], o.probe_score,
                    f"{who[1]} asked for {missed} member pages that do not exist, of {asked} within "
                    f"{o.probe_burst_seconds:g} seconds",
                    {"missed": missed, "asked": asked, "seconds": o.probe_burst_seconds}))
        return signals

    def _lookups(self, who: tuple[str, str, tuple[Window, Window]], counted: Counted) -> list[Signal]:
        result = distinct(counted, who[0], SET)
        if result is None or result.admitted:
            return []
        quota = "lookups_account" if who[0].startswith("account:") else "lookups_anonymous"
        period = exhausted_period(result, who[2])
        i = 0 if period == "hour" else 1
        detail, facts = over_lookup_quota(who[1], quota, period, result.counts[i], who[2][i].limit)
        per_hour, per_day = result.counts
        return [Signal(self.name, who[0], self.options.score, detail,
                       {"per_hour": per_hour, "per_day": per_day} | facts)]

    @classmethod
    def describe(cls, policy: Policy) -> ControlDescription:
        """Enumeration detection in words, from the policy (what the regulator report says of it)."""
        o = policy.enumeration
        limits = ("detects walking the member space (ids in sequence, names in alphabetical order), guessing "
                  "member pages, and looking members up by contact detail.")
        serves: tuple[Expectation, ...] = ("bot_patterns", "suspicious_ips")
        if not o.enabled:
            return ControlDescription(cls.name, "Enumeration", False, limits, serves=serves, refuses=False)
        rules = (
            f"{o.sweep_views} member ids in a row, each within {o.sweep_max_step} of the one before, or "
            f"{o.alphabetical_views} names in alphabetical order, within an hour: "
            f"{outcome(policy, o.sweep_score)}.",
            f"{o.probe_misses} member pages that do not exist within an hour (at least "
            f"{o.probe_share:.0%} of the member pages asked for), or {o.probe_burst_misses} within "
            f"{o.probe_burst_seconds:g} seconds: {outcome(policy, o.probe_score)}.",
            "Look-ups of members by contact detail (the vector of the largest scraping incidents): an "
            f"account at most {quota(o.lookups_account, 'look-ups')}, an anonymous visitor at most "
            f"{quota(o.lookups_anonymous, 'look-ups')}; over it: {outcome(policy, o.score)}.",
        )
        return ControlDescription(cls.name, "Enumeration", True, limits, rules, serves,
                                  refuses=refused_alone(policy, max(o.sweep_score, o.probe_score, o.score)))


def _latest_first(pages: list[str]) -> Iterator[str]:
    """Subjects from the latest back, without miss marks and without the consecutive repeats
    that a live miss leaves ("id:5", then "!id:5")."""
    later = None
    for page in reversed(pages):
        subject = page.removeprefix(MISS)
        if subject != later:
            yield subject
            later = subject


def find_sweep(pages: list[str], max_step: int) -> Sweep | None:
    """The run of pages in order that ends with the last page: numeric ids each within
    `max_step` of the one before (same direction), or names in strictly alphabetical order.
    Walks back from the latest page only as far as the run goes."""
    if len(pages) < 2:
        return None
    last = pages[-1].removeprefix(MISS)
    name, _, value = last.partition(":")
    if value.isascii() and value.isdigit():
        length, first = _numeric_run(_latest_first(pages), name, max_step)
        if length >= 2:
            return Sweep(length, first, last, "ids")
    length, first = _alphabetical_run(_latest_first(pages), name)
    if length >= 2:
        return Sweep(length, first, last, "names")
    return None


def _numeric_run(subjects: Iterator[str], name: str, max_step: int) -> tuple[int, str]:
    first = next(subjects)
    run, direction, later = 1, 0, int(first.partition(":")[2])
    for subject in subjects:
        kind, _, value = subject.partition(":")
        if kind != name or not (value.isascii() and value.isdigit()):
            break
        step = later - int(value)
        sign = (step > 0) - (step < 0)
        if step == 0 or abs(step) > max_step or (direction and sign != direction):
            break
        direction, later, run, first = sign, int(value), run + 1, subject
    return run, first


def _alphabetical_run(subjects: Iterator[str], name: str) -> tuple[int, str]:
    first = next(subjects)
    run, later = 1, first.partition(":")[2].casefold()
    for subject in subjects:
        kind, _, value = subject.partition(":")
        value = value.casefold()
        if kind != name or not value < later:
            break
        later, run, first = value, run + 1, subject
    return run, first


def probe_counts(pages: list[str], at_least: int = 0) -> tuple[int, int]:
    """(distinct member pages asked for, how many of them were not found). With fewer than
    `at_least` not found, the pages asked for are not counted (0): nothing is judged then."""
    missed = {page[len(MISS):] for page in pages if page.startswith(MISS)}
    if len(missed) < at_least:
        return 0, len(missed)
    asked = {page.removeprefix(MISS) for page in pages}
    return len(asked), len(missed)
