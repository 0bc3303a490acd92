"""The demo site's chat rooms as data: deterministic per seed, sizes and members within bounds."""

from __future__ import annotations

from scrapeguard.demo.chats import (
    MESSAGE_DAYS,
    PRIVATE_EVERY,
    ROOM_COUNT,
    ROOM_MAX_MEMBERS,
    ROOM_MIN_MEMBERS,
    make_room,
    make_rooms,
)

ELIGIBLE = list(range(1, 501))


def test_the_same_seed_gives_the_same_rooms_and_another_seed_others() -> None:
    assert make_rooms(3, ELIGIBLE) == make_rooms(3, ELIGIBLE)
    assert [r.member_ids for r in make_rooms(3, ELIGIBLE)] != [r.member_ids for r in make_rooms(4, ELIGIBLE)]


def test_a_room_does_not_depend_on_how_many_rooms_there_are() -> None:
    assert make_rooms(3, ELIGIBLE, count=5) == make_rooms(3, ELIGIBLE)[:5]
    assert make_room(3, 7, ELIGIBLE) == make_rooms(3, ELIGIBLE)[6]


def test_rooms_have_distinct_names_sizes_in_bounds_and_some_are_private() -> None:
    rooms = make_rooms(1, ELIGIBLE, count=45)
    assert len({r.slug for r in rooms}) == 45
    for room in rooms:
        assert ROOM_MIN_MEMBERS <= len(room.member_ids) <= ROOM_MAX_MEMBERS
        assert len(set(room.member_ids)) == len(room.member_ids)
        assert set(room.member_ids) <= set(ELIGIBLE)
    assert [r.private for r in rooms] == [(n % PRIVATE_EVERY == 0) for n in range(1, 46)]


def test_messages_are_by_room_members_newest_first_within_the_recent_days() -> None:
    for room in make_rooms(2, ELIGIBLE):
        assert room.messages
        assert {m.author_id for m in room.messages} <= set(room.member_ids)
        ages = [(m.days_ago, m.seconds_ago) for m in room.messages]
        assert ages == sorted(ages)
        assert all(0 <= m.days_ago < MESSAGE_DAYS and 0 <= m.seconds_ago < 86_400 for m in room.messages)


def test_a_small_site_has_rooms_as_large_as_its_members() -> None:
    rooms = make_rooms(1, [1, 2, 3, 4, 5])
    assert len(rooms) == ROOM_COUNT
    assert all(sorted(r.member_ids) == [1, 2, 3, 4, 5] for r in rooms)
    assert make_rooms(1, []) == []
