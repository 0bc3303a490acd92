"""CAPTCHA providers (hCaptcha, Cloudflare Turnstile, Google reCAPTCHA), verified server-side.

Each provider's widget puts a response token in a form field; the guard posts it with the
secret to the provider's siteverify API and reads `success`, and then what else the reply
says about where and how the token was made: the `hostname` of the page it was solved on
(one of [challenge] hostnames: a token solved on another site that uses the same site key is
not a pass here), the `action` the widget was given (Turnstile, reCAPTCHA; [challenge]
action) and, for reCAPTCHA v3, a `score` of at least [challenge] min_score. A reply that
lacks a field the policy asks to check is not a pass. The verify URL is configurable
(a local fake verifier in tests, a corporate egress proxy in production). A timeout, a
network error, a non-200 answer or a reply that is not the expected JSON all mean "not
passed", each with one clear log line: the guard fails safe, never open.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
from dataclasses import dataclass

import aiohttp

log = logging.getLogger(__name__)

#: Response tokens longer than this are refused without asking the provider.
MAX_TOKEN_LENGTH = 8192


@dataclass(frozen=True, slots=True)
class Provider:
    name: str
    #: The provider's official siteverify endpoint.
    verify_url: str
    #: The form field in which its widget submits the response token.
    field: str
    #: The widget script and the element the widget renders into (class name).
    script_url: str
    widget_class: str


PROVIDERS = {
    "hcaptcha": Provider("hcaptcha", "https://api.hcaptcha.com/siteverify", "h-captcha-response",
                         "https://js.hcaptcha.com/1/api.js", "h-captcha"),
    "turnstile": Provider("turnstile", "https://challenges.cloudflare.com/turnstile/v0/siteverify",
                          "cf-turnstile-response", "https://challenges.cloudflare.com/turnstile/v0/api.js",
                          "cf-turnstile"),
    "recaptcha": Provider("recaptcha", "https://www.google.com/recaptcha/api/siteverify",
                          "g-recaptcha-response", "https://www.google.com/recaptcha/api.js", "g-recaptcha"),
}


@dataclass(frozen=True, slots=True)
class CaptchaVerdict:
    passed: bool
    #: A single-use id for the token (a hash of it), when one was submitted.
    proof_id: str | None
    detail: str


class CaptchaVerifier:
    def __init__(self, provider: str, secret: str, site_key: str = "", verify_url: str = "",
                 timeout: float = 5.0, hostnames: tuple[str, ...] = (), action: str = "",
                 min_score: float = 0.0) -> None:
        if provider not in PROVIDERS:
            raise ValueError(f"unknown CAPTCHA provider {provider!r}; known: {', '.join(PROVIDERS)}")
        self.provider = PROVIDERS[provider]
        self.secret = secret
        self.site_key = site_key
        self.verify_url = verify_url or self.provider.verify_url
        self.timeout = timeout
        #: Hostnames a token must have been solved on (empty: not checked), lower case.
        self.hostnames = frozenset(h.strip().lower().rstrip(".") for h in hostnames)
        self.action = action
        self.min_score = min_score

    def _mismatch(self, reply: dict[str, object]) -> str | None:
        """What in a successful reply is not what the policy expects, or None."""
        name = self.provider.name
        if self.hostnames:
            hostname = reply.get("hostname")
            if not isinstance(hostname, str) or hostname.strip().lower().rstrip(".") not in self.hostnames:
                return f"{name} token was solved on {str(hostname)[:100]!r}, not on this site"
        if self.action:
            action = reply.get("action")
            if not isinstance(action, str) or not hmac.compare_digest(
                    action.encode("utf-8", "replace"), self.action.encode("utf-8", "replace")):
                return f"{name} token was made for action {str(action)[:100]!r}, not {self.action!r}"
        if self.min_score > 0:
            score = reply.get("score")
            if isinstance(score, bool) or not isinstance(score, int | float):
                return f"{name} reply has no score (a reCAPTCHA v3 key is needed for challenge.min_score)"
            if not math.isfinite(score) or score < self.min_score:
                return f"{name} score {score:g} is below {self.min_score:g}"
        return None

    async def verify(self, session: aiohttp.ClientSession, token: str,
                     remote_ip: str | None) -> CaptchaVerdict:
        name = self.provider.name
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return CaptchaVerdict(False, None, f"no {name} response submitted")
        proof_id = "captcha-" + hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()[:32]
        form = {"secret": self.secret, "response": token}
        if remote_ip:
            form["remoteip"] = remote_ip
        if self.site_key and name == "hcaptcha":
            form["sitekey"] = self.site_key
        try:
            async with session.post(self.verify_url, data=form,
                                    timeout=aiohttp.ClientTimeout(total=self.timeout)) as response:
                if response.status != 200:
                    log.warning("%s verify answered HTTP %s: counted as not passed", name, response.status)
                    return CaptchaVerdict(False, proof_id, f"{name} verifier answered HTTP {response.status}")
                body = await response.read()
        except TimeoutError:
            log.warning("%s verify timed out after %ss: counted as not passed", name, self.timeout)
            return CaptchaVerdict(False, proof_id, f"{name} verifier timed out")
        except (aiohttp.ClientError, OSError) as exc:
            log.warning("%s verify failed (%s): counted as not passed", name, exc)
            return CaptchaVerdict(False, proof_id, f"{name} verifier unreachable")
        try:
            reply = json.loads(body)
        except ValueError:
            log.warning("%s verify answered something that is not JSON: counted as not passed", name)
            return CaptchaVerdict(False, proof_id, f"{name} verifier reply is not JSON")
        if not isinstance(reply, dict) or not isinstance(reply.get("success"), bool):
            log.warning("%s verify reply has no boolean 'success': counted as not passed", name)
            return CaptchaVerdict(False, proof_id, f"{name} verifier reply has no success flag")
        if not reply["success"]:
            codes = reply.get("error-codes")
            detail = ", ".join(str(c) for c in codes) if isinstance(codes, list) and codes else "rejected"
            return CaptchaVerdict(False, proof_id, f"{name} says not passed ({detail[:200]})")
        mismatch = self._mismatch(reply)
        if mismatch is not None:
            log.info("%s: counted as not passed", mismatch)
            return CaptchaVerdict(False, proof_id, mismatch)
        return CaptchaVerdict(True, proof_id, f"{name} passed")
