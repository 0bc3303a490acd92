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
    if policy.mode == "observe":
        out.append('mode = "observe": decisions are written, nothing is refused')
    if not any(r.kind == "profile" for r in policy.routes):
        out.append('no [[routes]] of kind "profile": profile quotas have nothing to count')
    return out
