"""What a tally makes of responses: profiles leaked, the first refusal, and containment."""

from __future__ import annotations

import httpx

from scrapeguard.drill.client import Tally
from scrapeguard.refusals import DECISION_HEADER


def profile(member: int) -> httpx.Response:
    return httpx.Response(200, json={"id": member, "name": f"member {member}"})


def refusal() -> httpx.Response:
    return httpx.Response(429, headers={DECISION_HEADER: "sg-1", "retry-after": "60"}, text="slow down")


def test_containment_is_the_first_refusal_after_the_last_profile() -> None:
    tally = Tally()
    tally.see(profile(1), 0)
    tally.see(refusal(), 10)       # refused...
    tally.see(profile(2), 20)      # ...but it got through again
    tally.see(refusal(), 30)       # contained from here on
    tally.see(refusal(), 40)
    tally.see(profile(2), 50)      # a profile it already had does not re-open the leak
    assert (tally.first_refusal, tally.first_refusal_seconds) == (2, 10)
    assert tally.contained_seconds == 30
    assert tally.profiles == {"1", "2"}


def test_a_leak_still_running_at_the_end_is_not_contained() -> None:
    tally = Tally()
    tally.see(refusal(), 5)
    tally.see(profile(1), 9)
    assert tally.first_refusal == 1
    assert tally.contained_seconds is None


def test_never_refused_is_never_contained() -> None:
    tally = Tally()
    tally.see(profile(1), 0)
    assert tally.contained_seconds is None and tally.first_refusal is None
