"""IETF RateLimit headers (draft-ietf-httpapi-ratelimit-headers-11 syntax) for quota throttles."""

from __future__ import annotations

from scrapeguard.decisions import THROTTLE, Decision, Reason
from scrapeguard.policy import default_policy
from scrapeguard.ratelimit import ratelimit_headers


def throttle(*reasons: Reason) -> Decision:
    return Decision(THROTTLE, 1000.0, reasons, 1300.0, "sg-0123456789ab")


def test_anonymous_hourly_quota() -> None:
    reason = Reason("profile_quota", "ip:198.51.100.7", 0.6,
                    "anonymous visitor viewed 60 distinct member profiles in the last hour (quota 60/hour)")
    assert dict(ratelimit_headers(throttle(reason), default_policy())) == {
        "RateLimit-Policy": '"profiles-hour";q=60;w=3600, "profiles-day";q=300;w=86400',
        "RateLimit": '"profiles-hour";r=0;t=300',
    }


def test_account_daily_quota_and_lookups() -> None:
    daily = Reason("profile_quota", "account:42", 0.6,
                   "account viewed 1000 distinct member profiles in the last day (quota 1000/day)")
    headers = dict(ratelimit_headers(throttle(daily), default_policy()))
    assert headers["RateLimit-Policy"] == '"profiles-account-hour";q=150;w=3600, ' \
                                          '"profiles-account-day";q=1000;w=86400'
    assert headers["RateLimit"] == '"profiles-account-day";r=0;t=300'
    young = Reason("profile_quota", "account:43", 0.6, "new account viewed 30 distinct member profiles "
                   "in the last hour (quota 30/hour)")
    assert '"profiles-new-account-hour";q=30' in dict(ratelimit_headers(throttle(young), default_policy()))[
        "RateLimit-Policy"]
    lookup = Reason("enumeration", "ip:198.51.100.7", 0.6, "anonymous visitor looked up 10 contact details "
                    "in the last hour (quota 10/hour)")
    headers = dict(ratelimit_headers(throttle(lookup), default_policy()))
    assert headers["RateLimit"] == '"lookups-hour";r=0;t=300'


def test_no_quota_no_headers() -> None:
    reason = Reason("bot_agents", "ip:198.51.100.7", 0.95, "claims to be Googlebot but is not")
    assert ratelimit_headers(throttle(reason), default_policy()) == []
