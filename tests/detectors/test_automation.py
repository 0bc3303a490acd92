"""automation: scripts tick, skip assets and forget browser headers; people, slow readers and
screen-reader users do none of that."""

from __future__ import annotations

from scrapeguard.decisions import ALLOW, CHALLENGE, THROTTLE, Decision
from scrapeguard.detectors.automation import Automation, request_kind
from scrapeguard.engine import Engine
from scrapeguard.events import Event
from scrapeguard.policy import Policy, default_policy, load_policy_text
from scrapeguard.routes import RouteMap
from scrapeguard.stores import MemoryStore, StoreRequest

T0 = 1_800_000_000.0
ROUTES = RouteMap(default_policy().routes)
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
BROWSER_HEADERS = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8", "accept-language": "en-GB,en;q=0.5",
                   "accept-encoding": "gzip, deflate, br", "cookie": "1"}


class Client:
    """One client's requests through the engine, with its own clock and headers."""

    def __init__(self, engine: Engine, ip: str = "198.51.100.60", ua: str = FIREFOX,
                 headers: dict[str, str] | None = BROWSER_HEADERS) -> None:
        self.engine, self.ip, self.ua, self.headers = engine, ip, ua, headers
        self.now = T0

    def get(self, path: str, after: float) -> Decision:
        self.now += after
        return self.engine.decide(Event(ts=self.now, ip=self.ip, path=path, route=ROUTES.match(path),
                                        user_agent=self.ua, headers=self.headers))

    def read_profile(self, n: int, after: float, assets: bool = True) -> Decision:
        decision = self.get(f"/u/member.{(n * 7919) % 10007}", after)
        if assets:
            self.get("/static/site.css", 0.05)
            self.get(f"/static/avatars/{n}.svg", 0.05)
        return decision


def test_a_script_ticking_every_two_seconds_is_challenged_at_its_twelfth_page() -> None:
    client = Client(Engine(default_policy()))
    decisions = [client.read_profile(n, after=2.0 + (n % 2) * 0.02, assets=False) for n in range(20)]
    actions = [d.action for d in decisions]
    assert actions[:11] == [ALLOW] * 11 and actions[11] == CHALLENGE
    reason = next(r for r in decisions[11].reasons if r.detector == "automation")
    assert "last 12 requests came every 2.0 s (± 0.01 s): machine-regular timing" in reason.detail


def test_a_person_reading_at_their_own_pace_is_never_flagged() -> None:
    client = Client(Engine(default_policy()))
    pauses = [4, 17, 9, 31, 6, 12, 45, 8, 22, 5, 14, 60, 11, 7, 19, 26, 9, 13, 38, 10]
    assert {client.read_profile(n, after=pauses[n % 20]).action for n in range(50)} == {ALLOW}


def test_a_slow_reader_without_javascript_is_never_flagged() -> None:
    # no scripts run, but the stylesheet and images load; one profile a minute or two, steadily
    client = Client(Engine(default_policy()))
    assert {client.read_profile(n, after=60 + (n % 4) * 30).action for n in range(55)} == {ALLOW}


def test_a_screen_reader_user_is_never_flagged() -> None:
    # a real browser with its headers; the page is read aloud, so the pace is slow and uneven
    ua = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/131.0 Safari/537.36")
    client = Client(Engine(default_policy()), ua=ua)
    assert {client.read_profile(n, after=25 + (n * 37) % 50).action for n in range(45)} == {ALLOW}


def pages_without_assets(policy: Policy) -> list[Decision]:
    """25 profiles and not one stylesheet or image, at an uneven pace (only the missing assets show)."""
    client = Client(Engine(policy))
    return [client.read_profile(n, after=3 + (n * 7) % 11, assets=False) for n in range(25)]


def test_pages_without_assets_are_challenged_from_the_twentieth() -> None:
    decisions = pages_without_assets(default_policy())
    assert {d.action for d in decisions[:19]} == {ALLOW}
    assert {d.action for d in decisions[19:]} == {CHALLENGE}  # bot evidence: a browser would pass
    assert decisions[19].risk == 0.35  # the policy's no_assets_score, the only evidence
    assert [r.detail for r in decisions[19].reasons] == [
        "anonymous visitor asked for 20 pages in the last hour and not one stylesheet, script or image"]
    # the detector switched off: not built, and the same client passes
    quiet = load_policy_text("[detectors.automation]\nenabled = false\n")
    assert Automation.from_policy(quiet) is None
    assert {d.action for d in pages_without_assets(quiet)} == {ALLOW}


def test_with_challenges_off_pages_without_assets_are_weak_evidence_alone() -> None:
    # below the default throttle threshold (0.5) the 0.35 refuses nothing...
    off = load_policy_text("[challenge]\nenabled = false\n")
    assert {d.action for d in pages_without_assets(off)} == {ALLOW}
    # ...but it is raised all the same: with the threshold under 0.35 it throttles from the twentieth
    low = load_policy_text("[risk]\nthrottle = 0.3\n[challenge]\nenabled = false\n")
    actions = [d.action for d in pages_without_assets(low)]
    assert actions[:19] == [ALLOW] * 19 and set(actions[19:]) == {THROTTLE}


def test_a_browser_claim_without_browser_headers_adds_evidence() -> None:
    bare = {"accept": "*/*"}
    d = Client(Engine(default_policy()), headers=bare).read_profile(1, after=1)
    assert d.action == CHALLENGE
    assert d.reasons[0].detail == "claims to be a web browser but sends no Accept-Language or Accept-Encoding"
    # log lines have no headers: nothing is judged
    assert Client(Engine(default_policy()), headers=None).read_profile(1, after=1).action == ALLOW
    # with challenges off, it is evidence like any other: refusing at a low enough threshold
    engine = Engine(load_policy_text("[risk]\nthrottle = 0.3\n[challenge]\nenabled = false\n"))
    assert Client(engine, headers=bare).read_profile(1, after=1).action == THROTTLE


def test_request_kinds() -> None:
    def kind(path: str, headers: dict[str, str] | None) -> str:
        return request_kind(Event(ts=0, ip="192.0.2.1", path=path, route=ROUTES.match(path), headers=headers))
    assert kind("/static/site.css", None) == "a"
    assert kind("/u/x", {"accept": "text/html"}) == "p"
    assert kind("/api/v1/members/3", {"accept": "application/json"}) == "o"
    assert kind("/u/x", None) == "p"  # a log line: a page as far as anyone can tell
    assert kind("/login", None) == "o"


def test_with_a_deferring_integration_assets_never_wait_on_the_store() -> None:
    class CountingStore(MemoryStore):
        calls = 0

        def observe(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            self.calls += 1
            return super().observe(*args, **kwargs)

    store = CountingStore()
    engine = Engine(default_policy(), store=store)
    deferred: list[list[StoreRequest]] = []
    engine.defer = lambda event, requests: deferred.append(requests)
    client = Client(engine)
    client.get("/static/site.css", 1)
    assert store.calls == 0 and len(deferred) == 1
    client.get("/jobs", 1)  # a page: the flood detector's counts are taken now, automation's deferred
    assert store.calls == 1 and len(deferred) == 2
    assert not any(r.name.startswith("flood.") for r in deferred[1]) and deferred[1]
    client.get("/u/someone", 1)  # member data: judged now
    assert store.calls == 2
