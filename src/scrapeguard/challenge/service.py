"""The challenge service: what integrations call to serve, check and clear challenges.

Framework-neutral like refusals.py: the proxy (and later the in-process middlewares) hand it
the client's IP, user agent and form fields; it answers with what to send.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from scrapeguard.challenge.captcha import PROVIDERS, CaptchaVerifier
from scrapeguard.challenge.clearance import ClearanceSigner, client_binding
from scrapeguard.challenge.keys import SigningKeys, load_keys
from scrapeguard.challenge.pow import ProofOfWork, difficulty_for
from scrapeguard.challenge.solves import BLOCKED, CLEARED, REPLAYED, SolveLedger, SolveOutcome
from scrapeguard.decisions import Decision
from scrapeguard.policy.model import Policy
from scrapeguard.stores.base import Escalation, Penalty, StateStore

log = logging.getLogger(__name__)

#: Everything the guard serves itself lives under this reserved prefix.
RESERVED_PREFIX = "/.well-known/scrapeguard/"
SUBMIT_PATH = RESERVED_PREFIX + "challenge"
#: Files of static/ served under RESERVED_PREFIX, with their content type.
ASSETS = {"altcha.js": "text/javascript", "challenge.js": "text/javascript",
          "LICENSE-altcha.txt": "text/plain"}
#: The form fields a challenge page submits besides the proof.
NEXT_FIELD = "next"
POW_FIELD = "altcha"
FAILED = "failed"


class ChallengeSetupError(ValueError):
    """The policy asks for something the environment does not provide (e.g. a CAPTCHA secret)."""


@dataclass(frozen=True, slots=True)
class ChallengeSpec:
    """What a challenge page or a JSON client needs to pass the challenge."""

    provider: str
    submit: str
    next: str
    field: str
    #: The ALTCHA challenge (pow) or None.
    pow: dict[str, Any] | None = None
    site_key: str = ""
    script_url: str = ""
    widget_class: str = ""
    expires_in: int = 0

    @property
    def pow_json(self) -> str:
        return json.dumps(self.pow) if self.pow is not None else ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"provider": self.provider, "submit": self.submit, "field": self.field,
                               "next": self.next, "expires_in": self.expires_in}
        if self.pow is not None:
            out["pow"] = self.pow
        else:
            out["site_key"] = self.site_key
        return out


@dataclass(frozen=True, slots=True)
class SubmitResult:
    status: str  # cleared, failed, replayed, blocked
    detail: str
    next: str
    #: Set when cleared: the cookie value and its lifetime.
    token: str = ""
    max_age: int = 0
    solves: int = 0
    penalty: Penalty | None = None


def safe_next(value: str | None) -> str:
    """Where to send the client after a challenge: a local path only (no //host, no scheme)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")) or len(value) > 2048 \
            or any(ch in value for ch in "\r\n\t\\") or value.startswith(RESERVED_PREFIX):
        return "/"
    return value


class ChallengeService:
    def __init__(self, policy: Policy, store: StateStore, escalation: Escalation,
                 keys: SigningKeys | None = None, environ: Mapping[str, str] | None = None) -> None:
        c = policy.challenge
        env = dict(os.environ if environ is None else environ)
        self.options = c
        self.risk = policy.risk
        self.keys = keys or load_keys(c, env)
        self.clearances = ClearanceSigner(self.keys)
        self.pow = ProofOfWork(self.keys)
        self.captcha: CaptchaVerifier | None = None
        if c.provider != "pow":
            secret = env.get(c.captcha_secret_env, "").strip()
            if c.enabled and not secret:
                raise ChallengeSetupError(
                    f"challenge.provider is {c.provider!r} but the environment variable "
                    f"{c.captcha_secret_env} (challenge.captcha_secret_env) holding its secret is not set")
            self.captcha = CaptchaVerifier(c.provider, secret, c.site_key, c.verify_url,
                                           c.verify_timeout_seconds, c.hostnames, c.action, c.min_score)
        self.ledger = SolveLedger(store, escalation, c.max_solves, c.solve_window_seconds,
                                  c.challenge_seconds + c.clearance_seconds)

    # -- clearance on every request -------------------------------------------------

    def clearance_id(self, token: str | None, ip: str | None, user_agent: str, now: float) -> str | None:
        if not token:
            return None
        clearance = self.clearances.verify(token, client_binding(ip, user_agent), now)
        return clearance.id if clearance else None

    # -- serving a challenge ----------------------------------------------------------

    def issue(self, decision: Decision, ip: str | None, user_agent: str, next_path: str) -> ChallengeSpec:
        c = self.options
        ttl = int(c.challenge_seconds)
        if self.captcha is None:
            difficulty = difficulty_for(decision.risk, self.risk.challenge, self.risk.block,
                                        c.difficulty, c.difficulty_max)
            challenge = self.pow.create(client_binding(ip, user_agent), decision.ts, ttl, difficulty)
            return ChallengeSpec("pow", SUBMIT_PATH, safe_next(next_path), POW_FIELD, pow=challenge,
                                 expires_in=ttl)
        provider = PROVIDERS[c.provider]
        return ChallengeSpec(provider.name, SUBMIT_PATH, safe_next(next_path), provider.field,
                             site_key=c.site_key, script_url=provider.script_url,
                             widget_class=provider.widget_class, expires_in=ttl)

    # -- checking a submitted proof ---------------------------------------------------

    async def submit(self, form: Mapping[str, str], ip: str | None, user_agent: str, keys: dict[str, str],
                     now: float, decision_id: str, session: aiohttp.ClientSession | None = None,
                     offload: bool = False) -> SubmitResult:
        """Check the proof in `form`; spend it and count the solve; issue a clearance if due."""
        next_path = safe_next(form.get(NEXT_FIELD))
        binding = client_binding(ip, user_agent)
        if self.captcha is None:
            verdict = self.pow.verify(form.get(POW_FIELD, ""), binding, now)
            passed, proof_id, detail = verdict.passed, verdict.proof_id, verdict.detail
        else:
            if session is None:
                raise ValueError("a CAPTCHA provider needs an HTTP client session")
            cv = await self.captcha.verify(session, form.get(self.captcha.provider.field, ""), ip)
            passed, proof_id, detail = cv.passed, cv.proof_id, cv.detail
        if not passed or proof_id is None:
            return SubmitResult(FAILED, detail, next_path)
        if offload:
            outcome: SolveOutcome = await asyncio.get_running_loop().run_in_executor(
                None, self.ledger.record, now, keys, proof_id, decision_id)
        else:
            outcome = self.ledger.record(now, keys, proof_id, decision_id)
        if outcome.status == REPLAYED:
            log.info("challenge proof %s submitted again (replay) from %s", proof_id, ip)
            return SubmitResult(REPLAYED, "this challenge was already used", next_path, solves=outcome.solves)
        if outcome.status == BLOCKED:
            return SubmitResult(BLOCKED, "too many challenges solved", next_path, solves=outcome.solves,
                                penalty=outcome.penalty)
        assert outcome.status == CLEARED
        token, _ = self.clearances.issue(binding, now, self.options.clearance_seconds)
        return SubmitResult(CLEARED, detail, next_path, token=token,
                            max_age=int(self.options.clearance_seconds), solves=outcome.solves)
