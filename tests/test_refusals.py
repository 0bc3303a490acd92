"""Refusal responses: pages people can act on (also without JavaScript), JSON for API clients."""

from __future__ import annotations

import json
import re

from scrapeguard.challenge.service import ChallengeSpec
from scrapeguard.decisions import BLOCK, CHALLENGE, THROTTLE, Decision, Reason
from scrapeguard.policy import default_policy, load_policy_text
from scrapeguard.refusals import DECISION_HEADER, build_refusal

REASON = Reason("profile_quota", "ip:198.51.100.7", 0.6,
                "anonymous visitor viewed 60 distinct member profiles in the last hour (quota 60/hour)")
SPEC = ChallengeSpec("pow", "/.well-known/scrapeguard/challenge", "/u/someone", "altcha",
                     pow={"algorithm": "SHA-256", "challenge": "ab", "maxnumber": 10, "salt": "s?x=1&",
                          "signature": "cd"}, expires_in=600)


def decision(action: str) -> Decision:
    return Decision(action, 1000.0, (REASON,), 1600.0, "sg-0123456789ab")


def test_challenge_page_works_for_people_without_javascript() -> None:
    actions = load_policy_text('[actions]\nappeal_contact = "privacy@example.org"\n').actions
    refusal = build_refusal(decision(CHALLENGE), actions, "text/html", challenge=SPEC)
    assert refusal.status == 403
    headers = dict(refusal.headers)
    assert headers[DECISION_HEADER] == "sg-0123456789ab" and "Retry-After" not in headers
    html = refusal.body.decode()
    assert '<html lang="en">' in html and "<title>" in html
    noscript = re.search(r"<noscript>(\s*<p>.*?)</noscript>", html, re.S)
    assert noscript is not None
    text = noscript.group(1)
    assert "wait" in text and 'href="/login"' in text and "privacy@example.org" in text
    assert "sg-0123456789ab" in text
    assert "valid for 10 minutes" in html  # no time pressure without notice
    assert 'src="/.well-known/scrapeguard/altcha.js"' in html and "cdn" not in html.lower()
    assert 'role="status"' in html and 'aria-labelledby="sg-heading"' in html
    # the challenge is embedded, escaped, as the widget's JSON attribute
    assert 'challengejson="{&#34;algorithm&#34;: &#34;SHA-256&#34;' in html
    assert 'name="next" value="/u/someone"' in html


def test_challenge_json_for_api_clients() -> None:
    refusal = build_refusal(decision(CHALLENGE), default_policy().actions, "application/json", challenge=SPEC)
    body = json.loads(refusal.body)
    assert body["action"] == "challenge" and body["decision_id"] == "sg-0123456789ab"
    assert body["retry_after"] == 600 and "quota 60/hour" in body["reason"]
    assert body["challenge"]["provider"] == "pow" and body["challenge"]["pow"]["maxnumber"] == 10
    assert body["challenge"]["submit"] == "/.well-known/scrapeguard/challenge"


def test_status_codes_per_action_are_the_policy_s() -> None:
    actions = load_policy_text("[actions]\nchallenge_status = 200\nthrottle_status = 503\n").actions
    assert build_refusal(decision(CHALLENGE), actions, challenge=SPEC).status == 200
    assert build_refusal(decision(THROTTLE), actions).status == 503
    assert build_refusal(decision(BLOCK), actions).status == 403


def test_throttle_carries_retry_after_and_the_ratelimit_headers_it_is_given() -> None:
    rl = [("RateLimit-Policy", '"profiles-hour";q=60;w=3600'), ("RateLimit", '"profiles-hour";r=0;t=600')]
    headers = dict(build_refusal(decision(THROTTLE), default_policy().actions, ratelimit=rl).headers)
    assert headers["Retry-After"] == "600" and headers["RateLimit"] == '"profiles-hour";r=0;t=600'
    block_headers = dict(build_refusal(decision(BLOCK), default_policy().actions, ratelimit=rl).headers)
    assert "RateLimit" not in block_headers and block_headers["Retry-After"] == "600"


def test_a_failed_attempt_says_so_accessibly() -> None:
    refusal = build_refusal(decision(CHALLENGE), default_policy().actions, challenge=SPEC,
                            error="The check did not succeed: this challenge was already used.")
    html = refusal.body.decode()
    assert 'role="alert"' in html and "already used" in html
    assert 'data-autosubmit="false"' in html  # a person presses Continue: no loop
