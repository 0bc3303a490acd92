"""The audit log: append-only and hash-chained, so that an altered, deleted or reordered row shows.

Each entry's hash is SHA-256 over the previous entry's hash and the entry's own content in a
canonical JSON form. `verify` recomputes the chain from the start and compares its end with
the head row (which every append updates under a lock), so rows cut off the end show too.
Appends happen in the caller's transaction: a change and its audit entry commit together.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from scrapeguard.records.models import AuditEntry, AuditHead

GENESIS = "0" * 64
#: The name under which the guard itself acts (auto-opened incidents, imports).
SYSTEM = "scrapeguard"


def _entry_hash(prev_hash: str, seq: int, at: datetime, actor: str, action: str, entity: str,
                entity_id: str, details: str) -> str:
    content = json.dumps([seq, at.astimezone(UTC).isoformat(timespec="microseconds"), actor, action,
                          entity, entity_id, details], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((prev_hash + content).encode("utf-8")).hexdigest()


def record(session: Session, actor: str, action: str, entity: str, entity_id: str | int,
           details: dict[str, Any] | None = None, at: datetime | None = None) -> AuditEntry:
    """Append one entry (in the session's transaction)."""
    head = session.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()).scalar_one_or_none()
    if head is None:
        head = AuditHead(id=1, seq=0, hash=GENESIS)
        session.add(head)
        session.flush()
    when = (at or datetime.now(UTC)).astimezone(UTC)
    # microsecond precision is what every database keeps
    text = json.dumps(details or {}, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    seq = head.seq + 1
    digest = _entry_hash(head.hash, seq, when, actor, action, entity, str(entity_id), text)
    entry = AuditEntry(seq=seq, at=when, actor=actor, action=action, entity=entity, entity_id=str(entity_id),
                       details=text, prev_hash=head.hash, hash=digest)
    session.add(entry)
    head.seq, head.hash = seq, digest
    session.flush()
    return entry


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    problems: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "entries": self.entries, "head_seq": self.head_seq,
                "head_hash": self.head_hash, "problems": list(self.problems)}


def verify(session: Session, max_problems: int = 20) -> VerifyResult:
    """Recompute the chain; every broken link is reported with its seq."""
    problems: list[str] = []
    prev_hash, expected_seq, count = GENESIS, 1, 0
    rows = session.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars()
    for entry in rows:
        count += 1
        if entry.seq != expected_seq:
            problems.append(f"entry {expected_seq}" + (f"..{entry.seq - 1}" if entry.seq - 1 > expected_seq
                                                        else "") + " is missing (deleted)")
        if entry.prev_hash != prev_hash:
            problems.append(f"entry {entry.seq}: does not follow the entry before it "
                            "(an entry was deleted, inserted or reordered)")
        digest = _entry_hash(entry.prev_hash, entry.seq, entry.at, entry.actor, entry.action, entry.entity,
                             entry.entity_id, entry.details)
        if digest != entry.hash:
            problems.append(f"entry {entry.seq}: content does not match its hash (altered)")
        prev_hash, expected_seq = entry.hash, entry.seq + 1
        if len(problems) >= max_problems:
            break
    head = session.get(AuditHead, 1)
    head_seq, head_hash = (head.seq, head.hash) if head is not None else (0, GENESIS)
    if len(problems) < max_problems and (head_seq != expected_seq - 1 or head_hash != prev_hash):
        problems.append(f"the chain ends at entry {expected_seq - 1} but its head says {head_seq}: "
                        "entries were cut off the end or the head was altered")
    return VerifyResult(not problems, count, head_seq, head_hash, tuple(problems))


def head(session: Session) -> tuple[int, str]:
    """(seq, hash) of the last entry: quoted in evidence manifests."""
    row = session.get(AuditHead, 1)
    return (row.seq, row.hash) if row is not None else (0, GENESIS)


def entries_for(session: Session, entity: str, entity_id: str | int) -> list[AuditEntry]:
    return list(session.execute(
        select(AuditEntry).where(AuditEntry.entity == entity, AuditEntry.entity_id == str(entity_id))
        .order_by(AuditEntry.seq)).scalars())
