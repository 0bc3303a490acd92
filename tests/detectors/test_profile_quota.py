"""profile_quota over days: the daily quota against a scraper pacing itself under the hourly one, the
weekly quota against one pacing itself under the daily one (simulated time, through the engine)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scrapeguard.decisions import ALLOW, Decision
from scrapeguard.detectors.profile_quota import WEEK, ProfileQuota, quota_windows
from scrapeguard.engine import Engine
from scrapeguard.events import Event
from scrapeguard.policy import default_policy, load_policy_text
from scrapeguard.policy.model import Quota
from scrapeguard.routes import RouteMap
from scrapeguard.stores import CountRequest, Escalation, MemoryStore, StateStore, Window
from scrapeguard.stores.base import DistinctResult
from scrapeguard.stores.redis import RedisStore

T0 = 1_800_000_000.0
HOUR = 3600.0
DAY = 86400.0
#: Uneven gaps (their mean is 1): a steady tick would be machine-regular timing (automation).
JITTER = (0.6, 1.4, 0.8, 1.2, 1.0, 0.7, 1.3)


def member(i: int) -> str:
    """The i-th member's username, in no order (ids in order would be an enumeration sweep)."""
    return f"m{(i * 2654435761) % 2**32:08x}"


def pace(engine: Engine, per_hour: float, days: float, ip: str = "203.0.113.9",
         account: str | None = None, created: float | None = None) -> list[Decision]:
    """One client viewing a new profile every 3600/per_hour seconds (unevenly) for `days`,
    carrying on whatever it is told."""
    routes = RouteMap(engine.policy.routes)
    decisions, now, i = [], T0, 0
    while now < T0 + days * DAY:
        path = f"/u/{member(i)}"
        decisions.append(engine.decide(Event(ts=now, ip=ip, path=path, route=routes.match(path),
                                             account=account, account_created=created)))
        # its stylesheet, as a browser (a client loading no asset at all is challenged as a bot)
        engine.decide(Event(ts=now + 0.05, ip=ip, path="/static/site.css",
                            route=routes.match("/static/site.css"), account=account, account_created=created))
        now += 3600 / per_hour * JITTER[i % len(JITTER)]
        i += 1
    return decisions


def served_per_day(decisions: list[Decision]) -> list[int]:
    days: dict[int, int] = {}
    for d in decisions:
        days.setdefault(int((d.ts - T0) // DAY), 0)
        if d.action == ALLOW:
            days[int((d.ts - T0) // DAY)] += 1
    return [days[k] for k in sorted(days)]


def first_refusal(decisions: list[Decision]) -> Decision:
    return next(d for d in decisions if d.action != ALLOW)


def test_fifty_five_an_hour_around_the_clock_is_refused_within_the_first_day() -> None:
    decisions = pace(Engine(default_policy()), per_hour=55, days=2)
    refused = first_refusal(decisions)
    assert refused.ts - T0 < 6 * HOUR  # the 301st profile, about five and a half hours in
    assert refused.reasons[0].detector == "profile_quota"
    assert "in the last day (quota 300/day)" in refused.reasons[0].detail
    assert served_per_day(decisions)[0] == 300


def test_just_under_the_daily_quota_every_day_is_refused_by_the_weekly_quota() -> None:
    decisions = pace(Engine(default_policy()), per_hour=12, days=10)  # about 288 a day
    per_day = served_per_day(decisions)
    assert all(n < 300 for n in per_day)  # never over the daily quota...
    refused = first_refusal(decisions)
    # ...but the 1001st distinct profile within seven days is refused, on the fourth day
    assert 3 * DAY < refused.ts - T0 < 4 * DAY
    reason = refused.reasons[0]
    assert reason.detector == "profile_quota" and reason.key == "ip:203.0.113.9"
    assert reason.detail == "anonymous visitor viewed 1000 distinct member profiles in the last 7 days " \
                            "(quota 1000/week)"
    # what the week allows and no more: the first seven days' 1000, then as earlier days slide out
    assert sum(d.action == ALLOW for d in decisions[: decisions.index(refused)]) == 1000
    assert sum(d.action == ALLOW for d in decisions) < 10 * 288


def test_a_weekly_quota_of_zero_means_none() -> None:
    policy = load_policy_text("[detectors.profile_quota.anonymous]\nper_week = 0\n", "test.toml")
    assert policy.profile_quota.anonymous == Quota(60, 300, 0)
    decisions = pace(Engine(policy), per_hour=12, days=6)
    assert all(d.action == ALLOW for d in decisions) and len(decisions) > 1500


def test_accounts_have_a_weekly_quota_too() -> None:
    engine = Engine(default_policy())
    # a logged-in account at 41 an hour around the clock: 984 a day, under its 1000/day
    decisions = pace(engine, per_hour=41, days=5, account="77", created=T0 - 400 * DAY)
    assert all(n < 1000 for n in served_per_day(decisions))
    refused = first_refusal(decisions)
    assert "in the last 7 days (quota 3000/week)" in refused.reasons[0].detail
    assert refused.reasons[0].key == "account:77"
    assert sum(d.action == ALLOW for d in decisions) == 3000


def test_the_weekly_window_is_asked_of_the_store_only_when_set() -> None:
    assert quota_windows(Quota(60, 300)) == (Window(3600, 60), Window(86400, 300))
    assert quota_windows(Quota(60, 300, 1000))[2] == Window(WEEK, 1000)
    detector = ProfileQuota.from_policy(default_policy())
    assert detector is not None
    view = Event(ts=T0, ip="203.0.113.9", path="/u/x", route=RouteMap(default_policy().routes).match("/u/x"))
    asked = [r for r in detector.plan(view) if isinstance(r, CountRequest) and r.key == "ip:203.0.113.9"]
    assert asked and asked[0].windows[2] == Window(7 * DAY, 1000)  # the anonymous weekly quota


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> Iterator[StateStore]:
    if request.param == "memory":
        yield MemoryStore()
        return
    url = request.getfixturevalue("redis_url")
    base, _, prefix = url.partition("?prefix=")
    redis_store = RedisStore.from_url(base, prefix=prefix, timeout=5, max_members_per_key=4096)
    yield redis_store
    redis_store.close()


def test_stores_keep_seven_day_windows(store: StateStore) -> None:
    escalation = Escalation(300, 10, 3600, 3600, 4, 604800, 2592000)
    windows = (Window(HOUR, 5), Window(DAY, 10), Window(WEEK, 12))

    def count(member: str, now: float) -> tuple[bool, tuple[int, ...]]:
        request = CountRequest("ip:x", "profiles", member, windows)
        seen = store.observe(now, ["ip:x"], [request], escalation, "")
        result = seen.counted[("ip:x", "profiles")]
        assert isinstance(result, DistinctResult)
        return result.admitted, result.counts

    for day in range(6):  # two a day for six days: 12, the weekly limit
        for k in range(2):
            assert count(f"d{day}-{k}", T0 + day * DAY + k)[0]
    admitted, counts = count("late", T0 + 6 * DAY + 100)
    assert not admitted and counts == (0, 0, 12)  # the week is full, six days later
    admitted, counts = count("later", T0 + 7 * DAY + 10)  # day 0's two have slid out of the week
    assert admitted and counts == (1, 1, 11)
