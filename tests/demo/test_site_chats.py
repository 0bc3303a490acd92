"""The demo site's daily chats over HTTP: members only, the rooms a member sees, messages, member lists
(paged, linking profiles), member search, and the JSON twins."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from starlette.testclient import TestClient

from scrapeguard.demo.chats import Room
from scrapeguard.demo.members import is_canary
from scrapeguard.demo.site import MESSAGES_PAGE_SIZE, PAGE_SIZE, ROOM_SEARCH_LIMIT, ROOMS_PAGE_SIZE, DemoSite

N = 400
SEED = 5
#: The site's clock: message times are this long before it.
NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
PROFILE_LINK = re.compile(r'href="/u/([^"]+)"')
ROOM_LINK = re.compile(r'<li class="card" data-room="([^"]+)"')


@pytest.fixture(scope="module")
def site() -> DemoSite:
    site = DemoSite(members=N, seed=SEED, demo_logins=True)
    site.data.clock = NOW.timestamp
    return site


def visitor(site: DemoSite) -> TestClient:
    return TestClient(site.app, follow_redirects=False)


def logged_in(site: DemoSite, member_id: int) -> TestClient:
    client = visitor(site)
    member = site.data.member(member_id)
    assert member is not None
    assert client.post("/login", data={"username": member.username, "password": "demo"}).status_code == 303
    return client


def cards(html: str) -> str:
    """The list of member cards of a page (not the header's link to the viewer's own profile)."""
    return html.split('<ul class="cards">', 1)[1].split("</ul>", 1)[0]


def open_room(site: DemoSite) -> Room:
    return next(r for r in site.data.rooms.values() if not r.private and len(r.member_ids) > 2 * PAGE_SIZE)


def private_room(site: DemoSite) -> Room:
    return next(r for r in site.data.rooms.values() if r.private)


def outsider_of(site: DemoSite, room: Room) -> int:
    return next(m.id for m in site.data.listed if not room.has_member(m.id))


@pytest.fixture
def member_client(site: DemoSite) -> Iterator[TestClient]:
    with logged_in(site, outsider_of(site, private_room(site))) as client:
        yield client


CHAT_PATHS = ["/chats", "/chats/{room}", "/chats/{room}/members", "/chats/{room}/members?page=2",
              "/chats/{room}/search?q=a"]


@pytest.mark.parametrize("path", CHAT_PATHS)
def test_anonymous_visitors_get_the_login_page(site: DemoSite, path: str) -> None:
    r = visitor(site).get(path.format(room=open_room(site).slug))
    assert r.status_code == 401
    assert 'action="/login"' in r.text and "Log in to see the chats." in r.text
    assert not PROFILE_LINK.findall(r.text)


@pytest.mark.parametrize("path", CHAT_PATHS)
def test_anonymous_api_calls_get_401_json(site: DemoSite, path: str) -> None:
    r = visitor(site).get("/api/v1" + path.format(room=open_room(site).slug))
    assert r.status_code == 401
    assert r.json() == {"error": "log in to see the chats"}


def test_a_member_sees_the_open_rooms_and_their_own_private_ones_paged(site: DemoSite,
                                                                      member_client: TestClient) -> None:
    viewer_id = outsider_of(site, private_room(site))
    expected = [r.slug for r in site.data.rooms.values() if not r.private or r.has_member(viewer_id)]
    seen, page = [], 1
    while True:
        r = member_client.get(f"/chats?page={page}")
        assert r.status_code == 200
        slugs = ROOM_LINK.findall(r.text)
        assert 0 < len(slugs) <= ROOMS_PAGE_SIZE
        seen += slugs
        if f'href="/chats?page={page + 1}"' not in r.text:
            break
        page += 1
    assert seen == expected
    assert private_room(site).slug not in seen
    api = member_client.get("/api/v1/chats").json()
    assert [room["slug"] for room in api["rooms"]] == expected[:ROOMS_PAGE_SIZE]
    assert api["pages"] == page


def test_a_private_room_is_not_found_by_others_and_open_to_its_members(site: DemoSite,
                                                                      member_client: TestClient) -> None:
    room = private_room(site)
    for path in (f"/chats/{room.slug}", f"/chats/{room.slug}/members", f"/chats/{room.slug}/search?q=a"):
        assert member_client.get(path).status_code == 404
        assert member_client.get("/api/v1" + path).status_code == 404
    with logged_in(site, room.member_ids[0]) as insider:
        assert insider.get(f"/chats/{room.slug}/members").status_code == 200
        assert room.slug in ROOM_LINK.findall(insider.get("/chats").text + insider.get("/chats?page=2").text)


def test_an_unknown_room_is_not_found(member_client: TestClient) -> None:
    assert member_client.get("/chats/no-such-room").status_code == 404
    assert member_client.get("/api/v1/chats/no-such-room/members").json() == {"error": "no such room"}


def test_a_room_shows_its_messages_newest_first_paged_with_their_times(site: DemoSite,
                                                                     member_client: TestClient) -> None:
    room = open_room(site)
    first = member_client.get(f"/api/v1/chats/{room.slug}").json()
    assert first["members"] == len(room.member_ids)
    assert len(first["messages"]) == min(MESSAGES_PAGE_SIZE, len(room.messages))
    every = []
    for page in range(1, first["pages"] + 1):
        every += member_client.get(f"/api/v1/chats/{room.slug}?page={page}").json()["messages"]
    assert [m["text"] for m in every] == [m.text for m in room.messages]
    usernames = {site.data.member(i).username for i in room.member_ids}  # type: ignore[union-attr]
    assert {m["author"] for m in every} <= usernames
    oldest = room.messages[-1]
    assert datetime.fromisoformat(every[-1]["posted"]) == \
        NOW - timedelta(days=oldest.days_ago, seconds=oldest.seconds_ago)
    html = member_client.get(f"/chats/{room.slug}").text
    assert PROFILE_LINK.findall(html)[-MESSAGES_PAGE_SIZE:] == [m["author"] for m in first["messages"]]


def test_a_rooms_member_list_shows_every_member_once_fifty_a_page_linking_profiles(
        site: DemoSite, member_client: TestClient) -> None:
    room = open_room(site)
    usernames = [site.data.member(i).username for i in room.member_ids]  # type: ignore[union-attr]
    pages = -(-len(usernames) // PAGE_SIZE)
    listed: list[str] = []
    for page in range(1, pages + 1):
        r = member_client.get(f"/chats/{room.slug}/members?page={page}")
        assert r.status_code == 200
        links = PROFILE_LINK.findall(cards(r.text))
        assert len(links) == (PAGE_SIZE if page < pages else len(usernames) - PAGE_SIZE * (pages - 1))
        listed += links
        api = member_client.get(f"/api/v1/chats/{room.slug}/members?page={page}").json()
        assert [m["username"] for m in api["members"]] == links
        assert all("email" not in m and "phone" not in m for m in api["members"])
    assert listed == usernames
    assert not any(is_canary(i) for i in room.member_ids)
    # pages past the end show the last one
    assert member_client.get(f"/api/v1/chats/{room.slug}/members?page=999").json()["page"] == pages


def test_member_search_finds_room_members_only_at_most_ten(site: DemoSite, member_client: TestClient) -> None:
    room = open_room(site)
    members = [site.data.member(i) for i in room.member_ids]
    target = members[-1]
    assert target is not None
    found = member_client.get(f"/api/v1/chats/{room.slug}/search", params={"q": target.username}).json()
    assert [m["username"] for m in found["members"]] == [target.username]
    broad = member_client.get(f"/api/v1/chats/{room.slug}/search?q=a").json()["members"]
    assert len(broad) == ROOM_SEARCH_LIMIT
    assert {m["id"] for m in broad} <= set(room.member_ids)
    outsider = site.data.member(outsider_of(site, room))
    assert outsider is not None
    assert member_client.get(f"/api/v1/chats/{room.slug}/search",
                             params={"q": outsider.username}).json()["members"] == []
    html = member_client.get(f"/chats/{room.slug}/search", params={"q": target.username}).text
    assert f'href="/u/{target.username}"' in html


def test_the_same_seed_gives_the_same_chats(site: DemoSite) -> None:
    again = DemoSite(members=N, seed=SEED, demo_logins=True)
    again.data.clock = NOW.timestamp
    other = DemoSite(members=N, seed=SEED + 1, demo_logins=True)
    room = open_room(site).slug
    member_id = outsider_of(site, private_room(site))
    with logged_in(site, member_id) as a, logged_in(again, member_id) as b, logged_in(other, member_id) as c:
        for path in ("/api/v1/chats", f"/api/v1/chats/{room}", f"/api/v1/chats/{room}/members"):
            assert a.get(path).json() == b.get(path).json()
        assert a.get(f"/api/v1/chats/{room}/members").json() != c.get(f"/api/v1/chats/{room}/members").json()


def test_the_number_of_rooms_is_a_setting() -> None:
    site = DemoSite(members=60, seed=1, demo_logins=True, rooms=3)
    assert len(site.data.rooms) == 3
    assert DemoSite(members=60, seed=1, rooms=0).data.rooms == {}
    with pytest.raises(ValueError, match="negative"):
        DemoSite(members=60, rooms=-1)
