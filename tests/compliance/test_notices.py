"""Notice drafts carry the incident's facts, the regime's required contents and the draft marking."""

from pathlib import Path

import pytest

from scrapeguard.compliance import AffectedMember, assess, draft_notice, packaged_rules
from scrapeguard.compliance.notices import NotFinal, final_text, missing_contents
from scrapeguard.compliance.templating import TemplateProblem

from .conftest import WITH_EMAIL, MakeFacts


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


# -- required contents, checked in the rendered notice ---------------------------------------------

#: One member in every regime's territory, so that every regime's notices can be rendered.
EVERY_REGIME = tuple(AffectedMember(str(100 + i), sorted(r.countries)[0], WITH_EMAIL)
                     for i, r in enumerate(packaged_rules().regimes))
CHECKED = [(r.id, rule.audience) for r in packaged_rules().regimes for rule in r.rules
           if rule.kind == "notify" and rule.checks]


def test_the_regimes_the_issue_names_have_checkable_contents() -> None:
    assert {"eu_gdpr", "uk_gdpr", "ca_pipeda", "au_ndb"} <= {regime for regime, _ in CHECKED}
    pipeda = packaged_rules().regime("ca_pipeda")
    regulator, individuals = pipeda.rule("notify", "regulator"), pipeda.rule("notify", "individuals")
    assert regulator is not None and individuals is not None
    assert any("number of individuals" in c.item for c in regulator.checks)
    assert any("person who can answer questions" in c.item for c in regulator.checks)
    assert any("steps taken to reduce the risk" in c.item for c in regulator.checks)
    assert any("right to complain to the OPC" in c.item for c in individuals.checks)


@pytest.mark.parametrize(("regime", "audience"), CHECKED)
def test_each_regimes_notice_carries_every_required_element(make_facts: MakeFacts, regime: str,
                                                            audience: str) -> None:
    facts = make_facts(affected=EVERY_REGIME)
    result = assess(facts)
    draft = draft_notice(result, facts, regime, audience)  # type: ignore[arg-type]
    assert missing_contents(draft.text, facts, result, regime, audience) == []  # type: ignore[arg-type]
    sent = final_text(draft.text)  # and in what is sent, not only in the draft for counsel
    assert missing_contents(sent, facts, result, regime, audience) == []  # type: ignore[arg-type]


def test_a_notice_without_a_required_element_is_reported(make_facts: MakeFacts, tmp_path: Path) -> None:
    facts = make_facts()
    result = assess(facts)
    packaged = draft_notice(result, facts, "ca_pipeda", "individuals").text
    without = packaged.replace("You have the right to complain to", "You may write to")
    (tmp_path / "notice_individuals_ca_pipeda.md.j2").write_text(without.replace("{", "{{ '{' }}"))
    custom = draft_notice(result, facts, "ca_pipeda", "individuals", tmp_path).text
    assert missing_contents(custom, facts, result, "ca_pipeda", "individuals") == [
        "the internal complaint process and the right to complain to the OPC (Regs s. 3(g))"]
    count = str(result.regime("ca_pipeda").affected)
    regulator = draft_notice(result, facts, "ca_pipeda", "regulator").text
    wrong_count = regulator.replace(f"Canada PIPEDA: {count} (", "Canada PIPEDA: many (")
    assert missing_contents(wrong_count, facts, result, "ca_pipeda", "regulator") == [
        "an estimate of the number of individuals affected (Regs s. 2(1)(d))"]


def test_the_verdict_reads_as_a_sentence_for_an_open_question(make_facts: MakeFacts) -> None:
    facts = make_facts(malicious=None)  # EU individuals: an open question (see test_assessment)
    result = assess(facts)
    assert result.regime("eu_gdpr").notify_individuals.verdict == "open question"
    text = draft_notice(result, facts, "eu_gdpr", "individuals").text
    assert "is **open question** to be required" not in text
    assert "whether notifying the individuals is required is an **open question**" in text
    likely = draft_notice(result, facts, "eu_gdpr", "regulator").text
    assert "notifying the regulator is **likely** to be required" in likely


def test_the_final_text_drops_what_only_counsel_reads(make_facts: MakeFacts) -> None:
    facts = make_facts()
    draft = draft_notice(assess(facts), facts, "eu_gdpr", "regulator").text
    sent = final_text(draft)
    assert "DRAFT" in draft and "Checklist" in draft and "Open questions for counsel" in draft
    for word in ("DRAFT", "Not sent", "Checklist", "Open questions", "[Counsel", "<!--"):
        assert word not in sent
    assert sent.startswith("# Personal data breach notification to") and facts.contact in sent


def test_a_template_without_draft_markers_cannot_be_sent_as_it_is(make_facts: MakeFacts,
                                                                  tmp_path: Path) -> None:
    (tmp_path / "notice_regulator.md.j2").write_text("DRAFT for counsel. Not sent.\n{{ facts.title }}\n")
    facts = make_facts()
    text = draft_notice(assess(facts), facts, "eu_gdpr", "regulator", tmp_path).text
    with pytest.raises(NotFinal, match="attach the final document"):
        final_text(text)


def test_legal_action_is_claimed_only_when_a_case_exists(make_facts: MakeFacts) -> None:
    for legal_action in (False, True):
        facts = make_facts(legal_action=legal_action)
        result = assess(facts)
        regulator = final_text(draft_notice(result, facts, "uk_gdpr", "regulator").text)
        individuals = final_text(draft_notice(result, facts, "uk_gdpr", "individuals").text)
        assert ("pursuing the operator" in regulator) is legal_action
        assert ("taking action against whoever is" in individuals) is legal_action
