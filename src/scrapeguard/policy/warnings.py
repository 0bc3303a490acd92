"""Valid but probably unintended: settings that quietly weaken or switch off protection."""

from __future__ import annotations

from scrapeguard.policy.model import Policy


def policy_warnings(policy: Policy) -> list[str]:
    out = []
    pq = policy.profile_quota
    if not pq.enabled:
        out.append("detectors.profile_quota is off: nothing limits how many profiles one visitor views")
    elif pq.score < policy.risk.throttle:
        out.append(f"detectors.profile_quota.score ({pq.score:g}) is below risk.throttle "
                   f"({policy.risk.throttle:g}): going over a quota alone will never be refused")
    for net in policy.allowlist.cidrs:
        if net.prefixlen < (8 if net.version == 4 else 16):
            out.append(f"allowlist.cidrs has {net}: that is a large part of the internet, "
                       "never counted nor refused")
    a = policy.actions
    if a.block_seconds < a.throttle_seconds:
        out.append(f"actions.block_seconds ({a.block_seconds:g}) is shorter than actions.throttle_seconds "
                   f"({a.throttle_seconds:g}): escalating to a block would shorten the penalty")
    c = policy.challenge
    if c.enabled and c.provider != "pow":
        out.append(f"challenge.provider = {c.provider!r}: challenged visitors load the provider's script, "
                   "so a third party sees their address and browser (the built-in \"pow\" does not)")
        if not c.hostnames:
            out.append("challenge.hostnames is empty: a CAPTCHA token solved on any site that uses this "
                       "site key is accepted (name your site's host names)")
    if c.enabled and c.clearance_requests * c.max_solves > 10 * pq.anonymous.per_hour:
        out.append(f"challenge.clearance_requests x max_solves ({c.clearance_requests * c.max_solves}) is "
                   f"over ten times the anonymous hourly quota: solving challenges buys a large scrape")
    if policy.mode == "observe":
        out.append('mode = "observe": decisions are written, nothing is refused')
    if not any(r.kind == "profile" for r in policy.routes):
        out.append('no [[routes]] of kind "profile": profile quotas have nothing to count')
    return out
