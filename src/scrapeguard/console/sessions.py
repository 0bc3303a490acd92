"""Signed-in sessions of the console, kept on the server: the browser holds only a random token.

A session ends when its user signs out, after `idle_seconds` without a request, after
`max_seconds` whatever happens, and when the user is disabled (checked on every request, see
`web.py`). Each session has its own CSRF token, which every form sends back.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

#: At most this many sessions are kept; the least recently used go first.
MAX_SESSIONS = 1000


@dataclass
class ConsoleSession:
    """One signed-in browser."""

    token: str
    user: str
    started: float
    last_seen: float
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    #: Messages to show on the next page ("Penalty lifted.").
    flashes: list[tuple[str, str]] = field(default_factory=list)

    def csrf_ok(self, sent: str | None) -> bool:
        return sent is not None and hmac.compare_digest(sent.encode(), self.csrf.encode())

    def flash(self, message: str, kind: str = "ok") -> None:
        self.flashes.append((kind, message))

    def take_flashes(self) -> list[tuple[str, str]]:
        taken, self.flashes = self.flashes, []
        return taken


class SessionStore:
    """Tokens -> sessions, bounded, with idle and absolute expiry."""

    def __init__(self, idle_seconds: float, max_seconds: float) -> None:
        self.idle_seconds = idle_seconds
        self.max_seconds = max_seconds
        self._sessions: OrderedDict[str, ConsoleSession] = OrderedDict()
        self._lock = threading.Lock()

    def start(self, user: str, now: float) -> ConsoleSession:
        session = ConsoleSession(secrets.token_urlsafe(32), user, now, now)
        with self._lock:
            self._sessions[session.token] = session
            while len(self._sessions) > MAX_SESSIONS:
                self._sessions.popitem(last=False)
        return session

    def find(self, token: str | None, now: float) -> tuple[ConsoleSession | None, bool]:
        """(the session, whether it just expired) for a cookie's token; a found session is touched."""
        if not token:
            return None, False
        with self._lock:
            session = self._sessions.get(token)
            if session is None:
                return None, False
            if now - session.last_seen > self.idle_seconds or now - session.started > self.max_seconds:
                del self._sessions[token]
                return None, True
            session.last_seen = now
            self._sessions.move_to_end(token)
            return session, False

    def end(self, token: str) -> None:
        with self._lock:
            self._sessions.pop(token, None)

    def end_user(self, user: str) -> int:
        """End every session of `user` (disabled, or their role changed); how many there were."""
        with self._lock:
            tokens = [t for t, s in self._sessions.items() if s.user == user]
            for token in tokens:
                del self._sessions[token]
        return len(tokens)
