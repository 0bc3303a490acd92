"""Worked examples: the same scraping incident assessed under EU GDPR, UK GDPR, PIPEDA and the NDB scheme."""

import json
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from scrapeguard.compliance import AffectedMember, Assessment, IncidentFacts, assess, group_by_regime

from .conftest import AWARE, PROFILE, WITH_EMAIL, MakeFacts


def test_members_grouped_by_regime_unknown_kept(make_facts: MakeFacts) -> None:
    groups = group_by_regime(make_facts())
    assert {k: sorted(m.member_id for m in v) for k, v in groups.items()} == {
        "eu_gdpr": ["101", "102"], "uk_gdpr": ["103"], "ca_pipeda": ["104"], "au_ndb": ["105"],
        None: ["106", "107"],
    }


def test_unknown_and_unmapped_countries_are_reported(make_facts: MakeFacts) -> None:
    result = assess(make_facts())
    assert result.affected_total == 7
    assert result.unknown_country == ("106",)
    assert result.unmapped_countries == {"US": 1}
    assert any("no known country" in q for q in result.open_questions)
    assert any("in US: no rule file covers" in q for q in result.open_questions)


def test_high_severity_incident_deadlines(make_facts: MakeFacts) -> None:
    # Not public, aggregated, malicious, name + email: DPC 1+1 = 2, EI 0.75 raised to 1, CB 0.5 + 0.5.
    result = assess(make_facts())
    eu = result.regime("eu_gdpr")
    assert (eu.severity.dpc, eu.severity.ei, eu.severity.cb, eu.severity.score) == (2, 1, 1, 3)
    assert eu.severity.level == "high"
    assert eu.affected == 2 and eu.countries == ("DE", "FR")
    assert eu.notify_regulator.verdict == "likely"
    assert eu.notify_individuals.verdict == "likely"
    eu_regulator = next(d for d in eu.deadlines if d.audience == "regulator")
    assert eu_regulator.kind == "notify" and eu_regulator.due == datetime(2026, 3, 5, 9, 0, tzinfo=UTC)
    assert "Art. 33(1)" in eu_regulator.basis and "72 h from awareness" in eu_regulator.basis
    eu_individuals = next(d for d in eu.deadlines if d.audience == "individuals")
    assert eu_individuals.due is None and "without undue delay" in eu_individuals.basis

    uk = result.regime("uk_gdpr")
    assert uk.notify_regulator.verdict == "likely"
    assert next(d for d in uk.deadlines if d.audience == "regulator").due == datetime(2026, 3, 5, 9, 0,
                                                                                      tzinfo=UTC)
    assert "reasons for not reporting" in (uk.records or "")

    ca = result.regime("ca_pipeda")
    # The Canadian member only had profile data (no email): DPC 2 × EI 1 (name+username) + CB 1 = 3.
    assert ca.severity.score == 3 and ca.notify_regulator.verdict == "likely"
    assert all(d.due is None for d in ca.deadlines)
    assert "as soon as feasible" in ca.deadlines[0].basis
    assert "24 months" in (ca.records or "")

    au = result.regime("au_ndb")
    assess_clock = [d for d in au.deadlines if d.kind == "assess"]
    notify_clocks = [d for d in au.deadlines if d.kind == "notify"]
    assert len(assess_clock) == 1 and assess_clock[0].due == datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
    assert "26WH" in assess_clock[0].basis
    assert all(d.due is None for d in notify_clocks)
    assert au.notify_regulator.verdict == "likely"  # high meets the "serious harm" mapping
    assert result.notifiable


def test_public_aggregated_profile_data_is_low_and_not_notifiable(make_facts: MakeFacts) -> None:
    members = (AffectedMember("1", "DE", PROFILE), AffectedMember("2", "CA", PROFILE))
    result = assess(make_facts(affected=members, data_was_public=True, malicious=False))
    # DPC 1 - 1 (public) + 1 (aggregated) = 1; EI 1 (name + username); CB 0.5 -> 1.5, low.
    assert result.severity.score == 1.5 and result.severity.level == "low"
    assert result.regime("eu_gdpr").notify_regulator.verdict == "unlikely"
    assert not result.notifiable
    assert "Below the threshold" in result.reasoning
    assert "DRAFT for counsel" in result.reasoning


def test_unestablished_intent_that_would_cross_a_threshold_is_an_open_question(make_facts: MakeFacts) -> None:
    # DPC 2 × EI 1 + CB 0.5 = 2.5 medium: the regulator threshold (medium) is met, individuals (high) not,
    # but with malicious intent it would be 3.0 (high).
    result = assess(make_facts(malicious=None))
    eu = result.regime("eu_gdpr")
    assert eu.severity.score == 2.5
    assert eu.notify_regulator.verdict == "likely"
    assert eu.notify_individuals.verdict == "open question"
    assert any("Malicious intent is not established" in q for q in result.open_questions)


def test_missing_awareness_leaves_clocks_unstarted(make_facts: MakeFacts) -> None:
    result = assess(make_facts(aware_at=None))
    eu = result.regime("eu_gdpr")
    assert all(d.due is None and d.starts_at is None for d in eu.deadlines)
    assert any("awareness has not been recorded" in q for q in result.open_questions)


def test_assessment_round_trips_through_json(make_facts: MakeFacts) -> None:
    result = assess(make_facts())
    again = Assessment.from_dict(json.loads(json.dumps(result.to_dict())))
    assert again == result
    assert again.regime("au_ndb").deadlines == result.regime("au_ndb").deadlines


def test_rules_open_questions_surface(make_facts: MakeFacts) -> None:
    result = assess(make_facts())
    assert any(q.startswith("Australia") and "Record-keeping" in q for q in result.open_questions)
    assert any(q.startswith("EU GDPR") and "lead authority" in q for q in result.open_questions)


# -- "was it public": the assessor's statement, never a default ----------------------------------


def test_unstated_public_is_an_open_question_and_gets_no_reduction(make_facts: MakeFacts) -> None:
    unstated = assess(make_facts(data_was_public=None))
    stated = assess(make_facts(data_was_public=True))
    assert unstated.inputs["data_was_public"] is None and stated.inputs["data_was_public"] is True
    assert any("--not-public" in q for q in unstated.open_questions)
    assert not any("--not-public" in q for q in stated.open_questions)
    # the same as "not public" (no reduction), one DPC step above "public"
    assert unstated.severity.score == assess(make_facts(data_was_public=False)).severity.score
    assert unstated.severity.dpc == stated.severity.dpc + 1


# -- obligations per regime and audience ------------------------------------------------------------


def test_obligations_per_regime_and_audience(make_facts: MakeFacts) -> None:
    members = (AffectedMember("1", "DE", WITH_EMAIL), AffectedMember("2", "CO", WITH_EMAIL),
               AffectedMember("3", "AR", WITH_EMAIL))
    result = assess(make_facts(affected=members, malicious=None))
    found = {(o.regime, o.audience): o for o in result.obligations()}
    assert found[("eu_gdpr", "regulator")].status == "likely"
    assert found[("eu_gdpr", "regulator")].due == datetime(2026, 3, 5, 9, 0, tzinfo=UTC)
    assert found[("eu_gdpr", "individuals")].status == "open question"
    assert found[("co_law1581", "regulator")].status == "required"  # every incident, whatever the severity
    assert found[("ar_law25326", "regulator")].status == "not required"
    assert "Art. 33(1)" in found[("eu_gdpr", "regulator")].reasoning


# -- where the controller is established --------------------------------------------------------------

EU_AND_ELSEWHERE = (AffectedMember("1", "DE", WITH_EMAIL), AffectedMember("2", "US", WITH_EMAIL),
                    AffectedMember("3", None, WITH_EMAIL))


def test_a_controller_established_in_the_eu_is_bound_by_the_gdpr_for_every_member(make_facts: MakeFacts
                                                                                    ) -> None:
    result = assess(make_facts(affected=EU_AND_ELSEWHERE, controller_country="DE"))
    eu = result.regime("eu_gdpr")
    assert eu.affected == 3  # the US member and the one of unknown country too (Art. 3(1))
    assert "main establishment (DE)" in eu.regulator
    assert any("established in DE" in note for note in eu.jurisdiction)
    assert not any("lead authority" in q for q in result.open_questions)
    assert not any("controller_country" in q for q in result.open_questions)


def test_establishment_in_norway_counts_as_the_eea(make_facts: MakeFacts) -> None:
    result = assess(make_facts(affected=EU_AND_ELSEWHERE, controller_country="NO"))
    assert result.regime("eu_gdpr").affected == 3


def test_a_controller_outside_the_eu_needs_a_representative_and_has_no_lead_authority(make_facts: MakeFacts
                                                                                       ) -> None:
    without = assess(make_facts(affected=EU_AND_ELSEWHERE, controller_country="US"))
    eu = without.regime("eu_gdpr")
    assert eu.affected == 1  # only the member living in the EU (Art. 3(2))
    assert "each member state where affected members live (DE)" in eu.regulator
    assert any("representative" in q and "eu_representative" in q for q in without.open_questions)
    named = assess(make_facts(affected=EU_AND_ELSEWHERE, controller_country="US",
                              eu_representative="Rep GmbH, Berlin"))
    assert "Representative (EU): Rep GmbH, Berlin." in named.regime("eu_gdpr").jurisdiction
    assert not any("eu_representative" in q for q in named.open_questions)


def test_a_uk_controller_is_bound_by_the_uk_gdpr_and_needs_an_eu_representative(make_facts: MakeFacts
                                                                                 ) -> None:
    result = assess(make_facts(affected=EU_AND_ELSEWHERE, controller_country="GB"))
    assert result.regime("uk_gdpr").affected == 3  # established in the UK: every member
    assert result.regime("eu_gdpr").affected == 1
    assert any("eu_representative" in q for q in result.open_questions)
    assert result.inputs["controller_country"] == "GB"


def test_an_unrecorded_establishment_is_an_open_question(make_facts: MakeFacts) -> None:
    result = assess(make_facts(affected=EU_AND_ELSEWHERE))
    assert result.regime("eu_gdpr").affected == 1
    assert any("controller_country" in q for q in result.open_questions)



countries = st.one_of(st.none(), st.sampled_from(["DE", "GB", "CA", "AU", "NZ", "US", "BR", "JE", "CO"]))
category_sets = st.frozensets(st.sampled_from(sorted(WITH_EMAIL | {"user.health", "vendor.unknown"})))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(countries, category_sets), max_size=25), st.booleans(), st.booleans(),
       st.sampled_from([True, False, None]))
def test_every_member_is_accounted_for(members: list[tuple[str | None, frozenset[str]]], public: bool,
                                       aggregated: bool, malicious: bool | None) -> None:
    affected = tuple(AffectedMember(str(i), c, cats) for i, (c, cats) in enumerate(members))
    facts = IncidentFacts("p", "t", AWARE, AWARE, AWARE, None, (), affected, public, aggregated, "O", "c",
                          malicious)
    result = assess(facts)
    placed = sum(r.affected for r in result.regimes)
    assert placed + len(result.unknown_country) + sum(result.unmapped_countries.values()) == len(members)
    assert 1 <= result.severity.dpc <= 4 and 0.25 <= result.severity.ei <= 1
    assert Assessment.from_dict(json.loads(json.dumps(result.to_dict()))) == result


def test_verdicts_carry_the_legal_test_and_threshold(make_facts: MakeFacts) -> None:
    result = assess(make_facts())
    eu = result.regime("eu_gdpr")
    assert "unlikely to result in a risk" in (eu.notify_regulator.trigger or "")
    assert (eu.notify_regulator.requirement, eu.notify_regulator.min_severity) == ("required", "medium")
    assert eu.notify_individuals.min_severity == "high"
    assert any("encrypted" in e for e in eu.notify_individuals.exemptions)
    ca = result.regime("ca_pipeda")
    assert "real risk of significant harm" in (ca.notify_regulator.trigger or "")
    au = result.regime("au_ndb")
    assert "serious harm" in (au.notify_regulator.trigger or "")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(countries, category_sets), min_size=1, max_size=15),
       st.sampled_from([None, "DE", "NO", "GB", "US", "CA"]))
def test_an_established_controller_is_bound_for_every_member(members: list[tuple[str | None, frozenset[str]]],
                                                             controller: str | None) -> None:
    affected = tuple(AffectedMember(str(i), c, cats) for i, (c, cats) in enumerate(members))
    facts = IncidentFacts("p", "t", AWARE, AWARE, AWARE, None, (), affected, None, True, "O", "c",
                          controller_country=controller)
    result = assess(facts)
    by_regime = {r.regime: r.affected for r in result.regimes}
    if controller in ("DE", "NO"):
        assert by_regime["eu_gdpr"] == len(members)
    if controller == "GB":
        assert by_regime["uk_gdpr"] == len(members)
    residents = sum(1 for c, _ in members if c in ("DE",))
    if controller not in ("DE", "NO") and residents:
        assert by_regime["eu_gdpr"] == residents  # by residence only
    assert Assessment.from_dict(json.loads(json.dumps(result.to_dict()))) == result
