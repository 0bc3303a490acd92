"""The default route map says what the demo site really shows to each audience."""

from __future__ import annotations

from starlette.testclient import TestClient

from scrapeguard.demo.site import DemoSite
from scrapeguard.policy import default_policy

CONTACT = {"email": "user.contact.email", "phone": "user.contact.phone_number"}


def test_the_member_api_shows_contact_details_to_members_only_and_the_route_map_says_so() -> None:
    site = DemoSite(members=20, seed=1, demo_logins=True)
    rule = next(r for r in default_policy().routes if r.pattern == "/api/v1/members/{id}")
    with TestClient(site.app) as anonymous:
        shown = anonymous.get("/api/v1/members/3").json()
    with TestClient(site.app) as member:
        viewer = site.data.member(1)
        assert viewer is not None
        member.post("/login", data={"username": viewer.username, "password": "demo"})
        shown_to_member = member.get("/api/v1/members/3").json()
    for field, category in CONTACT.items():
        assert field not in shown and category not in rule.categories_for("anonymous")
        assert shown_to_member[field] and category in rule.categories_for("member")


def test_profile_pages_show_contact_details_to_members_only_and_the_route_map_says_so() -> None:
    site = DemoSite(members=20, seed=1, demo_logins=True)
    target = site.data.member(3)
    assert target is not None and target.email and target.phone
    rule = next(r for r in default_policy().routes if r.pattern == "/u/{username}")
    with TestClient(site.app) as anonymous:
        page = anonymous.get(f"/u/{target.username}").text
    with TestClient(site.app) as member:
        viewer = site.data.member(1)
        assert viewer is not None
        member.post("/login", data={"username": viewer.username, "password": "demo"})
        members_page = member.get(f"/u/{target.username}").text
    assert target.email not in page and target.phone not in page
    assert target.email in members_page and target.phone in members_page
    anonymous_sees, members_see = set(rule.categories_for("anonymous")), set(rule.categories_for("member"))
    assert not set(CONTACT.values()) & anonymous_sees
    assert set(CONTACT.values()) <= members_see
    assert "user.content.self_image" in anonymous_sees  # the avatar
