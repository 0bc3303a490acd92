"""login_wall: "log in to see more profiles" after an anonymous allowance; members never see it."""

from __future__ import annotations

from scrapeguard.decisions import ALLOW, LOGIN, Decision
from scrapeguard.engine import Engine
from scrapeguard.events import Event
from scrapeguard.policy import PolicyError, default_policy, load_policy_text
from scrapeguard.refusals import build_refusal
from scrapeguard.routes import RouteMap

T0 = 1_800_000_000.0
ROUTES = RouteMap(default_policy().routes)
WALL = "[detectors.login_wall]\nenabled = true\nper_address_per_day = 5\n"


def view(engine: Engine, ip: str, member: int, ts: float, account: str | None = None) -> Decision:
    ts += (member * 13) % 7 * 5  # people do not tick like a clock
    path = f"/u/member{(member * 7919) % 10007}"  # names in no order: no sweep
    decision = engine.decide(Event(ts=ts, ip=ip, path=path, route=ROUTES.match(path), account=account,
                                   account_created=None if account is None else T0 - 400 * 86400))
    engine.decide(Event(ts=ts + 0.05, ip=ip, path="/static/site.css", route=ROUTES.match("/static/site.css"),
                        account=account))
    return decision


def test_off_by_default() -> None:
    engine = Engine(default_policy())
    assert "login_wall" not in [d.name for d in engine.detectors]
    assert {view(engine, "198.51.100.5", i, T0 + i * 40).action for i in range(30)} == {ALLOW}


def test_over_the_allowance_an_anonymous_visitor_is_asked_to_log_in() -> None:
    engine = Engine(load_policy_text(WALL))
    decisions = [view(engine, "198.51.100.5", i, T0 + i * 40) for i in range(8)]
    assert [d.action for d in decisions] == [ALLOW] * 5 + [LOGIN] * 3
    wall = decisions[5]
    assert wall.reasons[0].detector == "login_wall" and wall.id.startswith("sg-")
    assert "viewed 5 member profiles today (allowance 5/day without logging in)" in wall.reasons[0].detail
    # re-viewing what was already shown is not over the allowance
    assert view(engine, "198.51.100.5", 0, T0 + 400).action == ALLOW
    # no penalty, no strike: a thousand walls never escalate to a block
    assert {view(engine, "198.51.100.5", 100 + i, T0 + 500 + i * 40).action for i in range(50)} == {LOGIN}
    # the next day the allowance is back
    assert view(engine, "198.51.100.5", 999, T0 + 86400 + 600).action == ALLOW


def test_logged_in_members_never_meet_the_wall() -> None:
    engine = Engine(load_policy_text(WALL))
    for i in range(5):
        view(engine, "198.51.100.5", i, T0 + i * 40)
    member = [view(engine, "198.51.100.5", 50 + i, T0 + 300 + i * 40, account="42").action for i in range(30)]
    assert set(member) == {ALLOW}


def test_a_network_allowance_catches_addresses_taking_a_few_each() -> None:
    engine = Engine(load_policy_text("[detectors.login_wall]\nenabled = true\nper_address_per_day = 0\n"
                                     "per_network_per_day = 10\n"))
    actions = [view(engine, f"203.0.113.{n}", n * 3 + k, T0 + n * 30 + k * 9).action
               for n in range(1, 9) for k in range(3)]
    assert actions.count(ALLOW) == 10 and actions.count(LOGIN) == 14


def test_the_page_links_the_login_and_json_says_where() -> None:
    policy = load_policy_text(WALL + 'login_url = "/signin"\nstatus = 401\n')
    engine = Engine(policy)
    decision = [view(engine, "198.51.100.5", i, T0 + i * 40) for i in range(6)][-1]
    page = build_refusal(decision, policy.actions, "text/html", login_wall=policy.login_wall)
    assert page.status == 401 and b'href="/signin"' in page.body
    assert b"Log in to see more profiles" in page.body
    api = build_refusal(decision, policy.actions, "application/json", login_wall=policy.login_wall)
    assert b'"login": "/signin"' in api.body and b'"action": "login"' in api.body


def test_a_login_url_must_be_a_path_or_a_url() -> None:
    try:
        load_policy_text(WALL + 'login_url = "javascript:alert(1)"\n', "p.toml")
    except PolicyError as exc:
        assert "detectors.login_wall.login_url" in str(exc)
    else:
        raise AssertionError("accepted a login_url that is neither a path nor a URL")
