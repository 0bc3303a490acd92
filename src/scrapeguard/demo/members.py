"""Deterministic fake members (and jobs, events, posts) for the demo site.

Member k is generated from its own seed (`seed`, k), so the same seed gives
the same members whatever N is, and pages can be built without randomness
at request time. Creation dates spread over 2014..2025 (fixed dates, so the
data does not drift with the calendar); members who sign up get "now".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from faker import Faker

#: Locales and the ISO country each stands for: members come from many
#: jurisdictions (the breach rules in ScrapeGuard are per country).
LOCALES = {
    "en_GB": "GB", "en_US": "US", "en_CA": "CA", "en_AU": "AU", "en_NZ": "NZ",
    "de_DE": "DE", "fr_FR": "FR", "es_ES": "ES", "it_IT": "IT", "nl_NL": "NL",
    "no_NO": "NO", "de_CH": "CH", "es_CO": "CO", "es_AR": "AR", "es_MX": "MX",
    "en_IE": "IE", "pl_PL": "PL", "pt_BR": "BR", "sv_SE": "SE", "en_IN": "IN",
}
CREATED_FROM = datetime(2014, 1, 1, tzinfo=UTC)
CREATED_SPAN_DAYS = 12 * 365


@dataclass
class Member:
    id: int
    username: str
    name: str
    email: str
    phone: str
    job_title: str
    company: str
    city: str
    country: str
    bio: str
    created_at: datetime
    #: Colour of the generated avatar.
    hue: int

    @property
    def initials(self) -> str:
        parts = [p for p in self.name.split() if p[:1].isalpha()]
        return "".join(p[0] for p in parts[:2]).upper() or "?"

    def public_dict(self, members_only: bool) -> dict[str, object]:
        data: dict[str, object] = {
            "id": self.id, "username": self.username, "name": self.name,
            "job_title": self.job_title, "company": self.company, "city": self.city,
            "country": self.country, "bio": self.bio,
            "member_since": self.created_at.date().isoformat(),
        }
        if members_only:
            data["email"] = self.email
            data["phone"] = self.phone
        return data


def _ascii_slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "", plain.lower())


@cache
def _faker(locale: str) -> Faker:
    fake = Faker(locale)
    # Some Faker locales (it_IT) build their city list from a set, whose order changes with
    # PYTHONHASHSEED: sort such lists so that the same seed gives the same members in every run.
    for provider in fake.get_providers():
        if isinstance(getattr(provider, "cities", None), list):
            provider.cities = sorted(provider.cities)
    return fake


#: One member id in CANARY_EVERY is a canary: a decoy profile the site links nowhere (not in the
#: directory, search or home page), so that only enumeration reaches it.
CANARY_EVERY = 53
CANARY_AT = 29


def is_canary(member_id: int) -> bool:
    return member_id % CANARY_EVERY == CANARY_AT


def canary_ids(members: int) -> list[int]:
    """The canary member ids of a demo site with this many members."""
    return [i for i in range(1, members + 1) if is_canary(i)]


def make_member(seed: int, member_id: int) -> Member:
    """The member with this id under this seed (pure function of both)."""
    member_seed = seed * 1_000_003 + member_id
    locale = sorted(LOCALES)[member_seed * 2654435761 % 2**32 % len(LOCALES)]
    fake = _faker(locale)
    fake.seed_instance(member_seed)
    first, last = fake.first_name(), fake.last_name()
    slug_first, slug_last = _ascii_slug(first) or "member", _ascii_slug(last) or "x"
    username = f"{slug_first}.{slug_last}{member_id}"
    created = CREATED_FROM + timedelta(
        days=fake.random_int(0, CREATED_SPAN_DAYS), seconds=fake.random_int(0, 86399)
    )
    return Member(
        id=member_id,
        username=username,
        name=f"{first} {last}",
        email=f"{slug_first}.{slug_last}{member_id}@{fake.free_email_domain()}",
        phone=fake.phone_number(),
        job_title=fake.job(),
        company=fake.company(),
        city=fake.city(),
        country=LOCALES[locale],
        bio=fake.sentence(nb_words=14),
        created_at=created,
        hue=fake.random_int(0, 359),
    )


@dataclass
class Listing:
    title: str
    subtitle: str
    body: str
    date: str


def make_listings(seed: int, kind: str, count: int) -> list[Listing]:
    fake = Faker("en_GB")
    fake.seed_instance(seed * 7 + len(kind))
    out = []
    for i in range(count):
        day = (CREATED_FROM + timedelta(days=4000 + i * 9)).date().isoformat()
        if kind == "jobs":
            out.append(Listing(fake.job(), f"{fake.company()} · {fake.city()}",
                               fake.paragraph(nb_sentences=3), day))
        elif kind == "events":
            out.append(Listing(fake.catch_phrase(), f"{fake.city()} · {day}",
                               fake.paragraph(nb_sentences=2), day))
        else:
            out.append(Listing(fake.sentence(nb_words=6).rstrip("."), f"by {fake.name()}",
                               fake.paragraph(nb_sentences=6), day))
    return out
