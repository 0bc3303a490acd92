"""ip_sharing: accounts hopping networks and account farms; a campus NAT is not judged by its size."""

from __future__ import annotations

from scrapeguard.decisions import ALLOW
from scrapeguard.detectors.ip_sharing import IpSharing
from scrapeguard.engine import Engine
from scrapeguard.events import Event
from scrapeguard.policy import default_policy
from scrapeguard.routes import RouteMap
from scrapeguard.stores import MemoryStore

T0 = 1_800_000_000.0
ROUTES = RouteMap(default_policy().routes)


def view(engine: Engine, ip: str, account: str, i: int, created: float | None = None, ts: float = T0) -> str:
    path = f"/u/m{(i * 2654435761) % 2**32:08x}"
    return engine.decide(Event(ts=ts, ip=ip, path=path, route=ROUTES.match(path), account=account,
                               account_created=created)).action


def test_an_account_hopping_across_networks_is_rotating_proxies() -> None:
    engine = Engine(default_policy())
    actions = [view(engine, f"203.0.{n}.9", "555", n, ts=T0 + n * 41 + (n % 3) * 7) for n in range(10)]
    assert actions[:6] == [ALLOW] * 6 and actions[6] != ALLOW  # the seventh network in the hour
    d = engine.decide(Event(ts=T0 + 500, ip="203.0.8.9", path="/u/y", route=ROUTES.match("/u/y"),
                            account="555"))
    assert d.refused


def test_a_phone_switching_between_wifi_and_mobile_data_is_fine() -> None:
    engine = Engine(default_policy())
    actions = [view(engine, ("198.51.100.20", "203.0.113.77", "192.0.2.14")[i % 3], "556", i,
                    ts=T0 + i * 53 + (i % 5) * 9) for i in range(40)]
    assert set(actions) == {ALLOW}


def test_an_account_farm_is_named_but_only_weakly() -> None:
    detector = IpSharing.from_policy(default_policy())
    assert detector is not None
    store = MemoryStore()
    found = []
    for n in range(8):  # eight accounts made today, all used from one address
        event = Event(ts=T0 + n, ip="198.51.100.99", path="/u/x", route=ROUTES.match("/u/x"),
                      account=f"farm{n}", account_created=T0 - 3600)
        seen = store.observe(event.ts, [], detector.plan(event), Engine(default_policy()).escalation, "")
        found.append(detector.inspect(event, seen.counted, store))
    assert [len(s) for s in found] == [0] * 5 + [1] * 3  # the sixth and later
    assert found[-1][0].score == 0.3
    assert "one of 8 young accounts used from 198.51.100.99" in found[-1][0].detail


def test_a_university_nat_with_two_hundred_members_is_not_judged_by_its_size() -> None:
    engine = Engine(default_policy())
    actions = []
    for k in range(6):  # 200 established members behind one address, 6 profiles each, interleaved
        for member in range(200):
            ts = T0 + k * 500 + member * 2.3 + (member * k) % 7
            actions.append(view(engine, "192.0.2.200", f"student{member}", member * 10 + k,
                                created=T0 - 400 * 86400, ts=ts))
    assert set(actions) == {ALLOW}


def test_icloud_private_relay_exits_are_never_counted_as_networks() -> None:
    import ipaddress
    from importlib import resources
    text = resources.files("scrapeguard.intel").joinpath("data/ipranges/apple-proxy/ipv4_merged.txt")
    exits = []
    for line in text.read_text("utf-8").splitlines():
        network = ipaddress.ip_network(line.strip())
        if network.num_addresses >= 4 and all(str(network.network_address)[:7] != e[:7] for e in exits):
            exits.append(str(network.network_address + 1))
        if len(exits) == 10:
            break
    engine = Engine(default_policy())
    actions = [view(engine, ip, "557", i, ts=T0 + i * 300 + (i % 3) * 41) for i, ip in enumerate(exits)]
    assert set(actions) == {ALLOW}  # ten relay exits in under an hour: one person on a relay
