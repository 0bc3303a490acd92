"""The default route map on the demo site's chats: what each chat URL shows, to whom, and that the
group member lists the profile quota counts are listing routes of the map."""

from __future__ import annotations

import pytest

from scrapeguard.demo.site import PAGE_SIZE
from scrapeguard.detectors.profile_quota import ProfileQuotaOptions
from scrapeguard.policy import default_policy
from scrapeguard.routes import LISTING, PAGE, RouteMap

POLICY = default_policy()
ROUTES = RouteMap(POLICY.routes)
RULES = {rule.pattern: rule for rule in POLICY.routes}
MEMBER_LIST = {"user.unique_id", "user.name", "user.account.username",
               "user.professional_information.job_title", "user.location.coarse", "user.social_activity"}
CONTACT = {"user.contact.email", "user.contact.phone_number"}


@pytest.mark.parametrize(("path", "query", "pattern"), [
    ("/chats/design/members", "page=3", "/chats/{room}/members"),
    ("/api/v1/chats/design/members", "page=2", "/api/v1/chats/{room}/members"),
    ("/chats/design/search", "q=ann", "/chats/{room}/search"),
    ("/api/v1/chats/design/search", "q=ann", "/api/v1/chats/{room}/search"),
    ("/chats/design", "page=2", "/chats/{room}"),
    ("/api/v1/chats/design", "", "/api/v1/chats/{room}"),
])
def test_chat_urls_are_listings_shown_to_members_only(path: str, query: str, pattern: str) -> None:
    match = ROUTES.match(path, query)
    assert (match.kind, match.subject, match.pattern) == (LISTING, None, pattern)
    rule = RULES[pattern]
    assert rule.categories_for("anonymous") == ()  # anonymous visitors get the login page
    shown = set(rule.categories_for("member"))
    assert {"user.name", "user.account.username", "user.social_activity"} <= shown
    assert not shown & CONTACT


@pytest.mark.parametrize("pattern", ["/chats/{room}/members", "/api/v1/chats/{room}/members"])
def test_a_rooms_member_list_shows_who_is_in_it(pattern: str) -> None:
    assert set(RULES[pattern].categories_for("member")) >= MEMBER_LIST


@pytest.mark.parametrize("path", ["/chats", "/api/v1/chats"])
def test_the_list_of_rooms_shows_no_member(path: str) -> None:
    assert ROUTES.match(path, "page=2").kind == PAGE


def test_the_member_lists_the_quota_counts_are_the_rooms_member_lists() -> None:
    options = POLICY.options(ProfileQuotaOptions)
    # a page of a room's members shows PAGE_SIZE (50); each counts as 25 profiles, so that a person
    # can read one 300-member room's whole list (6 pages) within an account's 150 an hour
    assert PAGE_SIZE == 50 and options.member_list_page == 25
    assert set(options.member_list_patterns) == {"/chats/{room}/members", "/api/v1/chats/{room}/members"}
    assert all(RULES[p].kind == LISTING for p in options.member_list_patterns)
