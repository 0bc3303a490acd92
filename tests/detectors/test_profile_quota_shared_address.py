"""profile_quota's shared-address cap: all the anonymous browser sessions of one address together
get [detectors.profile_quota.shared_address] (300 distinct profiles an hour by default), however
many sessions they open, each within its own quota; logged-in members there are not held to it."""

from __future__ import annotations

from scrapeguard.decisions import ALLOW, THROTTLE, Decision
from scrapeguard.engine import Engine
from scrapeguard.events import Event
from scrapeguard.policy import default_policy
from scrapeguard.routes import RouteMap

T0 = 1_800_000_000.0
IP = "198.51.100.7"
#: People's pauses vary (machine-regular timing is bot evidence); these average 10 seconds.
PAUSES = (6.0, 14.0, 8.0, 12.0, 10.0)
POLICY = default_policy()
ROUTES = RouteMap(POLICY.routes)
SHARED_PER_HOUR = POLICY.profile_quota.shared_address.per_hour
PER_SESSION_PER_HOUR = POLICY.profile_quota.anonymous.per_hour


def member(i: int) -> str:
    return f"m{(i * 2654435761) % 2**32:08x}"  # in no particular order (no alphabetical sweep)


class Office:
    """Browsers behind one address, each with a session cookie the site issued, loading pages as
    browsers do (the page, then its stylesheet), on one clock."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.now = T0
        self.views = 0

    def view(self, session: str, profile: int, account: str | None = None) -> Decision:
        self.now += PAUSES[self.views % len(PAUSES)]
        self.views += 1
        path = f"/u/{member(profile)}"
        common = {"ip": IP, "session": session, "session_issued": True, "account": account,
                  "account_created": T0 - 400 * 86400 if account else None,
                  "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"}
        decision = self.engine.decide(Event(ts=self.now, path=path, route=ROUTES.match(path), **common))
        css = "/static/site.css"
        self.engine.decide(Event(ts=self.now + 0.2, path=css, route=ROUTES.match(css), **common))
        return decision


def test_the_sessions_of_one_address_share_one_cap_each_within_its_own_quota() -> None:
    office = Office(Engine(POLICY))
    sessions = SHARED_PER_HOUR // 50  # six colleagues, 50 profiles each: under their own quota of 60
    assert PER_SESSION_PER_HOUR > 50
    served = [office.view(f"s-{s}", s * 50 + i).action for s in range(sessions) for i in range(50)]
    assert served == [ALLOW] * SHARED_PER_HOUR
    assert office.now - T0 < 3600  # all within the hour

    # a seventh colleague: a profile the address has not seen yet is over the address's cap
    refused = office.view("s-new", 10_000)
    assert refused.action == THROTTLE
    assert [(r.detector, r.key) for r in refused.reasons] == [("profile_quota", f"ip:{IP}")]
    assert "address shared by anonymous browser sessions" in refused.reasons[0].detail


def test_a_profile_the_address_has_seen_is_not_over_its_cap_and_members_are_not_held_to_it() -> None:
    office = Office(Engine(POLICY))
    for s in range(SHARED_PER_HOUR // 50):
        for i in range(50):
            office.view(f"s-{s}", s * 50 + i)
    # the address is at its cap: a new session re-viewing a profile a colleague viewed is not new to it
    assert office.view("s-other", 7).action == ALLOW
    assert office.view("s-new", 10_000).action == THROTTLE
    # the throttle is held against the address: its other anonymous sessions are refused meanwhile
    assert office.view("s-third", 8).action == THROTTLE
    # a logged-in member at the same address answers for the account, not for the address
    assert office.view("s-member", 20_000, account="42").action == ALLOW
