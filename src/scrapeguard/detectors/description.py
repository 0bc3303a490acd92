"""What a control is and does, in words, as the live policy sets it: the one source of every statement
about the guard's controls (the regulator report asks each detector, `Detector.describe`).

A description names the expectations of regulators it serves (`Expectation`), says whether it is on,
what it limits, and its numbers, each sentence saying what a request over the limit gets
(`outcome`): the report then only arranges what the detectors say.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from scrapeguard.policy.model import Policy, Quota

#: What the regulators' joint statement on data scraping (2023) expects, as the report's sections:
#: per-account limits on profile views, watching new accounts, bot patterns, suspicious IP
#: activity, CAPTCHAs (challenges), blocking addresses where scraping is found.
Expectation = Literal["profile_limits", "new_accounts", "bot_patterns", "suspicious_ips", "challenges",
                      "blocking"]


@dataclass(frozen=True, slots=True)
class ControlDescription:
    """One control (a detector, or an action of the engine) as the live policy sets it."""

    #: The detector's name in the registry (or the action's: "challenge", "block").
    name: str
    #: What it is called in a report: "Profile quotas".
    title: str
    enabled: bool
    #: What it limits or detects, one sentence (also said when it is off).
    limits: str
    #: Its numbers in words, each with what a request over them gets; empty when off.
    rules: tuple[str, ...] = ()
    serves: tuple[Expectation, ...] = ()
    #: Parts of it the policy switches off, in words ("whole networks are not counted together").
    off_parts: tuple[str, ...] = ()
    #: The expectations those parts leave partly met.
    weakens: tuple[Expectation, ...] = ()
    #: Whether what it finds is refused at all on its own with this policy (False: only logged, or
    #: only adds to other evidence).
    refuses: bool = True

    def sentences(self) -> tuple[str, ...]:
        """Everything it says, in order: off, or what it limits, its rules and what is off of it."""
        if not self.enabled:
            return (f"{self.title}: switched off. ({self.limits})",)
        return (f"{self.title}: {self.limits}", *self.rules, *self.off_parts)


def quota(q: Quota, what: str) -> str:
    """"150 distinct profiles an hour and 1000 a day" (and a week, when the quota has one)."""
    week = f" and {q.per_week} a week" if q.per_week else ""
    return f"{q.per_hour} {what} an hour, {q.per_day} a day{week}"


def outcome(policy: Policy, score: float, bot_evidence: bool = False) -> str:
    """What a signal of `score` alone gets under this policy: "blocked", "throttled", "challenged (...)",
    or "only logged (...)". Bot evidence (what a browser's person passes a challenge against) is
    challenged for anonymous visitors and young accounts when challenges are on."""
    risk = policy.risk
    if score >= risk.block:
        return f"blocked (risk {score:g} reaches the block threshold {risk.block:g})"
    if bot_evidence and policy.challenge.enabled and score >= min(risk.challenge, risk.throttle):
        rest = "throttled" if score >= risk.throttle else "only logged"
        return (f"challenged (risk {score:g}; anonymous visitors and new accounts must pass a challenge, "
                f"other accounts are {rest})")
    if score >= risk.throttle:
        return f"throttled (risk {score:g} reaches the throttle threshold {risk.throttle:g})"
    return (f"only logged on its own (risk {score:g} is below the throttle threshold {risk.throttle:g}); "
            "it adds to other evidence")


def refused_alone(policy: Policy, score: float, bot_evidence: bool = False) -> bool:
    """Whether `outcome` refuses (anything but "only logged")."""
    risk = policy.risk
    if bot_evidence and policy.challenge.enabled:
        return score >= min(risk.challenge, risk.throttle)
    return score >= risk.throttle
