"""Drafts of the breach notice to a regulator and to the affected members, per jurisdiction, the final
text that is sent (the draft without its draft-only parts), and the check of a notice against the
contents its regime requires.

Templates mark what only counsel reads (the assessment, checklists, open questions, the DRAFT banner)
between `<!-- draft-only -->` and `<!-- /draft-only -->`; `final_text` removes those parts.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from scrapeguard.compliance.assessment import (
    DRAFT_NOTE,
    Assessment,
    NoticeVerdict,
    check_contents,
    group_by_regime,
)
from scrapeguard.compliance.facts import Draft, IncidentFacts
from scrapeguard.compliance.rules import RuleSet, packaged_rules
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


DRAFT_ONLY = re.compile(r"<!-- draft-only -->.*?<!-- /draft-only -->\n?", re.DOTALL)
#: Words that must not survive into a sent notice.
DRAFT_MARKERS = ("DRAFT for counsel", "Not sent.", "[Counsel:", "draft-only -->")


class NotFinal(ValueError):
    """A draft's text cannot be sent as it is: it still carries draft-only parts."""


def verdict_sentence(verdict: NoticeVerdict, audience: NoticeAudience) -> str:
    """The assessment's verdict in a sentence that reads right for each verdict."""
    whom = "the regulator" if audience == "regulator" else "the individuals"
    match verdict.verdict:
        case "likely":
            return f"notifying {whom} is **likely** to be required"
        case "unlikely":
            return f"notifying {whom} is **unlikely** to be required"
    return f"whether notifying {whom} is required is an **open question**"


def final_text(draft_text: str) -> str:
    """The text to send: the draft without its draft-only parts. NotFinal when something draft-like is
    left (a user's template without the markers): then attach the final document instead."""
    text = DRAFT_ONLY.sub("", draft_text).strip() + "\n"
    left = [marker for marker in DRAFT_MARKERS if marker in text]
    if left:
        raise NotFinal("the draft still reads as a draft after its draft-only parts were removed "
                       f"({', '.join(repr(m) for m in left)}): attach the final document that was sent")
    return text


def draft_notice(assessment: Assessment, facts: IncidentFacts, regime: str, audience: NoticeAudience,
                 template_dir: Path | None = None, rules: RuleSet | None = None) -> Draft:
    """Fill the notice template for `regime` (e.g. "eu_gdpr") and `audience` with the incident's facts.

    A regime-specific template (`notice_<audience>_<regime>.md.j2`) wins over the generic one.
    Raises KeyError when no affected member falls under `regime`.
    """
    if assessment.incident_id != facts.incident_id:
        raise ValueError(f"assessment of {assessment.incident_id} given with facts of {facts.incident_id}")
    if audience not in ("regulator", "individuals"):
        raise ValueError(f"audience must be 'regulator' or 'individuals', got {audience!r}")
    result = assessment.regime(regime)
    ruleset = rules or packaged_rules()
    members = group_by_regime(facts, ruleset).get(regime, [])
    rule_data = ruleset.regime(regime)
    by_residence = rule_data.jurisdiction is not None and rule_data.jurisdiction.lead_authority
    complaints_to = ("the data protection supervisory authority of the country where you live"
                     if by_residence else rule_data.regulator)
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
        "verdict": result.verdict(audience),
        "verdict_sentence": verdict_sentence(result.verdict(audience), audience),
        "individuals_verdict": result.notify_individuals,
        "complaints_to": complaints_to,
        "contents": result.regulator_contents if audience == "regulator" else result.individual_contents,
        "deadlines": [d for d in result.deadlines if d.audience in (audience, "controller")],
    }
    text = render([f"notice_{audience}_{regime}.md.j2", f"notice_{audience}.md.j2"], context, template_dir)
    who = result.regulator if audience == "regulator" else "affected members"
    return Draft(f"DRAFT {result.name} breach notice to {who}: {facts.title}", text, "markdown")


def missing_contents(text: str, facts: IncidentFacts, assessment: Assessment, regime: str,
                     audience: NoticeAudience, rules: RuleSet | None = None) -> list[str]:
    """The contents `regime` requires in a notice to `audience` that `text` lacks (checkable ones)."""
    rule = (rules or packaged_rules()).regime(regime).rule("notify", audience)
    if rule is None:
        return []
    result = assessment.regime(regime)
    values = {"members": str(result.affected), "contact": facts.contact, "organisation": facts.organisation,
              "regulator": result.regulator, "incident": facts.incident_id}
    return check_contents(text, rule.checks, values)
