"""A detector that raises, in any of its hooks, never takes the guard down: the engine counts the
error (`errors.<detector>`), logs it, and decides with the other detectors as if the failing one
had said nothing (engine.py: "a detector must never take the guard down")."""

from __future__ import annotations

from typing import ClassVar

import pytest

from scrapeguard.decisions import ALLOW, THROTTLE
from scrapeguard.detectors import build_detectors
from scrapeguard.detectors.base import Counted, Detector, Signal
from scrapeguard.engine import Engine
from scrapeguard.events import Event
from scrapeguard.policy import Policy, default_policy
from scrapeguard.routes import LOGIN, RouteMap
from scrapeguard.stores import StateStore, StoreRequest

from .test_engine import Actor  # type: ignore[import-not-found]

HOOKS = ("exempts", "judges", "held_keys", "plan", "after", "inspect")


class Failing(Detector):
    """A detector that raises in the hooks it is told to, and otherwise says nothing."""

    name = "failing"
    guards: ClassVar[frozenset[str]] = frozenset({LOGIN})
    plans_every_route: ClassVar[bool] = True  # (asked to plan on every route, so it can fail there)

    def __init__(self, *failing: str) -> None:
        assert set(failing) <= set(HOOKS)
        self.failing = set(failing)

    @classmethod
    def from_policy(cls, policy: Policy, live: bool = True) -> Failing:
        return cls()

    def _hook(self, name: str) -> None:
        if name in self.failing:
            raise RuntimeError(f"{name} failed")

    def exempts(self, event: Event) -> bool:
        self._hook("exempts")
        return False

    def judges(self, event: Event) -> bool:
        self._hook("judges")
        return False

    def held_keys(self, event: Event) -> list[str]:
        self._hook("held_keys")
        return []

    def plan(self, event: Event) -> list[StoreRequest]:
        self._hook("plan")
        return []

    def after(self, event: Event, status: int) -> list[StoreRequest]:
        self._hook("after")
        return []

    def inspect(self, event: Event, counted: Counted, store: StateStore) -> list[Signal]:
        self._hook("inspect")
        return []


def engine_with(failing: Failing, policy: Policy | None = None) -> Engine:
    """The default detectors, with the failing one first."""
    policy = policy or default_policy()
    return Engine(policy, detectors=[failing, *build_detectors(policy)])


@pytest.mark.parametrize("hook", ["exempts", "plan", "inspect"])
def test_a_detector_failing_on_member_data_requests_leaves_the_others_deciding(
        hook: str, caplog: pytest.LogCaptureFixture) -> None:
    engine = engine_with(Failing(hook))
    actor = Actor(engine)
    decisions = actor.view_profiles(0, 100)
    # the anonymous quota (60 an hour) still holds exactly, as without the failing detector
    assert [d.action for d in decisions[:60]] == [ALLOW] * 60
    assert decisions[60].action == THROTTLE
    assert engine.counts["errors.failing"] >= 60
    assert "detector failing failed" in caplog.text


@pytest.mark.parametrize("hook", ["judges", "held_keys", "plan"])
def test_a_detector_failing_off_the_member_data_routes_leaves_the_request_served(hook: str) -> None:
    engine = engine_with(Failing(hook))
    routes = RouteMap(engine.policy.routes)
    for path in ("/about", "/login", "/static/site.css"):
        event = Event(ts=1_800_000_000.0, ip="198.51.100.7", path=path,
                      route=routes.match(path, method="GET"), method="GET", user_agent="Mozilla/5.0")
        assert engine.decide(event).action == ALLOW
    assert engine.counts["errors.failing"] >= 1


def test_a_detector_failing_off_the_member_data_routes_does_not_stop_a_refusal() -> None:
    """A scanner is refused on any page: another detector failing there changes nothing."""
    engine = engine_with(Failing("judges", "exempts"))
    routes = RouteMap(engine.policy.routes)
    event = Event(ts=1_800_000_000.0, ip="198.51.100.7", path="/wp-login.php",
                  route=routes.match("/wp-login.php"), user_agent="sqlmap/1.7.2#stable (https://sqlmap.org)")
    assert engine.decide(event).refused


def test_a_detector_failing_after_the_response_keeps_the_others_records() -> None:
    policy = default_policy()
    routes = RouteMap(policy.routes)
    event = Event(ts=1_800_000_000.0, ip="198.51.100.7", path="/login",
                  route=routes.match("/login", method="POST"), method="POST", user_agent="Mozilla/5.0")
    expected = [(r.key, r.name) for r in Engine(policy).after_requests(event, 401)]
    assert expected  # (failed_logins records a failed login: there is something to keep)
    engine = engine_with(Failing("after"), policy)
    assert [(r.key, r.name) for r in engine.after_requests(event, 401)] == expected
    assert engine.counts["errors.failing"] == 1


def test_a_corroborating_detector_that_fails_leaves_the_decision_to_the_others() -> None:
    """Corroborating detectors are asked only once another raised a signal; one failing then
    leaves the signals already raised to decide."""

    class FailingCorroboration(Failing):
        corroborates = True

        def strongest_score(self) -> float:
            return 0.1

    engine = engine_with(FailingCorroboration("inspect"))
    actor = Actor(engine)
    decisions = actor.view_profiles(0, 61)
    assert decisions[60].action == THROTTLE
    assert engine.counts["errors.failing"] >= 1
