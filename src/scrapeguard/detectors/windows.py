"""What the quota detectors share: hour/day windows, whom a request counts against, the words."""

from __future__ import annotations

from typing import Any

from scrapeguard.events import Event
from scrapeguard.policy.model import Quota
from scrapeguard.stores.base import DistinctResult, Window

HOUR = 3600.0
DAY = 86400.0
WEEK = 7 * DAY

#: Who a key counted against a quota is, in words, by key kind (without more to go on: a young
#: account and an issued browser session have their own words).
WHO = {"account": "account", "ip": "anonymous visitor", "session": "anonymous session"}
#: The time a quota's period counts, in words, as the engine counts it (sliding windows).
SLIDING = {"hour": "in the last hour", "day": "in the last day", "week": "in the last 7 days"}


def hour_and_day(q: Quota) -> tuple[Window, Window]:
    return (Window(HOUR, q.per_hour), Window(DAY, q.per_day))


def anonymous_key(event: Event) -> tuple[str, str] | None:
    """Whom an anonymous request counts against: its IP, else its session (a log without IPs)."""
    if event.ip:
        return f"ip:{event.ip}", WHO["ip"]
    if event.session:
        return f"session:{event.session}", WHO["session"]
    return None


def actor(event: Event) -> tuple[str, str] | None:
    """The key a request's evidence goes to, and who that is in words: the account when logged
    in, else the browser session the site issued, else the address (else a session, in logs
    without addresses). Detectors that use it combine their signals on one key."""
    if event.account is not None:
        return f"account:{event.account}", "account"
    if event.session is not None and event.session_issued:
        return f"session:{event.session}", "browser session"
    return anonymous_key(event)


def quota_detail(who: str, did: str, count: int, limit: int, period: str, span: str = "") -> str:
    """E.g. 'anonymous visitor viewed 61 distinct member profiles in the last hour (quota 60/hour)'.

    The one sentence of a quota gone over, for the engine and for log analysis: `did` holds "{n}"
    for the count, `period` is "hour", "day" or "week", `span` the words for the time counted
    (default: the engine's sliding window of the period; log analysis counts clock periods).
    """
    return f"{who} {did.format(n=count)} {span or SLIDING[period]} (quota {limit}/{period})"


def quota_evidence(quota: str, period: str, count: int, limit: int) -> dict[str, Any]:
    """The structured evidence of a quota gone over: which quota (its table in the policy), which
    period ("hour", "day", "week"), how many were counted in it, and its limit."""
    return {"quota": quota, "window": period, "count": count, "limit": limit}


def exhausted_period(result: DistinctResult, windows: tuple[Window, Window]) -> str:
    """Which of an hour-and-day quota's periods a refused count filled: "hour" before "day"."""
    return "hour" if result.counts[0] >= windows[0].limit else "day"


def over_quota_detail(who: str, did: str, result: DistinctResult, windows: tuple[Window, Window]) -> str:
    """E.g. 'anonymous visitor viewed 60 distinct member profiles in the last hour (quota 60/hour)'."""
    period = exhausted_period(result, windows)
    i = 0 if period == "hour" else 1
    return quota_detail(who, did, result.counts[i], windows[i].limit, period)
