"""IETF RateLimit headers (draft-ietf-httpapi-ratelimit-headers-11 syntax) for quota throttles."""

from __future__ import annotations

from scrapeguard.decisions import THROTTLE, Decision, Reason, evidence_text
from scrapeguard.detectors.enumeration import over_lookup_quota
from scrapeguard.detectors.profile_quota import over_quota
from scrapeguard.policy import default_policy
from scrapeguard.ratelimit import ratelimit_headers


def throttle(*reasons: Reason) -> Decision:
    return Decision(THROTTLE, 1000.0, reasons, 1300.0, "sg-0123456789ab")


def profiles(key: str, who: str, quota: str, period: str, count: int, limit: int) -> Reason:
    """A profile quota reason as the detector words it (its detail and its evidence)."""
    detail, evidence = over_quota(who, quota, period, count, limit)
    return Reason("profile_quota", key, 0.6, detail, evidence_text(evidence))


def test_anonymous_hourly_quota() -> None:
    reason = profiles("ip:198.51.100.7", "anonymous visitor", "anonymous", "hour", 60, 60)
    assert dict(ratelimit_headers(throttle(reason), default_policy())) == {
        "RateLimit-Policy": '"profiles-hour";q=60;w=3600, "profiles-day";q=300;w=86400',
        "RateLimit": '"profiles-hour";r=0;t=300',
    }


def test_account_daily_quota_and_lookups() -> None:
    daily = profiles("account:42", "account", "account", "day", 1000, 1000)
    headers = dict(ratelimit_headers(throttle(daily), default_policy()))
    assert headers["RateLimit-Policy"] == '"profiles-account-hour";q=150;w=3600, ' \
                                          '"profiles-account-day";q=1000;w=86400'
    assert headers["RateLimit"] == '"profiles-account-day";r=0;t=300'
    young = profiles("account:43", "new account", "new_account", "hour", 30, 30)
    assert '"profiles-new-account-hour";q=30' in dict(ratelimit_headers(throttle(young), default_policy()))[
        "RateLimit-Policy"]
    detail, evidence = over_lookup_quota("anonymous visitor", "lookups_anonymous", "hour", 10, 10)
    lookup = Reason("enumeration", "ip:198.51.100.7", 0.6, detail, evidence_text(evidence))
    headers = dict(ratelimit_headers(throttle(lookup), default_policy()))
    assert headers["RateLimit"] == '"lookups-hour";r=0;t=300'


def test_the_quota_is_read_from_the_evidence_not_from_the_words() -> None:
    # the sentence is for people: reworded (or translated), the headers stay the same
    young = Reason("profile_quota", "account:43", 0.6, "Neues Konto: 30 Profile in der letzten Stunde",
                   evidence_text({"quota": "new_account", "window": "hour", "count": 30, "limit": 30}))
    headers = dict(ratelimit_headers(throttle(young), default_policy()))
    assert headers["RateLimit"] == '"profiles-new-account-hour";r=0;t=300'
    assert headers["RateLimit-Policy"] == '"profiles-new-account-hour";q=30;w=3600, ' \
                                          '"profiles-new-account-day";q=100;w=86400'


def test_the_shared_address_quota_is_named_as_itself() -> None:
    policy = default_policy()
    shared = policy.profile_quota.shared_address
    reason = profiles("ip:198.51.100.7", "address shared by anonymous browser sessions", "shared_address",
                      "hour", shared.per_hour, shared.per_hour)
    headers = dict(ratelimit_headers(throttle(reason), policy))
    assert headers["RateLimit-Policy"] == (f'"profiles-shared-address-hour";q={shared.per_hour};w=3600, '
                                           f'"profiles-shared-address-day";q={shared.per_day};w=86400')


def test_no_quota_no_headers() -> None:
    reason = Reason("bot_agents", "ip:198.51.100.7", 0.95, "claims to be Googlebot but is not",
                    evidence_text({"claimed": "Googlebot"}))
    assert ratelimit_headers(throttle(reason), default_policy()) == []
    rotation = Reason("profile_quota", "ip:198.51.100.7", 0.95, "cookies thrown away",
                      evidence_text({"rotation": True}))
    assert ratelimit_headers(throttle(rotation), default_policy()) == []
