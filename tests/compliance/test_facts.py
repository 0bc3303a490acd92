from datetime import UTC, datetime

import pytest

from scrapeguard.compliance import AffectedMember, CaseFacts, ReportFigures

from .conftest import MakeFacts


def test_member_country_must_be_alpha2() -> None:
    with pytest.raises(ValueError, match="ISO 3166-1 alpha-2"):
        AffectedMember("1", "Germany", frozenset())


def test_naive_times_are_refused(make_facts: MakeFacts) -> None:
    with pytest.raises(ValueError, match="aware_at must be a timezone-aware"):
        make_facts(aware_at=datetime(2026, 3, 2, 9, 0))


def test_case_facts_need_aware_times() -> None:
    with pytest.raises(ValueError, match="sent_at"):
        CaseFacts("c1", "X", None, "Org", "dpo@x", None, (), datetime(2026, 1, 1, tzinfo=UTC),
                  datetime(2026, 1, 1))


def test_report_period_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="before period_start"):
        ReportFigures(datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))
