"""Signing in: Argon2 users, cookie flags, CSRF, the idle timeout, disabled users, and the
console's own guard limiting password guessing."""

from __future__ import annotations

from typing import Any

import pytest

from scrapeguard.console.guarding import signin_store_uri
from scrapeguard.console.web import SESSION_COOKIE
from scrapeguard.policy import default_policy, load_policy_text
from scrapeguard.records.db import Database
from scrapeguard.records.errors import DatabaseUnavailable
from scrapeguard.records.users import GUARD, set_active

from .helpers import PASSWORD, ConsoleHarness, FakeClock, make_harness  # type: ignore[import-not-found]


def test_signing_in_sets_a_secure_httponly_samesite_cookie(harness: ConsoleHarness) -> None:
    client = harness.client()
    response = client.sign_in("ana")
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = next(v for k, v in response.headers.multi_items()
                  if k == "set-cookie" and v.startswith(SESSION_COOKIE + "="))
    flags = {part.strip().lower() for part in cookie.split(";")}
    assert {"httponly", "secure", "samesite=strict", "path=/"} <= flags
    assert client.get("/").status_code == 200


def test_support_lands_on_appeals(harness: ConsoleHarness) -> None:
    response = harness.client().sign_in("sue")
    assert response.status_code == 303 and response.headers["location"] == "/appeals"


def test_a_wrong_password_is_401_with_one_message_for_every_failure(harness: ConsoleHarness) -> None:
    client = harness.client()
    wrong = client.sign_in("ana", "not the password")
    nobody = client.sign_in("nobody", PASSWORD)
    assert wrong.status_code == nobody.status_code == 401
    for response in (wrong, nobody):
        assert "Unknown user or wrong password." in response.text
    assert client.get("/").status_code == 303  # still signed out


def test_the_sign_in_form_needs_its_csrf_token(harness: ConsoleHarness) -> None:
    client = harness.client()
    client.get("/login")
    response = client.http.post("/login", data={"username": "ana", "password": PASSWORD, "csrf": "forged"})
    assert response.status_code == 403
    assert client.get("/").status_code == 303


def test_a_form_without_the_session_csrf_token_is_refused(harness: ConsoleHarness) -> None:
    client = harness.client("ada")
    response = client.post("/logout", csrf=False)
    assert response.status_code == 403
    assert client.get("/").status_code == 200  # still signed in


def test_signing_out_ends_the_session(harness: ConsoleHarness) -> None:
    client = harness.client("ana")
    token = client.http.cookies.get(SESSION_COOKIE)
    assert client.post("/logout").status_code == 303
    client.http.cookies.set(SESSION_COOKIE, token, domain="console.test")
    assert client.get("/").status_code == 303


def test_the_session_ends_after_the_idle_timeout(harness: ConsoleHarness) -> None:
    client = harness.client("ana")
    harness.clock.advance(harness.settings.idle_seconds - 1)
    assert client.get("/").status_code == 200  # a request keeps it alive...
    harness.clock.advance(harness.settings.idle_seconds - 1)
    assert client.get("/").status_code == 200
    harness.clock.advance(harness.settings.idle_seconds + 1)  # ...idleness ends it
    response = client.get("/")
    assert response.status_code == 303 and "expired=1" in response.headers["location"]
    assert "without activity" in client.get(response.headers["location"]).text


def test_a_disabled_user_loses_their_session_at_once(harness: ConsoleHarness) -> None:
    client = harness.client("vic")
    assert client.get("/").status_code == 200
    with harness.db.session() as session:
        set_active(session, GUARD, "vic", False)
    assert client.get("/").status_code == 303


def test_after_the_next_page_only_this_console_is_a_target(harness: ConsoleHarness) -> None:
    client = harness.client()
    form = client.get("/login?next=//evil.example/x").text
    assert 'name="next" value=""' in form
    client.get("/login?next=/incidents")
    token = client.http.cookies.get("sg_console_login")
    response = client.http.post("/login", data={"username": "ana", "password": PASSWORD, "csrf": token,
                                                "next": "https://evil.example/"})
    assert response.headers["location"] == "/"


def test_password_guessing_is_refused_by_the_guard_even_with_the_right_password(
        harness: ConsoleHarness) -> None:
    """The console dogfoods failed_logins: 10 failures from one address in the window throttle it
    on the sign-in form (429), so the 11th attempt is refused before the password is checked."""
    client = harness.client()
    for _ in range(10):
        assert client.sign_in("ana", "guess guess guess").status_code == 401
    refused = client.sign_in("ana", PASSWORD)
    assert refused.status_code == 429
    assert client.get("/").status_code == 303
    # the window passes (clock moved, no waiting): the owner signs in
    harness.clock.advance(3600)
    assert client.sign_in("ana", PASSWORD).status_code == 303


def test_behind_a_trusted_proxy_failures_are_counted_per_client_not_per_proxy(team_db: Database) -> None:
    """A TLS proxy in front of the console: one person's guessing throttles that person's address,
    never the proxy's, so the rest of the team still signs in."""
    harness = make_harness(team_db, trusted_proxies=("127.0.0.1/32",))
    guesser, colleague = harness.client(), harness.client()
    guesser.http.headers["X-Forwarded-For"] = "198.51.100.7"
    colleague.http.headers["X-Forwarded-For"] = "203.0.113.20"
    for _ in range(10):
        assert guesser.sign_in("ana", "guess guess guess").status_code == 401
    assert guesser.sign_in("ana", PASSWORD).status_code == 429
    assert colleague.sign_in("pia", PASSWORD).status_code == 303


def test_a_records_database_that_is_down_is_a_503_page_not_a_crash(harness: ConsoleHarness,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Sessions and users are in the records: with the database down, every page says so (503) and
    nobody is signed out; once it is back, the same browser carries on."""
    ana = harness.client("ana")
    signed_out = harness.client()
    up = harness.db.session

    def down() -> Any:
        raise DatabaseUnavailable("cannot use the records database sqlite:///records.db: disk I/O error")

    monkeypatch.setattr(harness.db, "session", down)
    page = ana.get("/incidents")
    assert page.status_code == 503 and "cannot use the records database" in page.text
    assert "Try again shortly" in page.text and "Traceback" not in page.text
    sign_in = signed_out.sign_in("abe")
    assert sign_in.status_code == 503 and "cannot be reached" in sign_in.text
    monkeypatch.setattr(harness.db, "session", up)
    assert ana.get("/incidents").status_code == 200


def test_consoles_on_the_guard_s_redis_share_one_count_of_failed_sign_ins(
    team_db: Database, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Two consoles behind one address, given the guard's store: a guesser alternating between them
    is refused after 10 failures in all, not 10 on each; a restarted console remembers them."""
    store = signin_store_uri(redis_url, default_policy().store)
    assert "-console" in store and "console" not in redis_url  # its own prefix: apart from the site's
    clock = FakeClock()
    first, second = (make_harness(team_db, signin_store=store, clock=clock) for _ in range(2))
    guessers = [first.client(), second.client()]
    statuses = [guessers[i % 2].sign_in("ana", f"guess {i}").status_code for i in range(12)]
    assert statuses == [401] * 10 + [429] * 2
    restarted = make_harness(team_db, signin_store=store, clock=clock)
    assert restarted.client().sign_in("ana", PASSWORD).status_code == 429
    # its random signing key is chosen, not a missing setting: nothing to warn an operator about
    assert "signing key" not in caplog.text


def test_the_sign_in_count_stays_in_memory_without_a_shared_store() -> None:
    options = load_policy_text('[store]\nprefix = "sg"\ntimeout_ms = 250\nfail = "closed"\n').store
    assert signin_store_uri(None, options) == signin_store_uri("memory://", options) == "memory://"
    # the guard's [store] settings come along (a remote Redis the guard waits 250 ms for)
    assert signin_store_uri("redis://10.0.0.5:6379/0", options) == \
        "redis://10.0.0.5:6379/0?timeout_ms=250&fail=closed&retry_seconds=5&prefix=sg-console"
    # blank values are no values, as store_from_uri reads them
    assert signin_store_uri("redis://h:6379/0?prefix=&fail=&timeout_ms=", options) == \
        "redis://h:6379/0?timeout_ms=250&fail=closed&retry_seconds=5&prefix=sg-console"
    # what the URI says wins; a repeated prefix is read as store_from_uri reads it (the first)
    assert signin_store_uri("redis://h:6379/1?prefix=site&timeout_ms=80&prefix=other", options) == \
        "redis://h:6379/1?timeout_ms=80&fail=closed&retry_seconds=5&prefix=site-console"
