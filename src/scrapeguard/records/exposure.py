"""The exposure ledger: which members' data each actor received, through which route, when.

Live traffic adds to it through the sink (a successful response of a member-data route, per
actor key); `import_exposure` adds exposure computed from access logs (`scrapeguard analyze`).
One row per (actor, member, route) with categories, first and last time, and a count.
The member directory (`import_members`) maps route subjects ("id:42", "username:ann") to the
member's id and country, which breach assessment needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select, tuple_, update
from sqlalchemy.orm import Session

from scrapeguard.policy.model import AUDIENCES
from scrapeguard.records import audit
from scrapeguard.records.errors import RecordsError
from scrapeguard.records.models import ExposureRecord, MemberRecord
from scrapeguard.records.permissions import requires
from scrapeguard.records.privacy import Pseudonymiser

if TYPE_CHECKING:
    from scrapeguard.records.users import Actor

MAX_TEXT = 300
#: A count a database integer column holds with room to add to it.
MAX_COUNT = 1_000_000_000


def write_exposure(session: Session, records: list[dict[str, Any]]) -> None:
    """Merge sink exposure records (each naming one or more actors) into the ledger."""
    merged: dict[tuple[str, str, str], list[Any]] = {}
    for r in records:
        at = datetime.fromtimestamp(float(r["ts"]), UTC)
        count = int(r.get("count", 1))
        first = datetime.fromtimestamp(float(r.get("first_ts", r["ts"])), UTC)
        audiences = {r["audience"]} if r.get("audience") else set()
        for actor in r["actors"]:
            key = (actor[:MAX_TEXT], str(r["member"])[:MAX_TEXT], str(r["route"])[:MAX_TEXT])
            entry = merged.get(key)
            if entry is None:
                merged[key] = [set(r["categories"]), first, at, count, r.get("source", "live"),
                               set(audiences)]
            else:
                entry[0].update(r["categories"])
                entry[1] = min(entry[1], first)
                entry[2] = max(entry[2], at)
                entry[3] += count
                entry[5].update(audiences)
    if not merged:
        return
    # Only the rows this batch touches (a scraper's actor may have thousands), read and written
    # with bulk statements: the ORM's per-object bookkeeping would cost more than the database.
    e = ExposureRecord
    columns = (e.id, e.actor, e.member, e.route, e.categories, e.first_at, e.last_at, e.count, e.audiences)
    keys = list(merged)
    existing: dict[tuple[str, str, str], Any] = {}
    for start in range(0, len(keys), 300):
        chunk = keys[start:start + 300]
        for row in session.execute(select(*columns).where(
                tuple_(ExposureRecord.actor, ExposureRecord.member, ExposureRecord.route).in_(chunk))):
            existing[(row.actor, row.member, row.route)] = row
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for key, (categories, first, last, count, source, audiences) in merged.items():
        found = existing.get(key)
        if found is None:
            inserts.append({"actor": key[0], "member": key[1], "route": key[2],
                            "categories": sorted(categories), "first_at": first, "last_at": last,
                            "count": count, "source": source, "audiences": sorted(audiences)})
        else:
            updates.append({"id": found.id, "categories": sorted(set(found.categories) | categories),
                            "first_at": min(found.first_at, first), "last_at": max(found.last_at, last),
                            "count": found.count + count,
                            "audiences": sorted(set(found.audiences or ()) | audiences)})
    if inserts:
        session.execute(insert(ExposureRecord), inserts)
    if updates:
        session.execute(update(ExposureRecord), updates)


@dataclass(frozen=True, slots=True)
class MemberExposure:
    """One member in an actor's (or incident's) ledger."""

    member: str                 # the member's id (from the directory) or the route subject
    aliases: tuple[str, ...]    # the subjects under which the routes named them
    country: str | None
    routes: tuple[str, ...]
    categories: frozenset[str]
    first_at: datetime
    last_at: datetime
    count: int
    #: Whom the responses were shown to ("anonymous", "member", "connection"); empty: not recorded.
    audiences: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"member": self.member, "aliases": list(self.aliases), "country": self.country,
                "routes": list(self.routes), "categories": sorted(self.categories),
                "first": self.first_at.isoformat(), "last": self.last_at.isoformat(), "count": self.count,
                "audiences": list(self.audiences)}


def ledger(session: Session, actors: set[str] | list[str]) -> list[MemberExposure]:
    """What these actors received, per member (listing pages, which name no one member, left out)."""
    if not actors:
        return []
    rows = list(session.execute(select(ExposureRecord).where(
        ExposureRecord.actor.in_(sorted(actors)), ExposureRecord.member != "")).scalars())
    directory = _directory(session, {row.member for row in rows})
    grouped: dict[str, list[ExposureRecord]] = {}
    for row in rows:
        member_id = directory.get(row.member, (row.member, None))[0]
        grouped.setdefault(member_id, []).append(row)
    out = []
    for member_id, group in grouped.items():
        aliases = tuple(sorted({r.member for r in group}))
        country = next((directory[a][1] for a in aliases if a in directory and directory[a][1]), None)
        out.append(MemberExposure(
            member=member_id, aliases=aliases, country=country,
            routes=tuple(sorted({r.route for r in group})),
            categories=frozenset(c for r in group for c in r.categories),
            first_at=min(r.first_at for r in group), last_at=max(r.last_at for r in group),
            count=sum(r.count for r in group),
            audiences=tuple(a for a in AUDIENCES if any(a in (r.audiences or ()) for r in group))))
    return sorted(out, key=lambda m: (m.first_at, m.member))


def listing_pages(session: Session, actors: set[str]) -> int:
    """How many listing pages (many members each, not itemised) these actors received."""
    if not actors:
        return 0
    total = session.execute(select(func.coalesce(func.sum(ExposureRecord.count), 0)).where(
        ExposureRecord.actor.in_(sorted(actors)), ExposureRecord.member == "")).scalar_one()
    return int(total)


def distinct_members(session: Session, actors: set[str]) -> int:
    """How many members' data these actors received (what opens an incident)."""
    return len(ledger(session, actors)) if actors else 0


def _directory(session: Session, aliases: set[str]) -> dict[str, tuple[str, str | None]]:
    out: dict[str, tuple[str, str | None]] = {}
    names = sorted(aliases)
    for start in range(0, len(names), 500):
        for row in session.execute(select(MemberRecord).where(
                MemberRecord.alias.in_(names[start:start + 500]))).scalars():
            out[row.alias] = (row.member_id, row.country)
    return out


# -- imports --------------------------------------------------------------------


def import_members(session: Session, members: list[dict[str, Any]], by: str) -> int:
    """The member directory: [{"member_id": "42", "country": "DE", "aliases": ["id:42", "username:ann"]}].
    A later import replaces a member's country and aliases."""
    count = 0
    for i, entry in enumerate(members):
        member = entry.get("member_id") if isinstance(entry, dict) else None
        if isinstance(member, bool) or not isinstance(member, str | int) or not str(member):
            raise RecordsError(f"member {i}: needs a member_id (string or number)")
        member_id = str(entry["member_id"])[:200]
        country = entry.get("country")
        if country is not None and not (isinstance(country, str) and len(country) == 2 and country.isalpha()):
            raise RecordsError(f"member {member_id}: country {country!r} is not an ISO 3166 alpha-2 code")
        aliases = entry.get("aliases") or [f"id:{member_id}"]
        if not isinstance(aliases, list) or not all(isinstance(a, str) and a for a in aliases):
            raise RecordsError(f"member {member_id}: aliases must be a list of route subjects like 'id:42'")
        for alias in aliases:
            session.merge(MemberRecord(alias=alias[:MAX_TEXT], member_id=member_id,
                                       country=country.upper() if country else None))
        count += 1
    audit.record(session, by, "members.import", "members", "directory", {"members": count})
    return count


@requires("exposure.import")
def import_member_directory(session: Session, by: Actor, members: list[dict[str, Any]]) -> int:
    """`import_members` on a person's behalf (`scrapeguard members import`)."""
    return import_members(session, members, by.name)


@requires("exposure.import")
def import_exposure(session: Session, by: Actor, records: list[dict[str, Any]], source: str) -> int:
    """Exposure computed from logs (`parse_exposure_import`), added to the ledger and audited
    with the name of the file it came from; returns how many rows."""
    write_exposure(session, records)
    audit.record(session, by.name, "exposure.import", "exposure", source, {"rows": len(records)})
    return len(records)


def _time(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise RecordsError(f"{where}: must be an ISO 8601 time with a zone, not {value!r}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise RecordsError(f"{where}: {value!r} is not an ISO 8601 time") from exc
    if parsed.tzinfo is None:
        raise RecordsError(f"{where}: {value!r} has no time zone (add Z or +00:00)")
    return parsed.astimezone(UTC)


def parse_exposure_import(data: Any, pseudonymiser: Pseudonymiser) -> list[dict[str, Any]]:
    """Exposure computed from logs, in this shape (docs/records.md):

        {"actors": [{"actor": "ip:203.0.113.7", "exposure": [
            {"member": "id:42", "route": "/api/v1/members/{id}", "categories": ["user.name"],
             "first": "2026-11-01T10:00:00Z", "last": "2026-11-01T10:05:00Z", "count": 3,
             "audience": "anonymous"}]}]}

    ("audience" is optional: anonymous, member or connection.)

    Returns sink records (actors pseudonymised). Every problem names where it is.
    """
    if not isinstance(data, dict) or not isinstance(data.get("actors"), list):
        raise RecordsError('the exposure file must be a JSON object with an "actors" list')
    out: list[dict[str, Any]] = []
    for i, entry in enumerate(data["actors"]):
        where = f"actors[{i}]"
        if not isinstance(entry, dict) or ":" not in str(entry.get("actor", "")) \
                or not isinstance(entry.get("actor"), str):
            raise RecordsError(f'{where}: needs "actor" as "name:value", e.g. "ip:203.0.113.7"')
        actor = pseudonymiser.actor(entry["actor"])
        items = entry.get("exposure")
        if not isinstance(items, list):
            raise RecordsError(f'{where}: needs an "exposure" list')
        for j, item in enumerate(items):
            at = f"{where}.exposure[{j}]"
            if not isinstance(item, dict):
                raise RecordsError(f"{at}: must be an object")
            member, route, categories = item.get("member"), item.get("route"), item.get("categories", [])
            count = item.get("count", 1)
            if not isinstance(member, str) or not isinstance(route, str) or not route:
                raise RecordsError(f'{at}: needs "member" and "route" strings')
            if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
                raise RecordsError(f'{at}: "categories" must be a list of strings')
            if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
                raise RecordsError(f'{at}: "count" must be a whole number from 1 to {MAX_COUNT}')
            audience = item.get("audience")
            if audience is not None and audience not in AUDIENCES:
                raise RecordsError(f'{at}: "audience" must be one of {", ".join(AUDIENCES)}, '
                                   f'not {audience!r}')
            first, last = _time(item.get("first"), f"{at}.first"), _time(item.get("last"), f"{at}.last")
            if last < first:
                raise RecordsError(f"{at}: last is before first")
            out.append({"type": "exposure", "ts": last.timestamp(), "first_ts": first.timestamp(),
                        "actors": [actor], "member": member, "route": route, "categories": categories,
                        "count": count, "source": "logs", "audience": audience})
    return out
