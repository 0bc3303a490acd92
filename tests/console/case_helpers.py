"""Seeding a legal case the way the guard and the team make one: an incident the guard opened
by itself from refusals and exposure, and a case against its scraper (shared by the cases tests)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from scrapeguard.policy import default_policy
from scrapeguard.policy.model import IncidentOptions
from scrapeguard.records import cases, incidents
from scrapeguard.records.db import Database
from scrapeguard.records.decisions import add_decisions
from scrapeguard.records.exposure import write_exposure
from scrapeguard.records.privacy import Pseudonymiser
from scrapeguard.records.users import Actor

SCRAPER_IP = "203.0.113.7"
OPTIONS: IncidentOptions = replace(default_policy().incidents, open_at_members=5,
                                   organisation="Example Social Ltd", contact="legal@example.org")
LEO, LOU = Actor("leo", "legal"), Actor("lou", "legal")


def scraper(db: Database) -> str:
    """The scraper's actor key as the records hold it (pseudonymised with the database's key)."""
    return Pseudonymiser(db.record_keys().pseudonym).actor(f"ip:{SCRAPER_IP}")


def auto_opened_incident(db: Database, ts: float) -> int:
    """An incident the guard opens by itself: a refusal of an actor that received 8 members' data."""
    actor = scraper(db)
    batch: list[dict[str, Any]] = [
        {"type": "exposure", "ts": ts + i, "actors": [actor], "member": f"id:{m}",
         "route": "/api/v1/members/{id}", "categories": ["user.name", "user.contact.email"], "source": "live"}
        for i, m in enumerate(range(1, 9))]
    batch.append({"type": "decision", "ts": ts + 100, "id": "sg-00000000c0de", "action": "block",
                  "enforced": True, "keys": {"ip": actor.split(":", 1)[1]}, "route": "profile",
                  "subject": "id:8", "path": "/api/v1/members/8", "actors": [actor], "campaign": None,
                  "reasons": [{"detector": "profile_quota", "key": actor, "score": 0.9,
                               "detail": "over quota"}],
                  "source": "live"})
    with db.session() as s:
        write_exposure(s, [r for r in batch if r["type"] == "exposure"])
        add_decisions(s, [r for r in batch if r["type"] == "decision"])
    with db.session() as s:
        opened = incidents.detect(s, batch, OPTIONS)
        assert len(opened) == 1 and opened[0].opened_by == "scrapeguard"
        return opened[0].id


def case_with_sent_letter(db: Database, incident_id: int, now: datetime) -> tuple[int, int]:
    """A case against the incident's scraper (identified), a letter drafted by lou, approved by
    leo and sent by post at `now`: (case id, letter id)."""
    actor = scraper(db)
    with db.session() as s:
        case = cases.open_case(s, LEO, "Data Harvest Inc.", "1 Main St, Springfield", incident_id,
                               clear_actors={actor: f"ip:{SCRAPER_IP}"}, now=now)
        letter = cases.write_letter(s, LOU, case.id, "cease_and_desist", 14, OPTIONS, now=now)
        cases.approve_letter(s, LEO, letter.id, now=now)
        cases.send_letter(s, LOU, letter.id, "registered post", now, now=now)
        return case.id, letter.id


def assessed_incident(db: Database, aware: datetime) -> int:
    """An auto-opened incident of members in Germany, contained, the controller aware at `aware`
    (not in the future) and assessed: its GDPR notification to the regulator is owed 72 h later."""
    from scrapeguard.records import notices
    from scrapeguard.records.exposure import import_members

    with db.session() as s:
        import_members(s, [{"member_id": str(m), "country": "DE", "aliases": [f"id:{m}"]}
                           for m in range(1, 9)], "root")
    number = auto_opened_incident(db, aware.timestamp() - 3600)
    analyst, dpo = Actor("ana", "analyst"), Actor("pia", "privacy_officer")
    with db.session() as s:
        incidents.advance(s, analyst, number, "contained")
        incidents.mark_aware(s, dpo, number, at=aware)
        notices.assess_incident(s, analyst, number, OPTIONS)
    return number
