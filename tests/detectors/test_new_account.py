"""new_account: young accounts that look others up at once are stopped early; settling in is fine."""

from __future__ import annotations

from scrapeguard.decisions import ALLOW, THROTTLE, Decision
from scrapeguard.detectors.new_account import NewAccount
from scrapeguard.engine import Engine
from scrapeguard.events import Event
from scrapeguard.policy import default_policy, load_policy_text
from scrapeguard.routes import RouteMap

T0 = 1_800_000_000.0
ROUTES = RouteMap(default_policy().routes)


def browse(engine: Engine, paths: list[str], created: float, account: str = "77", step: float = 2.0,
           start: float = T0, ip: str = "198.51.100.20") -> list[Decision]:
    out = []
    for i, target in enumerate(paths):
        path, _, query = target.partition("?")
        ts = start + i * step + step * 0.4 * (i % 3)  # never like a clock: people pause unevenly
        out.append(engine.decide(Event(ts=ts, ip=ip, path=path, query=query,
                                       route=ROUTES.match(path, query), account=account,
                                       account_created=created)))
        # and the stylesheet a browser loads with the page (a young account loading no assets
        # is challenged as a bot suspect: not this detector's business)
        engine.decide(Event(ts=ts + 0.05, ip=ip, path="/static/site.css",
                            route=ROUTES.match("/static/site.css"), account=account, account_created=created))
    return out


def scattered(n: int) -> list[str]:
    """Member pages in no order (so that the enumeration detector's sweep check stays out of it)."""
    return [f"/api/v1/members/{(i * 7919) % 9000 + 1}" for i in range(n)]


def test_an_account_that_starts_looking_members_up_at_once_is_stopped_at_eleven() -> None:
    decisions = browse(Engine(default_policy()), scattered(40), created=T0 - 30)
    actions = [d.action for d in decisions]
    assert actions[:10] == [ALLOW] * 10 and actions[10] == THROTTLE
    assert ALLOW not in actions[10:]
    reason = decisions[10].reasons[0]
    assert reason.detector == "new_account" and reason.key == "account:77"
    assert reason.detail.startswith("new account (created 50 seconds ago) looked up 11 members")


def test_searches_and_lookups_count_as_looking_members_up() -> None:
    paths = [f"/search?q=engineer{i}" for i in range(6)]
    paths += [f"/lookup?email=p{i}@example.org" for i in range(6)]
    actions = [d.action for d in browse(Engine(default_policy()), paths, created=T0)]
    assert actions[:10] == [ALLOW] * 10 and actions[10] == THROTTLE


def test_a_new_member_settling_in_over_the_day_is_never_near_the_allowance() -> None:
    engine = Engine(default_policy())
    # a few look-ups in the first minutes, then one every quarter of an hour for most of a day
    # (under the new-account profile quota of 100 a day)
    early = browse(engine, scattered(8), created=T0, step=20)
    later = browse(engine, scattered(90)[8:], created=T0, step=900, start=T0 + 600)
    assert {d.action for d in early + later} == {ALLOW}


def test_re_viewing_and_own_profile_do_not_count() -> None:
    engine = Engine(default_policy())
    paths = ["/api/v1/members/77"] * 30 + scattered(5) * 4  # own profile, then five members again and again
    assert {d.action for d in browse(engine, paths, created=T0)} == {ALLOW}


def test_established_accounts_and_anonymous_visitors_are_not_judged() -> None:
    detector = NewAccount.from_policy(default_policy())
    assert detector is not None
    old = Event(ts=T0, ip="192.0.2.1", path="/u/x", route=ROUTES.match("/u/x"), account="1",
                account_created=T0 - 2 * 86400)
    anonymous = Event(ts=T0, ip="192.0.2.1", path="/u/x", route=ROUTES.match("/u/x"))
    unknown_age = Event(ts=T0, ip="192.0.2.1", path="/u/x", route=ROUTES.match("/u/x"), account="2")
    assert detector.plan(old) == detector.plan(anonymous) == detector.plan(unknown_age) == []


def test_the_allowance_grows_with_age_and_comes_from_the_policy() -> None:
    policy = load_policy_text("[detectors.new_account]\nallowance_base = 3\nallowance_per_hour = 6\n")
    detector = NewAccount.from_policy(policy)
    assert detector is not None
    assert [detector.allowance(h * 3600) for h in (0, 0.5, 1, 10)] == [3, 6, 9, 63]
    assert NewAccount.from_policy(load_policy_text("[detectors.new_account]\nenabled = false\n")) is None
