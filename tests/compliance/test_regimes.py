"""The shipped rule data against the reference table: every regime present, unconfirmed cells kept open."""

from datetime import UTC, datetime

import pytest

from scrapeguard.compliance import AffectedMember, Assessment, packaged_rules
from scrapeguard.compliance import assess as assess_incident

from .conftest import AWARE, WITH_EMAIL, MakeFacts

TABLE_REGIMES = {"eu_gdpr": "DE", "uk_gdpr": "GB", "no_gdpr": "NO", "ca_pipeda": "CA", "au_ndb": "AU",
                 "nz_privacy": "NZ", "ch_fadp": "CH", "hk_pdpo": "HK", "je_dpjl": "JE", "co_law1581": "CO",
                 "ar_law25326": "AR", "ma_law0908": "MA", "mx_lfpdppp": "MX"}


def test_every_regime_of_the_reference_table_ships() -> None:
    rules = packaged_rules()
    for regime_id, country in TABLE_REGIMES.items():
        found = rules.regime_for_country(country)
        assert found is not None and found.id == regime_id


def _one_member_in(make_facts: MakeFacts, country: str, **changes: object) -> Assessment:
    return assess_incident(make_facts(affected=(AffectedMember("1", country, WITH_EMAIL),), **changes))


def test_colombia_counts_15_business_days_from_detection(make_facts: MakeFacts) -> None:
    detected = datetime(2026, 3, 6, 16, 0, tzinfo=UTC)  # a Friday
    result = _one_member_in(make_facts, "CO", detected_at=detected, data_was_public=True, malicious=False)
    co = result.regime("co_law1581")
    regulator = next(d for d in co.deadlines if d.audience == "regulator")
    assert regulator.clock_start == "detection" and regulator.starts_at == detected
    assert regulator.due == datetime(2026, 3, 27, 16, 0, tzinfo=UTC)
    assert co.notify_regulator.verdict == "likely"  # every security incident is reported
    assert co.notify_individuals.verdict == "open question"
    assert any("public holidays" in q for q in co.open_questions)


def test_new_zealand_72_hours_is_guidance_not_law(make_facts: MakeFacts) -> None:
    nz = _one_member_in(make_facts, "NZ").regime("nz_privacy")
    regulator = next(d for d in nz.deadlines if d.audience == "regulator")
    assert regulator.due == datetime(2026, 3, 5, 9, 0, tzinfo=UTC) and not regulator.binding
    assert "per guidance" in regulator.basis


@pytest.mark.parametrize(("country", "regime_id"), [("HK", "hk_pdpo"), ("AR", "ar_law25326"),
                                                     ("MA", "ma_law0908")])
def test_no_mandatory_notice(make_facts: MakeFacts, country: str, regime_id: str) -> None:
    result = _one_member_in(make_facts, country).regime(regime_id)
    assert result.notify_regulator.verdict == "unlikely"
    assert not result.notifiable


def test_hong_kong_says_recommended(make_facts: MakeFacts) -> None:
    hk = _one_member_in(make_facts, "HK").regime("hk_pdpo")
    assert any("recommends" in r for r in hk.notify_regulator.reasons)


def test_switzerland_individuals_is_a_judgement(make_facts: MakeFacts) -> None:
    ch = _one_member_in(make_facts, "CH").regime("ch_fadp")
    assert ch.notify_regulator.verdict == "likely"  # high severity meets "high risk"
    assert ch.notify_individuals.verdict == "open question"


def test_mexico_regulator_none_individuals_by_threshold(make_facts: MakeFacts) -> None:
    mx = _one_member_in(make_facts, "MX").regime("mx_lfpdppp")
    assert mx.notify_regulator.verdict == "unlikely"
    assert mx.notify_individuals.verdict == "likely"
    assert any("2025 law" in q for q in mx.open_questions)


def test_jersey_unconfirmed_contents_are_open(make_facts: MakeFacts) -> None:
    je = _one_member_in(make_facts, "JE").regime("je_dpjl")
    assert je.regulator_contents == ()
    assert any("Required contents of the regulator notice" in q for q in je.open_questions)
    assert next(d for d in je.deadlines if d.audience == "regulator").due == AWARE.replace(day=5)
