"""Cease-and-desist letters and deletion demands against a scraper, from editable templates."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from scrapeguard.compliance.assessment import DRAFT_NOTE
from scrapeguard.compliance.facts import CaseFacts, Draft
from scrapeguard.compliance.templating import render

LetterKind = Literal["cease_and_desist", "deletion_demand"]
LETTER_TITLES: dict[LetterKind, str] = {
    "cease_and_desist": "Cease and desist: unauthorised scraping",
    "deletion_demand": "Demand to delete scraped data and certify its destruction",
}


def render_letter(kind: LetterKind, case: CaseFacts, template_dir: Path | None = None) -> Draft:
    """Fill `<kind>.md.j2` (from `template_dir` if it has one, else the packaged one) with the case."""
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
        "days_to_comply": (case.demands_deadline - case.sent_at).days,
        "draft_note": DRAFT_NOTE,
    }
    text = render([f"{kind}.md.j2"], context, template_dir)
    return Draft(f"DRAFT {LETTER_TITLES[kind]} ({case.case_id}, {case.respondent})", text, "markdown")
