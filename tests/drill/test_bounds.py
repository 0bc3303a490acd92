"""A drill's bounds: loopback targets only unless owned, a rate, a request budget, a time limit."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from scrapeguard.drill.bounds import BoundedClock, DrillError, TimeUp, check_target, is_loopback_url
from scrapeguard.drill.client import Tally
from scrapeguard.drill.harness import FakeClock


def resolver(table: dict[str, list[str]]) -> Callable[[str], list[str]]:
    return lambda host: table[host]


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/", "http://127.9.3.1/", "http://[::1]:80/",
                                 "https://localhost/"])
def test_loopback_targets_need_no_statement(url: str) -> None:
    check_target(url, i_own_this_site=False, resolve=resolver({"localhost": ["127.0.0.1", "::1"]}))


@pytest.mark.parametrize("url", ["https://example.com/", "http://192.0.2.10:8080/", "http://mixed.test/"])
def test_other_targets_need_the_owners_statement(url: str) -> None:
    resolve = resolver({"example.com": ["93.184.215.14"], "mixed.test": ["127.0.0.1", "192.0.2.7"]})
    with pytest.raises(DrillError, match="--i-own-this-site"):
        check_target(url, i_own_this_site=False, resolve=resolve)
    check_target(url, i_own_this_site=True, resolve=resolve)


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/", "127.0.0.1:8080", "http:///path"])
def test_targets_that_are_not_http_urls_are_refused(url: str) -> None:
    with pytest.raises(DrillError):
        check_target(url, i_own_this_site=True)


def test_a_name_that_does_not_resolve_is_a_clear_error() -> None:
    def fail(host: str) -> list[str]:
        raise OSError("Name or service not known")

    with pytest.raises(DrillError, match="cannot resolve"):
        is_loopback_url("http://nowhere.invalid/", fail)


def test_requests_are_paced_to_the_rate_on_the_clock() -> None:
    fake = FakeClock()
    clock = BoundedClock(fake, max_rate=4, max_seconds=60, max_requests=100)
    for _ in range(9):
        clock.before_request(Tally())
    assert fake.elapsed == pytest.approx(8 / 4)  # the first goes at once, each next 1/4 s later


def test_a_strategy_stops_at_its_request_budget_with_what_it_got() -> None:
    clock = BoundedClock(FakeClock(), max_rate=None, max_seconds=60, max_requests=3)
    tally = Tally()
    for _ in range(3):
        clock.before_request(tally)
    with pytest.raises(TimeUp, match="3 requests"):
        clock.before_request(tally)
    assert clock.last_tally is tally
    clock.restart()
    clock.before_request(Tally())  # the next strategy has its own budget


def test_the_drill_stops_at_its_time_limit() -> None:
    now = [100.0]
    clock = BoundedClock(FakeClock(), max_rate=None, max_seconds=30, max_requests=100, wall=lambda: now[0])
    clock.before_request(Tally())
    now[0] = 130.0
    with pytest.raises(TimeUp, match="time limit"):
        clock.before_request(Tally())


@pytest.mark.parametrize(("rate", "seconds", "requests"), [(0, 10, 10), (-1, 10, 10), (None, 0, 10),
                                                           (None, 10, 0)])
def test_bounds_must_be_positive(rate: float | None, seconds: float, requests: int) -> None:
    with pytest.raises(DrillError):
        BoundedClock(FakeClock(), rate, seconds, requests)
