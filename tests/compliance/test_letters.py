"""Cease-and-desist and deletion demand letters render the case's evidence and the usual demands."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from scrapeguard.compliance import CaseFacts, render_letter
from scrapeguard.compliance.templating import TemplateProblem

from .conftest import MakeFacts

EVIDENCE = ("2026-02-28 22:15 to 2026-03-01 06:40 UTC: 4,210 profile pages from 203.0.113.7",
            "account scraper01 created 2026-02-27, viewed 1,980 profiles in 6 hours")


def _case(make_facts: MakeFacts, **changes: object) -> CaseFacts:
    fields: dict[str, object] = {
        "case_id": "case-3", "respondent": "Harvest Data Ltd", "respondent_address": "1 Example Street",
        "organisation": "Example Community Ltd", "contact": "legal@example.org", "incident": make_facts(),
        "evidence": EVIDENCE, "demands_deadline": datetime(2026, 3, 20, 17, 0, tzinfo=UTC),
        "sent_at": datetime(2026, 3, 6, 10, 0, tzinfo=UTC), "terms_url": "https://example.org/terms",
    }
    fields.update(changes)
    return CaseFacts(**fields)  # type: ignore[arg-type]


def test_cease_and_desist_has_the_usual_elements(make_facts: MakeFacts) -> None:
    draft = render_letter("cease_and_desist", _case(make_facts))
    text = draft.text
    assert draft.title.startswith("DRAFT Cease and desist") and "case-3" in draft.title
    assert text.startswith("DRAFT for counsel")
    for line in EVIDENCE:
        assert f"- {line}" in text
    assert "https://example.org/terms" in text  # terms breached
    assert "profile data of 7 of our members" in text and "- account scraper01" in text  # conduct
    assert "stop all use, disclosure and sale" in text  # stop using the data
    assert "revoked and is being technically blocked" in text and "unauthorised" in text
    assert "Legal grounds" in text
    assert "By 2026-03-20 17:00 UTC (14 days" in text
    assert "Harvest Data Ltd" in text and "1 Example Street" in text


def test_deletion_demand_requires_certification(make_facts: MakeFacts) -> None:
    text = render_letter("deletion_demand", _case(make_facts)).text
    assert "derived from it" in text and "scraping tools" in text
    assert "no use, disclosure or sale" in text
    assert "written certification" in text and "legal@example.org" in text
    listed = "username, email address, approximate location, name, job title, employer."
    assert f"The data includes: {listed}" in text


def test_letter_against_unknown_operator_without_incident(make_facts: MakeFacts) -> None:
    case = _case(make_facts, respondent="The unknown operator of accounts scraper01, scraper02",
                 respondent_address=None, incident=None, evidence=())
    text = render_letter("cease_and_desist", case).text
    assert "unknown operator of accounts scraper01" in text
    assert "[Counsel: evidence to be attached.]" in text


def test_deadline_must_follow_sending(make_facts: MakeFacts) -> None:
    with pytest.raises(ValueError, match="deadline"):
        render_letter("deletion_demand", _case(make_facts, demands_deadline=datetime(2026, 3, 1, tzinfo=UTC)))


def test_unknown_kind_is_refused(make_facts: MakeFacts) -> None:
    with pytest.raises(ValueError, match="cease_and_desist, deletion_demand"):
        render_letter("apology", _case(make_facts))  # type: ignore[arg-type]


def test_edited_template_directory_wins(make_facts: MakeFacts, tmp_path: Path) -> None:
    (tmp_path / "cease_and_desist.md.j2").write_text("Dear {{ case.respondent }}, stop by "
                                                     "{{ case.demands_deadline | when }}.\n")
    text = render_letter("cease_and_desist", _case(make_facts), tmp_path).text
    assert text == "Dear Harvest Data Ltd, stop by 2026-03-20 17:00 UTC.\n"
    # the other letter still comes from the package
    assert "written certification" in render_letter("deletion_demand", _case(make_facts), tmp_path).text


def test_missing_template_directory(make_facts: MakeFacts, tmp_path: Path) -> None:
    with pytest.raises(TemplateProblem, match="does not exist"):
        render_letter("cease_and_desist", _case(make_facts), tmp_path / "nope")


def test_days_to_comply_are_the_calendar_days_between_the_dates_the_letter_prints(
        make_facts: MakeFacts) -> None:
    # sent 6 March at 10:00, due 20 March at 09:00: the letter prints both dates, 14 days apart
    case = _case(make_facts, demands_deadline=datetime(2026, 3, 20, 9, 0, tzinfo=UTC))
    text = render_letter("deletion_demand", case).text
    assert "By 2026-03-20 09:00 UTC (14 days from the date of this letter)" in text


def test_the_letter_as_sent_has_no_draft_marks(make_facts: MakeFacts) -> None:
    for kind in ("cease_and_desist", "deletion_demand"):
        sent = render_letter(kind, _case(make_facts), final=True)  # type: ignore[arg-type]
        assert "DRAFT" not in sent.text and "Not sent" not in sent.text and "DRAFT" not in sent.title
        assert sent.text.startswith("Example Community Ltd\n2026-03-06 10:00 UTC")


def test_the_facts_of_a_draft_survive_json(make_facts: MakeFacts) -> None:
    import json

    from scrapeguard.compliance.letters import case_facts_from_json, case_facts_to_json

    case = _case(make_facts)
    assert case_facts_from_json(json.loads(json.dumps(case_facts_to_json(case)))) == case
