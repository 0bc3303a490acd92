"""The console's state in the records, on SQLite and PostgreSQL: sessions (console/sessions.py)
shared by every store on one database, touched at most every 30 s, expired and purged on the
caller's clock, bounded; alert claims (console/alerts.py) that let one console only send an alert
on a channel, released after a failure, taken over when stale and never recorded as sent.

(Through the console's pages, with the test client: tests/console/test_sessions.py and
test_alerts.py.)"""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from scrapeguard.console import sessions as sessions_module
from scrapeguard.console.alerts import CLAIM_STALE, SENT, Alert, claim, release, take_over
from scrapeguard.console.sessions import KEEP_EXPIRED, TOUCH_SECONDS, SessionStore
from scrapeguard.records import audit
from scrapeguard.records.db import Database
from scrapeguard.records.models import AlertClaim, ConsoleSessionRecord

NOW = 1_796_000_000.0
IDLE, LONGEST = 1800.0, 12 * 3600.0
ALERT = Alert("incident.opened:INC-1", "incident.opened", "INC-1", "Incident INC-1 opened", "text",
              "/incidents/INC-1")
WHEN = datetime.fromtimestamp(NOW, UTC)


def stores(db: Database) -> tuple[SessionStore, SessionStore]:
    """Two consoles' stores on one database."""
    return SessionStore(db, IDLE, LONGEST), SessionStore(db, IDLE, LONGEST)


def last_seen(db: Database, token: str) -> float:
    with db.session() as s:
        row = s.get(ConsoleSessionRecord, hashlib.sha256(token.encode()).hexdigest())
        assert row is not None
        return row.last_seen.timestamp()


def test_a_session_is_found_by_every_store_and_ended_by_any(db: Database) -> None:
    first, second = stores(db)
    session = first.start("ana", NOW)
    found, expired = second.find(session.token, NOW + 1)
    assert found is not None and not expired
    assert (found.user, found.started, found.csrf) == ("ana", NOW, session.csrf)
    assert found.csrf_ok(session.csrf) and not found.csrf_ok("forged") and not found.csrf_ok(None)
    assert second.find("not a token", NOW) == (None, False) and second.find(None, NOW) == (None, False)
    with db.session() as s:
        [row] = s.execute(select(ConsoleSessionRecord)).scalars()
        assert row.token_sha256 == hashlib.sha256(session.token.encode()).hexdigest()
        assert session.token not in (row.token_sha256, row.user_name, row.csrf, row.flashes)
    second.end(session.token)
    assert first.find(session.token, NOW + 2) == (None, False)
    for _ in range(2):
        first.start("vic", NOW)
    other = second.start("ana", NOW)
    assert second.end_user("vic") == 2 and first.end_user("vic") == 0
    assert first.find(other.token, NOW)[0] is not None


def test_last_seen_is_written_at_most_every_30_seconds_so_idleness_ends_early_by_that_at_most(
        db: Database) -> None:
    store, _ = stores(db)
    session = store.start("ana", NOW)
    assert store.find(session.token, NOW + TOUCH_SECONDS - 1)[0] is not None
    assert last_seen(db, session.token) == NOW  # not written: too recent
    found, _ = store.find(session.token, NOW + TOUCH_SECONDS)
    assert found is not None and found.last_seen == NOW + TOUCH_SECONDS
    assert last_seen(db, session.token) == NOW + TOUCH_SECONDS
    # a request 29 s after the last one written is not written: idleness counts from that one,
    # so the session ends up to TOUCH_SECONDS early -- never late
    assert store.find(session.token, NOW + 2 * TOUCH_SECONDS - 1)[0] is not None
    assert store.find(session.token, NOW + TOUCH_SECONDS + IDLE + 1) == (None, True)
    assert store.find(session.token, NOW + TOUCH_SECONDS + IDLE + 2) == (None, False)  # deleted when found


def test_idle_and_absolute_expiry(db: Database) -> None:
    first, second = stores(db)
    idle = first.start("ana", NOW)
    assert second.find(idle.token, NOW + IDLE)[0] is not None  # exactly the limit: still alive
    assert first.find(idle.token, NOW + 2 * IDLE + 1) == (None, True)
    busy = first.start("vic", NOW)
    at = NOW
    while at + 1000 <= NOW + LONGEST:
        at += 1000
        assert (first, second)[int(at) % 2].find(busy.token, at)[0] is not None
    assert second.find(busy.token, NOW + LONGEST + 1) == (None, True)


def test_messages_wait_in_the_records_for_the_next_page_on_any_store(db: Database) -> None:
    first, second = stores(db)
    session = first.start("ada", NOW)
    session.flash("User nia added as analyst.")
    again, _ = second.find(session.token, NOW + 1)  # another request, before the next page
    assert again is not None
    again.flash("Could not reach the store.", "error")
    page, _ = second.find(session.token, NOW + 2)
    assert page is not None
    assert page.take_flashes() == [("ok", "User nia added as analyst."),
                                   ("error", "Could not reach the store.")]
    assert page.take_flashes() == []
    later, _ = first.find(session.token, NOW + 3)
    assert later is not None and later.flashes == [] and later.take_flashes() == []
    # the same session read by two pages at once: only one of them shows the message
    session.flash("Once.")
    one, two = first.find(session.token, NOW + 4)[0], second.find(session.token, NOW + 4)[0]
    assert one is not None and two is not None
    assert one.take_flashes() + two.take_flashes() == [("ok", "Once.")]


def test_old_rows_are_purged_when_a_session_starts_and_the_least_recently_seen_go_first(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    store, _ = stores(db)
    old = store.start("ana", NOW)
    recent = store.start("pia", NOW + IDLE + 10)
    later = NOW + IDLE + KEEP_EXPIRED + 1  # `old` expired more than KEEP_EXPIRED ago, `recent` not
    store.start("vic", later)
    assert store.find(old.token, later) == (None, False)  # purged: nothing to find
    assert store.find(recent.token, later) == (None, True)  # kept, so its browser is told

    store.end_user("vic")
    monkeypatch.setattr(sessions_module, "MAX_SESSIONS", 3)
    team = [store.start(name, later + n) for n, name in enumerate(("a1", "a2", "a3"))]
    assert store.find(team[0].token, later + 100)[0] is not None  # a1 used again: a2 is the oldest
    store.start("a4", later + 101)
    with db.session() as s:
        users = set(s.execute(select(ConsoleSessionRecord.user_name)).scalars())
    assert users == {"a1", "a3", "a4"}


def test_an_alert_is_claimed_once_per_channel(db: Database) -> None:
    assert claim(db, ALERT, "webhook", WHEN, "host-a:1")
    assert not claim(db, ALERT, "webhook", WHEN, "host-b:2")
    assert not claim(db, ALERT, "webhook", WHEN, "host-a:1")  # not twice by the same either
    assert claim(db, ALERT, "email", WHEN, "host-b:2")
    release(db, ALERT, "webhook", "host-b:2")  # not B's: stays
    assert not claim(db, ALERT, "webhook", WHEN, "host-b:2")
    release(db, ALERT, "webhook", "host-a:1")  # A failed to send it: the next round may
    assert claim(db, ALERT, "webhook", WHEN + timedelta(minutes=1), "host-b:2")


def test_of_consoles_claiming_at_once_one_wins(db: Database) -> None:
    together = threading.Barrier(4, timeout=60)

    def go(n: int) -> bool:
        together.wait()
        return claim(db, ALERT, "webhook", WHEN, f"host-{n}:1")

    with ThreadPoolExecutor(4) as pool:
        won = list(pool.map(go, range(4)))
    assert sorted(won) == [False, False, False, True]
    with db.session() as s:
        [row] = s.execute(select(AlertClaim)).scalars()
        assert row.claimed_by == f"host-{won.index(True)}:1"


def test_a_stale_claim_never_recorded_as_sent_is_taken_over_once(db: Database) -> None:
    assert claim(db, ALERT, "webhook", WHEN, "dead-host:1")  # ... and it died before sending
    assert not claim(db, ALERT, "webhook", WHEN + CLAIM_STALE, "host-b:2")  # not stale yet
    later = WHEN + CLAIM_STALE + timedelta(seconds=1)
    assert claim(db, ALERT, "webhook", later, "host-b:2")  # taken over
    assert not claim(db, ALERT, "webhook", later, "host-c:3")  # B's is fresh
    assert not take_over(db, ALERT, "webhook", later, "host-c:3")
    with db.session() as s:
        [row] = s.execute(select(AlertClaim)).scalars()
        assert (row.claimed_by, row.claimed_at) == ("host-b:2", later)


def test_a_stale_claim_of_an_alert_recorded_as_sent_is_left_alone(db: Database) -> None:
    assert claim(db, ALERT, "email", WHEN, "host-a:1")
    with db.session() as s:  # what a console records once it has sent
        audit.record(s, audit.SYSTEM, SENT, "alert", ALERT.audit_id, {"key": ALERT.key, "channel": "email"},
                     at=WHEN)
    much_later = WHEN + 10 * CLAIM_STALE
    assert not claim(db, ALERT, "email", much_later, "host-b:2")
    with db.session() as s:
        [row] = s.execute(select(AlertClaim)).scalars()
        assert row.claimed_by == "host-a:1"


def test_a_session_deleted_while_it_is_being_found_is_signed_out_not_an_error(
    pg_schema_url: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sign-out in another tab (or a disabled user) deletes the row between `find` reading it and
    touching it: the page sees a signed-out browser, not a failed update. PostgreSQL only: SQLite
    runs one writing transaction at a time, so there the delete waits for `find` to end."""
    db = Database(pg_schema_url[0])
    db.ensure_schema()
    console, other = stores(db)
    session = console.start("ana", NOW)
    read_flashes = sessions_module._flashes

    def signed_out_meanwhile(text: str) -> list[tuple[str, str]]:
        other.end(session.token)  # its own transaction, committed before `find` touches the row
        return read_flashes(text)

    monkeypatch.setattr(sessions_module, "_flashes", signed_out_meanwhile)
    assert console.find(session.token, NOW + TOUCH_SECONDS + 1) == (None, False)
    monkeypatch.setattr(sessions_module, "_flashes", read_flashes)
    assert console.find(session.token, NOW + TOUCH_SECONDS + 2) == (None, False)
    db.dispose()


def test_a_short_idle_timeout_is_touched_in_a_tenth_of_its_steps(db: Database) -> None:
    """`--idle-minutes 1`: last_seen is written every 6 s, not every 30, so a session in use is not
    ended up to half its idle time early."""
    store = SessionStore(db, 60.0, LONGEST)
    assert store.touch_seconds == 6.0
    session = store.start("ana", NOW)
    assert store.find(session.token, NOW + 7)[0] is not None  # written: 7 s > 6 s
    assert store.find(session.token, NOW + 7 + 59)[0] is not None  # 59 s idle: still in
    assert store.find(session.token, NOW + 7 + 59 + 61) == (None, True)
