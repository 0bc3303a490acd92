"""Incident facts for the compliance tests: a scraping incident with members in several regimes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from scrapeguard.compliance import AffectedMember, IncidentFacts

PROFILE = frozenset({"user.name", "user.account.username", "user.professional_information.job_title",
                     "user.professional_information.workplace", "user.location.coarse"})
WITH_EMAIL = PROFILE | {"user.contact.email"}
MakeFacts = Callable[..., IncidentFacts]
#: Monday 2 March 2026, 09:00 UTC: the controller records that it is aware.
AWARE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def make_facts() -> MakeFacts:
    """Build IncidentFacts; keyword arguments replace fields of a typical scraping incident."""

    def build(**changes: Any) -> IncidentFacts:
        base = IncidentFacts(
            incident_id="inc-7",
            title="Profile scraping from 203.0.113.0/24",
            started_at=datetime(2026, 2, 28, 22, 15, tzinfo=UTC),
            detected_at=datetime(2026, 3, 1, 6, 40, tzinfo=UTC),
            aware_at=AWARE,
            contained_at=datetime(2026, 3, 1, 7, 0, tzinfo=UTC),
            actors=("ip 203.0.113.7 (pseudonymised ab12cd)", "account scraper01"),
            affected=(
                AffectedMember("101", "DE", WITH_EMAIL),
                AffectedMember("102", "FR", PROFILE),
                AffectedMember("103", "GB", WITH_EMAIL),
                AffectedMember("104", "CA", PROFILE),
                AffectedMember("105", "AU", PROFILE),
                AffectedMember("106", None, PROFILE),
                AffectedMember("107", "US", PROFILE),
            ),
            data_was_public=False,
            aggregated=True,
            organisation="Example Community Ltd",
            contact="dpo@example.org",
            malicious=True,
        )
        return replace(base, **changes)

    return build
