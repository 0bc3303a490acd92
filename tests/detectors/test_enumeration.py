"""enumeration: contact look-ups have their own quota; people looking up a few friends pass."""

from __future__ import annotations

from scrapeguard.decisions import ALLOW, THROTTLE, Decision
from scrapeguard.detectors.enumeration import find_sweep, probe_counts
from scrapeguard.engine import Engine
from scrapeguard.events import Event
from scrapeguard.policy import default_policy, load_policy_text
from scrapeguard.routes import RouteMap

T0 = 1_800_000_000.0
ROUTES = RouteMap(default_policy().routes)


def human_time(i: int, step: float) -> float:
    """When the i-th request of a person comes, `step` apart on average but never like a clock
    (exact ticks are machine-regular timing, which the automation detector reports)."""
    return i * step + step * 0.4 * (i % 3 - 1)


def look_up(engine: Engine, emails: list[str], ip: str = "198.51.100.3", account: str | None = None,
            step: float = 2.0, start: float = T0) -> list[str]:
    actions = []
    for i, email in enumerate(emails):
        query = f"email={email}"
        ts = start + human_time(i, step)
        actions.append(engine.decide(Event(ts=ts, ip=ip, path="/lookup", query=query,
                                           route=ROUTES.match("/lookup", query), account=account)).action)
        load_stylesheet(engine, ts, ip, account)
    return actions


def load_stylesheet(engine: Engine, ts: float, ip: str, account: str | None) -> None:
    """What a browser loads with a page (a client that loads no assets is challenged as a bot)."""
    engine.decide(Event(ts=ts + 0.05, ip=ip, path="/static/site.css", route=ROUTES.match("/static/site.css"),
                        account=account))


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


# -- sweeps and probing ------------------------------------------------------------------------

def fetch(engine: Engine, paths: list[str], ip: str = "198.51.100.8", account: str | None = None,
          step: float = 3.0, status: int | None = None, start: float = T0) -> list[Decision]:
    out = []
    for i, path in enumerate(paths):
        event = Event(ts=start + human_time(i, step), ip=ip, path=path, route=ROUTES.match(path),
                      account=account, status=status)
        out.append(engine.decide(event))
        load_stylesheet(engine, event.ts, ip, account)
    return out


def actions(decisions: list[Decision]) -> list[str]:
    return [d.action for d in decisions]


def test_member_ids_in_sequence_are_refused_at_the_eighth() -> None:
    decisions = fetch(Engine(default_policy()), [f"/api/v1/members/{i}" for i in range(500, 530)])
    assert actions(decisions)[:7] == [ALLOW] * 7 and actions(decisions)[7] == THROTTLE
    reason = decisions[7].reasons[0]
    assert reason.detector == "enumeration"
    assert reason.detail == "anonymous visitor viewed 8 member ids in sequence (id:500 … id:507)"


def test_near_sequential_and_descending_sweeps_count_too() -> None:
    gaps = [1000 - 2 * i - (i % 2) for i in range(12)]  # 1000, 997, 996, 993, ... steps of 1 to 3 downwards
    assert actions(fetch(Engine(default_policy()), [f"/api/v1/members/{n}" for n in gaps]))[7] == THROTTLE


def test_ids_far_apart_or_in_no_order_are_not_a_sweep() -> None:
    scattered = [(i * 7919) % 5000 + 1 for i in range(55)]
    paths = [f"/api/v1/members/{n}" for n in scattered]
    assert set(actions(fetch(Engine(default_policy()), paths))) == {ALLOW}


def test_a_run_broken_by_a_jump_starts_again() -> None:
    ids = [*range(10, 16), 400, *range(20, 26)]  # six in a row, a jump, six in a row
    assert set(actions(fetch(Engine(default_policy()), [f"/api/v1/members/{n}" for n in ids]))) == {ALLOW}


def test_usernames_in_alphabetical_order_are_refused_at_the_twentieth() -> None:
    names = sorted(f"{first}.{last}" for first in ("ada", "bo", "cy", "di", "ed") for last in "klmnop")
    decisions = fetch(Engine(default_policy()), [f"/u/{n}" for n in names])
    # refused at the twentieth (challenged: with no assets loaded, the automation detector adds to it)
    assert actions(decisions)[:19] == [ALLOW] * 19 and actions(decisions)[19] != ALLOW
    assert "20 member names in alphabetical order" in decisions[19].reasons[0].detail


def test_a_recruiter_reading_search_results_in_site_order_is_not_a_sweep() -> None:
    # the demo site lists members by id; usernames in that order are not alphabetical
    from faker import Faker
    fake = Faker("en_GB")
    Faker.seed(4)
    names = [f"{fake.first_name().lower()}.{fake.last_name().lower()}{i}" for i in range(1, 121)]
    decisions = fetch(Engine(default_policy()), [f"/u/{n}" for n in names], account="recruiter-7",
                      step=240.0)  # 120 profiles over 8 hours
    assert set(actions(decisions)) == {ALLOW}


def test_many_member_pages_that_do_not_exist_are_probing() -> None:
    engine = Engine(default_policy())
    guesses = [f"/u/{w}" for w in ("admin", "root", "test", "info", "sales", "ceo", "hr", "jobs", "web")]
    decisions = fetch(engine, guesses, status=404, step=20.0)  # a replayed log knows the status
    assert actions(decisions)[:7] == [ALLOW] * 7 and actions(decisions)[7] == THROTTLE
    detail = decisions[7].reasons[0].detail
    assert "asked for 8 member pages that do not exist, of 8 in the last hour" in detail


def test_live_not_found_pages_are_recorded_after_the_response() -> None:
    engine = Engine(default_policy())
    refused_at = None
    for i, name in enumerate(["admin", "root", "test", "info", "sales", "ceo", "hr", "jobs", "web"]):
        path = f"/u/{name}"
        event = Event(ts=T0 + i * 20, ip="203.0.113.4", path=path, route=ROUTES.match(path))
        if engine.decide(event).refused:
            refused_at = i
            break
        engine.record(event, engine.after_requests(event, 404))  # what the proxy does once it knows
    assert refused_at == 8  # the ninth: eight misses were recorded before it


def test_member_pages_guessed_in_a_burst_are_probing_at_the_fourth_miss() -> None:
    # WordPress author enumeration as CrowdSec's hub test has it: six authors in one second
    engine = Engine(default_policy())
    asked = [("/u/2", 200), ("/u/23", 404), ("/u/24", 404), ("/u/14", 404), ("/u/3", 200), ("/u/12", 404)]
    decisions = [engine.decide(Event(ts=T0 + i * 0.1, ip="192.0.2.4", path=p, route=ROUTES.match(p),
                                     status=st)) for i, (p, st) in enumerate(asked)]
    assert actions(decisions) == [ALLOW] * 5 + [THROTTLE]
    [reason] = decisions[5].reasons
    assert reason.detail == ("anonymous visitor asked for 4 member pages that do not exist, of 6 within "
                             "10 seconds")


def test_one_missing_member_asked_for_again_and_again_is_not_probing() -> None:
    engine = Engine(default_policy())
    again = [engine.decide(Event(ts=T0 + i * 0.1, ip="192.0.2.5", path="/u/1", route=ROUTES.match("/u/1"),
                                 status=404)) for i in range(8)]
    assert actions(again) == [ALLOW] * 8


def test_dead_links_opened_in_tabs_are_not_probing_unless_most_are_dead() -> None:
    # a reader opens 12 profiles from an old list at once; 4 of them have left the site
    engine = Engine(default_policy())
    paths = [f"/u/reader.{i}" for i in range(12)]
    tabs = [Event(ts=T0 + i * 0.2 + (i * 7 % 5) * 0.05, ip="192.0.2.6", path=p, route=ROUTES.match(p),
                  status=404 if i % 3 == 2 else 200) for i, p in enumerate(paths)]
    assert {engine.decide(e).action for e in tabs} == {ALLOW}


def test_a_person_mistyping_a_few_names_is_not_probing() -> None:
    engine = Engine(default_policy())
    found = fetch(engine, [f"/u/{n}" for n in ("alice.k3", "bob.j9", "carol.x2", "dan.q8")], status=200)
    missed = fetch(engine, [f"/u/{n}" for n in ("alise", "bobb", "karol")], status=404, start=T0 + 60,
                   step=1.0)  # three typos in a row, quickly
    assert {d.action for d in found + missed} == {ALLOW}


def test_find_sweep_ignores_the_repeat_a_live_miss_leaves() -> None:
    sweep = find_sweep(["id:1", "id:2", "!id:2", "id:3"], max_step=1)
    assert sweep is not None and (sweep.length, sweep.kind) == (3, "ids")
    assert probe_counts(["id:1", "id:2", "!id:2", "!id:3"]) == (3, 2)


def test_digits_that_are_not_ascii_never_break_sweep_detection() -> None:
    # "²".isdigit() is true but int("²") fails: such an id must not switch the detector off
    engine = Engine(default_policy())
    paths = ["/api/v1/members/300", "/api/v1/members/²", *(f"/api/v1/members/{i}" for i in range(302, 310))]
    decisions = fetch(engine, paths)
    assert engine.counts["errors.enumeration"] == 0 and engine.counts["errors.campaign"] == 0
    assert decisions[-1].refused and not decisions[-2].refused  # the eight ids after it: a sweep
    assert find_sweep(["id:1", "id:²", "id:3"], max_step=3) is None
