"""The group-members strategy through the real proxy (fake time): a logged-in member walking every chat
room's member list gets the members of six pages, then the profile quota refuses it."""

from __future__ import annotations

from scrapeguard.drill.harness import FakeClock, Stage
from scrapeguard.drill.strategies import REGISTRY, run_strategy

OBSERVE = 'mode = "observe"\n'


def test_walking_every_rooms_member_list_is_refused_after_six_pages() -> None:
    with Stage(members=300, clock=FakeClock()) as stage:
        result = run_strategy("group-members", stage.target())
        first = next(d for d in stage.decisions() if d.get("enforced", True))
    assert result.notes["logged_in"] is True
    assert result.tally.first_refusal is not None
    assert result.notes["member_list_pages"] == 6
    assert 0 < result.profiles <= 6 * 50  # six pages of up to 50 members
    assert first["reasons"][0]["detector"] == "profile_quota"
    assert "pages of group member lists" in first["reasons"][0]["detail"]


def test_unguarded_it_collects_every_member_of_the_rooms_it_sees() -> None:
    with Stage(OBSERVE, members=300, clock=FakeClock()) as stage:
        result = run_strategy("group-members", stage.target())
    assert result.tally.first_refusal is None
    assert result.notes["rooms"] > 20
    assert result.profiles > 250  # rooms of up to 300 of the 300 members: nearly everyone listed
    assert "group-members" in REGISTRY
