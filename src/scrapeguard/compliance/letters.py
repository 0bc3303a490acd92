"""Cease-and-desist letters and deletion demands against a scraper, from editable templates.

A letter is rendered twice from the same facts: as a draft for counsel to approve (marked DRAFT),
and, once approved, as the letter sent (dated the day it is sent, no draft marks). The facts are
kept as JSON between the two (`case_facts_to_json`), so the letter sent says what was approved.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal

from scrapeguard.compliance.assessment import DRAFT_NOTE
from scrapeguard.compliance.facts import AffectedMember, CaseFacts, Draft, IncidentFacts
from scrapeguard.compliance.templating import render

LetterKind = Literal["cease_and_desist", "deletion_demand"]
LETTER_TITLES: dict[LetterKind, str] = {
    "cease_and_desist": "Cease and desist: unauthorised scraping",
    "deletion_demand": "Demand to delete scraped data and certify its destruction",
}


def days_between(sent_at: datetime, deadline: datetime) -> int:
    """Calendar days from the date of the letter to the date of the deadline, both as the letter
    prints them (UTC dates): "sent 2026-03-06, by 2026-03-20" is 14 days whatever the hours."""
    return (deadline.astimezone(UTC).date() - sent_at.astimezone(UTC).date()).days


def deadline_after(sent_at: datetime, days: int) -> datetime:
    """The end (23:59 UTC) of the day `days` calendar days after the letter's date."""
    if days < 1:
        raise ValueError(f"a letter gives at least one day to comply, not {days}")
    day: date = sent_at.astimezone(UTC).date() + timedelta(days=days)
    return datetime.combine(day, time(23, 59), tzinfo=UTC)


def render_letter(kind: LetterKind, case: CaseFacts, template_dir: Path | None = None,
                  final: bool = False) -> Draft:
    """Fill `<kind>.md.j2` (from `template_dir` if it has one, else the packaged one) with the case.

    `final`: the letter as it is sent (the templates leave out their draft marks); else a draft.
    """
    if kind not in LETTER_TITLES:
        raise ValueError(f"letter kind must be one of {', '.join(LETTER_TITLES)}, got {kind!r}")
    if case.demands_deadline <= case.sent_at:
        raise ValueError("the deadline of the demands must be after the letter is sent")
    incident = case.incident
    categories = sorted({c for m in incident.affected for c in m.categories}) if incident else []
    context = {
        "case": case,
        "incident": incident,
        "members": len(incident.affected) if incident else 0,
        "categories": categories,
        "days_to_comply": days_between(case.sent_at, case.demands_deadline),
        "draft_note": DRAFT_NOTE,
        "final": final,
    }
    text = render([f"{kind}.md.j2"], context, template_dir)
    title = f"{LETTER_TITLES[kind]} ({case.case_id}, {case.respondent})"
    return Draft(title if final else f"DRAFT {title}", text, "markdown")


# -- the facts of a draft, kept as JSON ------------------------------------------------------------

_INCIDENT_TIMES = ("started_at", "detected_at", "aware_at", "contained_at")


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def case_facts_to_json(case: CaseFacts) -> dict[str, Any]:
    """The facts of a letter as plain JSON values (times ISO 8601, sets sorted lists)."""
    incident: dict[str, Any] | None = None
    if case.incident is not None:
        incident = {}
        for f in fields(IncidentFacts):
            value = getattr(case.incident, f.name)
            if f.name in _INCIDENT_TIMES:
                value = value.isoformat() if value is not None else None
            elif f.name == "affected":
                value = [{"member_id": m.member_id, "country": m.country, "categories": sorted(m.categories)}
                         for m in value]
            elif isinstance(value, tuple):
                value = list(value)
            incident[f.name] = value
    return {"case_id": case.case_id, "respondent": case.respondent,
            "respondent_address": case.respondent_address, "organisation": case.organisation,
            "contact": case.contact, "incident": incident, "evidence": list(case.evidence),
            "demands_deadline": case.demands_deadline.isoformat(), "sent_at": case.sent_at.isoformat(),
            "terms_url": case.terms_url}


def case_facts_from_json(data: dict[str, Any]) -> CaseFacts:
    """The inverse of `case_facts_to_json`."""
    incident = None
    raw = data.get("incident")
    if raw is not None:
        values: dict[str, Any] = {}
        for f in fields(IncidentFacts):
            if f.name not in raw:
                continue  # (a field added later keeps its default)
            value = raw[f.name]
            if f.name in _INCIDENT_TIMES:
                value = _time(value)
            elif f.name == "affected":
                value = tuple(AffectedMember(m["member_id"], m["country"], frozenset(m["categories"]))
                              for m in value)
            elif isinstance(value, list):
                value = tuple(value)
            values[f.name] = value
        incident = IncidentFacts(**values)
    deadline, sent_at = _time(data["demands_deadline"]), _time(data["sent_at"])
    assert deadline is not None and sent_at is not None
    return CaseFacts(case_id=data["case_id"], respondent=data["respondent"],
                     respondent_address=data.get("respondent_address"), organisation=data["organisation"],
                     contact=data["contact"], incident=incident, evidence=tuple(data.get("evidence", ())),
                     demands_deadline=deadline, sent_at=sent_at, terms_url=data.get("terms_url"))
