"""Deadlines as people read them: "due in 2 d 4 h", "overdue by 3 h", with how urgent they are."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True, slots=True)
class Countdown:
    text: str
    #: "bad" (passed), "warn" (within a day), "good" (further away): the badge's class.
    urgency: str
    seconds_left: float


def span(seconds: float) -> str:
    """A length of time in the two largest units: '2 d 4 h', '3 h 10 min', '5 min'."""
    seconds = abs(seconds)
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min" if minutes else "under a minute"


def countdown(deadline: datetime, now: datetime) -> Countdown:
    left = (deadline - now).total_seconds()
    if left < 0:
        return Countdown(f"overdue by {span(left)}", "bad", left)
    return Countdown(f"due in {span(left)}", "warn" if left <= 86400 else "good", left)


def aware(value: datetime) -> datetime:
    """A stored time with its zone (UTC when the database gave none back)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
