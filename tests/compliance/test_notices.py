"""Notice drafts carry the incident's facts, the regime's required contents and the draft marking."""

from pathlib import Path

import pytest

from scrapeguard.compliance import assess, draft_notice
from scrapeguard.compliance.templating import TemplateProblem

from .conftest import MakeFacts


@pytest.mark.parametrize("regime", ["eu_gdpr", "uk_gdpr", "ca_pipeda", "au_ndb"])
def test_regulator_notice_contains_the_facts(make_facts: MakeFacts, regime: str) -> None:
    facts = make_facts()
    result = assess(facts)
    draft = draft_notice(result, facts, regime, "regulator")
    text = draft.text
    assert draft.format == "markdown" and draft.title.startswith("DRAFT")
    assert "DRAFT for counsel" in text
    assert facts.organisation in text and facts.contact in text and facts.incident_id in text
    assert "2026-02-28 22:15 UTC" in text  # first exposure
    assert "203.0.113.7" in text
    assert "employer (`user.professional_information.workplace`)" in text
    regime_result = result.regime(regime)
    assert regime_result.regulator in text
    for item in regime_result.regulator_contents:
        assert f"- [ ] {item}" in text
    assert f"{regime_result.affected} (countries: " in text


def test_eu_regulator_notice_states_the_72_hour_deadline(make_facts: MakeFacts) -> None:
    facts = make_facts()
    text = draft_notice(assess(facts), facts, "eu_gdpr", "regulator").text
    assert "notify (the lead supervisory authority): 2026-03-05 09:00 UTC" in text
    assert "lead authority (main establishment)" in text  # the regime's open question


def test_australian_regulator_notice_lists_the_assess_clock(make_facts: MakeFacts) -> None:
    facts = make_facts()
    text = draft_notice(assess(facts), facts, "au_ndb", "regulator").text
    assert "assess (the entity itself (an assessment, not a notice)): 2026-04-01 09:00 UTC" in text


def test_individuals_notice_is_plain_language(make_facts: MakeFacts) -> None:
    facts = make_facts()
    text = draft_notice(assess(facts), facts, "uk_gdpr", "individuals").text
    assert "Dear member" in text and "DRAFT for counsel" in text
    assert "- email address" in text and "- employer" in text
    assert "user.contact.email" not in text.split("Counsel checklist")[0]  # no jargon for members
    assert "quote reference inc-7" in text


def test_unaffected_regime_is_refused(make_facts: MakeFacts) -> None:
    facts = make_facts()
    with pytest.raises(KeyError, match="nz_privacy"):
        draft_notice(assess(facts), facts, "nz_privacy", "regulator")


def test_mismatched_facts_are_refused(make_facts: MakeFacts) -> None:
    facts = make_facts()
    with pytest.raises(ValueError, match="assessment of inc-7 given with facts of other"):
        draft_notice(assess(facts), make_facts(incident_id="other"), "eu_gdpr", "regulator")


def test_user_template_overrides_per_regime(make_facts: MakeFacts, tmp_path: Path) -> None:
    (tmp_path / "notice_regulator_eu_gdpr.md.j2").write_text("Custom for {{ result.name }}: {{ members }}\n")
    facts = make_facts()
    result = assess(facts)
    assert draft_notice(result, facts, "eu_gdpr", "regulator", tmp_path).text == "Custom for EU GDPR: 2\n"
    assert "Custom" not in draft_notice(result, facts, "uk_gdpr", "regulator", tmp_path).text


def test_broken_user_template_is_a_clear_error(make_facts: MakeFacts, tmp_path: Path) -> None:
    (tmp_path / "notice_regulator.md.j2").write_text("{{ facts.no_such_field }}\n")
    facts = make_facts()
    with pytest.raises(TemplateProblem, match=r"notice_regulator\.md\.j2: .*no_such_field"):
        draft_notice(assess(facts), facts, "eu_gdpr", "regulator", tmp_path)
    (tmp_path / "notice_regulator.md.j2").write_text("{% if %}\n")
    with pytest.raises(TemplateProblem, match="template syntax error"):
        draft_notice(assess(facts), facts, "eu_gdpr", "regulator", tmp_path)


def test_individuals_notice_lists_the_exemptions_for_counsel(make_facts: MakeFacts) -> None:
    facts = make_facts()
    text = draft_notice(assess(facts), facts, "eu_gdpr", "individuals").text
    assert "Exemptions for counsel to weigh" in text and "disproportionate effort" in text


def test_both_notices_carry_the_recommended_steps(make_facts: MakeFacts) -> None:
    facts = make_facts()
    result = assess(facts)
    for audience in ("regulator", "individuals"):
        text = draft_notice(result, facts, "au_ndb", audience).text  # type: ignore[arg-type]
        assert "- Never share passwords or one-time codes with anyone who contacts you." in text
