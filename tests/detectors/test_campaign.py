"""campaign: many addresses each under quota, sweeping slices of the member space, are one actor."""

from __future__ import annotations

from scrapeguard.decisions import ALLOW, BLOCK
from scrapeguard.detectors.campaign import group_key
from scrapeguard.engine import Engine
from scrapeguard.events import Event
from scrapeguard.policy import default_policy, load_policy_text
from scrapeguard.routes import RouteMap

T0 = 1_800_000_000.0
ROUTES = RouteMap(default_policy().routes)
CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/131.0 Safari/537.36")


def view(engine: Engine, ip: str, path: str, ts: float, ua: str = CHROME) -> str:
    return engine.decide(Event(ts=ts, ip=ip, path=path, route=ROUTES.match(path), user_agent=ua)).action


def distributed_sweep(engine: Engine, addresses: int, per_address: int, interleaved: bool = True) -> int:
    """Each address fetches its own slice of ids in sequence; returns how many were served."""
    served = 0
    order = [(n, k) for k in range(per_address) for n in range(addresses)] if interleaved else \
        [(n, k) for n in range(addresses) for k in range(per_address)]
    for step, (n, k) in enumerate(order):
        member = n * per_address + k + 1
        served += view(engine, f"10.{n}.0.1", f"/api/v1/members/{member}", T0 + step * 0.5) == ALLOW
    return served


def test_a_distributed_sweep_is_one_campaign_and_most_of_it_is_refused() -> None:
    served = distributed_sweep(Engine(default_policy()), addresses=100, per_address=10)
    assert served < 200  # of 1,000 asked for
    # the same traffic without the campaign detector: every slice is under every quota
    alone = distributed_sweep(Engine(load_policy_text("[detectors.campaign]\nenabled = false\n")), 100, 10)
    assert alone == 100 * 7  # each address is stopped by its own sweep only at its eighth id


def test_one_address_after_another_is_caught_too() -> None:
    served = distributed_sweep(Engine(default_policy()), addresses=100, per_address=10, interleaved=False)
    assert served < 250


def test_the_decision_names_the_campaign_and_its_reach() -> None:
    engine = Engine(default_policy())
    distributed_sweep(engine, addresses=10, per_address=4)
    d = engine.decide(Event(ts=T0 + 100, ip="10.77.0.1", path="/api/v1/members/900", user_agent=CHROME,
                            route=ROUTES.match("/api/v1/members/900")))
    assert d.action == ALLOW  # a first page is not a sweep
    d = engine.decide(Event(ts=T0 + 101, ip="10.77.0.1", path="/api/v1/members/901", user_agent=CHROME,
                            route=ROUTES.match("/api/v1/members/901")))
    assert d.action == BLOCK
    reasons = [r for r in d.reasons if r.detector == "campaign"]
    api = ROUTES.match("/api/v1/members/1").pattern
    assert {r.key for r in reasons} == {"ip:10.77.0.1", group_key("ids", api)}
    assert "11 networks sweeping member pages in order" in reasons[0].detail
    assert "members reached" in reasons[0].detail


def test_people_with_the_same_browser_following_links_are_never_a_campaign() -> None:
    engine = Engine(default_policy())
    actions = []
    for n in range(200):  # 200 people, same browser build, each reading 5 profiles found by links
        for k in range(5):
            member = (n * 7919 + k * 104729) % 20000 + 1
            actions.append(view(engine, f"10.{n % 250}.{n // 250}.9", f"/api/v1/members/{member}",
                                T0 + n * 3 + k * 40))
    assert set(actions) == {ALLOW}


def test_a_campaign_rotating_user_agents_is_still_one_campaign() -> None:
    engine = Engine(default_policy())
    served = 0
    keys = set()
    for n in range(60):
        ua = f"{CHROME} build/{n}"  # every address its own user agent
        for k in range(4):
            path = f"/api/v1/members/{n * 4 + k + 1}"
            d = engine.decide(Event(ts=T0 + n * 4 + k, ip=f"10.{n}.0.1", path=path, route=ROUTES.match(path),
                                    user_agent=ua))
            served += d.action == ALLOW
            keys |= {r.key for r in d.reasons if r.key.startswith("campaign:")}
    assert len(keys) == 1
    assert served < 60 * 2  # each address gets its first id and at most its second: most of it is refused


def test_actors_that_swept_before_the_campaign_was_recognised_are_named_once() -> None:
    engine = Engine(default_policy())
    related: list[str] = []
    for n in range(10):
        for k in range(4):
            path = f"/api/v1/members/{n * 4 + k + 1}"
            d = engine.decide(Event(ts=T0 + n * 4 + k, ip=f"10.{n}.0.1", path=path, route=ROUTES.match(path),
                                    user_agent=CHROME))
            related += d.related
    # the first refusal names every actor that swept before (the campaign needed 30 members)
    assert related[:1] == ["ip:10.0.0.1"] and len(related) == len(set(related))
    assert {f"ip:10.{n}.0.1" for n in range(6)} <= set(related)


def test_people_reading_one_directory_in_order_overlap_and_are_no_campaign() -> None:
    # forty people in forty networks, each reading the same first names of the directory in order
    engine = Engine(default_policy())
    names = [f"/u/{chr(97 + i // 26)}{chr(97 + i % 26)}member" for i in range(12)]
    actions = [view(engine, f"10.{n}.1.9", path, T0 + n * 60 + i * 20 + (i % 3) * 5)
               for n in range(40) for i, path in enumerate(names)]
    assert set(actions) == {ALLOW}


def test_an_established_member_reading_names_in_order_is_never_part_of_a_campaign() -> None:
    engine = Engine(default_policy())
    distributed_sweep(engine, addresses=10, per_address=4)  # a campaign on this fingerprint is active
    names = ["alice", "bob", "carol", "dave", "erin", "frank", "gina", "hal", "ida", "jo"]
    actions = [engine.decide(Event(ts=T0 + 200 + i * 30 + (i % 3) * 7, ip="10.200.0.1", path=f"/u/{n}",
                                   route=ROUTES.match(f"/u/{n}"), user_agent=CHROME, account="member-1",
                                   account_created=T0 - 400 * 86400)).action for i, n in enumerate(names)]
    assert set(actions) == {ALLOW}
