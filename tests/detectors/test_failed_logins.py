"""failed_logins: password guessing from one address or spread over many is refused on the login
route; the real owner of a username, other pages and members at a guesser's address are not."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from scrapeguard.decisions import ALLOW, BLOCK, THROTTLE, Decision
from scrapeguard.detectors.failed_logins import LOGIN_FAILED_STATUS, FailedLogins, address_key
from scrapeguard.engine import Engine
from scrapeguard.events import Event
from scrapeguard.logs.replay import offline_policy
from scrapeguard.policy import PolicyError, default_policy, load_policy_text
from scrapeguard.policy.model import Policy
from scrapeguard.routes import RouteMap
from scrapeguard.stores import MemoryStore, StateStore
from scrapeguard.stores.redis import RedisStore

T0 = 1_800_000_000.0
POLICY = offline_policy(default_policy())
ROUTES = RouteMap(POLICY.routes)
GUESSER = "198.51.100.7"
OWNER_HOME = "203.0.113.20"


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> Iterator[StateStore]:
    if request.param == "memory":
        s: StateStore = MemoryStore(max_keys=10_000, max_members_per_key=4096)
    else:
        base, _, prefix = request.getfixturevalue("redis_url").partition("?prefix=")
        s = RedisStore.from_url(base, prefix, timeout=2.0, max_members_per_key=4096)
    yield s
    s.close()


class Site:
    """The engine in front of a site whose login answers 303 (right password) or 401."""

    def __init__(self, store: StateStore | None = None, policy: Policy = POLICY) -> None:
        self.engine = Engine(policy, store)
        self.routes = RouteMap(policy.routes)
        self.reached = 0  # login attempts the site itself answered

    def login(self, ts: float, ip: str, username: str, right: bool = False,
              failed_status: int = 401) -> Decision:
        route = dataclasses.replace(self.routes.match("/login", "", "POST"),
                                    subject=f"username:{username}")
        event = Event(ts=ts, ip=ip, method="POST", path="/login", route=route)
        decision = self.engine.decide(event)
        if not decision.refused:
            self.reached += 1
            self.engine.record(event, self.engine.after_requests(event, 303 if right else failed_status))
        return decision

    def view(self, ts: float, ip: str, path: str = "/u/anna") -> Decision:
        return self.engine.decide(Event(ts=ts, ip=ip, path=path, route=self.routes.match(path)))


def test_300_wrong_passwords_from_one_address_are_stopped_after_10(store: StateStore) -> None:
    site = Site(store)
    actions = [site.login(T0 + i, GUESSER, "anna").action for i in range(300)]
    assert site.reached == 10
    assert actions[:10] == [ALLOW] * 10
    # throttled, and going on while throttled escalates to a block (the [actions] ladder)
    assert actions[10:20] == [THROTTLE] * 9 + [BLOCK]
    assert set(actions[20:]) == {BLOCK}
    refused = site.login(T0 + 301, GUESSER, "bob")
    assert refused.action == BLOCK  # the address is held, whatever username it tries next
    assert refused.reasons[0].detector == "failed_logins"
    assert refused.reasons[0].key == f"ip:{GUESSER}#login"
    assert refused.reasons[0].detail == \
        "10 failed logins from this address within 15 minutes: password guessing"
    assert refused.keys["ip"] == GUESSER and refused.id


def test_the_owner_logs_in_from_another_network_during_the_attack(store: StateStore) -> None:
    site = Site(store)
    for i in range(100):
        site.login(T0 + i, GUESSER, "anna")
    assert site.login(T0 + 100, OWNER_HOME, "anna", right=True).action == ALLOW


def test_a_guessers_address_keeps_its_pages_and_members_logged_in_there() -> None:
    site = Site()
    for i in range(40):
        site.login(T0 + i, GUESSER, "anna")
    assert site.login(T0 + 41, GUESSER, "anna").action == BLOCK
    assert site.view(T0 + 42, GUESSER, "/jobs").action == ALLOW
    assert site.view(T0 + 43, GUESSER, "/u/anna").action == ALLOW


def test_a_scrapers_penalty_on_member_data_does_not_stop_it_logging_in() -> None:
    site = Site()
    ip = "192.0.2.50"
    views = []
    for i in range(80):
        views.append(site.view(T0 + i * 7.3, ip, f"/u/member{i}").action)
        site.view(T0 + i * 7.3 + 0.1, ip, "/static/site.css")  # (a scraper in a browser's clothes)
    assert THROTTLE in views  # over the anonymous quota: held on member data
    assert site.view(T0 + 600, ip).action in (THROTTLE, BLOCK)
    assert site.login(T0 + 601, ip, "member1", right=True).action == ALLOW  # logging in gets a member quota


def test_guessing_one_username_from_many_addresses_holds_the_networks_that_failed_it(
    store: StateStore,
) -> None:
    site = Site(store)
    # 30 addresses of one network, each below the address threshold
    first = [site.login(T0 + i, f"192.0.2.{i + 1}", "anna").action for i in range(30)]
    assert first[:10] == [ALLOW] * 10
    assert set(first[10:]) <= {THROTTLE, BLOCK} and site.reached == 10
    later = site.login(T0 + 40, "192.0.2.200", "anna")
    assert later.refused and later.reasons[0].key.startswith("net:192.0.2.0/24#login:")
    assert "anna" not in str(later.reasons)  # the username is not written anywhere
    # other usernames from that network, the owner from another network: not affected
    assert site.login(T0 + 41, "192.0.2.201", "bob", right=True).action == ALLOW
    assert site.login(T0 + 42, OWNER_HOME, "anna", right=True).action == ALLOW
    # bounded: once the failures are older than the window, the network may try again
    window = POLICY.failed_logins.window_seconds
    assert site.login(T0 + 30 + window, "192.0.2.202", "anna", right=True).action == ALLOW


def test_an_address_that_logged_in_before_is_not_held_for_others_failures(store: StateStore) -> None:
    site = Site(store)
    office = "192.0.2.7"
    assert site.login(T0, office, "anna", right=True).action == ALLOW  # the owner, at the office
    for i in range(30):  # a colleague's machine in the same network guesses anna's password
        site.login(T0 + 100 + i, f"192.0.2.{100 + i}", "anna")
    assert site.login(T0 + 200, "192.0.2.99", "anna").refused  # another machine there: held
    assert site.login(T0 + 201, office, "anna", right=True).action == ALLOW


def test_an_ipv6_guesser_cannot_rotate_addresses_within_its_64() -> None:
    site = Site()
    actions = [site.login(T0 + i, f"2001:db8:1:2::{i + 1:x}", "anna").action for i in range(30)]
    assert site.reached == 10 and actions[10] == THROTTLE
    assert address_key("2001:db8:1:2::1") == "net:2001:db8:1:2::/64#login"
    assert site.login(T0 + 40, "2001:db8:9:9::1", "anna", right=True).action == ALLOW


def test_a_failure_signalled_by_header_counts_whatever_the_statuses() -> None:
    policy = offline_policy(load_policy_text("[detectors.failed_logins]\nfailure_statuses = [403]\n"))
    site = Site(policy=policy)
    for i in range(10):
        site.login(T0 + i, GUESSER, "anna", failed_status=LOGIN_FAILED_STATUS)
    assert site.login(T0 + 11, GUESSER, "anna").action == THROTTLE
    ok = Site(policy=policy)
    for i in range(20):  # 200 without the header is a success: nothing counted
        ok.login(T0 + i, GUESSER, "anna", failed_status=200)
    assert ok.reached == 20


def test_long_usernames_are_kept_as_short_hashes() -> None:
    store = MemoryStore(10_000, 4096)
    site = Site(store)
    for i in range(3):
        site.login(T0 + i, GUESSER, "x" * 100_000 + str(i))
    # what the store holds (keys, set members, values): three names of 100,000 characters kept as
    # text would be over 300,000 characters of it
    assert store.footprint() < 1_000


def test_replayed_login_failures_are_judged() -> None:
    engine = Engine(POLICY, live=False)
    actions = []
    for i in range(30):
        route = dataclasses.replace(ROUTES.match("/login", "", "POST"), subject="username:anna")
        event = Event(ts=T0 + i, ip=GUESSER, method="POST", path="/login", route=route, status=401)
        actions.append(engine.decide(event).action)
    assert actions[:10] == [ALLOW] * 10 and actions[10] == THROTTLE


def test_only_login_posts_are_counted() -> None:
    detector = FailedLogins.from_policy(POLICY)
    assert detector is not None
    page = Event(ts=T0, ip=GUESSER, path="/login", route=ROUTES.match("/login", "", "GET"))
    assert not detector.judges(page) and detector.plan(page) == [] and detector.after(page, 401) == []
    signup = Event(ts=T0, ip=GUESSER, method="POST", path="/signup",
                   route=ROUTES.match("/signup", "", "POST"))
    assert signup.route.kind == "contact_lookup" and detector.after(signup, 401) == []


@pytest.mark.parametrize(("text", "key", "message"), [
    ("failure_statuses = []", "failure_statuses", "non-empty list"),
    ("failure_statuses = [200]", "failure_statuses", "4xx/5xx"),
    ("address_throttle = 0", "address_throttle", "out of range"),
    ("address_throttle = 20\naddress_block_per_day = 10", "address_block_per_day", "less than"),
    ("window_seconds = 5", "window_seconds", "out of range"),
])
def test_bad_options_are_named(text: str, key: str, message: str) -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy_text(f"[detectors.failed_logins]\n{text}\n")
    [problem] = caught.value.problems
    assert problem.key == f"detectors.failed_logins.{key}" and message in problem.message


def test_it_can_be_switched_off() -> None:
    policy = load_policy_text("[detectors.failed_logins]\nenabled = false\n")
    assert FailedLogins.from_policy(policy) is None
    site = Site(policy=offline_policy(policy))
    assert {site.login(T0 + i, GUESSER, "anna").action for i in range(50)} == {ALLOW}


def test_the_records_keep_no_address_of_a_login_penalty() -> None:
    from scrapeguard.records.decisions import decision_record
    from scrapeguard.records.privacy import Pseudonymiser

    site = Site()
    for i in range(10):
        site.login(T0 + i, "198.51.100.1", "anna")
    refused = site.login(T0 + 11, "198.51.100.1", "anna")
    assert {r.key.split("#")[0] for r in refused.reasons} == {"ip:198.51.100.1", "net:198.51.100.0/24"}
    record = decision_record(refused, Pseudonymiser(b"k" * 16))
    assert "198.51.100" not in str(record["reasons"]) + str(record["actors"]) + str(record["keys"])
