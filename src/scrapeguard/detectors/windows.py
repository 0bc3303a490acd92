"""What the quota detectors share: hour/day windows, whom a request counts against, the words."""

from __future__ import annotations

from scrapeguard.events import Event
from scrapeguard.policy.model import Quota
from scrapeguard.stores.base import DistinctResult, Window

HOUR = 3600.0
DAY = 86400.0


def hour_and_day(q: Quota) -> tuple[Window, Window]:
    return (Window(HOUR, q.per_hour), Window(DAY, q.per_day))


def anonymous_key(event: Event) -> tuple[str, str] | None:
    """Whom an anonymous request counts against: its IP, else its session (a log without IPs)."""
    if event.ip:
        return f"ip:{event.ip}", "anonymous visitor"
    if event.session:
        return f"session:{event.session}", "anonymous session"
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


def over_quota_detail(who: str, did: str, result: DistinctResult, windows: tuple[Window, Window]) -> str:
    """E.g. 'anonymous visitor viewed 60 distinct member profiles in the last hour (quota 60/hour)'."""
    hour, day = windows
    per_hour, per_day = result.counts
    if per_hour >= hour.limit:
        return f"{who} {did.format(n=per_hour)} in the last hour (quota {hour.limit}/hour)"
    return f"{who} {did.format(n=per_day)} in the last day (quota {day.limit}/day)"
