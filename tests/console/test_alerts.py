"""Alerts reach a real (local) webhook receiver and a real (local) SMTP server: an incident
opened, a notification deadline 24 h away, a legal case overdue; each once, also after a restart
of the loop; a receiver that is down gets the alert at the next round. Two consoles on one database
send each alert once per channel (they claim it first); a claim left by a console that died is taken
over. Time is a fake clock's."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from scrapeguard.console import alerts as alerts_module
from scrapeguard.console.alerts import (
    CLAIM_STALE,
    Alert,
    AlertLoop,
    AlertSettings,
    RoundResult,
    alert_settings,
    claim,
    due_alerts,
)
from scrapeguard.records import audit, incidents
from scrapeguard.records.db import Database
from scrapeguard.records.models import AlertClaim
from scrapeguard.records.users import ADMIN, ANALYST, Actor

from .case_helpers import (  # type: ignore[import-not-found]
    assessed_incident,
    auto_opened_incident,
    case_with_sent_letter,
)
from .helpers import FakeClock  # type: ignore[import-not-found]


class Webhook:
    """A webhook receiver on 127.0.0.1 that keeps the JSON bodies; `down()` closes its port."""

    def __init__(self, port: int = 0) -> None:
        received = self.received = []  # type: list[dict[str, Any]]

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def down(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Sink:
    """aiosmtpd handler keeping every message received."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=email_policy.default)
        assert isinstance(parsed, EmailMessage)  # (the default policy's message class)
        self.messages.append(parsed)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.down()


@pytest.fixture
def smtp() -> Iterator[tuple[Sink, int]]:
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield sink, controller.port
    controller.stop()


def loop_for(db: Database, clock: FakeClock, hook: str | None, smtp_port: int | None,
             owner: str | None = None) -> AlertLoop:
    settings = alert_settings(hook, f"127.0.0.1:{smtp_port}" if smtp_port else None,
                              ("team@example.org",) if smtp_port else (), "scrapeguard@example.org")
    assert settings is not None
    return AlertLoop(db, settings, clock, base_url="https://console.example.org", owner=owner)


def kinds(webhook: Webhook) -> list[str]:
    return [body["kind"] for body in webhook.received]


def test_an_opened_incident_reaches_the_webhook_and_the_mailbox_once(
        team_db: Database, webhook: Webhook, smtp: tuple[Sink, int]) -> None:
    sink, port = smtp
    clock = FakeClock()
    loop = loop_for(team_db, clock, webhook.url, port)
    assert loop.check_once().sent == []  # nothing to say yet
    incident = auto_opened_incident(team_db, clock() - 3600)
    result = loop.check_once()
    assert sorted(channel for _, channel in result.sent) == ["email", "webhook"] and not result.failed
    assert webhook.received == [{
        "key": f"incident.opened:INC-{incident}", "kind": "incident.opened", "subject": f"INC-{incident}",
        "title": webhook.received[0]["title"], "text": webhook.received[0]["text"],
        "url": f"https://console.example.org/incidents/INC-{incident}"}]
    assert "8 members" in webhook.received[0]["title"]
    [mail] = sink.messages
    assert str(mail["Subject"]).strip().startswith(f"[ScrapeGuard] Incident INC-{incident} opened")
    assert mail["To"] == "team@example.org" and mail["From"] == "scrapeguard@example.org"
    assert f"https://console.example.org/incidents/INC-{incident}" in str(mail.get_content())
    clock.advance(60)
    assert loop.check_once().sent == []
    # a console restarted on the same records: the audit log remembers what went out
    again = loop_for(team_db, clock, webhook.url, port)
    clock.advance(3600)
    assert again.check_once().sent == []
    assert len(webhook.received) == 1 and len(sink.messages) == 1
    with team_db.session() as s:
        sent = [e for e in audit.entries_for(s, "alert", f"incident.opened:INC-{incident}")]
        assert sorted(json.loads(e.details)["channel"] for e in sent) == ["email", "webhook"]
        assert all(e.action == "alert.sent" and e.actor == "scrapeguard" for e in sent)
        assert audit.verify(s).ok


def test_a_notification_deadline_is_alerted_once_it_is_24_hours_away(team_db: Database,
                                                                      webhook: Webhook) -> None:
    aware = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
    incident = assessed_incident(team_db, aware)
    due = aware + timedelta(hours=72)  # GDPR Art. 33: the regulator within 72 h of awareness
    clock = FakeClock((due - timedelta(hours=30)).timestamp())
    loop = loop_for(team_db, clock, webhook.url, None)
    loop.check_once()
    assert kinds(webhook) == ["incident.opened"]  # 30 h before: not yet
    clock.now = (due - timedelta(hours=23)).timestamp()
    loop.check_once()
    deadlines = [b for b in webhook.received if b["kind"] == "deadline.near"]
    gdpr = [b for b in deadlines if ":eu_gdpr:regulator:" in b["key"]]
    assert len(gdpr) == 1 and f"INC-{incident}" in gdpr[0]["title"] and "due in 23 h" in gdpr[0]["title"]
    with team_db.session() as s:  # every deadline alerted is one owed within the 24 h
        owed = {a.key for a in due_alerts(s, datetime.fromtimestamp(clock(), UTC))}
    assert {b["key"] for b in deadlines} <= owed
    clock.advance(3600)
    before = len(webhook.received)
    loop.check_once()
    assert len(webhook.received) == before  # once only


def test_an_overdue_case_is_alerted_once(team_db: Database, webhook: Webhook,
                                         smtp: tuple[Sink, int]) -> None:
    sink, port = smtp
    clock = FakeClock()
    now = datetime.fromtimestamp(clock(), UTC)
    incident = auto_opened_incident(team_db, clock() - 40 * 86400)
    case, _ = case_with_sent_letter(team_db, incident, now - timedelta(days=10))
    loop = loop_for(team_db, clock, webhook.url, port)
    loop.check_once()
    assert kinds(webhook) == ["incident.opened"]  # the case is not overdue yet (14 days)
    clock.advance(6 * 86400)
    loop.check_once()
    assert kinds(webhook) == ["incident.opened", "case.overdue"]
    overdue = webhook.received[-1]
    assert overdue["subject"] == f"CASE-{case}" and overdue["url"].endswith(f"/cases/CASE-{case}")
    assert "Data Harvest Inc." in overdue["title"] and "overdue by" in overdue["title"]
    last = str(sink.messages[-1]["Subject"]).strip()
    assert last.startswith(f"[ScrapeGuard] Legal case CASE-{case}")
    clock.advance(86400)
    loop.check_once()
    assert kinds(webhook) == ["incident.opened", "case.overdue"] and len(sink.messages) == 2


def test_a_receiver_that_is_down_gets_the_alert_at_the_next_round(team_db: Database,
                                                                   smtp: tuple[Sink, int]) -> None:
    sink, smtp_port = smtp
    hook = Webhook()
    port, url = hook.port, hook.url
    hook.down()  # the webhook's port is closed: connection refused
    clock = FakeClock()
    loop = loop_for(team_db, clock, url, smtp_port)
    incident = auto_opened_incident(team_db, clock() - 3600)
    first = loop.check_once()
    assert first.sent == [(f"incident.opened:INC-{incident}", "email")]
    assert [(key, channel) for key, channel, _ in first.failed] == [(f"incident.opened:INC-{incident}",
                                                                      "webhook")]
    back = Webhook(port)
    try:
        clock.advance(60)
        second = loop.check_once()
        assert second.sent == [(f"incident.opened:INC-{incident}", "webhook")] and not second.failed
        assert kinds(back) == ["incident.opened"]
        assert len(sink.messages) == 1  # the e-mail, delivered the first time, is not sent again
    finally:
        back.down()


def test_two_consoles_running_a_round_at_the_same_moment_send_each_alert_once_per_channel(
        team_db: Database, webhook: Webhook, smtp: tuple[Sink, int],
        monkeypatch: pytest.MonkeyPatch) -> None:
    sink, port = smtp
    clock = FakeClock()
    incident = auto_opened_incident(team_db, clock() - 3600)
    key = f"incident.opened:INC-{incident}"
    consoles = [loop_for(team_db, clock, webhook.url, port, owner=name)
                for name in ("console-a", "console-b")]
    together = threading.Barrier(2, timeout=60)  # (a guard against a hang, not a timing)
    claim_alerts = AlertLoop._claim

    def claim_together(loop: AlertLoop, todo: list[tuple[Alert, list[str]]], when: datetime,
                       result: RoundResult) -> list[tuple[Alert, list[str]]]:
        together.wait()  # both rounds have read the audit log: to both, nothing was sent yet
        return claim_alerts(loop, todo, when, result)

    monkeypatch.setattr(AlertLoop, "_claim", claim_together)
    with ThreadPoolExecutor(2) as pool:
        rounds = list(pool.map(lambda loop: loop.check_once(), consoles))
    monkeypatch.undo()
    assert sorted(sent for r in rounds for sent in r.sent) == [(key, "email"), (key, "webhook")]
    assert sorted(other for r in rounds for other in r.claimed_elsewhere) == [(key, "email"),
                                                                              (key, "webhook")]
    assert not any(r.failed for r in rounds)
    assert kinds(webhook) == ["incident.opened"] and len(sink.messages) == 1
    clock.advance(60)
    assert [loop.check_once().sent for loop in consoles] == [[], []]
    with team_db.session() as s:
        sent = audit.entries_for(s, "alert", key)
        assert sorted(json.loads(e.details)["channel"] for e in sent) == ["email", "webhook"]


def test_a_channel_that_failed_on_one_console_is_sent_by_the_next_round_of_another(
        team_db: Database, smtp: tuple[Sink, int]) -> None:
    sink, smtp_port = smtp
    hook = Webhook()
    port, url = hook.port, hook.url
    hook.down()  # connection refused
    clock = FakeClock()
    first, second = (loop_for(team_db, clock, url, smtp_port, owner=name)
                     for name in ("console-a", "console-b"))
    key = f"incident.opened:INC-{auto_opened_incident(team_db, clock() - 3600)}"
    failed = first.check_once()
    assert failed.sent == [(key, "email")] and [(k, c) for k, c, _ in failed.failed] == [(key, "webhook")]
    with team_db.session() as s:  # the webhook's claim was released; the e-mail's stays
        claims = [(c.channel, c.claimed_by) for c in s.execute(select(AlertClaim)).scalars()]
    assert claims == [("email", "console-a")]
    back = Webhook(port)
    try:
        clock.advance(60)
        retried = second.check_once()
        assert retried.sent == [(key, "webhook")] and not retried.failed and not retried.claimed_elsewhere
        assert kinds(back) == ["incident.opened"] and len(sink.messages) == 1
        assert first.check_once().sent == []
    finally:
        back.down()


def test_a_claim_left_by_a_console_that_died_before_sending_is_taken_over_once_stale(
        team_db: Database, webhook: Webhook) -> None:
    clock = FakeClock()
    auto_opened_incident(team_db, clock() - 3600)
    when = datetime.fromtimestamp(clock(), UTC)
    with team_db.session() as s:
        [alert] = due_alerts(s, when)
    assert claim(team_db, alert, "webhook", when, "dead-host:4242")  # claimed; then that console died
    loop = loop_for(team_db, clock, webhook.url, None, owner="console-b")
    assert loop.check_once().claimed_elsewhere == [(alert.key, "webhook")]
    clock.advance(CLAIM_STALE.total_seconds() - 60)
    assert loop.check_once().claimed_elsewhere == [(alert.key, "webhook")]
    assert webhook.received == []
    clock.advance(120)
    assert loop.check_once().sent == [(alert.key, "webhook")]
    assert kinds(webhook) == ["incident.opened"]
    clock.advance(10 * CLAIM_STALE.total_seconds())
    later = loop_for(team_db, clock, webhook.url, None, owner="console-c")
    assert later.check_once().sent == [] and len(webhook.received) == 1  # recorded as sent: done


def test_an_unreachable_smtp_server_is_retried_and_never_raises(team_db: Database) -> None:
    clock = FakeClock()
    loop = loop_for(team_db, clock, None, free_port())  # nothing listens there
    auto_opened_incident(team_db, clock() - 3600)
    result = loop.check_once()
    assert result.sent == [] and [channel for _, channel, _ in result.failed] == ["email"]
    assert len(loop.check_once().failed) == 1  # tried again, still refused, still no exception


def test_the_loop_runs_rounds_and_stops(team_db: Database, webhook: Webhook) -> None:
    import asyncio

    clock = FakeClock()
    incident = auto_opened_incident(team_db, clock() - 3600)
    loop = AlertLoop(team_db, AlertSettings(webhook=webhook.url), clock, interval=3600)

    async def run() -> None:
        loop.start()
        for _ in range(200):  # the first round runs at once; wait for it, not for time
            if webhook.received:
                break
            await asyncio.sleep(0.05)
        await loop.stop()

    asyncio.run(run())
    assert kinds(webhook) == ["incident.opened"] and webhook.received[0]["subject"] == f"INC-{incident}"


def test_scrapeguard_console_runs_the_alert_loop_next_to_the_server(team_db: Database,
                                                                   webhook: Webhook) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    incident = auto_opened_incident(team_db, time.time() - 3600)
    scrapeguard = Path(sys.executable).with_name("scrapeguard")
    process = subprocess.Popen(
        [str(scrapeguard), "console", "--db", str(team_db.url.render_as_string(hide_password=False)),
         "--listen", "127.0.0.1:0", "--alert-webhook", webhook.url, "--alert-interval", "5"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "SCRAPEGUARD_SMTP": ""})
    try:
        deadline = time.monotonic() + 60
        while not webhook.received and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.1)  # (waiting for the receiver to get the alert, not for time to pass)
        failed = process.stderr.read() if process.poll() is not None and process.stderr else ""
        assert kinds(webhook) == ["incident.opened"], failed
        assert webhook.received[0]["subject"] == f"INC-{incident}"
        assert webhook.received[0]["url"].startswith("http://127.0.0.1:")
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "alerts: by webhook, checked every 5 s" in out


def test_a_reopened_incident_is_alerted_again_once_per_reopening(team_db: Database, webhook: Webhook) -> None:
    clock = FakeClock()
    loop = loop_for(team_db, clock, webhook.url, None)
    incident = auto_opened_incident(team_db, clock() - 3600)
    loop.check_once()
    assert kinds(webhook) == ["incident.opened"]
    admin = Actor("ada", ADMIN)
    with team_db.session() as s:  # a note that reads like a reopening is not one
        incidents.advance(s, admin, incident, incidents.CONTAINED, note="reopened: ticket 12",
                          now=datetime.fromtimestamp(clock(), UTC))
    clock.advance(60)
    assert loop.check_once().sent == []

    def close_and_reopen(reason: str) -> None:
        with team_db.session() as s:
            incidents.advance(s, admin, incident, incidents.CLOSED, reason="false positive: a test",
                              now=datetime.fromtimestamp(clock(), UTC))
        clock.advance(60)
        assert loop.check_once().sent == []  # a closed incident says nothing
        with team_db.session() as s:
            incidents.reopen(s, admin, incident, reason, now=datetime.fromtimestamp(clock(), UTC))
        clock.advance(60)

    close_and_reopen("the member list was longer than we thought")
    loop.check_once()
    assert kinds(webhook) == ["incident.opened", "incident.reopened"]
    assert "the member list was longer than we thought" in webhook.received[-1]["text"]
    assert "reopened by ada" in webhook.received[-1]["text"]
    clock.advance(60)
    assert loop.check_once().sent == []  # once per reopening
    close_and_reopen("a second look")
    loop.check_once()
    assert kinds(webhook) == ["incident.opened", "incident.reopened", "incident.reopened"]
    assert "a second look" in webhook.received[-1]["text"]


def long_round(db: Database, hook: str | None, smtp_port: int | None) -> RoundResult:
    """Console A's round over two due alerts, interrupted after its first delivery: 11 minutes pass
    (its claim on the second now looks abandoned) and console B runs a round, which must send the
    second only. A's result is returned."""
    clock = FakeClock()
    analyst = Actor("ana", ANALYST)
    with db.session() as s:
        for title in ("first scraper", "second scraper"):
            incidents.open_incident(s, analyst, title, {f"ip:p-{title[:5]}"})
    first, second = (loop_for(db, clock, hook, smtp_port, owner=name) for name in ("a", "b"))
    recorded = first._remember
    interrupted: list[bool] = []

    def remember_then_let_b_run(alert: Alert, channel: str, when: datetime) -> None:
        recorded(alert, channel, when)
        if not interrupted:
            interrupted.append(True)
            clock.advance(11 * 60)
            assert [key for key, _ in second.check_once().sent] == ["incident.opened:INC-2"]

    first._remember = remember_then_let_b_run  # type: ignore[method-assign]
    return first.check_once()


def test_a_long_round_keeps_its_claims_and_what_it_sent_is_recorded_at_once(team_db: Database,
                                                                            webhook: Webhook) -> None:
    """Console A sends two alerts slowly (`long_round`). B does not resend the first (recorded as
    sent the moment it went out) and takes the second over; A, renewing its claim before sending the
    second, finds it taken and leaves it. Each alert reaches the receiver once."""
    result = long_round(team_db, webhook.url, None)
    assert [key for key, _ in result.sent] == ["incident.opened:INC-1"]
    assert result.claimed_elsewhere == [("incident.opened:INC-2", "webhook")]
    assert sorted(body["key"] for body in webhook.received) == ["incident.opened:INC-1",
                                                                 "incident.opened:INC-2"]


def test_a_long_round_of_e_mails_renews_each_claim_before_each_message(
        team_db: Database, smtp: tuple[Sink, int]) -> None:
    """As with the webhook: the batch of e-mails on one connection renews each claim just before its
    message, so a console that took one over in the meantime is the only one to send it."""
    sink, port = smtp
    result = long_round(team_db, None, port)
    assert [key for key, _ in result.sent] == ["incident.opened:INC-1"] and not result.failed
    assert result.claimed_elsewhere == [("incident.opened:INC-2", "email")]
    assert sorted(str(m["X-ScrapeGuard-Alert"]) for m in sink.messages) == [
        "incident.opened:INC-1", "incident.opened:INC-2"]


def test_a_claim_that_cannot_be_renewed_is_released_and_retried_next_round(
        team_db: Database, webhook: Webhook, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    loop = loop_for(team_db, clock, webhook.url, None)
    auto_opened_incident(team_db, clock() - 3600)

    def locked(*args: Any) -> bool:
        raise RuntimeError("database is locked")

    monkeypatch.setattr(alerts_module, "renew", locked)
    result = loop.check_once()
    assert result.sent == [] and [f[:2] for f in result.failed] == [(result.failed[0][0], "webhook")]
    assert "cannot renew its claim" in result.failed[0][2] and not result.claimed_elsewhere
    with team_db.session() as s:  # released: not held for the 10 minutes of a stale claim
        assert s.execute(select(AlertClaim)).scalars().all() == []
    monkeypatch.undo()
    clock.advance(60)
    assert [kind for kind in kinds(webhook)] == [] and loop.check_once().sent != []
    assert kinds(webhook) == ["incident.opened"]
