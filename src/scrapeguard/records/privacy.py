"""Data protection of the guard itself: pseudonymised addresses and retention.

IP addresses and networks are replaced by a keyed hash (HMAC-SHA256) before anything is
stored: the same address always gives the same pseudonym (so the ledger and incidents work),
but without the key nobody can tell which address it was, nor test guesses. Where the key
lives and how it is checked against the database: `records.keys` (load_key is re-exported here).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from scrapeguard.records import audit
from scrapeguard.records.keys import ENV_KEY, load_key
from scrapeguard.records.live import purge_traffic
from scrapeguard.records.models import DecisionRecord, ExposureRecord, IncidentActor, IncidentRecord
from scrapeguard.records.permissions import requires

if TYPE_CHECKING:
    from scrapeguard.records.users import Actor

__all__ = ["ADDRESS_KEYS", "ENV_KEY", "Pseudonymiser", "load_key", "purge"]
#: Key names whose values are network addresses (pseudonymised); others (account) are the site's ids.
ADDRESS_KEYS = frozenset({"ip", "net"})


class Pseudonymiser:
    """name:value actor keys -> the form kept at rest ("ip:p-3f9a..." for addresses)."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        #: The same few addresses come again and again (a scraper, a busy member): hash each once.
        self.value = lru_cache(maxsize=65536)(self._value)  # type: ignore[method-assign]

    def value(self, value: str) -> str:
        return self._value(value)

    def _value(self, value: str) -> str:
        digest = hmac.new(self._key, value.encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()
        return "p-" + digest[:24]

    def key(self, name: str, value: str) -> str:
        return f"{name}:{self.value(value) if name in ADDRESS_KEYS else value}"

    def actor(self, key: str) -> str:
        """"ip:203.0.113.7" -> "ip:p-..."; keys that are not addresses are kept."""
        name, sep, value = key.partition(":")
        if not sep:
            return key
        if name in ADDRESS_KEYS and value.startswith("p-"):
            return key  # already pseudonymised
        return self.key(name, value)

    def keys(self, keys: Mapping[str, str]) -> dict[str, str]:
        return {name: (self.value(v) if name in ADDRESS_KEYS else v) for name, v in keys.items()}


@requires("records.purge")
def purge_expired(session: Session, by: Actor, decisions_days: int, exposure_days: int) -> dict[str, int]:
    """`purge` on a person's behalf (`scrapeguard records purge`)."""
    return purge(session, decisions_days, exposure_days, by.name)


def purge(session: Session, decisions_days: int, exposure_days: int, by: str,
          now: datetime | None = None) -> dict[str, int]:
    """Delete decisions and exposure older than their retention (and the per-minute traffic counts
    with the decisions). Records about actors of an incident that is not closed are kept whatever
    their age: they are its evidence."""
    now = now or datetime.now(UTC)
    held_query = select(IncidentActor.actor) \
        .join(IncidentRecord, IncidentRecord.id == IncidentActor.incident_id) \
        .where(IncidentRecord.state != "closed")
    held = set(session.execute(held_query).scalars())
    old = session.execute(select(DecisionRecord.id, DecisionRecord.actors)
                          .where(DecisionRecord.at < now - timedelta(days=decisions_days))).all()
    doomed = [row.id for row in old if not held.intersection(row.actors or ())]
    gone_decisions = 0
    for start in range(0, len(doomed), 500):
        chunk = doomed[start:start + 500]
        session.execute(delete(DecisionRecord).where(DecisionRecord.id.in_(chunk)))
        gone_decisions += len(chunk)
    result = session.execute(
        delete(ExposureRecord).where(ExposureRecord.last_at < now - timedelta(days=exposure_days))
        .where(ExposureRecord.actor.not_in(held_query)))
    counts = {"decisions": gone_decisions, "exposure": int(getattr(result, "rowcount", 0) or 0),
              "traffic_minutes": purge_traffic(session, now - timedelta(days=decisions_days))}
    audit.record(session, by, "records.purge", "records", "retention",
                 {**counts, "decisions_days": decisions_days, "exposure_days": exposure_days}, at=now)
    return counts
