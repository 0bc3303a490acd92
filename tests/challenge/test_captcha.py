"""CAPTCHA providers against a local fake verifier: success, failure, timeout, garbage reply."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from typing import Any

import aiohttp
import httpx
import pytest
from aiohttp import web

from scrapeguard.challenge.captcha import PROVIDERS, CaptchaVerdict, CaptchaVerifier

SECRET = "0x-test-secret"


class FakeVerifier:
    """A siteverify endpoint per behaviour; remembers the forms it received."""

    def __init__(self) -> None:
        self.received: list[dict[str, str]] = []
        #: What /custom answers (a successful reply unless a test says otherwise).
        self.reply: dict[str, Any] = {"success": True}

    async def _form(self, request: web.Request) -> dict[str, str]:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.received.append(form)
        return form

    async def verify(self, request: web.Request) -> web.Response:
        form = await self._form(request)
        if form.get("secret") != SECRET:
            return web.json_response({"success": False, "error-codes": ["invalid-input-secret"]})
        if form.get("response") == "good-token":
            return web.json_response({"success": True, "hostname": "127.0.0.1"})
        return web.json_response({"success": False, "error-codes": ["invalid-input-response"]})

    async def slow(self, request: web.Request) -> web.Response:
        await self._form(request)
        await asyncio.sleep(2)
        return web.json_response({"success": True})

    async def garbage(self, request: web.Request) -> web.Response:
        await self._form(request)
        return web.Response(text="<html>upstream error</html>", content_type="text/html")

    async def not_a_flag(self, request: web.Request) -> web.Response:
        await self._form(request)
        return web.json_response({"success": "true"})

    async def broken(self, request: web.Request) -> web.Response:
        await self._form(request)
        return web.Response(status=500, text="oops")

    async def custom(self, request: web.Request) -> web.Response:
        await self._form(request)
        return web.Response(text=json.dumps(self.reply), content_type="application/json")

    def app(self) -> web.Application:
        app = web.Application()
        for name in ("verify", "slow", "garbage", "not_a_flag", "broken", "custom"):
            app.router.add_post(f"/{name}", getattr(self, name))
        return app


@pytest.fixture
def fake(start_upstream: Callable[[web.Application], str]) -> tuple[FakeVerifier, str]:
    verifier = FakeVerifier()
    return verifier, start_upstream(verifier.app())


def _verify(loop_thread: Any, verifier: CaptchaVerifier, token: str) -> CaptchaVerdict:
    async def go() -> CaptchaVerdict:
        async with aiohttp.ClientSession() as session:
            return await verifier.verify(session, token, "198.51.100.7")

    result: CaptchaVerdict = loop_thread.run(go())
    return result


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_success_and_failure(provider: str, fake: tuple[FakeVerifier, str], loop_thread: Any) -> None:
    recorder, base = fake
    verifier = CaptchaVerifier(provider, SECRET, "site-key-1", f"{base}/verify", timeout=2)
    ok = _verify(loop_thread, verifier, "good-token")
    assert ok.passed and ok.proof_id is not None and ok.proof_id.startswith("captcha-")
    assert recorder.received[-1]["response"] == "good-token"
    assert recorder.received[-1]["secret"] == SECRET and recorder.received[-1]["remoteip"] == "198.51.100.7"
    bad = _verify(loop_thread, verifier, "bad-token")
    assert not bad.passed and "invalid-input-response" in bad.detail
    other_secret = CaptchaVerifier(provider, "other", "k", f"{base}/verify")
    wrong_secret = _verify(loop_thread, other_secret, "good-token")
    assert not wrong_secret.passed


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
@pytest.mark.parametrize(("path", "detail"), [
    ("slow", "timed out"),
    ("garbage", "not JSON"),
    ("not_a_flag", "no success flag"),
    ("broken", "HTTP 500"),
])
def test_timeouts_and_garbage_are_not_passed(provider: str, path: str, detail: str,
                                             fake: tuple[FakeVerifier, str], loop_thread: Any,
                                             caplog: pytest.LogCaptureFixture) -> None:
    _, base = fake
    verifier = CaptchaVerifier(provider, SECRET, "k", f"{base}/{path}", timeout=0.3)
    with caplog.at_level(logging.WARNING, logger="scrapeguard.challenge.captcha"):
        verdict = _verify(loop_thread, verifier, "good-token")
    assert not verdict.passed and detail in verdict.detail
    assert len(caplog.records) == 1 and "counted as not passed" in caplog.records[0].getMessage()


def test_unreachable_verifier_and_missing_token(loop_thread: Any) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on once closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    verifier = CaptchaVerifier("hcaptcha", SECRET, "k", f"http://127.0.0.1:{port}/verify", timeout=1)
    assert _verify(loop_thread, verifier, "good-token").detail == "hcaptcha verifier unreachable"
    empty = _verify(loop_thread, verifier, "")
    assert not empty.passed and empty.proof_id is None


def test_official_verify_urls_are_the_default() -> None:
    assert CaptchaVerifier("turnstile", SECRET).verify_url == \
        "https://challenges.cloudflare.com/turnstile/v0/siteverify"
    assert CaptchaVerifier("hcaptcha", SECRET).verify_url == "https://api.hcaptcha.com/siteverify"
    assert CaptchaVerifier("recaptcha", SECRET).verify_url == "https://www.google.com/recaptcha/api/siteverify"
    with pytest.raises(ValueError, match="unknown CAPTCHA provider"):
        CaptchaVerifier("friendlycaptcha", SECRET)


def turnstile_policy(verifier: str, extra: str = "") -> str:
    """A policy with Turnstile as the challenge, verified by the fake verifier at `verifier`."""
    return ('[challenge]\nprovider = "turnstile"\nsite_key = "1x00000000000000000000AA"\n'
            f'verify_url = "{verifier}/verify"\n{extra}')


def member_names(demo_site: str) -> list[str]:
    html = httpx.get(f"{demo_site}/directory?page=1").text
    return list(dict.fromkeys(re.findall(r'href="/u/([^"]+)"', html)))


def test_turnstile_through_the_proxy(demo_site: str, make_guard: Callable, fake: tuple[FakeVerifier, str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _, base = fake
    monkeypatch.setenv("SCRAPEGUARD_CAPTCHA_SECRET", SECRET)
    guard = make_guard(demo_site, turnstile_policy(base))
    first, second = member_names(demo_site)[:2]
    with httpx.Client(base_url=guard.url) as browser:  # httpx's user agent: challenged on member pages
        browser.get("/")
        assert browser.get(f"/{first}").status_code == 404  # (not member data: not challenged)
        page = browser.get(f"/u/{second}")
        assert page.status_code == 403
        assert 'class="cf-turnstile" data-sitekey="1x00000000000000000000AA"' in page.text
        assert "challenges.cloudflare.com/turnstile/v0/api.js" in page.text
        failed = browser.post("/.well-known/scrapeguard/challenge",
                              data={"cf-turnstile-response": "bad-token", "next": f"/u/{second}"})
        assert failed.status_code == 403 and "did not succeed" in failed.text
        passed = browser.post("/.well-known/scrapeguard/challenge",
                              data={"cf-turnstile-response": "good-token", "next": f"/u/{second}"})
        assert passed.status_code == 303 and passed.headers["Location"] == f"/u/{second}"
        assert browser.get(f"/u/{second}").status_code == 200
        again = browser.post("/.well-known/scrapeguard/challenge",
                             data={"cf-turnstile-response": "good-token", "next": "/"})
        assert again.status_code == 403 and "already used" in again.text  # single use here too


def test_a_captcha_provider_without_its_secret_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from scrapeguard.challenge.service import ChallengeService, ChallengeSetupError
    from scrapeguard.engine import Engine
    from scrapeguard.policy import load_policy_text

    policy = load_policy_text('[challenge]\nprovider = "hcaptcha"\nsite_key = "k"\n')
    engine = Engine(policy)
    with pytest.raises(ChallengeSetupError, match="SCRAPEGUARD_CAPTCHA_SECRET"):
        ChallengeService(policy, engine.store, engine.escalation, environ={})


# -- what else the reply must say (issue 12, item 9) -----------------------------------------------


def _custom(fake: tuple[FakeVerifier, str], loop_thread: Any, provider: str, reply: dict[str, Any],
            **expected: Any) -> CaptchaVerdict:
    recorder, base = fake
    recorder.reply = reply
    verifier = CaptchaVerifier(provider, SECRET, "k", f"{base}/custom", timeout=2, **expected)
    return _verify(loop_thread, verifier, "a-token")


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_a_token_solved_on_another_site_is_not_a_pass(provider: str, fake: tuple[FakeVerifier, str],
                                                     loop_thread: Any) -> None:
    ours = {"hostnames": ("www.example.org", "example.org")}
    other = _custom(fake, loop_thread, provider, {"success": True, "hostname": "scraper.example"}, **ours)
    assert not other.passed and "solved on 'scraper.example'" in other.detail
    missing = _custom(fake, loop_thread, provider, {"success": True}, **ours)
    assert not missing.passed
    ours_again = {"success": True, "hostname": "WWW.Example.org."}
    assert _custom(fake, loop_thread, provider, ours_again, **ours).passed
    # not configured: not checked
    assert _custom(fake, loop_thread, provider, {"success": True, "hostname": "scraper.example"}).passed


@pytest.mark.parametrize("provider", ["turnstile", "recaptcha"])
def test_a_token_for_another_action_is_not_a_pass(provider: str, fake: tuple[FakeVerifier, str],
                                                 loop_thread: Any) -> None:
    wanted = {"action": "scrapeguard"}
    login = _custom(fake, loop_thread, provider, {"success": True, "action": "login"}, **wanted)
    assert not login.passed and "action 'login'" in login.detail
    assert not _custom(fake, loop_thread, provider, {"success": True}, **wanted).passed
    assert _custom(fake, loop_thread, provider, {"success": True, "action": "scrapeguard"}, **wanted).passed


def test_a_recaptcha_v3_score_below_the_minimum_is_not_a_pass(fake: tuple[FakeVerifier, str],
                                                              loop_thread: Any) -> None:
    low = _custom(fake, loop_thread, "recaptcha", {"success": True, "score": 0.3}, min_score=0.5)
    assert not low.passed and "score 0.3 is below 0.5" in low.detail
    for reply in ({"success": True}, {"success": True, "score": "0.9"}, {"success": True, "score": True}):
        assert not _custom(fake, loop_thread, "recaptcha", reply, min_score=0.5).passed  # v2 key, garbage
    nan = {"success": True, "score": float("nan")}  # (json.dumps writes NaN, and json.loads reads it)
    assert not _custom(fake, loop_thread, "recaptcha", nan, min_score=0.5).passed
    assert _custom(fake, loop_thread, "recaptcha", {"success": True, "score": 0.9, "hostname": "example.org",
                                                    "action": "scrapeguard"},
                   min_score=0.5, action="scrapeguard", hostnames=("example.org",)).passed


def test_hostnames_through_the_proxy(demo_site: str, make_guard: Callable, fake: tuple[FakeVerifier, str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _, base = fake
    monkeypatch.setenv("SCRAPEGUARD_CAPTCHA_SECRET", SECRET)
    guard = make_guard(demo_site, turnstile_policy(base, 'hostnames = ["www.example.org"]\n'))
    second = member_names(demo_site)[1]
    with httpx.Client(base_url=guard.url) as browser:  # httpx's user agent: challenged on member pages
        browser.get("/")
        assert browser.get(f"/u/{second}").status_code == 403
        # the fake verifier says the token was solved on 127.0.0.1: not this site
        r = browser.post("/.well-known/scrapeguard/challenge",
                         data={"cf-turnstile-response": "good-token", "next": f"/u/{second}"})
        assert r.status_code == 403 and "not on this site" in r.text
        assert browser.get(f"/u/{second}").status_code == 403


@pytest.mark.parametrize(("text", "key", "message"), [
    ('provider = "hcaptcha"\nsite_key = "k"\naction = "x"', "challenge.action", "does not report an action"),
    ('provider = "turnstile"\nsite_key = "k"\nmin_score = 0.5', "challenge.min_score",
     "does not report a score"),
    ('provider = "recaptcha"\nsite_key = "k"\nhostnames = ["https://example.org/"]', "challenge.hostnames[0]",
     "is not a host name"),
    ('provider = "recaptcha"\nsite_key = "k"\nmin_score = 1.5', "challenge.min_score", "out of range"),
])
def test_bad_reply_checks_are_named(text: str, key: str, message: str) -> None:
    from scrapeguard.policy import PolicyError, load_policy_text

    with pytest.raises(PolicyError) as caught:
        load_policy_text(f"[challenge]\n{text}\n")
    [problem] = caught.value.problems
    assert problem.key == key and message in problem.message


def test_a_captcha_without_hostnames_is_warned_about() -> None:
    from scrapeguard.policy import load_policy_text
    from scrapeguard.policy.warnings import policy_warnings

    loose = load_policy_text('[challenge]\nprovider = "turnstile"\nsite_key = "k"\n')
    assert any("challenge.hostnames is empty" in w for w in policy_warnings(loose))
    tight = load_policy_text('[challenge]\nprovider = "turnstile"\nsite_key = "k"\n'
                             'hostnames = ["example.org"]\n')
    assert not any("hostnames" in w for w in policy_warnings(tight))
