"""Data protection of the guard itself: pseudonymised addresses and retention.

IP addresses and networks are replaced by a keyed hash (HMAC-SHA256) before anything is
stored: the same address always gives the same pseudonym (so the ledger and incidents work),
but without the key nobody can tell which address it was, nor test guesses.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from scrapeguard.records import audit
from scrapeguard.records.errors import RecordsError
from scrapeguard.records.models import DecisionRecord, ExposureRecord, IncidentActor, IncidentRecord

ENV_KEY = "SCRAPEGUARD_PSEUDONYM_KEY"
#: Key names whose values are network addresses (pseudonymised); others (account) are the site's ids.
ADDRESS_KEYS = frozenset({"ip", "net"})


def load_key(source: str, default_file: Path) -> bytes:
    """The pseudonymisation key from "auto", "env:NAME" or "file:PATH" (see [incidents] in the policy)."""
    if source == "auto":
        value = os.environ.get(ENV_KEY)
        if value:
            return value.encode()
        return _key_file(default_file, create=True)
    kind, _, where = source.partition(":")
    if kind == "env":
        value = os.environ.get(where)
        if not value:
            raise RecordsError(f"the pseudonym key variable {where} is not set (incidents.pseudonym_key)")
        return value.encode()
    if kind == "file":
        return _key_file(Path(where).expanduser(), create=False)
    raise RecordsError(f"{source!r} is not a key source (auto, env:NAME, file:PATH)")


def _key_file(path: Path, create: bool) -> bytes:
    if not path.exists():
        if not create:
            raise RecordsError(f"the pseudonym key file {path} does not exist")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32) + "\n")
    try:
        key = path.read_text("utf-8").strip()
    except OSError as exc:
        raise RecordsError(f"cannot read the pseudonym key file {path}: {exc.strerror}") from exc
    if len(key) < 16:
        raise RecordsError(f"the pseudonym key in {path} is too short (at least 16 characters)")
    return key.encode()


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


def purge(session: Session, decisions_days: int, exposure_days: int, by: str,
          now: datetime | None = None) -> dict[str, int]:
    """Delete decisions and exposure older than their retention. Records about actors of an
    incident that is not closed are kept whatever their age: they are its evidence."""
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
    counts = {"decisions": gone_decisions, "exposure": int(getattr(result, "rowcount", 0) or 0)}
    audit.record(session, by, "records.purge", "records", "retention",
                 {**counts, "decisions_days": decisions_days, "exposure_days": exposure_days}, at=now)
    return counts
