"""The demo site over HTTP: pages, API, assets, sessions, login and sign-up."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from markupsafe import escape
from starlette.applications import Starlette
from starlette.testclient import TestClient

from scrapeguard.demo.members import Member, is_canary, make_member
from scrapeguard.demo.site import DemoSite, create_app

N = 120
SEED = 1
#: Member ids the site links to: all but the canaries (decoys only enumeration reaches).
LISTED = [k for k in range(1, N + 1) if not is_canary(k)]
PROFILE_LINK = re.compile(r'href="/u/([^"]+)"')
MEMBER_ID_ATTR = re.compile(r'<article\b[^>]*\bdata-member-id="(\d+)"')
ACCOUNT_HEADERS = ("x-account-id", "x-account-created")


# -- fixtures and helpers --------------------------------------------------------------


@pytest.fixture(scope="module")
def site() -> DemoSite:
    """One site for the read-only tests (logins only add sessions, which are per client)."""
    return DemoSite(members=N, seed=SEED, demo_logins=True)


@pytest.fixture(scope="module")
def app(site: DemoSite) -> Starlette:
    return site.app


@pytest.fixture(scope="module")
def strict_app() -> Starlette:
    """A site without --demo-logins."""
    return create_app(N, SEED, demo_logins=False)


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    """A new visitor (own cookie jar) of the shared site."""
    with _client(app) as c:
        yield c


@pytest.fixture
def fresh_site() -> DemoSite:
    """A site of its own, for tests that create accounts."""
    return DemoSite(members=N, seed=SEED, demo_logins=True)


@pytest.fixture
def fresh_client(fresh_site: DemoSite) -> Iterator[TestClient]:
    with _client(fresh_site.app) as c:
        yield c


def _client(app: Starlette) -> TestClient:
    return TestClient(app, follow_redirects=False)


def member(k: int) -> Member:
    return make_member(SEED, k)


def profile_links(html: str) -> list[str]:
    return PROFILE_LINK.findall(html)


def login(client: TestClient, username: str, password: str = "demo"):  # type: ignore[no-untyped-def]
    return client.post("/login", data={"username": username, "password": password})


def signup(client: TestClient, **fields: str):  # type: ignore[no-untyped-def]
    form = {"username": "newcomer", "name": "New Comer", "email": "newcomer@example.org",
            "country": "NZ", "password": "correct horse battery"}
    form.update(fields)
    return client.post("/signup", data=form)


def assert_html_page(response) -> None:  # type: ignore[no-untyped-def]
    assert response.headers["content-type"].startswith("text/html")
    assert '<html lang="en">' in response.text
    title = re.search(r"<title>(.*?)</title>", response.text, re.S)
    assert title is not None and title.group(1).strip()


def assert_anonymous(response) -> None:  # type: ignore[no-untyped-def]
    for header in ACCOUNT_HEADERS:
        assert header not in response.headers, (response.url, header)


def assert_account(response, m: Member) -> None:  # type: ignore[no-untyped-def]
    assert response.headers["x-account-id"] == str(m.id)
    created = datetime.fromisoformat(response.headers["x-account-created"])
    assert created.tzinfo is not None
    assert created == m.created_at


# -- every HTML page -----------------------------------------------------------------


@pytest.mark.parametrize("path", [
    "/", "/directory", "/directory?page=2", f"/u/{member(1).username}", "/search", "/search?q=an",
    "/lookup", f"/lookup?email={member(2).email}", "/jobs", "/events", "/blog", "/login", "/signup",
])
def test_html_pages_have_lang_and_title(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 200
    assert_html_page(r)
    assert r.text.lstrip().lower().startswith("<!doctype html>")


def test_page_titles_name_the_page(client: TestClient) -> None:
    assert "<title>Directory · Commonplace</title>" in client.get("/directory").text
    m = member(3)
    page = client.get(f"/u/{m.username}").text
    assert f"<title>{escape(m.name)} · Commonplace</title>" in page


def test_home_lists_member_count_and_newest_members(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    assert f"Meet the {N} people" in r.text
    newest = sorted((member(k) for k in range(1, N + 1)), key=lambda m: m.created_at, reverse=True)[:6]
    assert profile_links(r.text) == [m.username for m in newest]


def test_unknown_path_is_a_404_html_page(client: TestClient) -> None:
    r = client.get("/no/such/page")
    assert r.status_code == 404
    assert_html_page(r)
    assert "Not found" in r.text


# -- directory -----------------------------------------------------------------


def test_directory_first_page_has_50_member_links(client: TestClient) -> None:
    r = client.get("/directory?page=1")
    assert r.status_code == 200
    links = profile_links(r.text)
    assert len(links) == 50
    assert links == [member(k).username for k in LISTED[:50]]
    assert "Page 1 of 3" in r.text
    assert 'href="/directory?page=2"' in r.text
    assert 'rel="prev"' not in r.text
    # Every card shows its avatar.
    for k in (LISTED[0], LISTED[49]):
        assert f'src="/static/avatars/{k}.svg"' in r.text


def test_directory_without_page_is_page_one(client: TestClient) -> None:
    assert profile_links(client.get("/directory").text) == profile_links(client.get("/directory?page=1").text)


def test_directory_second_page(client: TestClient) -> None:
    links = profile_links(client.get("/directory?page=2").text)
    assert links == [member(k).username for k in LISTED[50:100]]


def test_directory_last_page_has_the_remaining_18(client: TestClient) -> None:
    r = client.get("/directory?page=3")
    assert r.status_code == 200
    links = profile_links(r.text)
    assert len(links) == 18  # 120 members, two of them canaries
    assert links == [member(k).username for k in LISTED[100:]]
    assert "Page 3 of 3" in r.text
    assert 'href="/directory?page=2"' in r.text
    assert 'rel="next"' not in r.text


def test_directory_pages_cover_every_member_once(client: TestClient) -> None:
    seen = [u for page in (1, 2, 3) for u in profile_links(client.get(f"/directory?page={page}").text)]
    assert len(seen) == len(set(seen)) == N - 2
    assert set(seen) == {member(k).username for k in LISTED}


def test_canaries_are_linked_nowhere_but_exist(client: TestClient) -> None:
    canaries = [member(k) for k in range(1, N + 1) if is_canary(k)]
    assert [m.id for m in canaries] == [29, 82]
    pages = [client.get(p).text for p in ("/", "/directory?page=1", "/directory?page=2",
                                          f"/search?q={canaries[0].name.split()[0]}")]
    for m in canaries:
        assert not any(f"/u/{m.username}" in page for page in pages)
        assert client.get(f"/api/v1/members/{m.id}").json()["id"] == m.id  # enumeration finds them
        assert client.get(f"/u/{m.username}").status_code == 200


@pytest.mark.parametrize(("raw", "page"), [
    ("0", 1), ("-3", 1), ("4", 3), ("99999999999999999999", 3), ("abc", 1), ("2.5", 1), ("", 1),
    ("%20", 1), ("2", 2),
])
def test_directory_clamps_bad_pages(client: TestClient, raw: str, page: int) -> None:
    r = client.get(f"/directory?page={raw}")
    assert r.status_code == 200
    assert f"Page {page} of 3" in r.text
    expected = LISTED[(page - 1) * 50 : page * 50]
    assert profile_links(r.text) == [member(k).username for k in expected]


# -- profiles and their assets -----------------------------------------------------------


def test_profile_page(client: TestClient) -> None:
    m = member(7)
    r = client.get(f"/u/{m.username}")
    assert r.status_code == 200
    assert_html_page(r)
    found = MEMBER_ID_ATTR.findall(r.text)
    assert found == [str(m.id)]
    assert 'href="/static/site.css"' in r.text
    assert 'src="/static/site.js"' in r.text
    assert f'src="/static/avatars/{m.id}.svg"' in r.text
    assert f"@{m.username}" in r.text
    assert m.created_at.date().isoformat() in r.text
    assert m.country in r.text


def test_every_profile_on_a_directory_page_resolves_to_its_member(client: TestClient) -> None:
    for username in profile_links(client.get("/directory?page=3").text):
        r = client.get(f"/u/{username}")
        assert r.status_code == 200
        member_id = int(MEMBER_ID_ATTR.findall(r.text)[0])
        assert member(member_id).username == username


def test_profile_assets_load(client: TestClient) -> None:
    m = member(7)
    css = client.get("/static/site.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert "{" in css.text

    js = client.get("/static/site.js")
    assert js.status_code == 200
    assert js.headers["content-type"].split(";")[0] in {"text/javascript", "application/javascript"}
    assert "document" in js.text

    avatar = client.get(f"/static/avatars/{m.id}.svg")
    assert avatar.status_code == 200
    assert avatar.headers["content-type"].startswith("image/svg+xml")
    assert avatar.text.startswith("<svg")
    assert avatar.text.rstrip().endswith("</svg>")
    assert f">{m.initials}</text>" in avatar.text
    assert f"hsl({m.hue}," in avatar.text
    assert "max-age" in avatar.headers["cache-control"]


def test_avatars_differ_between_members(client: TestClient) -> None:
    svgs = {client.get(f"/static/avatars/{k}.svg").text for k in range(1, 11)}
    assert len(svgs) > 1


@pytest.mark.parametrize("name", ["0", str(N + 1), "abc", "-1"])
def test_unknown_avatar_is_404(client: TestClient, name: str) -> None:
    assert client.get(f"/static/avatars/{name}.svg").status_code == 404


def test_missing_static_file_is_404(client: TestClient) -> None:
    r = client.get("/static/no-such-file.css")
    assert r.status_code == 404


def test_unknown_username_is_a_404_html_page(client: TestClient) -> None:
    r = client.get("/u/nobody.here999999")
    assert r.status_code == 404
    assert_html_page(r)
    assert "Not found" in r.text
    assert MEMBER_ID_ATTR.search(r.text) is None


# -- members-only fields -----------------------------------------------------------------


def test_anonymous_viewer_does_not_see_email_on_profile(client: TestClient) -> None:
    m = member(9)
    r = client.get(f"/u/{m.username}")
    assert r.status_code == 200
    assert m.email not in r.text
    assert "mailto:" not in r.text
    assert m.phone not in r.text
    assert "to see contact details" in r.text


def test_anonymous_viewer_does_not_see_email_in_api(client: TestClient) -> None:
    m = member(9)
    r = client.get(f"/api/v1/members/{m.id}")
    assert r.status_code == 200
    body = r.json()
    assert "email" not in body
    assert "phone" not in body
    assert m.email not in r.text


def test_logged_in_viewer_sees_email(client: TestClient) -> None:
    viewer, m = member(1), member(9)
    assert login(client, viewer.username).status_code == 303
    page = client.get(f"/u/{m.username}")
    assert page.status_code == 200
    assert f'href="mailto:{m.email}"' in page.text
    assert "to see contact details" not in page.text
    api = client.get(f"/api/v1/members/{m.id}").json()
    assert api["email"] == m.email
    assert api["phone"] == m.phone


# -- API -----------------------------------------------------------------


def test_api_member_json(client: TestClient) -> None:
    m = member(42)
    r = client.get("/api/v1/members/42")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["id"] == 42
    assert body["username"] == m.username
    assert body["name"] == m.name
    assert body["country"] == m.country
    assert body["member_since"] == m.created_at.date().isoformat()


def test_api_ids_are_1_to_n(client: TestClient) -> None:
    for k in range(1, N + 1):
        r = client.get(f"/api/v1/members/{k}")
        assert r.status_code == 200, k
        assert r.json()["id"] == k


@pytest.mark.parametrize("raw", ["0", str(N + 1), "abc", "-1", "1.5", "99999999999999999999999"])
def test_api_unknown_member_is_404_json(client: TestClient, raw: str) -> None:
    r = client.get(f"/api/v1/members/{raw}")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/json")
    assert "error" in r.json()


@pytest.mark.parametrize("path", ["/api/v1/members/%C2%B2", "/static/avatars/%C2%B2.svg"])
def test_non_ascii_digit_ids_are_404_not_500(app: Starlette, path: str) -> None:
    with TestClient(app, raise_server_exceptions=False) as c:
        assert c.get(path).status_code == 404


# -- search and lookup -----------------------------------------------------------------


def test_search_finds_member_by_part_of_name(client: TestClient) -> None:
    m = member(17)
    last_name = m.name.split()[-1]
    r = client.get("/search", params={"q": last_name.upper()})
    assert r.status_code == 200
    assert_html_page(r)
    assert m.username in profile_links(r.text)
    # Every result really matches.
    by_username = {member(k).username: member(k) for k in range(1, N + 1)}
    for username in profile_links(r.text):
        found = by_username[username]
        haystack = " ".join((found.name, found.job_title, found.company, found.city)).lower()
        assert last_name.lower() in haystack


def test_search_with_empty_query_renders_a_page(client: TestClient) -> None:
    for path in ("/search", "/search?q=", "/search?q=%20%20"):
        r = client.get(path)
        assert r.status_code == 200
        assert_html_page(r)
        assert profile_links(r.text) == []
        assert "Search members by name" in r.text


def test_search_without_match(client: TestClient) -> None:
    r = client.get("/search", params={"q": "zzqxjvw"})
    assert r.status_code == 200
    assert profile_links(r.text) == []
    assert "0 members" in r.text


def test_search_results_are_capped_at_a_page(client: TestClient) -> None:
    links = profile_links(client.get("/search", params={"q": "a"}).text)
    assert 0 < len(links) <= 50


def test_search_escapes_the_query(client: TestClient) -> None:
    r = client.get("/search", params={"q": '<script>alert("x")</script>'})
    assert r.status_code == 200
    assert "<script>alert" not in r.text
    assert "&lt;script&gt;" in r.text


def test_lookup_finds_member_by_email(client: TestClient) -> None:
    m = member(23)
    r = client.get("/lookup", params={"email": m.email})
    assert r.status_code == 200
    assert_html_page(r)
    assert profile_links(r.text) == [m.username]
    # Case and surrounding spaces do not matter.
    r = client.get("/lookup", params={"email": f"  {m.email.upper()} "})
    assert r.status_code == 200
    assert profile_links(r.text) == [m.username]


def test_lookup_unknown_email_is_404(client: TestClient) -> None:
    r = client.get("/lookup", params={"email": "nobody@example.invalid"})
    assert r.status_code == 404
    assert_html_page(r)
    assert "No member" in r.text
    assert profile_links(r.text) == []


def test_lookup_without_email_shows_the_form(client: TestClient) -> None:
    r = client.get("/lookup")
    assert r.status_code == 200
    assert 'action="/lookup"' in r.text
    assert "No member" not in r.text


# -- content pages and robots.txt ------------------------------------------------------


@pytest.mark.parametrize(("path", "title"), [("/jobs", "Jobs"), ("/events", "Events"), ("/blog", "Blog")])
def test_listing_pages(client: TestClient, path: str, title: str) -> None:
    r = client.get(path)
    assert r.status_code == 200
    assert_html_page(r)
    assert f"<h1>{title}</h1>" in r.text
    items = re.findall(r'<article class="post">\s*<h2>([^<]+)</h2>', r.text)
    assert len(items) >= 5
    assert len(set(items)) > 1


def test_listing_pages_differ(client: TestClient) -> None:
    bodies = {client.get(p).text for p in ("/jobs", "/events", "/blog")}
    assert len(bodies) == 3


def test_robots_txt(client: TestClient) -> None:
    r = client.get("/robots.txt")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    lines = [line.strip() for line in r.text.splitlines()]
    assert "User-agent: *" in lines
    assert "Disallow: /api/" in lines


# -- sessions -----------------------------------------------------------------


def test_anonymous_visitor_gets_a_session_cookie(client: TestClient) -> None:
    r = client.get("/")
    token = r.cookies.get("session")
    assert token
    set_cookie = r.headers["set-cookie"].lower()
    assert "httponly" in set_cookie
    assert "samesite=lax" in set_cookie
    # The session sticks: the next request does not get a new one.
    again = client.get("/directory")
    assert "set-cookie" not in again.headers
    assert client.cookies.get("session") == token


def test_every_new_visitor_gets_a_distinct_session(app: Starlette) -> None:
    tokens = set()
    for _ in range(5):
        with _client(app) as c:
            tokens.add(c.get("/jobs").cookies.get("session"))
    assert len(tokens) == 5 and None not in tokens


def test_unknown_session_token_is_replaced(client: TestClient) -> None:
    client.cookies.set("session", "forged-token")
    r = client.get("/")
    assert r.cookies.get("session") not in (None, "forged-token")
    assert_anonymous(r)


def test_api_visitor_gets_a_session_cookie(client: TestClient) -> None:
    assert client.get("/api/v1/members/1").cookies.get("session")


@pytest.mark.parametrize("path", [
    "/", "/directory", f"/u/{member(1).username}", "/api/v1/members/1", "/api/v1/members/0", "/search?q=a",
    "/lookup", "/jobs", "/no/such/page", "/static/site.css", "/static/avatars/1.svg", "/robots.txt",
])
def test_anonymous_responses_carry_no_account_headers(client: TestClient, path: str) -> None:
    client.get("/")  # an anonymous session, as a browser would have
    assert_anonymous(client.get(path))


def test_demo_login(client: TestClient) -> None:
    m = member(5)
    anonymous_token = client.get("/").cookies.get("session")
    assert anonymous_token
    r = login(client, m.username)
    assert r.status_code == 303
    assert r.headers["location"] == f"/u/{m.username}"
    new_token = r.cookies.get("session")
    assert new_token and new_token != anonymous_token
    assert_account(r, m)


def test_logged_in_requests_carry_account_headers(client: TestClient) -> None:
    m = member(5)
    assert login(client, m.username).status_code == 303
    for path in ("/", "/directory?page=2", f"/u/{member(6).username}", "/api/v1/members/6",
                 "/search?q=a", "/jobs", "/no/such/page", "/api/v1/members/0"):
        r = client.get(path)
        assert_account(r, m)
    # The viewer is shown as logged in.
    page = client.get("/").text
    assert f'href="/u/{m.username}"' in page
    assert 'action="/logout"' in page


def test_login_is_case_insensitive_on_username(client: TestClient) -> None:
    m = member(8)
    r = login(client, f"  {m.username.upper()} ")
    assert r.status_code == 303
    assert_account(r, m)


def test_login_replaces_the_anonymous_session(app: Starlette) -> None:
    m = member(5)
    with _client(app) as c:
        anonymous_token = c.get("/").cookies["session"]
        assert login(c, m.username).status_code == 303
    # The pre-login token is not upgraded to the account (no session fixation).
    with _client(app) as other:
        other.cookies.set("session", anonymous_token)
        assert_anonymous(other.get("/"))


def test_wrong_password_is_401(client: TestClient) -> None:
    m = member(5)
    client.get("/")
    r = login(client, m.username, "not-demo")
    assert r.status_code == 401
    assert_html_page(r)
    assert "wrong password" in r.text
    assert_anonymous(r)
    assert_anonymous(client.get("/"))


def test_unknown_username_cannot_log_in(client: TestClient) -> None:
    r = login(client, "nobody.here999999")
    assert r.status_code == 401
    assert_anonymous(r)


def test_empty_login_form_is_401(client: TestClient) -> None:
    assert client.post("/login", data={}).status_code == 401


def test_without_demo_logins_the_demo_password_does_not_work(strict_app: Starlette) -> None:
    with _client(strict_app) as c:
        r = login(c, member(5).username, "demo")
        assert r.status_code == 401
        assert_anonymous(r)
        assert "every member logs in with the password" not in c.get("/login").text


def test_login_page_mentions_demo_password_only_with_demo_logins(client: TestClient) -> None:
    r = client.get("/login")
    assert r.status_code == 200
    assert "<code>demo</code>" in r.text


def test_logout(client: TestClient) -> None:
    m = member(5)
    assert login(client, m.username).status_code == 303
    logged_in_token = client.cookies["session"]
    assert_account(client.get("/"), m)
    r = client.post("/logout")
    assert r.status_code == 303
    assert r.headers["location"] == "/"
    assert "session" not in client.cookies
    after = client.get("/")
    assert_anonymous(after)
    assert after.cookies.get("session") not in (None, logged_in_token)
    # The logged-in token is dead server-side too, not only in this browser.
    client.cookies.clear()
    client.cookies.set("session", logged_in_token)
    assert_anonymous(client.get(f"/u/{m.username}"))


# -- sign-up -----------------------------------------------------------------


def test_signup_creates_an_account(fresh_site: DemoSite, fresh_client: TestClient) -> None:
    before = datetime.now(UTC)
    r = signup(fresh_client, username="newcomer", name="New Comer", email="NewComer@Example.org")
    assert r.status_code == 303
    assert r.headers["location"] == "/u/newcomer"
    assert r.cookies.get("session")
    assert r.headers["x-account-id"] == str(N + 1)
    created = datetime.fromisoformat(r.headers["x-account-created"])
    assert created.tzinfo is not None
    assert before - timedelta(seconds=2) <= created <= datetime.now(UTC)
    assert datetime.now(UTC) - created < timedelta(minutes=1)

    # The new member exists everywhere.
    profile = fresh_client.get("/u/newcomer")
    assert profile.status_code == 200
    assert MEMBER_ID_ATTR.findall(profile.text) == [str(N + 1)]
    assert "New Comer" in profile.text
    assert profile.headers["x-account-id"] == str(N + 1)
    assert fresh_site.data.member(N + 1).country == "NZ"  # type: ignore[union-attr]
    assert profile.headers["x-account-created"] == r.headers["x-account-created"]
    api = fresh_client.get(f"/api/v1/members/{N + 1}").json()
    assert api["id"] == N + 1
    assert api["username"] == "newcomer"
    assert api["email"] == ""  # the address is the account's once confirmed by the mailed link
    mail = fresh_site.data.outbox[-1]
    assert mail.to == "newcomer@example.org" and mail.link.startswith("/confirm?token=")
    assert fresh_client.get(mail.link).status_code == 200
    assert fresh_client.get(mail.link).status_code == 400  # single use
    assert fresh_client.get(f"/api/v1/members/{N + 1}").json()["email"] == "newcomer@example.org"
    assert fresh_client.get(f"/static/avatars/{N + 1}.svg").status_code == 200
    assert "newcomer" in profile_links(fresh_client.get("/directory?page=3").text)
    assert len(fresh_site.data.members) == N + 1

    # Other visitors find the new member too (anonymously: no email).
    with _client(fresh_site.app) as other:
        assert other.get("/u/newcomer").status_code == 200
        assert "newcomer@example.org" not in other.get("/u/newcomer").text
        lookup = other.get("/lookup", params={"email": "newcomer@example.org"})
        assert lookup.status_code == 200
        assert profile_links(lookup.text) == ["newcomer"]


def test_signup_ids_keep_counting(fresh_client: TestClient, fresh_site: DemoSite) -> None:
    assert signup(fresh_client, username="first.one", email="first@example.org").headers["x-account-id"] \
        == str(N + 1)
    with _client(fresh_site.app) as c:
        r = signup(c, username="second.one", email="second@example.org")
        assert r.headers["x-account-id"] == str(N + 2)


def test_signup_lowercases_username(fresh_client: TestClient) -> None:
    r = signup(fresh_client, username="MixedCase", email="mixed@example.org")
    assert r.status_code == 303
    assert r.headers["location"] == "/u/mixedcase"
    assert fresh_client.get("/u/mixedcase").status_code == 200


def test_signup_without_name_uses_username(fresh_client: TestClient) -> None:
    assert signup(fresh_client, username="noname", name="", email="noname@example.org").status_code == 303
    assert fresh_client.get(f"/api/v1/members/{N + 1}").json()["name"] == "noname"


def test_signup_escapes_the_name(fresh_client: TestClient) -> None:
    assert signup(fresh_client, name="<script>alert(1)</script>").status_code == 303
    page = fresh_client.get("/u/newcomer").text
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)" in page


@pytest.mark.parametrize(("fields", "message"), [
    ({"password": "short"}, "at least 8 characters"),
    ({"password": ""}, "at least 8 characters"),
    ({"username": member(1).username}, "username is taken"),
    ({"username": member(1).username.upper()}, "username is taken"),
    ({"email": "not-an-email"}, "email address"),
    ({"email": ""}, "email address"),
    ({"username": "ab"}, "Choose a username"),
    ({"username": "bad name!"}, "Choose a username"),
    ({"username": ""}, "Choose a username"),
    ({"username": "x" * 31}, "Choose a username"),
    ({"country": ""}, "country"),
    ({"country": "Atlantis"}, "country"),
])
def test_signup_rejects_bad_input(fresh_site: DemoSite, fresh_client: TestClient,
                                  fields: dict[str, str], message: str) -> None:
    fresh_client.get("/")
    r = signup(fresh_client, **fields)
    assert r.status_code == 400
    assert_html_page(r)
    error = re.search(r'<p class="error" role="alert">([^<]+)</p>', r.text)
    assert error is not None and message in error.group(1)
    assert_anonymous(r)
    # Nothing was created.
    assert len(fresh_site.data.members) == N
    assert fresh_client.get(f"/api/v1/members/{N + 1}").status_code == 404
    assert_anonymous(fresh_client.get("/"))
    assert fresh_site.data.passwords == {}
    if "username" not in fields:
        assert fresh_client.get("/u/newcomer").status_code == 404
        assert login(fresh_client, "newcomer", "correct horse battery").status_code == 401


def test_rejected_signup_keeps_what_was_typed_but_not_the_password(fresh_client: TestClient) -> None:
    r = signup(fresh_client, password="s3cr!t")
    assert r.status_code == 400
    assert 'value="newcomer"' in r.text
    assert 'value="newcomer@example.org"' in r.text
    assert 'value="New Comer"' in r.text
    assert "s3cr!t" not in r.text


def test_signup_then_logout_then_login_again(fresh_client: TestClient, fresh_site: DemoSite) -> None:
    assert signup(fresh_client).status_code == 303
    new = fresh_site.data.member(N + 1)
    assert new is not None

    r = fresh_client.post("/logout")
    assert r.status_code == 303
    assert_anonymous(fresh_client.get("/"))

    # The demo password is not this account's password, even with --demo-logins.
    assert login(fresh_client, "newcomer", "demo").status_code == 401
    assert login(fresh_client, "newcomer", "wrong password").status_code == 401
    r = login(fresh_client, "newcomer", "correct horse battery")
    assert r.status_code == 303
    assert r.headers["location"] == "/u/newcomer"
    assert_account(r, new)
    assert_account(fresh_client.get("/directory"), new)
    # Passwords are stored hashed.
    stored = fresh_site.data.passwords[new.id]
    assert "correct horse battery" not in stored
    assert stored.startswith("scrypt$")


def test_signup_page(client: TestClient) -> None:
    r = client.get("/signup")
    assert r.status_code == 200
    assert 'action="/signup"' in r.text
    assert 'name="password"' in r.text


def test_site_needs_a_member() -> None:
    with pytest.raises(ValueError):
        DemoSite(members=0)
