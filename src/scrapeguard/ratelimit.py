"""IETF RateLimit headers for throttled responses (draft-ietf-httpapi-ratelimit-headers-11).

`RateLimit-Policy` lists the quota policies that apply to the client as structured-field
items `"name";q=<quota>;w=<window seconds>`; `RateLimit` names the one that is exhausted with
`"name";r=<remaining>;t=<seconds until it frees up>`. The quota that applies is read from the
structured evidence of the decision's reasons (which detector, which quota, which period).
"""

from __future__ import annotations

from scrapeguard.decisions import Decision
from scrapeguard.detectors.windows import DAY, HOUR
from scrapeguard.policy.model import Policy, Quota

POLICY_HEADER = "RateLimit-Policy"
LIMIT_HEADER = "RateLimit"


#: The quotas a throttle can name, by detector and quota (the `quota` of its reason's evidence,
#: which is the name of the quota in the detector's options): the name the headers give it.
QUOTA_NAMES = {
    ("profile_quota", "anonymous"): "profiles",
    ("profile_quota", "shared_address"): "profiles-shared-address",
    ("profile_quota", "account"): "profiles-account",
    ("profile_quota", "new_account"): "profiles-new-account",
    ("profile_quota", "network"): "profiles-network",
    ("enumeration", "lookups_anonymous"): "lookups",
    ("enumeration", "lookups_account"): "lookups-account",
}


def _quota(policy: Policy, detector: str, quota: str) -> Quota:
    found = getattr(getattr(policy, detector), quota)
    assert isinstance(found, Quota)
    return found


def ratelimit_headers(decision: Decision, policy: Policy) -> list[tuple[str, str]]:
    """The two headers for a throttle caused by a quota; [] when no quota explains it."""
    for reason in decision.reasons:
        evidence = reason.evidence
        quota_name = str(evidence.get("quota", ""))
        name = QUOTA_NAMES.get((reason.detector, quota_name))
        if name is None:
            continue
        quota = _quota(policy, reason.detector, quota_name)
        # (the headers list the hour and the day; a full week is told as its day)
        exhausted = f"{name}-hour" if evidence.get("window") == "hour" else f"{name}-day"
        policies = (f'"{name}-hour";q={quota.per_hour};w={int(HOUR)}, '
                    f'"{name}-day";q={quota.per_day};w={int(DAY)}')
        return [(POLICY_HEADER, policies), (LIMIT_HEADER, f'"{exhausted}";r=0;t={decision.retry_after}')]
    return []
