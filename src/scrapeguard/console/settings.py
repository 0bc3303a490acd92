"""What a console runs with: its records database, the guard's state store, the policy file, and
the clock (injected, so that tests of the idle timeout and of deadlines never wait)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scrapeguard.console.alerts import AlertSettings
    from scrapeguard.records.db import Database
    from scrapeguard.stores.base import StateStore

#: A signed-in session ends after this long without a request (the team's default; --idle-minutes).
IDLE_SECONDS = 30 * 60.0
#: ...and this long after the sign-in whatever happens.
MAX_SESSION_SECONDS = 12 * 3600.0


@dataclass
class ConsoleSettings:
    """Everything `build_console` needs; the CLI fills it from its options."""

    #: The records database (SQLite or PostgreSQL): users, decisions, incidents, cases, audit log.
    db: Database
    #: The guard's state store (the same `--store` the guard runs with): blocks, unblocks and
    #: time-limited allowlists are written here so that the guard acts on them at once. None: the
    #: console only records (pages say the guard cannot be reached).
    store: StateStore | None = None
    #: The policy file the guard runs with (the policy page edits it through approved changes);
    #: None: the built-in defaults, read-only.
    policy_path: Path | None = None
    #: Where alerts go (webhook, SMTP); None: no alerts.
    alerts: AlertSettings | None = None
    idle_seconds: float = IDLE_SECONDS
    max_session_seconds: float = MAX_SESSION_SECONDS
    #: Send cookies with `Secure` (only over HTTPS, or to a loopback address, which browsers treat
    #: as secure). Off only for a console behind a TLS-terminating proxy that speaks plain HTTP to
    #: it on a non-loopback address (--insecure-cookies).
    secure_cookies: bool = True
    #: Proxies in front of the console whose X-Forwarded-For is believed (addresses or networks):
    #: the sign-in guard counts failures per client address, not per proxy.
    trusted_proxies: tuple[str, ...] = ()
    #: The store URI the sign-in guard counts failed sign-ins in (console/guarding.py
    #: `signin_store_uri`): this console's memory, or the guard's shared store under its own prefix.
    signin_store: str = "memory://"
    #: Seconds since the epoch, now. Tests pass a settable clock.
    clock: Callable[[], float] = field(default=time.time)
