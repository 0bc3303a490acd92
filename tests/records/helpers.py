"""Seeding the records the way the sink would (shared by the records tests)."""

from __future__ import annotations

from typing import Any

from scrapeguard.records.db import Database
from scrapeguard.records.decisions import add_decisions
from scrapeguard.records.exposure import import_members, write_exposure
from scrapeguard.records.users import ADMIN, Actor

ROOT = Actor("root", ADMIN)
T0 = 1_790_000_000.0  # 2026-09-21
CATEGORIES = ["user.name", "user.contact.email", "user.professional_information.workplace"]


def exposure(actor: str, members: range | list[int], t0: float = T0) -> list[dict[str, Any]]:
    return [{"type": "exposure", "ts": t0 + i, "actors": [actor], "member": f"id:{m}",
             "route": "/api/v1/members/{id}", "categories": CATEGORIES, "source": "live"}
            for i, m in enumerate(members)]


def refusal(actor: str, n: int, t: float = T0 + 1000, campaign: str | None = None) -> dict[str, Any]:
    reasons = [{"detector": "profile_quota", "key": actor, "score": 0.6, "detail": "over quota"}]
    if campaign:
        reasons.append({"detector": "campaign", "key": campaign, "score": 0.5, "detail": "campaign"})
    return {"type": "decision", "ts": t, "id": f"sg-{n:012x}", "action": "throttle", "enforced": True,
            "keys": {"ip": actor.split(":", 1)[1]}, "route": "profile", "subject": "id:1",
            "path": "/api/v1/members/1", "reasons": reasons, "actors": [actor], "campaign": campaign,
            "source": "live"}


def seed(db: Database, records: list[dict[str, Any]]) -> None:
    with db.session() as s:
        add_decisions(s, [r for r in records if r["type"] == "decision"])
        write_exposure(s, [r for r in records if r["type"] == "exposure"])


def directory(db: Database, countries: dict[int, str]) -> None:
    with db.session() as s:
        import_members(s, [{"member_id": str(m), "country": c, "aliases": [f"id:{m}", f"username:m{m}"]}
                           for m, c in countries.items()], "root")
