"""Sessions kept in the records database: two consoles on one database (behind one load balancer,
or one restarted) know the same sign-ins, carry each other's messages to the next page, end a
user's sessions everywhere, and expire them on the same (fake) clock. The table holds no token.

(The store itself, on SQLite and PostgreSQL: tests/records/test_console_state.py.)"""

from __future__ import annotations

import hashlib

from sqlalchemy import text

from scrapeguard.console.web import SESSION_COOKIE
from scrapeguard.records.db import Database

from .helpers import PASSWORD, ConsoleClient, ConsoleHarness, make_harness  # type: ignore[import-not-found]


def two_consoles(db: Database) -> tuple[ConsoleHarness, ConsoleHarness]:
    """Two consoles on one records database, on one clock."""
    first = make_harness(db)
    return first, make_harness(db, clock=first.clock)


def same_browser(client: ConsoleClient, other: ConsoleHarness) -> ConsoleClient:
    """The browser of `client` (its session cookie) sent to another console."""
    moved = other.client()
    moved.http.cookies.set(SESSION_COOKIE, client.http.cookies.get(SESSION_COOKIE), domain="console.test")
    return moved


def test_a_session_started_on_one_console_is_found_by_another_and_after_a_restart(team_db: Database) -> None:
    a, b = two_consoles(team_db)
    ana = a.client("ana")
    assert ana.get("/").status_code == 200
    on_b = same_browser(ana, b)
    page = on_b.get("/")
    assert page.status_code == 200 and "ana" in page.text
    restarted = make_harness(team_db, clock=a.clock)  # what `scrapeguard console` builds when restarted
    assert same_browser(ana, restarted).get("/incidents").status_code == 200
    assert on_b.post("/logout").status_code == 303  # a form of console B, with the session's CSRF token
    assert ana.get("/").status_code == 303  # signed out on A too
    assert same_browser(ana, restarted).get("/").status_code == 303


def test_a_message_left_by_one_console_is_shown_once_by_the_next_page_on_another(team_db: Database) -> None:
    a, b = two_consoles(team_db)
    ada_a = a.client("ada")
    ada_b = same_browser(ada_a, b)
    added = ada_a.post("/team/add", {"name": "nia", "role": "analyst", "password": PASSWORD,
                                     "password_again": PASSWORD})
    assert added.status_code == 303 and added.headers["location"] == "/team"
    assert "User nia added as analyst." in ada_b.get("/team").text  # the redirect served by B
    assert "User nia added as analyst." not in ada_a.get("/team").text  # once
    # two forms, one on each console, before the next page: both messages wait for it
    assert ada_a.post("/team/nia/disable", {}).status_code == 303
    assert ada_b.post("/team/nia/enable", {}).status_code == 303
    page = ada_a.get("/team").text
    assert "User nia disabled: their sessions are ended." in page and "User nia enabled." in page
    assert "User nia enabled." not in ada_b.get("/team").text


def test_a_role_change_on_one_console_ends_the_users_sessions_on_every_console(team_db: Database) -> None:
    a, b = two_consoles(team_db)
    ana_on_a, ana_on_b = a.client("ana"), b.client("ana")  # two browsers, one signed in on each
    assert ana_on_a.get("/").status_code == ana_on_b.get("/").status_code == 200
    changed = a.client("ada").post("/team/ana/role", {"role": "viewer"})
    assert changed.status_code == 303
    # (still an active user: only the ended sessions sign her out)
    for client in (ana_on_a, ana_on_b, same_browser(ana_on_b, a)):
        response = client.get("/")
        assert response.status_code == 303 and response.headers["location"].startswith("/login")
    with team_db.session() as s:
        left = s.execute(text("SELECT count(*) FROM console_sessions WHERE user_name = 'ana'")).scalar_one()
    assert left == 0
    assert b.client().sign_in("ana").status_code == 303  # she signs in again, as a viewer


def test_idle_and_absolute_expiry_hold_across_consoles_on_the_fake_clock(team_db: Database) -> None:
    a, b = two_consoles(team_db)
    idle, longest = a.settings.idle_seconds, a.settings.max_session_seconds
    ana_a = a.client("ana")
    ana_b = same_browser(ana_a, b)
    a.clock.advance(idle - 1)
    assert ana_b.get("/").status_code == 200  # a request on B keeps it alive on A...
    a.clock.advance(idle - 1)
    assert ana_a.get("/").status_code == 200
    a.clock.advance(idle + 1)  # ...idleness ends it on both
    expired = ana_b.get("/")
    assert expired.status_code == 303 and "expired=1" in expired.headers["location"]
    assert ana_a.get("/").status_code == 303

    vic_a = a.client("vic")
    vic_b = same_browser(vic_a, b)
    step = 600.0
    for n in range(int(longest // step) - 1):  # busy all day, on one console then the other
        a.clock.advance(step)
        assert (vic_a if n % 2 else vic_b).get("/").status_code == 200
    a.clock.advance(2 * step)  # past the 12 hours (and not idle)
    ended = vic_a.get("/")
    assert ended.status_code == 303 and "expired=1" in ended.headers["location"]
    assert vic_b.get("/").status_code == 303


def test_the_table_keeps_the_tokens_sha256_not_the_token(harness: ConsoleHarness) -> None:
    client = harness.client("pia")
    token = client.http.cookies.get(SESSION_COOKIE)
    assert token
    with harness.db.session() as s:
        rows = [dict(row._mapping) for row in s.execute(text("SELECT * FROM console_sessions"))]
    [row] = rows
    assert row["token_sha256"] == hashlib.sha256(token.encode()).hexdigest()
    assert row["user_name"] == "pia" and row["csrf"] == client.csrf
    assert not any(token in str(value) for value in row.values())
