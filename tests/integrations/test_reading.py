"""Reading a request as the site's framework does: the path, the Cookie lines."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.sansio.http import parse_cookie as werkzeug_parse_cookie

from scrapeguard.integrations.reading import cookie_line, merged_slashes_agree, read_cookies, read_target
from scrapeguard.policy import default_policy
from scrapeguard.policy.model import RouteMatching
from scrapeguard.routes import AmbiguousRequest, RouteMap


def test_paths_are_decoded_as_asgi_and_wsgi_servers_decode_them() -> None:
    assert read_target("/u/alice") == ("/u/alice", "")
    assert read_target("/%75/%61lice?email=a%40b") == ("/u/alice", "email=a%40b")  # the query stays raw
    assert read_target("/u%2Falice") == ("/u/alice", "")
    assert read_target("/u/al+ice%20x") == ("/u/al+ice x", "")
    assert read_target("/u/%C3%A9mile") == ("/u/émile", "")
    assert read_target("/u/alice;x=1") == ("/u/alice;x=1", "")
    assert read_target("/u/bad%zz") == ("/u/bad%zz", "")  # not an escape: left as servers leave it


@pytest.mark.parametrize("target", [
    "u/alice", "*", "http://other/u/alice", "/u/alice#top", "/u/é", "/u/a b", "/a/../u/alice", "/a/./u/x",
    "/u/alice/..", "/x/%2e%2E/u/alice", "/x%2F..%2Fu/alice", "/u/alice%00", "/u/%0d%0aX", "/u/%ff",
    "/u/%C3",
])
def test_targets_servers_read_differently_are_refused(target: str) -> None:
    with pytest.raises(AmbiguousRequest) as refused:
        read_target(target)
    assert refused.value.count == "ambiguous_path"


def test_runs_of_slashes_are_refused_only_where_merging_them_would_change_the_member() -> None:
    routes = RouteMap(default_policy().routes)
    for target in ("//u/alice", "/u//alice", "/u%2F%2Falice", "//api/v1/members/7"):
        path, query = read_target(target)
        assert not merged_slashes_agree(path, query, routes), target
    # a sloppy link to a stylesheet, or a page, is the same thing either way: it goes through as it is
    for target in ("/static//site.css", "//jobs", "/blog//post", "//other-host/secret.txt"):
        path, query = read_target(target)
        assert path == target and merged_slashes_agree(path, query, routes), target


def test_policy_options_for_sites_that_normalise() -> None:
    merging = RouteMatching(merge_slashes=True)
    assert read_target("//u///alice", merging) == ("/u/alice", "")
    assert read_target("/u%2F%2Falice", merging) == ("/u/alice", "")
    params = RouteMatching(strip_path_params=True)
    assert read_target("/u;jsessionid=1/alice;v=2?x=1", params) == ("/u/alice", "x=1")
    assert read_target("/u/alice%3Bx", params) == ("/u/alice;x", "")  # an encoded ";" is a character
    with pytest.raises(AmbiguousRequest):
        read_target("/a/..;x/u/alice", params)


def test_cookie_lines_are_joined_in_order() -> None:
    assert cookie_line(["a=1", "session=s; b=2"]) == "a=1; session=s; b=2"
    assert cookie_line(["", " ; ", "a=1;"]) == "a=1"
    assert cookie_line([]) is None and cookie_line([" "]) is None


NAMES = ("session", "stamp")


def test_cookies_are_read_as_every_framework_reads_them() -> None:
    assert read_cookies("a=1; session=tok; b=2", NAMES) == {"session": "tok"}
    assert read_cookies(" a=1 ;\tsession = tok ", NAMES) == {"session": "tok"}
    assert read_cookies("session=tok; session=tok", NAMES) == {"session": "tok"}
    assert read_cookies("session=; a=1", NAMES) == {}  # empty: no session to anyone
    assert read_cookies("session", NAMES) == {}
    assert read_cookies(None, NAMES) == {}
    assert read_cookies("x=1,session=tok", NAMES) == {}  # "," is not a separator to any of them


@pytest.mark.parametrize("line", [
    "session=a; session=b",  # Starlette and Django read b, Werkzeug a
    "session=tok;session=",  # Starlette and Django read "" (no session), Werkzeug tok
    "session=; session=tok",  # Werkzeug reads "", the others tok
    'a="x; session=evil"; session=tok',  # Werkzeug keeps the quoted ";", the others split on it
    'session="tok"',  # each unquotes its own way
    "session=a b",  # Werkzeug skips it, the others read "a b"
    "session=a\\b",
    "stamp=1; stamp=2",
])
def test_cookies_frameworks_read_differently_are_refused(line: str) -> None:
    with pytest.raises(AmbiguousRequest) as refused:
        read_cookies(line, NAMES)
    assert refused.value.count == "ambiguous_cookie"


def _starlette(line: str) -> dict[str, str]:
    from starlette.requests import cookie_parser

    return cookie_parser(line)


_COOKIE_TEXT = st.lists(st.sampled_from([
    "session=tok", "session=x", " session = tok", "\tsession=t2", "session", "session=", 'session="q"',
    "session=a b", 'a="x;', '"', "\\", ";", "; ", " ", ",", "b=1", "=", "x", "\xa0session=u",
]), max_size=8).map("".join)


@given(_COOKIE_TEXT)
def test_a_session_read_is_the_one_each_framework_reads(line: str) -> None:
    """Property: whatever the line, the guard refuses it or reads the session Starlette (and
    Django, whose parser Starlette's copies) and Werkzeug read."""
    try:
        found = read_cookies(line, NAMES).get("session")
    except AmbiguousRequest:
        return
    assert found == (_starlette(line).get("session") or None)
    assert found == (werkzeug_parse_cookie(line).get("session") or None)
