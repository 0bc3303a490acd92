"""ENISA 2013 severity, SE = DPC × EI + CB, on worked examples; every adjustment is recorded."""

import pytest

from scrapeguard.compliance import rate_severity
from scrapeguard.compliance.severity import level_of

PROFILE = {"user.name", "user.account.username", "user.professional_information.workplace"}


@pytest.mark.parametrize(("score", "level"), [
    (0.25, "low"), (1.99, "low"), (2, "medium"), (2.99, "medium"),
    (3, "high"), (3.99, "high"), (4, "very high"), (5, "very high"),
])
def test_bands(score: float, level: str) -> None:
    assert level_of(score) == level


def test_scraped_public_profiles_both_adjustments_shown() -> None:
    # base simple 1, public -1, aggregated +1 -> 1; EI: name 0.75 + username 0.5 together -> 1; CB 0.5.
    result = rate_severity(PROFILE, data_was_public=True, aggregated=True, malicious=False)
    assert (result.dpc_base, result.dpc, result.ei, result.cb, result.score) == (1, 1, 1, 0.5, 1.5)
    assert result.level == "low"
    reasons = [(a.factor, a.change) for a in result.adjustments]
    assert ("dpc", -1.0) in reasons and ("dpc", 1.0) in reasons and ("ei", 0.25) in reasons
    assert any("public" in a.reason for a in result.adjustments if a.change == -1.0)
    assert any("profiling" in a.reason for a in result.adjustments if a.factor == "dpc" and a.change == 1.0)


def test_members_only_email_aggregated_malicious() -> None:
    # base 1 + aggregated 1 = 2; EI 1; CB 0.5 + 0.5 malicious = 1 -> 3.0 high.
    result = rate_severity(PROFILE | {"user.contact.email"}, data_was_public=False, aggregated=True,
                           malicious=True)
    assert (result.dpc, result.ei, result.cb, result.score, result.level) == (2, 1, 1, 3, "high")


def test_sensitive_data_is_very_high_when_identifying() -> None:
    # health (sensitive, 4) with name and email: EI 0.75 raised to 1; 4 × 1 + 0.5 = 4.5.
    result = rate_severity({"user.health", "user.name", "user.contact.email"}, data_was_public=False,
                           aggregated=False, malicious=None)
    assert (result.dpc_base, result.score, result.level) == (4, 4.5, "very high")
    assert "user.health (sensitive)" in result.adjustments[0].reason


def test_dpc_is_kept_within_one_to_four() -> None:
    high = rate_severity({"user.biometrics"}, data_was_public=False, aggregated=True, malicious=False)
    assert high.dpc == 4 and high.ei == 1  # biometrics alone identify
    low = rate_severity({"user.name"}, data_was_public=True, aggregated=False, malicious=False)
    assert low.dpc == 1 and low.score == 1.25


def test_single_identifier_is_not_raised() -> None:
    result = rate_severity({"user.contact.phone_number", "user.location.coarse"}, data_was_public=False,
                           aggregated=False, malicious=False)
    assert result.ei == 0.75
    assert all(a.factor != "ei" for a in result.adjustments)


def test_subkeys_take_their_parents_rating_unknown_keys_are_listed() -> None:
    result = rate_severity({"user.demographic.date_of_birth", "user.something_new"}, data_was_public=False,
                           aggregated=False, malicious=False)
    assert result.unrated_categories == ("user.something_new",)
    assert result.dpc_base == 1 and result.ei == 0.25
    nothing = rate_severity({"vendor.custom"}, data_was_public=False, aggregated=False, malicious=False)
    assert nothing.unrated_categories == ("vendor.custom",)
    assert "reviewed by hand" in nothing.adjustments[0].reason


def test_special_category_under_demographic_is_sensitive() -> None:
    result = rate_severity({"user.demographic.political_opinion"}, data_was_public=True, aggregated=False,
                           malicious=False)
    assert result.dpc_base == 4 and result.dpc == 3


def test_unstated_public_availability_is_shown_and_not_reduced() -> None:
    unstated = rate_severity(PROFILE, data_was_public=None, aggregated=True, malicious=False)
    public = rate_severity(PROFILE, data_was_public=True, aggregated=True, malicious=False)
    assert unstated.dpc == public.dpc + 1
    assert any(a.change == 0 and "has not been stated" in a.reason for a in unstated.adjustments)
