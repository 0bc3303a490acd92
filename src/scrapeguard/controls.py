"""Every control of the guard as the live policy sets it: each detector's own description
(`Detector.describe`, in registry order) and the engine's actions (throttle and block, challenge).

This is what the regulator report states about the controls; nothing else describes them.
"""

from __future__ import annotations

from scrapeguard.detectors import ALL
from scrapeguard.detectors.description import ControlDescription
from scrapeguard.policy.model import Policy

PROVIDERS = {
    "pow": "a proof-of-work challenge (the browser computes a puzzle; no third party sees the visitor)",
    "hcaptcha": "an hCaptcha CAPTCHA",
    "turnstile": "a Cloudflare Turnstile CAPTCHA",
    "recaptcha": "a Google reCAPTCHA",
}


def _hours(seconds: float) -> str:
    return f"{seconds / 60:g} minutes" if seconds < 3600 else f"{seconds / 3600:g} h"


def challenge_action(policy: Policy) -> ControlDescription:
    """The challenge action: who is challenged, with what, and what passing gives."""
    from scrapeguard.risk import BOT_EVIDENCE

    c, risk = policy.challenge, policy.risk
    what = PROVIDERS.get(c.provider, c.provider)
    limits = "answers bot evidence with a challenge a person's browser passes and an HTTP library does not."
    if not c.enabled:
        return ControlDescription("challenge", "Challenges (CAPTCHA)", False, limits, serves=("challenges",),
                                  refuses=False)
    sources = [d.title.lower() for d in (cls.describe(policy) for cls in ALL)
               if d.name in BOT_EVIDENCE and d.enabled]
    rules = [
        f"The challenge is {what}" + (f"; difficulty {c.difficulty:,}." if c.provider == "pow" else "."),
        f"Anonymous visitors, and accounts younger than "
        f"{policy.profile_quota.new_account_max_age_days:g} days, whose bot evidence reaches "
        f"{risk.challenge:g} on member-data routes must pass it; established accounts answer for themselves "
        "through their quotas.",
        "Bot evidence comes from: " + (", ".join(sources) if sources else "no detector (all are off)") + ".",
        f"Passing gives a clearance for {_hours(c.clearance_seconds)} or {c.clearance_requests} requests; "
        f"at most {c.max_solves} solves within {_hours(c.solve_window_seconds)}.",
    ]
    off = () if sources else ("No bot-evidence detector is on: nothing leads to a challenge but the "
                              "challenge for every anonymous visitor, if that is on.",)
    return ControlDescription("challenge", "Challenges (CAPTCHA)", True, limits, tuple(rules),
                              ("challenges",), off, ("challenges",) if off else (), refuses=bool(sources))


def throttle_and_block_actions(policy: Policy) -> ControlDescription:
    """Throttling and blocking: thresholds, durations, escalation, appeal."""
    a, risk = policy.actions, policy.risk
    limits = ("refuses clients whose evidence adds up: throttled first, blocked when it keeps going or is "
              "strong.")
    rules = (
        f"Evidence of what a client does (quotas, sweeps, campaigns) reaching {risk.throttle:g} is throttled "
        f"(HTTP {a.throttle_status}) for {_hours(a.throttle_seconds)}.",
        f"A throttled client that keeps going ({a.escalate_after} refusals within "
        f"{_hours(a.strike_window_seconds)}) is blocked.",
        f"A client whose risk reaches {risk.block:g} is blocked (HTTP {a.block_status}) for "
        f"{_hours(a.block_seconds)}, {a.block_growth:g}× longer for each repeat within "
        f"{a.offender_memory_seconds / 86400:g} days, up to {a.block_max_seconds / 86400:g} days.",
        f"Refusal pages give a decision id and where to appeal: {a.appeal_contact}.",
    )
    return ControlDescription("block", "Throttling and blocking", risk.block <= 1.0, limits, rules,
                              ("blocking",))


def describe_controls(policy: Policy) -> tuple[ControlDescription, ...]:
    """Every detector (registry order), then the engine's actions."""
    return (*(cls.describe(policy) for cls in ALL), challenge_action(policy),
            throttle_and_block_actions(policy))
