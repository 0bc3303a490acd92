"""Decisions as records: the guard's refusals (and flags, in observe mode), pseudonymised."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import ColumnElement, Table, and_, insert, or_, select
from sqlalchemy.orm import Session

from scrapeguard.decisions import BLOCK, CHALLENGE, LOGIN, THROTTLE, Decision
from scrapeguard.records import audit
from scrapeguard.records.errors import RecordsError
from scrapeguard.records.models import DecisionActor, DecisionRecord
from scrapeguard.records.permissions import requires
from scrapeguard.records.privacy import Pseudonymiser

if TYPE_CHECKING:
    from scrapeguard.records.users import Actor

#: Decision keys that name an actor (whom an incident is about); "net" and "session" only when
#: a reason names them.
ACTOR_KEYS = ("ip", "account")
CAMPAIGN_PREFIX = "campaign:"
REFUSALS = (LOGIN, THROTTLE, CHALLENGE, BLOCK)


def decision_record(decision: Decision | dict[str, Any], pseudonymiser: Pseudonymiser,
                    source: str = "live") -> dict[str, Any]:
    """A decision (object, or a line of a decisions file) as a sink record, addresses pseudonymised."""
    data = decision.to_dict() if isinstance(decision, Decision) else decision
    keys = {str(k): str(v) for k, v in (data.get("keys") or {}).items()}
    reasons = [dict(r) for r in data.get("reasons") or [] if isinstance(r, dict)]
    for reason in reasons:
        reason["key"] = pseudonymiser.actor(str(reason.get("key", "")))
        evidence = reason.get("evidence")
        if isinstance(evidence, dict) and isinstance(evidence.get("related"), list):  # actor keys
            reason["evidence"] = evidence | {"related": [pseudonymiser.actor(str(k))
                                                         for k in evidence["related"]]}
    actors = [pseudonymiser.key(name, keys[name]) for name in ACTOR_KEYS if name in keys]
    for key in data.get("related") or ():  # a campaign's actors that swept before it was recognised
        actor = pseudonymiser.actor(str(key))
        if actor not in actors:
            actors.append(actor)
    campaign = None
    for reason in reasons:
        key = reason["key"]
        if key.startswith(CAMPAIGN_PREFIX):
            campaign = campaign or key
        elif ":" in key and key not in actors:
            actors.append(key)
    return {"type": "decision", "ts": float(data.get("ts") or 0), "id": str(data.get("id", "")),
            "action": str(data.get("action", "")), "enforced": bool(data.get("enforced", True)),
            "keys": pseudonymiser.keys(keys), "route": str(data.get("route") or "page"),
            "subject": data.get("subject"), "path": str(data.get("path") or "")[:2000],
            "reasons": reasons, "actors": actors, "campaign": campaign, "source": source}


#: Latest time a record may carry (year 9999): beyond it, datetimes cannot represent it.
MAX_TS = 253_402_300_799.0


def parse_decision_line(line: str, pseudonymiser: Pseudonymiser, source: str = "replay") -> dict[str, Any]:
    """One line of a decisions file (`scrapeguard replay --decisions-out`) as a sink record;
    RecordsError says what is wrong with it."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise RecordsError(f"not JSON ({exc.msg})") from exc
    if not isinstance(data, dict):
        raise RecordsError("not a JSON object")
    if data.get("action") not in REFUSALS:
        raise RecordsError(f"action {data.get('action')!r} is not a refusal ({', '.join(REFUSALS)})")
    ts = data.get("ts")
    if isinstance(ts, bool) or not isinstance(ts, int | float) or not 0 <= ts <= MAX_TS:
        raise RecordsError(f"ts {ts!r} is not a time in seconds since the epoch")
    keys = data.get("keys", {})
    if not isinstance(keys, dict) or not all(isinstance(v, str) for v in keys.values()):
        raise RecordsError('"keys" must be an object of strings')
    reasons = data.get("reasons", [])
    if not isinstance(reasons, list) or not all(isinstance(r, dict) and isinstance(r.get("key", ""), str)
                                                 for r in reasons):
        raise RecordsError('"reasons" must be a list of objects with a string "key"')
    if not all(isinstance(r.get("evidence", {}), dict) for r in reasons):
        raise RecordsError('a reason\'s "evidence" must be an object')
    for name in ("id", "route", "path"):
        if not isinstance(data.get(name, ""), str):
            raise RecordsError(f'"{name}" must be a string')
    if data.get("subject") is not None and not isinstance(data["subject"], str):
        raise RecordsError('"subject" must be a string or null')
    related = data.get("related", [])
    if not isinstance(related, list) or not all(isinstance(k, str) and ":" in k for k in related):
        raise RecordsError('"related" must be a list of actor keys ("ip:...", "account:...")')
    return decision_record(data, pseudonymiser, source)


def add_decisions(session: Session, records: list[dict[str, Any]]) -> int:
    """Append decisions and index their actors (bulk statements: one round trip each). A decision
    stored already (same id and time: a decisions file imported twice, a spill written again)
    is skipped; returns how many were added."""
    if not records:
        return 0
    fresh: dict[tuple[str, datetime], tuple[dict[str, Any], dict[str, Any]]] = {}
    for r in records:
        row = {"decision_id": r["id"][:40], "at": datetime.fromtimestamp(r["ts"], UTC), "action": r["action"],
               "enforced": r["enforced"], "route": r["route"][:40],
               "subject": None if r.get("subject") is None else str(r["subject"])[:300], "path": r["path"],
               "actors": r["actors"], "keys": r["keys"], "reasons": r["reasons"],
               "campaign": r.get("campaign"), "source": r.get("source", "live")}
        fresh.setdefault((row["decision_id"], row["at"]), (row, r))
    ids = sorted({decision_id for decision_id, _ in fresh})
    for start in range(0, len(ids), 500):
        stored = session.execute(select(DecisionRecord.decision_id, DecisionRecord.at)
                                 .where(DecisionRecord.decision_id.in_(ids[start:start + 500])))
        for decision_id, at in stored:
            fresh.pop((decision_id, at), None)
    if not fresh:
        return 0
    rows, kept = [row for row, _ in fresh.values()], [r for _, r in fresh.values()]
    # Rows get ascending ids in the order they are inserted (SQLite rowids, a PostgreSQL sequence
    # within one statement), so sorted ids pair with the records; asking the driver to keep the
    # order instead makes SQLAlchemy insert row by row on SQLite (ten times slower).
    connection = session.connection()  # Core statements: no ORM bookkeeping per row
    table, links_table = cast(Table, DecisionRecord.__table__), cast(Table, DecisionActor.__table__)
    pks = sorted(connection.execute(insert(table).returning(table.c.id), rows).scalars().all())
    links = [{"decision_pk": pk, "actor": actor}
             for pk, r in zip(pks, kept, strict=True) for actor in dict.fromkeys(r["actors"])]
    if links:
        connection.execute(insert(links_table), links)
    return len(rows)


@requires("exposure.import")
def import_decisions(session: Session, by: Actor, records: list[dict[str, Any]], file_name: str,
                     file_sha256: str, bad_lines: int) -> dict[str, int]:
    """Decisions read from a decisions file (`parse_decision_line`), added and audited with the
    file's name and digest; returns the counts (read, added, already stored, bad lines)."""
    added = add_decisions(session, records)
    counts = {"read": len(records) + bad_lines, "added": added, "already_stored": len(records) - added,
              "bad_lines": bad_lines}
    audit.record(session, by.name, "decisions.import", "decisions", file_name[:100],
                 {"file": file_name, "sha256": file_sha256, **counts})
    return counts


def decisions_of(session: Session, actors: set[str], campaign: str | None = None,
                 limit: int | None = None,
                 between: tuple[datetime, datetime] | None = None) -> list[DecisionRecord]:
    """Decisions about any of these actors (or naming the campaign), oldest first; only those
    `between` (start, end), inclusive, when given."""
    about = select(DecisionActor.decision_pk).where(DecisionActor.actor.in_(sorted(actors)))
    condition: ColumnElement[bool] = DecisionRecord.id.in_(about)
    if campaign:
        condition = or_(condition, DecisionRecord.campaign == campaign)
    if between is not None:
        condition = and_(condition, DecisionRecord.at >= between[0], DecisionRecord.at <= between[1])
    query = select(DecisionRecord).where(condition).order_by(DecisionRecord.at, DecisionRecord.id)
    if limit is not None:
        query = query.limit(limit)
    return list(session.execute(query).scalars())
