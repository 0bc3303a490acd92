"""Signed-in sessions of the console, kept in the records database: the browser holds only a random
token, the table `console_sessions` only its SHA-256 (a copy of the table signs nobody in).

Every console on the same records (SQLite or PostgreSQL) sees every session: a restart signs nobody
out, and several consoles behind one address need no sticky sessions. The messages a page leaves for
the next one ("Penalty lifted.") are kept in the row too, since the next page may be served by
another console.

A session ends when its user signs out, after `idle_seconds` without a request, after
`max_seconds` whatever happens, and when the user is disabled (checked on every request, see
`app.py`). Each session has its own CSRF token, which every form sends back.

`last_seen` is written at most every `TOUCH_SECONDS` per session (a tenth of the idle timeout when
that is shorter), not on every request, so the idle timeout is correct to within that step: a
session may end up to that step early (counted
from the last request that wrote it), never late. An expired session found by its token is deleted
(and its browser told it expired); rows expired for more than `KEEP_EXPIRED` are purged whenever a
session starts. Consoles sharing the records should run with the same `--idle-minutes`: each ends
the sessions its own limit finds idle.

Every time is the caller's `now` (the console's clock), never the wall clock: tests move a fake one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from scrapeguard.records.models import ConsoleSessionRecord

if TYPE_CHECKING:
    from scrapeguard.records.db import Database

#: At most this many sessions are kept; the least recently seen go first (a bound on the table
#: whatever a signed-in script does; far above what a team uses).
MAX_SESSIONS = 1000
#: `last_seen` is written when it is at least this old (fewer writes; the idle timeout's step).
TOUCH_SECONDS = 30.0
#: An expired row is kept this long, so that a browser coming back is told its session expired.
KEEP_EXPIRED = 24 * 3600.0
#: Messages waiting for the next page, at most (the oldest go first).
MAX_FLASHES = 20


def token_digest(token: str) -> str:
    """What the table keeps of a session token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def _at(now: float) -> datetime:
    return datetime.fromtimestamp(now, UTC)


def _flashes(text: str) -> list[tuple[str, str]]:
    try:
        loaded: Any = json.loads(text or "[]")
        return [(str(kind), str(message)) for kind, message in loaded]
    except (ValueError, TypeError):  # a damaged row loses its messages, not the session
        return []


@dataclass
class ConsoleSession:
    """One signed-in browser."""

    token: str
    user: str
    started: float
    last_seen: float
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    #: Messages to show on the next page ("Penalty lifted."), as read with the session.
    flashes: list[tuple[str, str]] = field(default_factory=list)
    #: Where the session is kept (None: in this object only).
    store: SessionStore | None = field(default=None, repr=False, compare=False)

    def csrf_ok(self, sent: str | None) -> bool:
        return sent is not None and hmac.compare_digest(sent.encode(), self.csrf.encode())

    def flash(self, message: str, kind: str = "ok") -> None:
        """Leave a message for the next page (kept in the records: another console may serve it)."""
        self.flashes.append((kind, message))
        if self.store is not None:
            self.store.add_flash(self.token, kind, message)

    def take_flashes(self) -> list[tuple[str, str]]:
        """The messages waiting, once: a second page (or console) does not show them again. Without
        any read with the session or left since, the records are not asked."""
        if self.store is None or not self.flashes:
            taken, self.flashes = self.flashes, []
            return taken
        self.flashes = []
        return self.store.take_flashes(self.token)


class SessionStore:
    """Tokens -> sessions in the records database, bounded, with idle and absolute expiry."""

    def __init__(self, db: Database, idle_seconds: float, max_seconds: float) -> None:
        self.db = db
        self.idle_seconds = idle_seconds
        self.max_seconds = max_seconds
        #: How stale `last_seen` may get before it is written (see the module).
        self.touch_seconds = min(TOUCH_SECONDS, idle_seconds / 10)

    def start(self, user: str, now: float) -> ConsoleSession:
        """A new session for `user` (signed in just now); old rows are purged on the way."""
        session = ConsoleSession(secrets.token_urlsafe(32), user, now, now, store=self)
        with self.db.session() as records:
            self._purge(records, now)
            records.add(ConsoleSessionRecord(token_sha256=token_digest(session.token), user_name=user,
                                             started=_at(now), last_seen=_at(now), csrf=session.csrf,
                                             flashes="[]"))
            records.flush()
            newest = select(ConsoleSessionRecord.token_sha256).order_by(
                ConsoleSessionRecord.last_seen.desc(), ConsoleSessionRecord.started.desc(),
                ConsoleSessionRecord.token_sha256).offset(MAX_SESSIONS)
            records.execute(delete(ConsoleSessionRecord).where(ConsoleSessionRecord.token_sha256.in_(newest)),
                            execution_options={"synchronize_session": False})
        return session

    def find(self, token: str | None, now: float) -> tuple[ConsoleSession | None, bool]:
        """(the session, whether it just expired) for a cookie's token; a found session is touched
        (its `last_seen` written if older than `touch_seconds`)."""
        if not token:
            return None, False
        with self.db.session() as records:
            row = records.get(ConsoleSessionRecord, token_digest(token))
            if row is None:
                return None, False
            started, last_seen = row.started.timestamp(), row.last_seen.timestamp()
            if now - last_seen > self.idle_seconds or now - started > self.max_seconds:
                records.delete(row)
                return None, True
            found = ConsoleSession(token, row.user_name, started, last_seen, row.csrf,
                                   _flashes(row.flashes), store=self)
            if now - last_seen >= self.touch_seconds:
                # (a statement, not an ORM flush: if the row was deleted meanwhile, by a sign-out
                # elsewhere or a disabled user, nothing is updated and the session is gone)
                touched = records.execute(
                    update(ConsoleSessionRecord)
                    .where(ConsoleSessionRecord.token_sha256 == row.token_sha256)
                    .values(last_seen=_at(now)), execution_options={"synchronize_session": False})
                if int(getattr(touched, "rowcount", 0) or 0) != 1:
                    return None, False
                found.last_seen = now
            return found, False

    def end(self, token: str) -> None:
        with self.db.session() as records:
            records.execute(delete(ConsoleSessionRecord)
                            .where(ConsoleSessionRecord.token_sha256 == token_digest(token)))

    def end_user(self, user: str) -> int:
        """End every session of `user`, on every console (disabled, or their role changed); how
        many there were."""
        with self.db.session() as records:
            result = records.execute(delete(ConsoleSessionRecord)
                                     .where(ConsoleSessionRecord.user_name == user))
        return int(getattr(result, "rowcount", 0) or 0)

    def add_flash(self, token: str, kind: str, message: str) -> None:
        """Append a message to the session's row (locked: two requests at once both keep theirs)."""
        with self.db.session() as records:
            row = records.get(ConsoleSessionRecord, token_digest(token), with_for_update=True)
            if row is None:  # ended meanwhile: nobody to show it to
                return
            pending = [*_flashes(row.flashes), (kind, message)][-MAX_FLASHES:]
            row.flashes = json.dumps([list(item) for item in pending])

    def take_flashes(self, token: str) -> list[tuple[str, str]]:
        """The row's messages, emptied in the same transaction (one page shows them)."""
        with self.db.session() as records:
            row = records.get(ConsoleSessionRecord, token_digest(token), with_for_update=True)
            if row is None:
                return []
            taken = _flashes(row.flashes)
            if taken:
                row.flashes = "[]"
            return taken

    def _purge(self, records: Session, now: float) -> None:
        """Delete the rows expired for more than `KEEP_EXPIRED`."""
        records.execute(delete(ConsoleSessionRecord).where(or_(
            ConsoleSessionRecord.last_seen < _at(now - self.idle_seconds - KEEP_EXPIRED),
            ConsoleSessionRecord.started < _at(now - self.max_seconds - KEEP_EXPIRED))))
