"""IETF RateLimit headers for throttled responses (draft-ietf-httpapi-ratelimit-headers-11).

`RateLimit-Policy` lists the quota policies that apply to the client as structured-field
items `"name";q=<quota>;w=<window seconds>`; `RateLimit` names the one that is exhausted with
`"name";r=<remaining>;t=<seconds until it frees up>`. The quota that applies is read from the
reasons of the decision (which detector refused, which key, which window).
"""

from __future__ import annotations

from scrapeguard.decisions import Decision
from scrapeguard.detectors.windows import DAY, HOUR
from scrapeguard.policy.model import Policy, Quota

POLICY_HEADER = "RateLimit-Policy"
LIMIT_HEADER = "RateLimit"


def _quota_for(policy: Policy, detector: str, key: str, detail: str) -> tuple[str, Quota] | None:
    if detector == "profile_quota":
        pq = policy.profile_quota
        if key.startswith("net:"):
            return "profiles-network", pq.network
        if key.startswith("account:"):
            young = detail.startswith("new account")
            return ("profiles-new-account", pq.new_account) if young else ("profiles-account", pq.account)
        return "profiles", pq.anonymous
    if detector == "enumeration":
        en = policy.enumeration
        return ("lookups-account", en.lookups_account) if key.startswith("account:") \
            else ("lookups", en.lookups_anonymous)
    return None


def ratelimit_headers(decision: Decision, policy: Policy) -> list[tuple[str, str]]:
    """The two headers for a throttle caused by a quota; [] when no quota explains it."""
    for reason in decision.reasons:
        found = _quota_for(policy, reason.detector, reason.key, reason.detail)
        if found is None:
            continue
        name, quota = found
        exhausted = f"{name}-hour" if "last hour" in reason.detail else f"{name}-day"
        policies = (f'"{name}-hour";q={quota.per_hour};w={int(HOUR)}, '
                    f'"{name}-day";q={quota.per_day};w={int(DAY)}')
        return [(POLICY_HEADER, policies), (LIMIT_HEADER, f'"{exhausted}";r=0;t={decision.retry_after}')]
    return []
