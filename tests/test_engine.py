"""The engine with simulated time: quotas per hour and day, young accounts, escalation, expiry."""

from __future__ import annotations

import pytest

from scrapeguard.decisions import ALLOW, BLOCK, CHALLENGE, THROTTLE, Decision
from scrapeguard.detectors import ProfileQuota
from scrapeguard.detectors.base import Counted, Detector, Signal
from scrapeguard.engine import Engine
from scrapeguard.events import Event
from scrapeguard.policy import Policy, default_policy, load_policy_text
from scrapeguard.routes import RouteMap
from scrapeguard.stores import StateStore

T0 = 1_800_000_000.0  # an arbitrary event time: the engine never reads the wall clock
DAY = 86400.0
HUMAN_PAUSES = (0.6, 1.4, 0.8, 1.2, 1.0)


def member_name(i: int) -> str:
    """The i-th member's username, in no particular order (so that views in i order do not
    look like an alphabetical sweep to the enumeration detector)."""
    return f"m{(i * 2654435761) % 2**32:08x}"


class Actor:
    """Drives one client through the engine, with its own clock."""

    def __init__(self, engine: Engine, ip: str | None = "198.51.100.7", account: str | None = None,
                 created: float | None = None, session: str | None = None, user_agent: str = "",
                 clearance: str | None = None) -> None:
        self.engine = engine
        self.routes = RouteMap(engine.policy.routes)
        self.ip, self.account, self.created, self.session = ip, account, created, session
        self.user_agent, self.clearance = user_agent, clearance
        self.now = T0
        self.views = 0

    def view(self, path: str, after: float = 1.0) -> Decision:
        # people's pauses vary (every five views add up to 5 x `after`): exact ticks would be
        # machine-regular timing, which the automation detector reports
        self.now += after * HUMAN_PAUSES[self.views % len(HUMAN_PAUSES)]
        self.views += 1
        event = Event(ts=self.now, ip=self.ip, path=path, route=self.routes.match(path),
                      account=self.account, account_created=self.created, session=self.session,
                      user_agent=self.user_agent, clearance=self.clearance)
        return self.engine.decide(event)

    def view_profiles(self, start: int, count: int, after: float = 1.0) -> list[Decision]:
        return [self.view_profile(i, after) for i in range(start, start + count)]

    def view_profile(self, i: int, after: float = 1.0) -> Decision:
        """A member page and its avatar, as a browser loads them (a client that loads no assets is
        a bot suspect: challenged, see tests of the challenge band)."""
        return self.view_page(f"/u/{member_name(i)}", after)

    def view_page(self, path: str, after: float = 1.0) -> Decision:
        """A page and the stylesheet a browser loads with it."""
        decision = self.view(path, after)
        self.engine.decide(Event(ts=self.now + 0.01, ip=self.ip, path="/static/site.css",
                                 route=self.routes.match("/static/site.css"), account=self.account,
                                 account_created=self.created, session=self.session,
                                 user_agent=self.user_agent))
        return decision


def served(decisions: list[Decision]) -> int:
    return sum(d.action == ALLOW for d in decisions)


def policy_with(text: str) -> Policy:
    return load_policy_text(text, "test.toml")


def test_anonymous_quota_per_hour_is_exact() -> None:
    actor = Actor(Engine(default_policy()))
    decisions = actor.view_profiles(0, 100)
    assert served(decisions) == 60
    assert [d.action for d in decisions[:60]] == [ALLOW] * 60
    first_refusal = decisions[60]
    assert first_refusal.action == THROTTLE
    assert first_refusal.reasons[0].detector == "profile_quota"
    assert "60 distinct member profiles in the last hour" in first_refusal.reasons[0].detail
    assert first_refusal.retry_after == 300


def test_reviewing_the_same_profiles_is_never_refused() -> None:
    actor = Actor(Engine(default_policy()))
    decisions = [actor.view_page(f"/u/member{i % 20}") for i in range(1000)]
    assert served(decisions) == 1000


def test_assets_and_pages_do_not_count() -> None:
    actor = Actor(Engine(default_policy()))
    paths = ["/", "/directory?page=2", "/static/site.css", "/jobs", "/search?q=anna"] * 100
    assert all(actor.view(p, after=0.1).action == ALLOW for p in paths)


def test_hour_window_slides_and_day_quota_binds() -> None:
    engine = Engine(default_policy())
    actor = Actor(engine)
    total = 0
    # A patient scraper: 60 new profiles every 61 minutes. The hourly quota lets each batch
    # through; the daily quota (300) stops it after five hours.
    for hour in range(8):
        decisions = actor.view_profiles(hour * 60, 60, after=1.0)
        total += served(decisions)
        actor.now += 3600
    assert total == 300


def test_young_accounts_get_the_stricter_quota() -> None:
    engine = Engine(default_policy())
    young = Actor(engine, account="501", created=T0 - 2 * DAY)
    old = Actor(engine, account="12", created=T0 - 400 * DAY)
    assert served(young.view_profiles(0, 100)) == 30
    assert served(old.view_profiles(0, 200)) == 150


def test_account_becomes_ordinary_after_max_age() -> None:
    engine = Engine(default_policy())
    account = Actor(engine, account="77", created=T0 - 7 * DAY + 100)
    # 30 views while young, then the account turns 7 days old and gets the account quota
    assert served(account.view_profiles(0, 30)) == 30
    account.now += 200
    assert account.view("/u/other-member").action == ALLOW


def test_accounts_are_counted_per_account_not_per_ip() -> None:
    engine = Engine(default_policy())
    # 3 colleagues behind one office address, logged in: 60 profiles each, 180 from one IP
    colleagues = [Actor(engine, ip="203.0.113.9", account=str(n), created=T0 - 900 * DAY)
                  for n in range(3)]
    for actor in colleagues:
        assert served(actor.view_profiles(0, 60)) == 60


def test_own_profile_does_not_count() -> None:
    engine = Engine(default_policy())
    me = Actor(engine, account="9", created=T0 - 2 * DAY)
    for _ in range(100):
        assert me.view_page("/api/v1/members/9").action == ALLOW
    assert served(me.view_profiles(0, 40)) == 30


def test_ignoring_the_throttle_escalates_to_a_block_that_grows() -> None:
    engine = Engine(default_policy())
    actor = Actor(engine)
    decisions = actor.view_profiles(0, 80)
    actions = [d.action for d in decisions]
    # 60 served, 9 throttled, then the 10th refusal within the hour escalates to a block
    assert actions[:60] == [ALLOW] * 60
    assert actions[60:69] == [THROTTLE] * 9
    assert set(actions[69:]) == {BLOCK}
    first_block = decisions[69]
    assert any(r.detector == "escalation" for r in first_block.reasons)
    assert first_block.retry_after == 3600
    # once the block is over, the next offence (after strikes reset) leads to a 4x longer block
    actor.now = first_block.until + 3600  # type: ignore[operator]
    later = actor.view_profiles(1000, 400)
    blocks = [d for d in later if d.action == BLOCK]
    assert blocks, "the repeat offender was not blocked again"
    assert blocks[0].retry_after == 4 * 3600


def test_a_person_who_stops_at_the_throttle_is_not_blocked() -> None:
    engine = Engine(default_policy())
    actor = Actor(engine)
    decisions = actor.view_profiles(0, 62)
    assert decisions[-1].action == THROTTLE
    actor.now += 3600  # they come back an hour later
    assert actor.view("/u/member0").action == ALLOW
    assert actor.view("/u/new-one").action == ALLOW


def test_state_expires() -> None:
    engine = Engine(default_policy())
    actor = Actor(engine)
    actor.view_profiles(0, 300, after=12.0)  # an hour's worth per 300 views: day quota reached
    assert actor.view("/u/yet-another").action != ALLOW
    actor.now += 2 * DAY
    assert actor.view("/u/yet-another").action == ALLOW


def test_allowlisted_networks_and_accounts_are_never_refused() -> None:
    engine = Engine(policy_with('[allowlist]\ncidrs = ["198.51.100.0/24"]\naccounts = ["5"]\n'))
    assert served(Actor(engine, ip="198.51.100.7").view_profiles(0, 500)) == 500
    assert served(Actor(engine, ip="192.0.2.1", account="5", created=T0).view_profiles(0, 500)) == 500
    assert served(Actor(engine, ip="192.0.2.2").view_profiles(0, 100)) == 60


def test_observe_mode_decides_the_same_but_enforces_nothing() -> None:
    enforce = Actor(Engine(default_policy())).view_profiles(0, 120)
    observe = Actor(Engine(policy_with('mode = "observe"'))).view_profiles(0, 120)
    assert [d.action for d in enforce] == [d.action for d in observe]
    assert all(d.enforced for d in enforce) and not any(d.enforced for d in observe)


def test_network_quota_is_off_by_default_and_works_when_on() -> None:
    engine = Engine(default_policy())
    neighbours = [Actor(engine, ip=f"100.64.0.{n}") for n in range(1, 21)]
    assert all(served(a.view_profiles(0, 50)) == 50 for a in neighbours)  # carrier NAT: 1,000 views

    strict = Engine(policy_with(
        "[detectors.profile_quota.network]\nenabled = true\nper_hour = 100\nper_day = 200\n"))
    neighbours = [Actor(strict, ip=f"100.64.0.{n}") for n in range(1, 5)]
    total = sum(served(a.view_profiles(n * 50, 50)) for n, a in enumerate(neighbours))
    assert total == 100


def test_anonymous_without_ip_is_counted_by_session() -> None:
    engine = Engine(default_policy())
    assert served(Actor(engine, ip=None, session="s-1").view_profiles(0, 100)) == 60
    assert served(Actor(engine, ip=None, session=None).view_profiles(0, 100)) == 100


def test_quota_detector_can_be_switched_off() -> None:
    engine = Engine(policy_with("[detectors.profile_quota]\nenabled = false\n"))
    assert [d.name for d in engine.detectors] == ["enumeration", "new_account", "automation", "bot_agents",
                                                  "ip_reputation", "ip_sharing", "campaign", "flood",
                                                  "failed_logins"]  # (honeypot: off without traps)
    assert served(Actor(engine).view_profiles(0, 500)) == 500


def test_replayed_404s_do_not_count_against_the_profile_quota() -> None:
    # (that many pages not found is probing, which the enumeration detector judges: see its tests)
    policy = default_policy()
    quota = ProfileQuota.from_policy(policy)
    assert quota is not None
    engine = Engine(policy, detectors=[quota])
    routes = RouteMap(engine.policy.routes)
    for i in range(100):
        path = f"/u/ghost{i}"
        event = Event(ts=T0 + i, ip="192.0.2.9", path=path, route=routes.match(path), status=404)
        assert engine.decide(event).action == ALLOW


class Exploding(Detector):
    name = "exploding"

    @classmethod
    def from_policy(cls, policy: Policy, live: bool = True) -> Exploding:
        return cls()

    def inspect(self, event: Event, counted: Counted, store: StateStore) -> list[Signal]:
        raise RuntimeError("boom")


EVERY_DETECTOR = ('[detectors.honeypot]\ntrap_paths = ["/trap"]\n[detectors.login_wall]\nenabled = true\n'
                  '[detectors.anonymous_challenge]\nenabled = true\n'
                  '[detectors.agent_list]\nagents = ["Scraper/"]\n')


def test_every_detector_can_be_switched_off() -> None:
    from scrapeguard.detectors import ALL
    names = [cls.name for cls in ALL]
    assert len(names) == 14
    everything = policy_with(EVERY_DETECTOR)
    assert [d.name for d in Engine(everything).detectors] == names
    engine = Engine(policy_with("".join(f"[detectors.{name}]\nenabled = false\n" for name in names)))
    assert engine.detectors == []


def test_a_failing_detector_does_not_take_the_guard_down(caplog: pytest.LogCaptureFixture) -> None:
    policy = default_policy()
    engine = Engine(policy, detectors=[Exploding()])
    assert Actor(engine).view("/u/x").action == ALLOW
    assert engine.counts["errors.exploding"] == 1


# -- the challenge band (risk.challenge) -------------------------------------------------------

CHALLENGING = """
[challenge]
clearance_requests = 3
"""
CURL = "curl/8.5.0"
CLEARED = "c-0123456789abcdef"


def test_bot_evidence_is_challenged_at_once_with_its_risk() -> None:
    actor = Actor(Engine(policy_with(CHALLENGING)), user_agent=CURL)
    challenge = actor.view_profile(0)
    # a declared scripting tool asking for a member page: bot evidence, answered by a challenge. Its
    # risk by hand: bot_agents.tool_score (0.4, defaults.toml) is the only signal,
    # and one piece of evidence combines to itself: 1 - (1 - 0.4) = 0.4
    assert challenge.action == CHALLENGE and challenge.risk == pytest.approx(0.4)
    assert challenge.reasons[0].detector == "bot_agents" and challenge.id.startswith("sg-")
    assert challenge.retry_after == 600  # how long the challenge it is served with stays valid
    # a challenge holds no penalty: it is not escalated for being ignored, and it never throttles
    assert {d.action for d in actor.view_profiles(100, 30)} == {CHALLENGE}


def test_pages_without_assets_are_challenged_at_the_twentieth() -> None:
    actor = Actor(Engine(default_policy()))
    decisions = [actor.view(f"/u/{member_name(i)}") for i in range(25)]
    assert [d.action for d in decisions[:19]] == [ALLOW] * 19
    assert {d.action for d in decisions[19:]} == {CHALLENGE}
    assert "not one stylesheet, script or image" in decisions[19].reasons[0].detail


def test_what_a_client_does_is_throttled_whoever_it_is() -> None:
    # over the quota (behaviour, 0.6) with a scripting tool's user agent (bot evidence, 0.4): the
    # quota is not answered by a challenge, so the client is throttled, with both reasons named
    browser = Actor(Engine(default_policy()))
    decisions = browser.view_profiles(0, 61)
    assert served(decisions) == 60 and decisions[60].action == THROTTLE
    assert [r.detector for r in decisions[60].reasons] == ["profile_quota"]


def test_a_clearance_passes_the_challenge_for_a_bounded_number_of_requests() -> None:
    actor = Actor(Engine(policy_with(CHALLENGING)), user_agent=CURL, clearance=CLEARED)
    actions = [actor.view_profile(i).action for i in range(5)]
    assert actions == [ALLOW, ALLOW, ALLOW, CHALLENGE, CHALLENGE]
    assert actor.engine.counts["cleared"] == 3
    # a clearance never lifts a block: certainty is not answered by a challenge
    strict = Actor(Engine(policy_with("[detectors.profile_quota]\nscore = 0.95\n")), clearance=CLEARED)
    strict.view_profiles(0, 60)
    assert strict.view_profile(60).action == BLOCK


def test_with_challenges_off_bot_evidence_adds_to_the_risk_like_any_other() -> None:
    actor = Actor(Engine(policy_with(CHALLENGING + "enabled = false\n")), user_agent=CURL)
    assert served(actor.view_profiles(0, 40)) == 40  # 0.4 alone refuses nothing
    decisions = Actor(Engine(policy_with("[challenge]\nenabled = false\n")),
                      user_agent=CURL).view_profiles(0, 61)
    assert served(decisions) == 60 and decisions[60].action == THROTTLE


def test_established_accounts_are_not_challenged() -> None:
    # a member whose browser runs no JavaScript gets through by logging in: an account older than
    # the new-account age answers for itself through its quotas
    member = Actor(Engine(default_policy()), account="7", created=T0 - 400 * DAY)
    assert served([member.view(f"/u/{member_name(i)}") for i in range(60)]) == 60
    young = Actor(Engine(default_policy()), account="8", created=T0 - 2 * DAY, user_agent=CURL)
    assert young.view_profile(0).action == CHALLENGE


def test_a_clearance_never_turns_more_evidence_into_a_lighter_outcome() -> None:
    # a sweep (0.7, behaviour) from a cleared scripting tool: throttled, exactly like the same
    # sweep from a browser user agent; the challenge it passed answered only the bot evidence
    outcomes = []
    for agent in ("python-requests/2.32", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Firefox/128.0"):
        engine = Engine(default_policy())
        routes = RouteMap(engine.policy.routes)
        actions = []
        for i in range(10):
            path = f"/api/v1/members/{500 + i}"
            event = Event(ts=T0 + i * 3 + (i % 3), ip="198.51.100.77", path=path, route=routes.match(path),
                          user_agent=agent, clearance=CLEARED)
            actions.append(engine.decide(event).action)
        outcomes.append(actions)
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][:7] == [ALLOW] * 7 and outcomes[0][7] == THROTTLE


def test_detectors_that_plan_for_member_data_only_plan_nothing_for_anything_else() -> None:
    """The engine skips `plan` off the member-data routes for detectors that do not say they plan on
    every route: each of them must plan nothing there, for every kind of visitor."""
    from scrapeguard.detectors import ALL
    policy = policy_with(EVERY_DETECTOR)
    routes = RouteMap(policy.routes)
    visitors = [{}, {"account": "42", "account_created": T0 - 600}, {"session": "s1", "session_issued": True}]
    paths = ["/", "/jobs", "/static/site.css", "/login", "/robots.txt", "/trap", "/favicon.ico",
             "/api/v1/feed"]
    events = [Event(ts=T0, ip="192.0.2.1", path=p, route=routes.match(p), user_agent=ua, status=status,
                    **visitor)  # type: ignore[arg-type]
              for p in paths for visitor in visitors for status in (None, 200, 404)
              for ua in ("Mozilla/5.0 Firefox/128.0", "python-requests/2.32", "Nikto/2.5")]
    checked = 0
    for cls in ALL:
        detector = cls.from_policy(policy, live=False)
        if detector is None or detector.plans_every_route:
            continue
        checked += 1
        assert all(detector.plan(e) == [] for e in events), cls.name
    assert checked == 11
