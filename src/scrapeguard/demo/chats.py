"""Deterministic daily chat rooms for the demo site.

Room r is generated from its own seed (`seed`, r), like members: its topic, whether it is open to
every member or private, its member list (20 to 300 of the site's listed members) and its messages
over the last days. Message times are kept as offsets before "now" (days and seconds), so the room
stays a *daily* chat whatever day the site runs, while its content is the same for the same seed.

Room member lists are what group-member scrapers walk: the default policy maps them as listing
routes that show the members on the page (`src/scrapeguard/policy/defaults.toml`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from faker import Faker

ROOM_COUNT = 30
ROOM_MIN_MEMBERS = 20
ROOM_MAX_MEMBERS = 300
#: Messages are spread over this many recent days, this many a day at most.
MESSAGE_DAYS = 7
MESSAGES_PER_DAY = (2, 9)
#: One room in PRIVATE_EVERY is private: only its own members see it.
PRIVATE_EVERY = 5

TOPICS = (
    "hiring", "remote-work", "design", "python", "data-science", "product", "marketing", "sales",
    "freelance", "careers", "startups", "devops", "security", "ux-research", "writing", "finance",
    "healthcare", "education", "photography", "events", "mentoring", "open-source", "legal",
    "logistics", "retail", "nonprofits", "energy", "travel", "climate", "music",
)


@dataclass(frozen=True)
class Message:
    author_id: int
    text: str
    #: How long before "now" the message was posted: whole days, then seconds within that day.
    days_ago: int
    seconds_ago: int


@dataclass(frozen=True)
class Room:
    #: The room's name in URLs: /chats/<slug>.
    slug: str
    title: str
    topic: str
    private: bool
    #: Member ids, in the order the member list shows them (by the day they joined).
    member_ids: tuple[int, ...]
    #: Newest first.
    messages: tuple[Message, ...]

    def has_member(self, member_id: int) -> bool:
        return member_id in self.member_ids


def make_room(seed: int, room_number: int, eligible: list[int]) -> Room:
    """Room `room_number` (1-based) under this seed, its members drawn from `eligible` member ids."""
    room_seed = seed * 1_000_033 + room_number
    rng = random.Random(room_seed)
    fake = Faker("en_GB")
    fake.seed_instance(room_seed)
    topic = TOPICS[(room_number - 1) % len(TOPICS)]
    suffix = "" if room_number <= len(TOPICS) else f"-{(room_number - 1) // len(TOPICS) + 1}"
    size = min(len(eligible), rng.randint(ROOM_MIN_MEMBERS, ROOM_MAX_MEMBERS))
    member_ids = tuple(rng.sample(eligible, size))
    messages: list[Message] = []
    for day in range(MESSAGE_DAYS):
        times = sorted(rng.randrange(86_400) for _ in range(rng.randint(*MESSAGES_PER_DAY)))
        for seconds in times:
            messages.append(Message(rng.choice(member_ids), fake.sentence(nb_words=rng.randint(4, 16)),
                                    day, seconds))
    messages.sort(key=lambda m: (m.days_ago, m.seconds_ago))
    title = topic.replace("-", " ").capitalize() + (f" {suffix[1:]}" if suffix else "")
    return Room(slug=topic + suffix, title=title, topic=fake.catch_phrase(),
                private=room_number % PRIVATE_EVERY == 0, member_ids=member_ids,
                messages=tuple(messages))


def make_rooms(seed: int, eligible: list[int], count: int = ROOM_COUNT) -> list[Room]:
    """The site's rooms: a pure function of the seed, the eligible member ids and the count."""
    if not eligible:
        return []
    return [make_room(seed, number, eligible) for number in range(1, count + 1)]
