"""The facts the compliance logic works from: what the records layer hands over, nothing it computes.

These are plain, frozen values so the records package (databases, workflow) and this package (rules,
documents) meet at one narrow interface. Times are tz-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

DraftFormat = Literal["markdown", "html"]


def _require_aware(name: str, value: datetime | None) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"{name} must be a timezone-aware datetime (UTC), got naive {value.isoformat()}")


@dataclass(frozen=True, slots=True)
class AffectedMember:
    """One member whose data an incident's actors received."""

    member_id: str
    country: str | None  # ISO 3166-1 alpha-2 ("DE", "GB", ...); None when unknown
    categories: frozenset[str]  # fideslang keys exposed for this member, e.g. "user.contact.email"

    def __post_init__(self) -> None:
        if self.country is not None and not (len(self.country) == 2 and self.country.isalpha()):
            raise ValueError(f"member {self.member_id}: country must be ISO 3166-1 alpha-2, "
                             f"got {self.country!r}")


@dataclass(frozen=True, slots=True)
class IncidentFacts:
    """An incident as the breach assessment sees it."""

    incident_id: str
    title: str
    started_at: datetime  # first exposure (event time)
    detected_at: datetime  # when the guard flagged it
    aware_at: datetime | None  # the controller's recorded decision that it is aware; clocks start here
    contained_at: datetime | None
    actors: tuple[str, ...]  # readable, e.g. "ip 203.0.113.7 (pseudonymised ab12..)"
    affected: tuple[AffectedMember, ...]
    #: Scraped from profiles visible to the public / to members. None: the assessor has not said
    #: (an open question; the severity then gets no "public" reduction).
    data_was_public: bool | None
    aggregated: bool  # compiled into profiles / a dataset
    organisation: str  # controller name, for notices
    contact: str  # DPO / privacy contact, for notices
    #: Whether the actors meant harm (ENISA adds 0.5 to CB). None: not established, left as an open question.
    malicious: bool | None = None
    #: A legal case exists against whoever is behind it (notices may then say we are pursuing them).
    legal_action: bool = False
    #: Where the controller is established (ISO 3166-1 alpha-2); None: not recorded.
    controller_country: str | None = None
    #: The controller's representatives (GDPR Art. 27, UK GDPR Art. 27); "" when none is designated.
    eu_representative: str = ""
    uk_representative: str = ""

    def __post_init__(self) -> None:
        for name in ("started_at", "detected_at", "aware_at", "contained_at"):
            _require_aware(name, getattr(self, name))
        if self.controller_country is not None and not (len(self.controller_country) == 2
                                                        and self.controller_country.isalpha()):
            raise ValueError("controller_country must be ISO 3166-1 alpha-2, "
                             f"got {self.controller_country!r}")


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """A legal case against a scraper, as the letters need it."""

    case_id: str
    respondent: str  # a person, a company, or "the unknown operator of ..."
    respondent_address: str | None
    organisation: str
    contact: str
    incident: IncidentFacts | None
    evidence: tuple[str, ...]  # readable evidence lines (dates, volume, accounts, IPs, data)
    demands_deadline: datetime
    sent_at: datetime
    terms_url: str | None = None  # the site's terms that prohibit scraping, when known

    def __post_init__(self) -> None:
        _require_aware("demands_deadline", self.demands_deadline)
        _require_aware("sent_at", self.sent_at)


@dataclass(frozen=True, slots=True)
class ReportFigures:
    """The figures of a regulator response report, counted by the records layer."""

    period_start: datetime
    period_end: datetime
    refusals_by_action: dict[str, int] = field(default_factory=dict)
    incidents_total: int = 0
    incidents_by_state: dict[str, int] = field(default_factory=dict)
    median_hours_to_containment: float | None = None
    cases_by_status: dict[str, int] = field(default_factory=dict)
    #: The latest drill up to the period's end, as cited ("controls tested on DATE: ..."), if any.
    latest_drill: str | None = None

    def __post_init__(self) -> None:
        _require_aware("period_start", self.period_start)
        _require_aware("period_end", self.period_end)
        if self.period_end < self.period_start:
            raise ValueError("period_end is before period_start")


@dataclass(frozen=True, slots=True)
class Draft:
    """A generated document. Every one says it is a draft for counsel."""

    title: str
    text: str
    format: DraftFormat
