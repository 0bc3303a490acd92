"""Detectors, one module each. `REGISTRY` names every detector; `build_detectors` returns the ones
the policy switches on.

Adding a detector is one module (the detector and its options dataclass), one table
`[detectors.NAME]` in `policy/defaults.toml`, and one line below (docs/detectors.md, "Adding a
detector"). The policy's loader reads each detector's table by this registry.
"""

from __future__ import annotations

from scrapeguard.detectors.agent_list import AgentList
from scrapeguard.detectors.anonymous_challenge import AnonymousChallenge
from scrapeguard.detectors.automation import Automation
from scrapeguard.detectors.base import Detector, Signal
from scrapeguard.detectors.bot_agents import BotAgents
from scrapeguard.detectors.campaign import Campaign
from scrapeguard.detectors.enumeration import Enumeration
from scrapeguard.detectors.failed_logins import FailedLogins
from scrapeguard.detectors.flood import Flood
from scrapeguard.detectors.honeypot import Honeypot
from scrapeguard.detectors.ip_reputation import IpReputation
from scrapeguard.detectors.ip_sharing import IpSharing
from scrapeguard.detectors.login_wall import LoginWall
from scrapeguard.detectors.new_account import NewAccount
from scrapeguard.detectors.profile_quota import ProfileQuota
from scrapeguard.policy.model import Policy

#: Every detector by its name (its table: [detectors.NAME]), in the order they run and give reasons.
REGISTRY: dict[str, type[Detector]] = {
    "profile_quota": ProfileQuota,
    "enumeration": Enumeration,
    "new_account": NewAccount,
    "automation": Automation,
    "bot_agents": BotAgents,
    "ip_reputation": IpReputation,
    "ip_sharing": IpSharing,
    "honeypot": Honeypot,
    "campaign": Campaign,
    "flood": Flood,
    "login_wall": LoginWall,
    "failed_logins": FailedLogins,
    "anonymous_challenge": AnonymousChallenge,
    "agent_list": AgentList,
}
#: Every detector, in the order they run.
ALL: tuple[type[Detector], ...] = tuple(REGISTRY.values())


def build_detectors(policy: Policy, live: bool = True) -> list[Detector]:
    built = (cls.from_policy(policy, live) for cls in REGISTRY.values())
    return [d for d in built if d is not None]


__all__ = [
    "ALL",
    "REGISTRY",
    "AgentList",
    "AnonymousChallenge",
    "Automation",
    "BotAgents",
    "Campaign",
    "Detector",
    "Enumeration",
    "FailedLogins",
    "Flood",
    "Honeypot",
    "IpReputation",
    "IpSharing",
    "LoginWall",
    "NewAccount",
    "ProfileQuota",
    "Signal",
    "build_detectors",
]
