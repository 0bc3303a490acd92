"""Detectors, one module each. `build_detectors` returns the ones the policy switches on."""

from __future__ import annotations

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

#: Every detector, in the order they run.
ALL: tuple[type[Detector], ...] = (ProfileQuota, Enumeration, NewAccount, Automation, BotAgents,
                                   IpReputation, IpSharing, Honeypot, Campaign, Flood, LoginWall,
                                   FailedLogins, AnonymousChallenge)


def build_detectors(policy: Policy, live: bool = True) -> list[Detector]:
    built = (cls.from_policy(policy, live) for cls in ALL)
    return [d for d in built if d is not None]


__all__ = [
    "ALL",
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
