"""Drafts of the breach notice to a regulator and to the affected members, per jurisdiction."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from scrapeguard.compliance.assessment import DRAFT_NOTE, Assessment
from scrapeguard.compliance.facts import Draft, IncidentFacts
from scrapeguard.compliance.templating import render

NoticeAudience = Literal["regulator", "individuals"]

#: What scraped profile data is used for, as the regulators' joint statement (2023) names the risks.
SCRAPING_RISKS = (
    "targeted cyberattacks such as social engineering and phishing",
    "identity fraud",
    "monitoring, profiling and surveillance of individuals",
    "unwanted direct marketing and spam",
)

#: What we advise the members concerned to do, worded for both notices (the OAIC's statement requires it).
RECOMMENDED_STEPS = (
    "Be wary of unexpected messages, calls or connection requests that mention details of your profile.",
    "Never share passwords or one-time codes with anyone who contacts you.",
    "Review which parts of your profile are visible to the public in your privacy settings.",
)


def draft_notice(assessment: Assessment, facts: IncidentFacts, regime: str, audience: NoticeAudience,
                 template_dir: Path | None = None) -> Draft:
    """Fill the notice template for `regime` (e.g. "eu_gdpr") and `audience` with the incident's facts.

    A regime-specific template (`notice_<audience>_<regime>.md.j2`) wins over the generic one.
    Raises KeyError when no affected member falls under `regime`.
    """
    if assessment.incident_id != facts.incident_id:
        raise ValueError(f"assessment of {assessment.incident_id} given with facts of {facts.incident_id}")
    if audience not in ("regulator", "individuals"):
        raise ValueError(f"audience must be 'regulator' or 'individuals', got {audience!r}")
    result = assessment.regime(regime)
    members = [m for m in facts.affected if m.country and m.country.upper() in result.countries]
    data_items = sum(len(m.categories) for m in members)
    context = {
        "facts": facts,
        "result": result,
        "assessment": assessment,
        "audience": audience,
        "members": len(members),
        "data_items": data_items,
        "risks": SCRAPING_RISKS,
        "steps": RECOMMENDED_STEPS,
        "draft_note": DRAFT_NOTE,
        "verdict": result.notify_regulator if audience == "regulator" else result.notify_individuals,
        "contents": result.regulator_contents if audience == "regulator" else result.individual_contents,
        "deadlines": [d for d in result.deadlines if d.audience in (audience, "controller")],
    }
    text = render([f"notice_{audience}_{regime}.md.j2", f"notice_{audience}.md.j2"], context, template_dir)
    who = result.regulator if audience == "regulator" else "affected members"
    return Draft(f"DRAFT {result.name} breach notice to {who}: {facts.title}", text, "markdown")
