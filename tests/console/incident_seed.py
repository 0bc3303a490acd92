"""An incident opened the way the guard opens one: a sweep's refusals and the members' data it
received go through the records sink, whose after-batch hook is the guard's incident detection
(`records.incidents.detector`), as `scrapeguard proxy --db` wires it."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from scrapeguard.policy import default_policy
from scrapeguard.records import incidents
from scrapeguard.records.db import Database
from scrapeguard.records.exposure import import_members
from scrapeguard.records.privacy import Pseudonymiser
from scrapeguard.records.sink import RecordSink

SCRAPER = "203.0.113.7"
#: member id -> country: members under the EU GDPR and the UK GDPR.
MEMBERS = {**{m: "DE" for m in range(1, 7)}, **{m: "GB" for m in range(7, 11)}, 11: "FR", 12: "FR"}
CATEGORIES = ["user.name", "user.contact.email", "user.professional_information.workplace"]
OPTIONS = dataclasses.replace(default_policy().incidents, open_at_members=10,
                              organisation="Example Social Ltd", contact="dpo@example.org",
                              controller_country="DE")


def sweep(actor: str, t0: float) -> list[dict[str, Any]]:
    """One scraper walking the members' API: what it received, then its refusals."""
    records: list[dict[str, Any]] = [
        {"type": "exposure", "ts": t0 + i, "actors": [actor], "member": f"id:{m}",
         "route": "/api/v1/members/{id}", "categories": CATEGORIES, "audience": "anonymous", "source": "live"}
        for i, m in enumerate(MEMBERS)]
    for n in range(3):
        records.append({
            "type": "decision", "ts": t0 + 60 + n, "id": f"sg-{n + 1:012x}", "action": "block",
            "enforced": True, "keys": {"ip": actor.split(":", 1)[1]}, "route": "profile",
            "subject": f"id:{13 + n}", "path": f"/api/v1/members/{13 + n}",
            "reasons": [{"detector": "enumeration", "key": actor, "score": 0.9,
                         "detail": "sequential member ids"}],
            "actors": [actor], "campaign": None, "source": "live"})
    return records


def auto_opened_incident(db: Database, spill_dir: Path, t0: float) -> int:
    """The sweep through the sink with the guard's detection after each batch; the incident's id."""
    with db.session() as session:
        import_members(session, [{"member_id": str(m), "country": c, "aliases": [f"id:{m}"]}
                                 for m, c in MEMBERS.items()], "root")
    pseudonymiser = Pseudonymiser(b"console-incident-test-key-0123456789")
    sink = RecordSink(db, pseudonymiser, spill_dir / "spill.jsonl", after_batch=incidents.detector(OPTIONS))
    try:
        for record in sweep(pseudonymiser.actor(f"ip:{SCRAPER}"), t0):
            sink.put(record)
        assert sink.flush(), "the sink did not write the sweep"
    finally:
        sink.close()
    assert sink.counts.after_batch_errors == 0
    with db.session() as session:
        (incident,) = incidents.list_incidents(session, incidents.GUARD)
        assert incident.opened_by == "scrapeguard" and incident.state == incidents.DETECTED
        return incident.id
