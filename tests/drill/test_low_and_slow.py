"""Low and slow through the real proxy, days passing on the fake clock: the daily quota stops 55
profiles an hour within the first day, the weekly quota stops a scraper just under the daily one."""

from __future__ import annotations

from scrapeguard.drill.harness import FakeClock, Stage
from scrapeguard.drill.strategies import low_and_slow


def test_fifty_five_an_hour_gets_the_daily_quota_on_its_first_day() -> None:
    clock = FakeClock()
    with Stage(members=1500, clock=clock) as stage:
        result = low_and_slow(stage.target(), per_hour=55, days=1)
        first = stage.decisions()[0]
    assert result.notes["per_day"] == [300]
    assert result.tally.first_refusal_seconds is not None and result.tally.first_refusal_seconds < 6 * 3600
    assert first["reasons"][0]["detector"] == "profile_quota"
    assert "in the last day (quota 300/day)" in first["reasons"][0]["detail"]


def test_just_under_the_daily_quota_meets_the_weekly_quota_on_the_fourth_day() -> None:
    clock = FakeClock()
    with Stage(members=2000, clock=clock) as stage:
        result = low_and_slow(stage.target(), per_hour=12, days=5)
        first = stage.decisions()[0]
    per_day = result.notes["per_day"]
    assert all(n < 300 for n in per_day)
    assert result.profiles == 1000  # the weekly quota, and not one more within the week
    assert result.tally.first_refusal_seconds is not None
    assert 3 * 86400 < result.tally.first_refusal_seconds < 4 * 86400
    assert "in the last 7 days (quota 1000/week)" in first["reasons"][0]["detail"]
    assert per_day[4] == 0
