"""Pardons: an operator allowlists an address, network or account for a time (the console's
"allowlist", `StateStore.pardon`); the guard neither counts nor refuses that client until the pardon
ends, by event time."""

from __future__ import annotations

from scrapeguard.decisions import ALLOW, BLOCK
from scrapeguard.engine import Engine
from scrapeguard.events import Event
from scrapeguard.policy import default_policy, load_policy_text
from scrapeguard.routes import RouteMap
from scrapeguard.stores import MemoryStore, StoreRequest

from .test_engine import DAY, T0, Actor, served

NAT = "203.0.113.9"


def test_a_pardoned_account_on_a_shared_nat_is_served_and_its_neighbours_are_not_pardoned() -> None:
    store = MemoryStore()
    engine = Engine(default_policy(), store=store)
    store.pardon(T0, "account:41", until=T0 + DAY)
    pardoned = Actor(engine, ip=NAT, account="41", created=T0 - 900 * DAY)
    neighbour = Actor(engine, ip=NAT, account="42", created=T0 - 900 * DAY)
    assert served(pardoned.view_profiles(0, 400)) == 400  # far over any quota
    assert engine.counts["pardoned"] >= 400
    refused = [d for d in neighbour.view_profiles(0, 400) if d.action != ALLOW]
    assert refused, "the pardon of one account let its neighbour on the same address through"
    assert all(d.keys.get("account") == "42" for d in refused)
    # nothing the pardoned account did was counted: when the pardon ends it starts with a whole quota
    pardoned.now = T0 + DAY + 1
    after = pardoned.view_profiles(1000, 250)
    assert 0 < served(after) < 250
    assert served(after) >= 150  # (the established account's hourly quota, counted afresh)


def test_a_pardon_ends_by_event_time_and_the_guard_counts_again() -> None:
    store = MemoryStore()
    engine = Engine(default_policy(), store=store)
    store.pardon(T0, "ip:198.51.100.7", until=T0 + 3600)
    actor = Actor(engine)  # anonymous, 198.51.100.7: 60 profiles an hour otherwise
    assert served(actor.view_profiles(0, 200, after=5.0)) == 200  # within the pardon's hour
    actor.now = T0 + 3600  # the pardon ended (the wall clock plays no part)
    assert served(actor.view_profiles(500, 100)) == 60


def test_a_pardoned_network_covers_its_addresses() -> None:
    store = MemoryStore()
    engine = Engine(default_policy(), store=store)
    store.pardon(T0, "net:198.51.100.0/24", until=T0 + DAY)
    assert served(Actor(engine, ip="198.51.100.77").view_profiles(0, 200)) == 200
    assert served(Actor(engine, ip="198.51.101.77").view_profiles(0, 100)) == 60


def test_a_blocked_client_is_served_while_pardoned_and_blocked_again_after() -> None:
    store = MemoryStore()
    engine = Engine(default_policy(), store=store)
    actor = Actor(engine)
    assert actor.view_profiles(0, 80)[-1].action == BLOCK
    store.pardon(actor.now, "ip:198.51.100.7", until=actor.now + 600)
    assert actor.view_profile(5).action == ALLOW
    actor.now += 600
    assert actor.view_profile(6).action == BLOCK  # the block (1 h) outlasted the pardon (10 min)


class Deferred:
    """What the engine hands to the background (the proxy's `defer`)."""

    def __init__(self) -> None:
        self.requests: list[list[StoreRequest]] = []

    def append_event(self, event: Event, requests: list[StoreRequest]) -> None:
        self.requests.append(requests)


def trap_policy(flood: bool = True) -> Engine:
    text = '[detectors.honeypot]\ntrap_paths = ["/trap/*"]\n'
    if not flood:  # (the flood detector counts every page: without it the store is not asked at all)
        text += "[detectors.flood]\nenabled = false\n"
    return Engine(load_policy_text(text, "trap.toml"), store=MemoryStore())


def trap(engine: Engine, ip: str, ts: float) -> Event:
    routes = RouteMap(engine.policy.routes)
    return Event(ts=ts, ip=ip, path="/trap/admin", route=routes.match("/trap/admin"),
                 user_agent="Mozilla/5.0")


def test_a_pardoned_client_is_not_refused_off_the_member_data_routes() -> None:
    """A trap (honeypot) and a scanner's user agent refuse any page; a pardoned client is not."""
    later = Deferred()
    for deferred, flood in ((False, True), (True, True), (True, False)):
        engine = trap_policy(flood)
        if deferred:
            # as the proxy runs with a shared store: what pages record is written in the background,
            # so for such a request the engine itself asks the store nothing before refusing
            engine.defer = later.append_event
        engine.store.pardon(T0, "ip:198.51.100.7", until=T0 + 3600)
        assert engine.decide(trap(engine, "198.51.100.7", T0 + 1)).action == ALLOW
        routes = RouteMap(engine.policy.routes)
        scanner = Event(ts=T0 + 2, ip="198.51.100.7", path="/wp-login.php",
                        route=routes.match("/wp-login.php"), user_agent="sqlmap/1.7.2#stable (https://sqlmap.org)")
        assert engine.decide(scanner).action == ALLOW
        assert engine.counts["pardoned"] == 2
        assert engine.decide(trap(engine, "198.51.100.8", T0 + 3)).refused  # not pardoned
        assert engine.decide(trap(engine, "198.51.100.7", T0 + 3600)).refused  # the pardon ended


def test_a_pardoned_clients_failed_logins_are_not_refused_until_the_pardon_ends() -> None:
    engine = Engine(default_policy(), store=MemoryStore())
    engine.store.pardon(T0, "ip:198.51.100.7", until=T0 + 60)
    routes = RouteMap(engine.policy.routes)

    def login(ts: float) -> str:
        event = Event(ts=ts, ip="198.51.100.7", path="/login", route=routes.match("/login", method="POST"),
                      method="POST", user_agent="Mozilla/5.0")
        action = engine.decide(event).action
        if action == ALLOW:
            engine.record(event, engine.after_requests(event, 401))
        return action

    assert [login(T0 + i) for i in range(50)] == [ALLOW] * 50
    assert engine.counts["pardoned"] > 0
    # the failed logins are still recorded (a pardon only keeps them from refusing): once the
    # pardon has ended, the next ones are refused
    assert any(login(T0 + 60 + i) != ALLOW for i in range(5))
