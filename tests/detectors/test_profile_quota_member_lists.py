"""profile_quota on group member lists: each page of a chat room's member list counts as the members it
shows (through the engine, default policy, simulated time)."""

from __future__ import annotations

from scrapeguard.decisions import ALLOW, Decision
from scrapeguard.engine import Engine
from scrapeguard.events import Event
from scrapeguard.policy import default_policy, load_policy_text
from scrapeguard.routes import RouteMap

T0 = 1_800_000_000.0
#: An account older than the new-account age (its quota: 150 profiles an hour).
CREATED = T0 - 400 * 86400.0
#: Uneven gaps: a steady tick would be machine-regular timing (automation).
GAPS = (41.0, 67.0, 53.0, 89.0, 47.0, 71.0)


def browse(engine: Engine, pages: list[tuple[str, str]], account: str = "7") -> list[Decision]:
    """One logged-in member asking for these (path, query) pages in turn, each with its stylesheet."""
    routes = RouteMap(engine.policy.routes)
    decisions, now = [], T0
    for i, (path, query) in enumerate(pages):
        decisions.append(engine.decide(Event(ts=now, ip="198.51.100.7", path=path, query=query,
                                             route=routes.match(path, query), account=account,
                                             account_created=CREATED, status=200)))
        engine.decide(Event(ts=now + 0.1, ip="198.51.100.7", path="/static/site.css",
                            route=routes.match("/static/site.css"), account=account,
                            account_created=CREATED, status=200))
        now += GAPS[i % len(GAPS)]
    return decisions


def member_list_pages(rooms: int, per_room: int) -> list[tuple[str, str]]:
    return [(f"/chats/room{r}/members", f"page={p}") for r in range(rooms) for p in range(1, per_room + 1)]


def test_an_account_reads_six_pages_of_member_lists_an_hour_the_seventh_is_refused() -> None:
    decisions = browse(Engine(default_policy()), member_list_pages(rooms=7, per_room=1))
    # each page counts as 25 of the account's 150 profiles an hour: 6 pages
    assert [d.action for d in decisions[:6]] == [ALLOW] * 6
    refused = decisions[6]
    assert refused.action != ALLOW
    reason = next(r for r in refused.reasons if r.detector == "profile_quota")
    assert reason.detail == ("account viewed 6 distinct pages of group member lists in the last hour "
                             "(quota 6/hour)")


def test_a_member_reads_one_big_rooms_whole_member_list() -> None:
    """A person, not a scraper: the 300 members of one room are 6 pages of 50."""
    decisions = browse(Engine(default_policy()), member_list_pages(rooms=1, per_room=6))
    assert all(d.action == ALLOW for d in decisions)


def test_the_json_twin_counts_in_the_same_quota() -> None:
    pages = [("/chats/a/members", ""), ("/api/v1/chats/b/members", ""), ("/chats/c/members", ""),
             ("/api/v1/chats/d/members", "page=2"), ("/chats/e/members", ""), ("/chats/f/members", ""),
             ("/api/v1/chats/g/members", "")]
    decisions = browse(Engine(default_policy()), pages)
    assert [d.action == ALLOW for d in decisions] == [True] * 6 + [False]


def test_a_page_read_again_counts_once() -> None:
    pages = [("/chats/a/members", "page=1"), ("/chats/a/members", "page=2")] * 10
    assert all(d.action == ALLOW for d in browse(Engine(default_policy()), pages))


def test_rooms_messages_searches_and_the_directory_are_not_member_lists() -> None:
    pages = [(f"/chats/room{r}", "") for r in range(10)] + \
            [(f"/chats/room{r}/search", "q=ann") for r in range(10)] + \
            [("/directory", f"page={p}") for p in range(1, 11)]
    assert all(d.action == ALLOW for d in browse(Engine(default_policy()), pages))


def test_members_per_page_zero_switches_member_lists_off() -> None:
    policy = load_policy_text("[detectors.profile_quota.member_lists]\nmembers_per_page = 0\n")
    decisions = browse(Engine(policy), member_list_pages(rooms=10, per_room=2))
    assert all(d.action == ALLOW for d in decisions)


def test_a_page_that_was_not_served_does_not_count() -> None:
    engine = Engine(default_policy())
    routes = RouteMap(engine.policy.routes)
    for i in range(5):
        path = f"/chats/room{i}/members"
        decision = engine.decide(Event(ts=T0 + 60 * i, ip="198.51.100.7", path=path, route=routes.match(path),
                                       account="7", account_created=CREATED, status=404))
        assert decision.action == ALLOW
