"""ip_reputation: hosting networks and VPNs add evidence; relays that carry people add none."""

from __future__ import annotations

import ipaddress
from importlib import resources

import pytest

from scrapeguard.decisions import ALLOW, BLOCK, CHALLENGE, THROTTLE, Decision
from scrapeguard.detectors import build_detectors
from scrapeguard.detectors.ip_reputation import IpReputation
from scrapeguard.engine import Engine
from scrapeguard.events import Event
from scrapeguard.intel.reputation import HOSTING, RELAY, VPN, looks_like_hosting, origin
from scrapeguard.policy import Policy, default_policy, load_policy_text
from scrapeguard.routes import RouteMap
from scrapeguard.stores import MemoryStore

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
T0 = 1_800_000_000.0
ROUTES = RouteMap(default_policy().routes)


def first_address(provider: str) -> str:
    text = resources.files("scrapeguard.intel").joinpath(f"data/ipranges/{provider}/ipv4_merged.txt")
    for line in text.read_text("utf-8").splitlines():
        network = ipaddress.ip_network(line.strip())
        if network.is_global:
            return str(network.network_address + (1 if network.num_addresses > 1 else 0))
    raise AssertionError(provider)


AWS = first_address("amazon")
ICLOUD_RELAY = first_address("apple-proxy")
PROTON = first_address("protonvpn")


def signals(ip: str, policy_text: str = "", path: str = "/u/someone",
            account: str | None = None) -> list:  # type: ignore[type-arg]
    policy = load_policy_text(policy_text) if policy_text else default_policy()
    detector = IpReputation.from_policy(policy)
    assert detector is not None
    event = Event(ts=T0, ip=ip, path=path, route=ROUTES.match(path), account=account)
    return detector.inspect(event, {}, MemoryStore())


def test_origins_from_the_shipped_ranges() -> None:
    assert origin(AWS).kind == HOSTING and origin(AWS).operator == "Amazon AWS"  # type: ignore[union-attr]
    assert origin(ICLOUD_RELAY).kind == RELAY  # type: ignore[union-attr]
    assert origin(PROTON).kind == VPN  # type: ignore[union-attr]
    assert origin("192.0.2.1") is None  # documentation ranges in a published list are ignored


def test_hosting_and_vpn_are_weak_evidence_on_member_data_only() -> None:
    [hosting] = signals(AWS)
    assert hosting.score == 0.3 and hosting.key == f"ip:{AWS}"
    assert "hosting network (Amazon AWS)" in hosting.detail
    [vpn] = signals(PROTON)
    assert vpn.score == 0.15 and "VPN exit (Proton VPN)" in vpn.detail
    assert signals(AWS, path="/jobs") == []
    assert signals(AWS, account="7")[0].key == "account:7"  # where the account's other evidence goes


def test_a_member_on_icloud_private_relay_gets_nothing_held_against_them() -> None:
    assert signals(ICLOUD_RELAY) == []
    engine = Engine(default_policy())
    paths = [f"/u/m{(i * 2654435761) % 2**32:08x}" for i in range(40)]  # names in no order
    actions = [engine.decide(Event(ts=T0 + i * 37.0 + (i % 4) * 11, ip=ICLOUD_RELAY, path=path,
                                   route=ROUTES.match(path), account="4242")).action
               for i, path in enumerate(paths)]
    assert set(actions) == {ALLOW}


def test_your_own_lists_add_their_scores() -> None:
    text = ('[[detectors.ip_reputation.lists]]\nname = "Tor exits"\n'
            'cidrs = ["198.51.100.0/24"]\nscore = 0.5\n'
            '[[detectors.ip_reputation.lists]]\nname = "our office"\n'
            'cidrs = ["198.51.100.7/32"]\nscore = 0\n')
    [tor] = signals("198.51.100.7", text)
    assert tor.detail == "198.51.100.7 is listed in Tor exits" and tor.score == 0.5


def test_bad_lists_are_clear_policy_errors() -> None:
    import pytest

    from scrapeguard.policy import PolicyError
    with pytest.raises(PolicyError) as err:
        load_policy_text('[[detectors.ip_reputation.lists]]\nname = "x"\ncidrs = ["nope"]\nscore = 2\n',
                         "p.toml")
    assert "detectors.ip_reputation.lists[0].score" in str(err.value)


def test_operators_named_like_hosting() -> None:
    assert looks_like_hosting("Hetzner Online GmbH") and looks_like_hosting("OVH SAS")
    assert looks_like_hosting("DigitalOcean, LLC")
    assert not looks_like_hosting("Deutsche Telekom AG") and not looks_like_hosting("Comcast Cable")
    # consumer networks whose names merely contain a hosting-ish word
    for isp in ("Telmex Colombia S.A.", "Colombia Movil", "COLOMBIA", "CLOUDFLARENET",
                "Vodafone Libertel B.V."):
        assert not looks_like_hosting(isp), isp
    assert looks_like_hosting("Alibaba Cloud") and looks_like_hosting("Equinix colocation")


def test_a_browser_claim_from_the_cloud_is_challenged_sooner_than_at_home() -> None:
    def run(ip: str) -> int:
        engine = Engine(default_policy())
        paths = [f"/u/m{(i * 2654435761) % 2**32:08x}" for i in range(80)]
        actions = [engine.decide(Event(ts=T0 + i * 3 + (i % 3), ip=ip, path=path, route=ROUTES.match(path),
                                       user_agent=FIREFOX)).action
                   for i, path in enumerate(paths)]
        return actions.index(CHALLENGE) if CHALLENGE in actions else len(actions)
    # a hosting network (0.3) is bot evidence a challenge answers: at once; from home only the
    # pages without assets (0.35) show, at the twentieth
    assert run(AWS) == 0 and run("81.2.69.160") == 19


def counting_lookups(policy: Policy) -> tuple[Engine, list[str]]:
    """An engine whose ip_reputation notes every address it looks up (in the list returned)."""
    looked_up: list[str] = []

    class Counting(IpReputation):
        def _lookup(self, ip: str) -> tuple[str, str] | None:
            looked_up.append(ip)
            return super()._lookup(ip)

    reputation = Counting.from_policy(policy)
    assert reputation is not None
    engine = Engine(policy, detectors=[d if d.name != "ip_reputation" else reputation
                                       for d in build_detectors(policy)])
    return engine, looked_up


def a_persons_first_view(engine: Engine) -> Decision:
    return engine.decide(Event(ts=T0, ip=AWS, path="/u/x", route=ROUTES.match("/u/x"), user_agent=FIREFOX))


def test_with_challenges_off_the_engine_asks_for_the_network_only_to_corroborate() -> None:
    # Alone the default scores (0.3 hosting, 0.15 VPN) then refuse nobody, and a look-up per new
    # address costs: the engine asks ip_reputation only once another detector has a signal.
    engine, looked_up = counting_lookups(load_policy_text("[challenge]\nenabled = false\n"))
    person = [engine.decide(Event(ts=T0 + i * 7 + i % 5, ip=AWS, path=f"/u/p{i}",
                                  route=ROUTES.match(f"/u/p{i}"), user_agent=FIREFOX)) for i in range(10)]
    assert {d.action for d in person} == {ALLOW} and looked_up == []
    tool = engine.decide(Event(ts=T0 + 100, ip=AWS, path="/u/q", route=ROUTES.match("/u/q"),
                               user_agent="python-requests/2.32"))
    assert looked_up == [AWS]  # asked: bot_agents had a signal (0.4), and 0.3 more takes it to 0.58
    assert tool.action == THROTTLE and {r.detector for r in tool.reasons} == {"bot_agents", "ip_reputation"}
    # with challenges on (the default), a hosting network alone is answered by one: asked first
    engine, looked_up = counting_lookups(default_policy())
    assert a_persons_first_view(engine).action == CHALLENGE and looked_up == [AWS]


STRICT_LIST = f'[[detectors.ip_reputation.lists]]\nname = "scrapers"\ncidrs = ["{AWS}/32"]\nscore = 0.9\n'


def test_a_list_that_refuses_alone_makes_ip_reputation_asked_first() -> None:
    strict = load_policy_text(STRICT_LIST)
    engine, looked_up = counting_lookups(strict)
    assert a_persons_first_view(engine).action == BLOCK and looked_up == [AWS]  # nothing else to corroborate
    # so with challenges off too: a list that refuses alone needs no other detector's signal first
    engine, looked_up = counting_lookups(load_policy_text(f"{STRICT_LIST}[challenge]\nenabled = false\n"))
    assert a_persons_first_view(engine).action == BLOCK and looked_up == [AWS]


def test_a_list_and_a_hosting_network_that_refuse_together_are_asked_first() -> None:
    # a list scoring 0.45 alone is below the throttle threshold, but with the hosting network's 0.3
    # the detector's own signals reach 0.615: it may refuse alone, so it is not only corroborating
    policy = load_policy_text(f'[[detectors.ip_reputation.lists]]\nname = "watch"\ncidrs = ["{AWS}/32"]\n'
                              "score = 0.45\n")
    reputation = IpReputation.from_policy(policy)
    # by hand, as independent evidence: 1 - (1 - 0.45) x (1 - 0.3) = 1 - 0.55 x 0.7 = 1 - 0.385 = 0.615
    assert reputation is not None and reputation.strongest_score() == pytest.approx(0.615)
    engine = Engine(policy)
    decision = engine.decide(Event(ts=T0, ip=AWS, path="/u/x", route=ROUTES.match("/u/x"),
                                   user_agent="Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Firefox/128.0"))
    # bot evidence (where the client is): answered by a challenge
    assert decision.action == CHALLENGE and {r.detector for r in decision.reasons} == {"ip_reputation"}


def test_corroborating_reasons_keep_the_detectors_order() -> None:
    policy = load_policy_text('[detectors.honeypot]\ncanary_members = ["username:canary"]\n')
    firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Firefox/128.0"
    decision = Engine(policy).decide(Event(ts=T0, ip=AWS, path="/u/canary", route=ROUTES.match("/u/canary"),
                                           user_agent=firefox))
    # in the order build_detectors has them, although ip_reputation was asked last
    assert [r.detector for r in decision.reasons] == ["ip_reputation", "honeypot"]
