"""Alerts: the team hears when an incident opens (or is reopened), a deadline is 24 h away, or a
legal case is overdue, by a webhook (JSON POST) and/or e-mail (SMTP).

`due_alerts` reads what the records say is due now; each alert has a stable key (the incident, the
obligation and its due time, the case and its deadline), so a deadline moved by a re-assessment or a
new letter is a new alert, and the same one is never sent twice. What was sent is remembered in the
audit log (an "alert.sent" entry per alert and channel, by the guard itself), so a restarted console
does not alert again, and a channel that failed (webhook down, SMTP refused) is retried at the next
round without repeating the alerts another channel delivered.

Several consoles may run rounds on one records database (SQLite or PostgreSQL): before sending an
alert on a channel a console inserts its claim (`alert_claims`, unique per alert and channel); a
console that finds the claim taken does not send. A failed sending deletes its claim, so the next
round (of any console) tries again. A console that dies between claiming and sending leaves its
claim behind: one older than `CLAIM_STALE` without an "alert.sent" entry is taken over (deleted and
inserted anew in one transaction) and the alert sent. Each alert then goes once per channel, except
that a console that sent but died (or lost the database) before recording it is not known to have
sent: that alert goes again after `CLAIM_STALE`, as a console without claims would send it again.

`AlertLoop` runs the rounds in the console's process (every 60 s by default, `scrapeguard console`
starts and stops it); `check_once(now)` is one round, which tests call with a fake clock's time.
Sending never raises: a failure is logged and retried next round.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import secrets
import smtplib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from scrapeguard.console.countdown import aware, span
from scrapeguard.records import audit, cases, incidents, obligations
from scrapeguard.records.models import AlertClaim, AuditEntry
from scrapeguard.records.users import GUARD

if TYPE_CHECKING:
    from scrapeguard.records.db import Database

log = logging.getLogger(__name__)

#: A notification deadline this close (or passed, and still owed) is alerted.
DEADLINE_WARNING = timedelta(hours=24)
#: Seconds between two rounds.
INTERVAL = 60.0
#: Seconds the webhook has to answer.
WEBHOOK_TIMEOUT = 5.0
SMTP_TIMEOUT = 10.0
#: The audit action that remembers a sent alert (entity "alert", entity_id its key).
SENT = "alert.sent"
#: The audit action of an incident's reopening (records/incidents.py `reopen`).
REOPEN = "incident.reopen"
WEBHOOK, EMAIL = "webhook", "email"
#: A claim this old without an "alert.sent" entry is taken to be that of a console that died between
#: claiming and sending: another console takes it over. Far longer than a round takes.
CLAIM_STALE = timedelta(minutes=10)


@dataclass(frozen=True)
class AlertSettings:
    """Where alerts go: a webhook URL, and/or e-mail addresses through an SMTP server."""

    webhook: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 25
    recipients: tuple[str, ...] = ()
    sender: str = "scrapeguard@localhost"

    @property
    def channels(self) -> tuple[str, ...]:
        return ((WEBHOOK,) if self.webhook else ()) + ((EMAIL,) if self.smtp_host and self.recipients else ())


def alert_settings(webhook: str | None, smtp: str | None, recipients: tuple[str, ...],
                   sender: str) -> AlertSettings | None:
    """Settings from the command line's options; None when no alert goes anywhere."""
    if not webhook and not (smtp and recipients):
        return None
    host, port = None, 25
    if smtp:
        host, _, port_text = smtp.rpartition(":")
        if not host or not port_text.isdigit():
            raise ValueError(f"--smtp {smtp!r} is not HOST:PORT")
        port = int(port_text)
    return AlertSettings(webhook or None, host, port, tuple(recipients), sender)


@dataclass(frozen=True)
class Alert:
    """One thing the team must hear about."""

    #: Stable: the same situation always has the same key ("incident.opened:INC-3").
    key: str
    #: "incident.opened", "deadline.near" or "case.overdue".
    kind: str
    #: The record it is about ("INC-3", "CASE-2").
    subject: str
    title: str
    text: str
    #: The console page to open (a path; the loop adds the console's address when it knows it).
    path: str

    @property
    def audit_id(self) -> str:
        """The key as an audit entry's entity_id (at most 100 characters)."""
        return self.key if len(self.key) <= 100 else "sha256:" + hashlib.sha256(self.key.encode()).hexdigest()

    def to_json(self, base_url: str = "") -> dict[str, Any]:
        return {"key": self.key, "kind": self.kind, "subject": self.subject, "title": self.title,
                "text": self.text, "url": base_url.rstrip("/") + self.path}


def due_alerts(session: Session, now: datetime) -> list[Alert]:
    """What should be alerted now, sent or not (see `unsent`): every incident not closed (opened
    since its alert, or never alerted), every owed notification whose due time is within
    `DEADLINE_WARNING` or passed, every overdue legal case."""
    alerts: list[Alert] = []
    for incident in incidents.list_incidents(session, GUARD):
        if incident.state == incidents.CLOSED:
            continue
        ref = incidents.public_id(incident.id)
        alerts.append(Alert(
            f"incident.opened:{ref}", "incident.opened", ref, f"Incident {ref} opened: {incident.title}",
            f"{ref} was opened by {incident.opened_by} (detected "
            f"{aware(incident.detected_at):%Y-%m-%d %H:%M} UTC): {incident.title}. "
            "Assess it and check its notification deadlines.",
            f"/incidents/{ref}"))
        reopened = _last_reopening(session, incident.id)
        if reopened is not None:  # (a new alert per reopening: its audit entry is in the key)
            seq, at, by, reason = reopened
            alerts.append(Alert(
                f"incident.reopened:{ref}:{seq}", "incident.reopened", ref,
                f"Incident {ref} reopened: {incident.title}",
                f"{ref} was reopened by {by} at {at:%Y-%m-%d %H:%M} UTC ({reason}). Assess it again "
                "and check its notification deadlines.",
                f"/incidents/{ref}"))
        for duty in obligations.obligations_of(session, incident.id):
            if not duty.owed or duty.row.due is None:
                continue
            due = aware(duty.row.due)
            left = due - now
            if left > DEADLINE_WARNING:
                continue
            when = f"due in {span(left.total_seconds())}" if left.total_seconds() >= 0 \
                else f"overdue by {span(left.total_seconds())}"
            alerts.append(Alert(
                f"deadline.near:{ref}:{duty.row.regime}:{duty.row.audience}:{due:%Y-%m-%dT%H:%M}",
                "deadline.near", ref,
                f"{ref}: notification to the {duty.row.audience} under {duty.row.regime} {when}",
                f"The notification of {ref} to the {duty.row.audience} ({duty.row.regime}, "
                f"{duty.row.status}) is {when}: due {due:%Y-%m-%d %H:%M} UTC ({duty.row.deadline}).",
                f"/incidents/{ref}"))
    for case in cases.overdue(session, now):
        assert case.deadline is not None
        ref = cases.public_id(case.id)
        deadline = aware(case.deadline)
        alerts.append(Alert(
            f"case.overdue:{ref}:{deadline:%Y-%m-%dT%H:%M}", "case.overdue", ref,
            f"Legal case {ref} against {case.respondent} is overdue by "
            f"{span((now - deadline).total_seconds())}",
            f"{case.respondent} had until {deadline:%Y-%m-%d %H:%M} UTC to comply and deletion is not "
            f"confirmed ({case.status.replace('_', ' ')}). Record a reminder, a reply or the next step.",
            f"/cases/{ref}"))
    return alerts


def _last_reopening(session: Session, incident_id: int) -> tuple[int, datetime, str, str] | None:
    """(audit seq, when, by whom, why) of the incident's latest reopening, from the audit log (the
    record of the `incidents.reopen` call itself, not a step note anyone could have typed)."""
    entry = session.execute(
        select(AuditEntry).where(AuditEntry.entity == "incident", AuditEntry.entity_id == str(incident_id),
                                 AuditEntry.action == REOPEN)
        .order_by(AuditEntry.seq.desc()).limit(1)).scalar_one_or_none()
    if entry is None:
        return None
    try:
        reason = str(json.loads(entry.details).get("reason", ""))
    except (ValueError, AttributeError):
        reason = ""
    return entry.seq, aware(entry.at), entry.actor, reason


def sent_channels(session: Session, audit_id: str | None = None) -> dict[str, set[str]]:
    """audit id of an alert -> the channels it was delivered on (from the audit log); only that
    alert's with `audit_id`."""
    sent: dict[str, set[str]] = {}
    query = select(AuditEntry.entity_id, AuditEntry.details).where(AuditEntry.action == SENT)
    if audit_id is not None:
        query = query.where(AuditEntry.entity == "alert", AuditEntry.entity_id == audit_id)
    for entity_id, details in session.execute(query):
        try:
            channel = str(json.loads(details).get("channel", ""))
        except (ValueError, AttributeError):
            continue
        sent.setdefault(entity_id, set()).add(channel)
    return sent


@dataclass
class RoundResult:
    """What one round did: (alert key, channel) delivered, and those that failed (retried next round)."""

    sent: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str, str]] = field(default_factory=list)
    #: (alert key, channel) another console had claimed: it sends them, this one does not.
    claimed_elsewhere: list[tuple[str, str]] = field(default_factory=list)


def console_name() -> str:
    """Who claims, in `alert_claims.claimed_by`: this host and process."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"  # (pids repeat in containers)


def claim(db: Database, alert: Alert, channel: str, when: datetime, owner: str) -> bool:
    """Claim `alert` on `channel` before sending it: True when this console may send it. The claim
    is committed before the sending starts; a second console's insert then fails (IntegrityError)
    and it does not send, unless the claim it finds is stale (`take_over`)."""
    try:
        with db.session() as session:
            session.add(AlertClaim(alert_key=alert.audit_id, channel=channel, claimed_at=when,
                                   claimed_by=owner))
        return True
    except IntegrityError:
        return take_over(db, alert, channel, when, owner)


def take_over(db: Database, alert: Alert, channel: str, when: datetime, owner: str) -> bool:
    """Take over a claim older than `CLAIM_STALE` whose alert was never recorded as sent on that
    channel: delete it and insert ours in one transaction. The delete names the claim as read, so of
    two consoles taking over the same claim only one deletes it."""
    with db.session() as session:
        held = session.execute(select(AlertClaim.claimed_at, AlertClaim.claimed_by).where(
            AlertClaim.alert_key == alert.audit_id, AlertClaim.channel == channel)).one_or_none()
        if held is None or held.claimed_at >= when - CLAIM_STALE:
            return False  # released meanwhile (the next round claims it), or another console's at work
        if channel in sent_channels(session, alert.audit_id).get(alert.audit_id, set()):
            return False  # sent: nothing to do
        gone = session.execute(delete(AlertClaim).where(
            AlertClaim.alert_key == alert.audit_id, AlertClaim.channel == channel,
            AlertClaim.claimed_at == held.claimed_at, AlertClaim.claimed_by == held.claimed_by))
        if int(getattr(gone, "rowcount", 0) or 0) != 1:
            return False  # another console took it over first
        session.add(AlertClaim(alert_key=alert.audit_id, channel=channel, claimed_at=when, claimed_by=owner))
    log.warning("alert %s by %s: claimed by %s at %s and never recorded as sent; taken over", alert.key,
                channel, held.claimed_by, held.claimed_at.isoformat())
    return True


def release(db: Database, alert: Alert, channel: str, owner: str) -> None:
    """Delete this console's claim of an alert it failed to send: the next round tries again. (If
    the records cannot be reached, the claim stays until it is stale.)"""
    try:
        with db.session() as session:
            session.execute(delete(AlertClaim).where(
                AlertClaim.alert_key == alert.audit_id, AlertClaim.channel == channel,
                AlertClaim.claimed_by == owner))
    except Exception as exc:  # (the records unreachable): taken over once stale
        log.warning("alerts: could not release the claim of %s by %s (retried once it is stale, in %s): "
                    "%s", alert.key, channel, CLAIM_STALE, exc)


def renew(db: Database, alert: Alert, channel: str, when: datetime, owner: str) -> bool:
    """Move this console's claim to `when`, just before sending: True if it still holds it, False if
    another console took it over as stale. (Raises when the records cannot be reached.)"""
    with db.session() as session:
        renewed = session.execute(update(AlertClaim).where(
            AlertClaim.alert_key == alert.audit_id, AlertClaim.channel == channel,
            AlertClaim.claimed_by == owner).values(claimed_at=when))
        return int(getattr(renewed, "rowcount", 0) or 0) == 1


class AlertSender:
    """Delivers alerts: a JSON POST to the webhook, and an e-mail through SMTP (STARTTLS when the
    server offers it; user and password from SCRAPEGUARD_SMTP_USER / SCRAPEGUARD_SMTP_PASSWORD)."""

    def __init__(self, settings: AlertSettings, base_url: str = "") -> None:
        self.settings = settings
        self.base_url = base_url

    def webhook(self, alert: Alert) -> None:
        assert self.settings.webhook
        response = httpx.post(self.settings.webhook, json=alert.to_json(self.base_url),
                              timeout=WEBHOOK_TIMEOUT)
        if response.status_code >= 300:
            raise RuntimeError(f"the webhook answered {response.status_code}")

    def emails(self, alerts: list[Alert], sent: Callable[[Alert], None] = lambda alert: None,
               before: Callable[[Alert], bool] = lambda alert: True) -> dict[str, str]:
        """Send one e-mail per alert on one connection, asking `before` just before each (False:
        that one is not sent) and calling `sent` after each delivery; alert key -> error of those
        not sent."""
        s = self.settings
        assert s.smtp_host
        errors: dict[str, str] = {}
        delivered: set[str] = set()
        try:
            with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=SMTP_TIMEOUT) as smtp:
                smtp.ehlo()
                if smtp.has_extn("starttls"):
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
                user = os.environ.get("SCRAPEGUARD_SMTP_USER")
                if user:
                    smtp.login(user, os.environ.get("SCRAPEGUARD_SMTP_PASSWORD", ""))
                for alert in alerts:
                    if not before(alert):
                        errors[alert.key] = "not this console's to send any more"
                        continue
                    try:
                        smtp.send_message(self.message(alert))
                    except smtplib.SMTPException as exc:
                        errors[alert.key] = f"{type(exc).__name__}: {exc}"
                        continue
                    delivered.add(alert.key)
                    sent(alert)
        except (OSError, smtplib.SMTPException) as exc:
            for alert in alerts:
                if alert.key not in delivered:
                    errors.setdefault(alert.key, f"{type(exc).__name__}: {exc}")
        return errors

    def message(self, alert: Alert) -> EmailMessage:
        message = EmailMessage()
        message["Subject"] = f"[ScrapeGuard] {alert.title}"
        message["From"] = self.settings.sender
        message["To"] = ", ".join(self.settings.recipients)
        message["X-ScrapeGuard-Alert"] = alert.key
        link = alert.to_json(self.base_url)["url"]
        message.set_content(f"{alert.text}\n\nOpen: {link}\n\n-- ScrapeGuard console alert ({alert.kind})\n")
        return message


class AlertLoop:
    """Checks for due alerts every `interval` seconds in the console's process and sends the new
    ones. `check_once(now)` is one round (blocking I/O: the loop runs it in a thread)."""

    def __init__(self, db: Database, settings: AlertSettings, clock: Callable[[], float],
                 interval: float = INTERVAL, base_url: str = "", owner: str | None = None) -> None:
        self.db = db
        #: Who this console is in its claims (host:pid).
        self.owner = owner or console_name()
        self.settings = settings
        self.clock = clock
        self.interval = interval
        self.sender = AlertSender(settings, base_url)
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def check_once(self, now: float | datetime | None = None) -> RoundResult:
        """One round at `now` (default: the clock): find the due alerts, claim those not yet sent on
        each channel, send what this console claimed, remember what went out and release what
        failed. Never raises (a failure is logged, and retried)."""
        result = RoundResult()
        when = now if isinstance(now, datetime) else datetime.fromtimestamp(
            self.clock() if now is None else now, UTC)
        channels = self.settings.channels
        try:
            with self.db.session() as session:
                done = sent_channels(session)
                todo = [(alert, [c for c in channels if c not in done.get(alert.audit_id, set())])
                        for alert in due_alerts(session, when)]
        except Exception as exc:  # the records unreachable: try again next round
            log.warning("alerts: cannot read the records: %s", exc)
            return result
        todo = self._claim([(alert, wanted) for alert, wanted in todo if wanted], when, result)
        claimed = {(alert.key, channel) for alert, wanted in todo for channel in wanted}
        if WEBHOOK in channels:
            for alert in (a for a, wanted in todo if WEBHOOK in wanted):
                if not self._still_mine(alert, WEBHOOK, result):
                    continue
                try:
                    self.sender.webhook(alert)
                except Exception as exc:  # (httpx errors, a refusing receiver): retried next round
                    result.failed.append((alert.key, WEBHOOK, f"{type(exc).__name__}: {exc}"))
                    continue
                result.sent.append((alert.key, WEBHOOK))
                self._remember(alert, WEBHOOK, when)
        mails = [a for a, wanted in todo if EMAIL in wanted]
        if mails:
            def mailed(alert: Alert) -> None:
                result.sent.append((alert.key, EMAIL))
                self._remember(alert, EMAIL, when)

            skipped = set()

            def still_mine(alert: Alert) -> bool:  # (just before each message, not before the batch)
                if self._still_mine(alert, EMAIL, result):
                    return True
                skipped.add(alert.key)
                return False

            for key, error in self.sender.emails(mails, mailed, still_mine).items():
                if key not in skipped:
                    result.failed.append((key, EMAIL, error))
        by_key = {alert.key: alert for alert, _ in todo}
        for key, channel, error in result.failed:
            log.warning("alert %s not sent by %s (retried in the next round): %s", key, channel, error)
            if (key, channel) in claimed:  # (only a claim this console holds is released)
                release(self.db, by_key[key], channel, self.owner)
        return result

    def _still_mine(self, alert: Alert, channel: str, result: RoundResult) -> bool:
        """Renew this console's claim just before sending (a long round must not look abandoned to
        another console); False, and the alert is left alone, if another console took it over."""
        try:
            if renew(self.db, alert, channel, datetime.fromtimestamp(self.clock(), UTC), self.owner):
                return True
        except Exception as exc:  # (the records unreachable, locked): not sent now, released, retried
            result.failed.append((alert.key, channel, f"cannot renew its claim: {type(exc).__name__}: {exc}"))
            return False
        result.claimed_elsewhere.append((alert.key, channel))
        return False

    def _claim(self, todo: list[tuple[Alert, list[str]]], when: datetime,
               result: RoundResult) -> list[tuple[Alert, list[str]]]:
        """The alerts and channels this console claimed, of those `todo`; the others are in
        `result.claimed_elsewhere` (another console sends them) or, when the records failed,
        `result.failed` (no claim, no sending: the next round tries again)."""
        claimed: list[tuple[Alert, list[str]]] = []
        for alert, wanted in todo:
            mine: list[str] = []
            for channel in wanted:
                try:
                    if claim(self.db, alert, channel, when, self.owner):
                        mine.append(channel)
                    else:
                        result.claimed_elsewhere.append((alert.key, channel))
                except Exception as exc:  # the records unreachable: not claimed, so not sent
                    result.failed.append((alert.key, channel,
                                          f"cannot claim it: {type(exc).__name__}: {exc}"))
            if mine:
                claimed.append((alert, mine))
        return claimed

    def _remember(self, alert: Alert, channel: str, when: datetime) -> None:
        """Record a delivery in the audit log at once (not at the end of the round): from here on no
        console sends it again on that channel, however long this round goes on."""
        try:
            with self.db.session() as session:
                audit.record(session, audit.SYSTEM, SENT, "alert", alert.audit_id,
                             {"key": alert.key, "kind": alert.kind, "subject": alert.subject,
                              "channel": channel, "title": alert.title}, at=when)
        except Exception as exc:  # sent, but not remembered: it may be sent once more
            log.warning("alerts: %s sent by %s but could not be recorded (may be sent again): %s",
                        alert.key, channel, exc)

    async def run(self) -> None:
        while not self._stop.is_set():
            await asyncio.to_thread(self.check_once)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval)

    def start(self) -> None:
        """Start the rounds on the running event loop."""
        self._stop.clear()
        self._task = asyncio.get_running_loop().create_task(self.run())

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None
