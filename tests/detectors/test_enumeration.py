"""enumeration: contact look-ups have their own quota; people looking up a few friends pass."""

from __future__ import annotations

from scrapeguard.decisions import ALLOW, THROTTLE
from scrapeguard.engine import Engine
from scrapeguard.events import Event
from scrapeguard.policy import default_policy, load_policy_text
from scrapeguard.routes import RouteMap

T0 = 1_800_000_000.0
ROUTES = RouteMap(default_policy().routes)


def look_up(engine: Engine, emails: list[str], ip: str = "198.51.100.3", account: str | None = None,
            step: float = 2.0, start: float = T0) -> list[str]:
    actions = []
    for i, email in enumerate(emails):
        query = f"email={email}"
        actions.append(engine.decide(Event(ts=start + i * step, ip=ip, path="/lookup", query=query,
                                           route=ROUTES.match("/lookup", query), account=account)).action)
    return actions


def test_an_anonymous_harvester_of_contact_details_is_stopped_at_ten() -> None:
    engine = Engine(default_policy())
    actions = look_up(engine, [f"person{i}@example.org" for i in range(40)])
    assert actions[:10] == [ALLOW] * 10
    assert actions[10] == THROTTLE
    assert ALLOW not in actions[10:]


def test_the_refusal_explains_itself() -> None:
    engine = Engine(default_policy())
    look_up(engine, [f"p{i}@example.org" for i in range(10)])
    q = "email=p10@example.org"
    d = engine.decide(Event(ts=T0 + 60, ip="198.51.100.3", path="/lookup", query=q,
                            route=ROUTES.match("/lookup", q)))
    assert d.reasons[0].detector == "enumeration"
    assert "looked up 10 members by contact details in the last hour (quota 10/hour)" in d.reasons[0].detail


def test_repeating_a_lookup_does_not_count_and_case_does_not_matter() -> None:
    engine = Engine(default_policy())
    emails = ["Friend@Example.org", "friend@example.org", "FRIEND@EXAMPLE.ORG"] * 20
    assert set(look_up(engine, emails)) == {ALLOW}


def test_a_member_finding_a_few_colleagues_over_a_day_is_never_refused() -> None:
    engine = Engine(default_policy())
    emails = [f"colleague{i}@example.org" for i in range(15)]
    assert set(look_up(engine, emails, account="42", step=600)) == {ALLOW}  # 15 over 2.5 hours


def test_accounts_have_their_own_lookup_quota() -> None:
    engine = Engine(default_policy())
    actions = look_up(engine, [f"p{i}@example.org" for i in range(30)], account="77")
    assert actions.count(ALLOW) == 20


def test_the_daily_quota_holds_across_hours() -> None:
    engine = Engine(default_policy())
    allowed = 0
    for hour in range(6):
        emails = [f"h{hour}-{i}@example.org" for i in range(10)]
        allowed += look_up(engine, emails, start=T0 + hour * 3700).count(ALLOW)
    assert allowed == 30


def test_lookups_can_be_tuned_or_switched_off() -> None:
    strict = load_policy_text(
        "[detectors.enumeration.contact_lookups.anonymous]\nper_hour = 2\nper_day = 5\n", "p.toml")
    assert look_up(Engine(strict), ["a@x", "b@x", "c@x"]).count(ALLOW) == 2
    off = load_policy_text("[detectors.enumeration]\nenabled = false\n", "p.toml")
    assert set(look_up(Engine(off), [f"p{i}@x" for i in range(50)])) == {ALLOW}
