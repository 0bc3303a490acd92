"""anonymous_challenge: off by default; when on, every anonymous visitor passes a check before
member profiles, once per clearance; members never."""

from __future__ import annotations

import pytest

from scrapeguard.decisions import ALLOW, CHALLENGE
from scrapeguard.engine import Engine
from scrapeguard.events import Event
from scrapeguard.policy import PolicyError, default_policy, load_policy_text
from scrapeguard.routes import RouteMap

T0 = 1_800_000_000.0
ROUTES = RouteMap(default_policy().routes)
ON = "[detectors.anonymous_challenge]\nenabled = true\n"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def view(engine: Engine, path: str, ts: float, **kw: object) -> str:
    event = Event(ts=ts, ip="203.0.113.40", path=path, route=ROUTES.match(path), user_agent=FIREFOX,
                  **kw)  # type: ignore[arg-type]
    return engine.decide(event).action


def test_off_by_default() -> None:
    assert view(Engine(default_policy()), "/u/anna", T0) == ALLOW


def test_anonymous_visitors_are_challenged_before_profiles_once_per_clearance() -> None:
    engine = Engine(load_policy_text(ON))
    assert view(engine, "/u/anna", T0) == CHALLENGE
    assert view(engine, "/jobs", T0 + 1) == ALLOW  # pages stay open
    assert view(engine, "/directory", T0 + 2) == ALLOW  # only the route kinds named
    cleared = [view(engine, f"/u/m{i}", T0 + 10 + i * 7, clearance="c-1") for i in range(5)]
    assert cleared == [ALLOW] * 5


def test_members_are_never_asked() -> None:
    engine = Engine(load_policy_text(ON))
    assert view(engine, "/u/anna", T0, account="42", account_created=T0 - 400 * 86400) == ALLOW


def test_route_kinds_must_be_member_data() -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy_text(ON + 'route_kinds = ["page"]\n', "p.toml")
    assert "detectors.anonymous_challenge.route_kinds" in str(caught.value)
