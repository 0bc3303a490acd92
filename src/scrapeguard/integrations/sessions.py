"""Sessions as the guard knows them: a session cookie's key (a hash, never the token), whether
the site issued it (the guard's stamp), and which account it belongs to (learned from the site's
account headers, kept in the state store).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from datetime import datetime
from http.cookies import CookieError, SimpleCookie

from multidict import MultiMapping

from scrapeguard.events import Event
from scrapeguard.policy.model import ClientOptions
from scrapeguard.stores import StateStore

#: The guard's own cookie stamping a session the site issued.
STAMP_COOKIE = "scrapeguard_session"
#: With a shared store, session look-ups are cached locally this long (seconds), for at most
#: this many sessions: a login seen by another instance is known here within that time.
SESSION_CACHE_SECONDS = 30.0
SESSION_CACHE_SIZE = 100_000


class Sessions:
    """Which account each session belongs to, and whether the site issued it.

    Sessions the site issued are stamped with a keyed hash in a cookie of the guard's own, so
    that a made-up session cookie is told apart without keeping any state per session."""

    def __init__(self, store: StateStore, client: ClientOptions, stamp_keys: Sequence[bytes],
                 cached: bool) -> None:
        """`stamp_keys`: the first signs new stamps, all are accepted (key rotation). `cached`:
        look-ups go through a short local cache (for a shared store, a network call away)."""
        self.store = store
        self.cookie = client.session_cookie
        self._account_header = client.account_header
        self._created_header = client.account_created_header
        self._ttl = client.session_ttl_seconds
        self._stamp_keys = tuple(stamp_keys)
        self._cached = cached
        self._cache: dict[str, tuple[float, str | None]] = {}

    def account_of(self, session: str, now: float) -> tuple[str | None, float | None]:
        """(account id, creation time) of a session, as far as the guard has learned it."""
        known = self._lookup(session, now)
        if not known:
            return None, None
        account, _, created = known.partition("|")
        return account, float(created) if created else None

    def _lookup(self, session: str, now: float) -> str | None:
        """session -> "account|created", from the store; cached, a browsing member costs a shared
        store one look-up per SESSION_CACHE_SECONDS."""
        if not self._cached:
            return self.store.get_value("session:" + session, now)
        cached = self._cache.get(session)
        if cached is not None and cached[0] > now:
            return cached[1]
        known = self.store.get_value("session:" + session, now)
        if len(self._cache) >= SESSION_CACHE_SIZE:
            self._cache.clear()
        self._cache[session] = (now + SESSION_CACHE_SECONDS, known)
        return known

    def stamped(self, token: str, stamp: str | None) -> bool:
        """Whether the client's session cookie comes with the stamp the guard gave it when the
        site issued the session (any of the configured keys, so that keys can be rotated)."""
        if not stamp:
            return False
        return any(hmac.compare_digest(stamp, session_stamp(key, token)) for key in self._stamp_keys)

    def stamps(self, tokens: Iterable[str]) -> list[str]:
        """Set-Cookie values stamping each session the site issues (the stamp lives as long as the
        guard remembers sessions)."""
        return [f"{STAMP_COOKIE}={session_stamp(self._stamp_keys[0], token)}; Path=/; "
                f"Max-Age={int(self._ttl)}; HttpOnly; SameSite=Lax" for token in tokens]

    def issued(self, set_cookies: Iterable[str]) -> list[str]:
        """Session tokens the site sets, from its Set-Cookie header values."""
        tokens = []
        for header in set_cookies:
            try:
                cookie = SimpleCookie(header)
            except CookieError:
                continue
            morsel = cookie.get(self.cookie)
            if morsel is not None and morsel.value:
                tokens.append(morsel.value)
        return tokens

    def learn(self, headers: MultiMapping[str], event: Event, tokens: Iterable[str]) -> list[tuple[str, str]]:
        """Which sessions belong to which account, from the site's own response headers: the
        (session key, "account|created") pairs that are new to the guard."""
        account = headers.get(self._account_header)
        if not account:
            return []
        account = account.strip()[:128]
        created = parse_created(headers.get(self._created_header))
        value = f"{account}|{'' if created is None else created}"
        sessions = set()
        if event.session and (event.account != account or event.account_created != created):
            sessions.add(event.session)
        sessions.update(session_key(token) for token in tokens)
        return [(session, value) for session in sessions]

    def remember(self, learned: list[tuple[str, str]], now: float) -> None:
        """Keep what `learn` found (a store call: off the event loop with a shared store)."""
        for session, value in learned:
            self.store.put_value("session:" + session, value, now, self._ttl)
            self._cache.pop(session, None)


def parse_created(value: str | None) -> float | None:
    """An X-Account-Created value (ISO 8601) as seconds since the epoch; None if unreadable."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.strip()).timestamp()
    except ValueError:
        return None


def session_stamp(key: bytes, token: str) -> str:
    """The guard's stamp of a session token the site issued (keyed hash, 32 hex digits)."""
    return hmac.new(key, token.encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()[:32]


def session_key(token: str) -> str:
    """What the guard keeps of a session token: a hash. The token itself would let whoever
    reads the decisions file or the store take over the member's session."""
    return "s-" + hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()[:24]


def without_cookie(header: str, name: str) -> str:
    """A Cookie header without the cookie `name` (other cookies as they were)."""
    return "; ".join(part.strip() for part in header.split(";")
                     if part.strip() and part.partition("=")[0].strip() != name)
