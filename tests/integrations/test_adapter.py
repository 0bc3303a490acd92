"""The request adapter alone, without a framework: request view -> event, decision -> response,
after the response -> what the guard learns and changes."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from multidict import CIMultiDict

from scrapeguard.challenge.service import RESERVED_PREFIX, SUBMIT_PATH
from scrapeguard.engine import Engine
from scrapeguard.integrations.adapter import (
    STATUS_PATH,
    GuardAdapter,
    RequestView,
    known_account,
    status_line,
)
from scrapeguard.integrations.client_ip import ForwardedHeaderError
from scrapeguard.integrations.sessions import STAMP_COOKIE, session_key
from scrapeguard.policy import default_policy, load_policy_text
from scrapeguard.routes import AmbiguousRequest

T0 = 1_800_000_000.0
LOAD_BALANCER = "10.0.0.1"
BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
           "Accept": "text/html,application/xhtml+xml", "Accept-Language": "en", "Accept-Encoding": "gzip"}


def view(target: str, method: str = "GET", peer: str = LOAD_BALANCER, **headers: str) -> RequestView:
    given = {name.replace("_", "-"): value for name, value in headers.items()}
    return RequestView(method, target, CIMultiDict({**BROWSER, **given}), peer)


def make_guard(policy_text: str = "") -> GuardAdapter:
    policy = load_policy_text(policy_text) if policy_text else default_policy()
    return GuardAdapter(Engine(policy), trusted_proxies=[LOAD_BALANCER])


def test_the_client_is_the_forwarded_address_only_behind_a_trusted_proxy() -> None:
    guard = make_guard()
    assert guard.client_ip(view("/", X_Forwarded_For="203.0.113.5")) == "203.0.113.5"
    assert guard.client_ip(view("/", peer="192.0.2.9", X_Forwarded_For="203.0.113.5")) == "192.0.2.9"
    with pytest.raises(ForwardedHeaderError):
        guard.client_ip(view("/", X_Forwarded_For="not an address"))


def test_a_request_is_read_as_the_site_reads_it() -> None:
    guard = make_guard()
    reading = guard.read(view("/api/v1/members/%34%32?x=1"))
    assert (reading.path, reading.query, reading.route.kind, reading.route.subject) == \
        ("/api/v1/members/42", "x=1", "profile", "id:42")
    with pytest.raises(AmbiguousRequest):
        guard.read(view("/u/../api/v1/members/1"))


def test_the_app_s_account_resolver_names_the_account_without_any_header() -> None:
    guard = make_guard()
    request = view("/u/alice", X_Forwarded_For="203.0.113.5")
    created = datetime(2024, 5, 1, tzinfo=UTC)
    event, decision = guard.decide(request, "203.0.113.5", T0, guard.read(request),
                                   account=known_account(("m-17", created)))
    assert (event.account, event.account_created) == ("m-17", created.timestamp())
    assert decision.action == "allow"
    assert known_account(None) is None and known_account(("", None)) is None


def test_a_session_the_site_issues_is_stamped_and_its_account_learned_from_the_site_s_headers() -> None:
    guard = make_guard()
    first = view("/login", method="POST")
    event, _ = guard.decide(first, "203.0.113.5", T0, guard.read(first))
    site_headers = CIMultiDict([("Content-Type", "text/html"), ("Set-Cookie", "session=tok-1; Path=/"),
                                ("X-Account-Id", "m-17"), ("X-Account-Created", "2024-05-01T00:00:00+00:00")])
    edit = guard.after_response(event, 303, site_headers, T0)
    sent = edit.apply(site_headers.items())
    assert "x-account-id" not in {name.lower() for name, _ in sent}
    assert "x-account-created" not in {name.lower() for name, _ in sent}
    stamp = next(v for n, v in sent if n == "Set-Cookie" and v.startswith(STAMP_COOKIE + "="))
    stamp_value = stamp.split(";")[0].split("=", 1)[1]

    later = view("/u/bob", Cookie=f"session=tok-1; {STAMP_COOKIE}={stamp_value}")
    event, _ = guard.decide(later, "203.0.113.5", T0 + 5, guard.read(later))
    assert event.session == session_key("tok-1")
    assert event.session_issued
    assert (event.account, event.account_created) == ("m-17", datetime(2024, 5, 1, tzinfo=UTC).timestamp())

    made_up = view("/u/bob", Cookie=f"session=tok-2; {STAMP_COOKIE}={stamp_value}")
    event, _ = guard.decide(made_up, "203.0.113.5", T0 + 6, guard.read(made_up))
    assert not event.session_issued and event.account is None


def at(i: int) -> float:
    """The time of a person's i-th page: about a minute apart, never like clockwork."""
    return T0 + 60 * i + (i * i * 17) % 41


def test_member_pages_that_do_not_exist_are_learned_from_the_status_and_probing_is_refused() -> None:
    guard = make_guard()
    actions = []
    for i in range(12):
        request = view(f"/u/nobody-{i * 7919 % 1000}", X_Forwarded_For="203.0.113.5")
        event, decision = guard.decide(request, "203.0.113.5", at(i), guard.read(request))
        actions.append(decision.action)
        guard.after_response(event, 404, CIMultiDict([("Content-Type", "text/html")]), at(i))
    assert actions[0] == "allow"
    assert actions[-1] != "allow"
    # the same requests answered 200 are a person reading: nothing to refuse
    fresh = make_guard()
    for i in range(12):
        request = view(f"/u/somebody-{i * 7919 % 1000}", X_Forwarded_For="203.0.113.5")
        event, decision = fresh.decide(request, "203.0.113.5", at(i), fresh.read(request))
        assert decision.action == "allow"
        fresh.after_response(event, 200, CIMultiDict([("Content-Type", "text/html")]), at(i))


def test_a_throttle_is_answered_with_its_quota_in_rate_limit_headers_as_json_for_api_clients() -> None:
    guard = make_guard("[detectors.profile_quota.anonymous]\nper_hour = 3\n")
    decision = None
    for n, member in enumerate((5, 120, 250, 37), 1):
        request = view(f"/api/v1/members/{member}", Accept="application/json")
        _, decision = guard.decide(request, "203.0.113.5", T0 + 60 * n, guard.read(request))
    assert decision is not None and decision.action == "throttle"
    assert guard.refuses(decision)
    refusal = guard.refusal(request, decision, "203.0.113.5")
    names = {name for name, _ in refusal.headers}
    assert refusal.status == 429
    assert {"Retry-After", "RateLimit", "RateLimit-Policy", "X-ScrapeGuard-Decision"} <= names
    assert json.loads(refusal.body)["action"] == "throttle"
    assert guard.counts["throttle"] == 1


def test_the_guard_serves_its_own_paths_and_leaves_the_rest_to_the_site() -> None:
    guard = make_guard()
    asset = guard.own_response(view(RESERVED_PREFIX + "altcha.js", peer="192.0.2.9"),
                               RESERVED_PREFIX + "altcha.js")
    assert asset is not None and asset.status == 200 and asset.body
    wrong_method = guard.own_response(view(SUBMIT_PATH, peer="192.0.2.9"), SUBMIT_PATH)
    assert wrong_method is not None and wrong_method.status == 405
    not_ours = RESERVED_PREFIX + "security.txt"
    assert guard.own_response(view(not_ours), not_ours) is None
    assert guard.is_submission(view(SUBMIT_PATH, method="POST"), SUBMIT_PATH)
    # the status page only to a direct local call, never to a relayed client
    local = guard.own_response(view(STATUS_PATH, peer="127.0.0.1"), STATUS_PATH)
    assert local is not None and json.loads(local.body)["store"] == "ok"
    relayed = view(STATUS_PATH, peer="127.0.0.1", X_Forwarded_For="203.0.113.5")
    assert guard.own_response(relayed, STATUS_PATH) is None


def test_challenge_answers_are_read_from_html_form_posts() -> None:
    guard = make_guard()
    urlencoded = "application/x-www-form-urlencoded; charset=utf-8"
    assert guard.answer_fields(b"altcha=abc%3D&next=%2Fu%2Fx&other=1", urlencoded) == \
        {"altcha": "abc=", "next": "/u/x"}
    multipart = (b'--b\r\nContent-Disposition: form-data; name="altcha"\r\n\r\nabc\r\n--b--\r\n')
    assert guard.answer_fields(multipart, "multipart/form-data; boundary=b") == {"altcha": "abc"}
    assert guard.answer_fields(b'{"altcha": "abc"}', "application/json") is None
    assert guard.answer_fields(b"altcha=%ff", urlencoded) is None
    assert guard.answer_fields(b"altcha=a&altcha=b", urlencoded) is None


def test_status_lines() -> None:
    assert status_line(429) == "429 Too Many Requests"
    assert status_line(299) == "299 Unknown"
