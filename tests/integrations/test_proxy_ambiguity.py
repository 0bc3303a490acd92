"""Issue 12's parser differentials, as an attacker tried them, through the real proxy: each request
is read as the site reads it, or refused (400, counted). (The cross-framework comparison of every
case is test_differential.py; these are the attacks end to end, against the demo site.)"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Callable

import httpx
from aiohttp import web
from multidict import CIMultiDict

from scrapeguard.integrations.proxy import header_facts

#: A logged-in account gets 3 profiles an hour; anonymous visitors many more.
ACCOUNT_QUOTA = """
[detectors.profile_quota.anonymous]
per_hour = 100
per_day = 200
[detectors.profile_quota.account]
per_hour = 3
per_day = 3
[detectors.profile_quota.new_account]
per_hour = 3
per_day = 3
"""


def raw_get(url: str, target: bytes, *headers: tuple[bytes, bytes]) -> tuple[int, bytes]:
    """(status, body) of one GET sent as raw bytes, so that repeated header lines survive."""
    host, port = url.removeprefix("http://").split(":")
    lines = [b"GET " + target + b" HTTP/1.1", b"Host: " + host.encode(),
             *(name + b": " + value for name, value in headers), b"Connection: close", b"", b""]
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(b"\r\n".join(lines))
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def usernames(site: str) -> list[str]:
    return re.findall(r'href="/u/([^"]+)"', httpx.get(f"{site}/directory?page=2").text)


def test_a_session_cookie_on_a_second_cookie_line_is_the_account(
    demo_site: str, make_guard: Callable
) -> None:
    guard = make_guard(demo_site, ACCOUNT_QUOTA)
    names = usernames(demo_site)
    login = httpx.post(f"{guard.url}/login", data={"username": names[0], "password": "demo"})
    assert login.status_code == 303
    token = login.cookies["session"].encode()
    lines = ((b"Cookie", b"x=1"), (b"Cookie", b"session=" + token))
    statuses = [raw_get(guard.url, f"/u/{name}".encode(), *lines) for name in names[1:6]]
    # the site reads both lines, and so does the guard: the account's quota, not an anonymous one
    assert [status for status, _ in statuses] == [200, 200, 200, 429, 429]
    assert b"@" in statuses[0][1]  # members-only email: the site did see the logged-in account
    accounts = {d["keys"].get("account") for d in guard.decisions()}
    assert len(accounts) == 1 and None not in accounts


def test_the_session_cookie_twice_with_different_values_is_refused(
    demo_site: str, make_guard: Callable
) -> None:
    guard = make_guard(demo_site)
    name = usernames(demo_site)[0]
    status, body = raw_get(guard.url, f"/u/{name}".encode(), (b"Cookie", b"session=decoy"),
                           (b"Cookie", b"session=other"))
    assert status == 400 and b"more than once" in body
    assert guard.proxy.counts["ambiguous_cookie"] == 1


def test_a_repeated_lookup_parameter_is_refused(demo_site: str, make_guard: Callable) -> None:
    guard = make_guard(demo_site)
    target = b"/lookup?email=decoy@example.org&email=victim@example.org"
    assert raw_get(demo_site, target)[0] in (200, 404)  # the site itself answers the last value
    status, body = raw_get(guard.url, target)
    assert status == 400 and b"more than once" in body
    assert guard.proxy.counts["ambiguous_subject"] == 1


def test_a_repeated_lookup_parameter_is_read_as_the_policy_says(demo_site: str, make_guard: Callable) -> None:
    guard = make_guard(demo_site, '[route_matching]\nrepeated_subject = "last"\n'
                       "[detectors.enumeration.contact_lookups.anonymous]\nper_hour = 2\nper_day = 2\n")
    statuses = [raw_get(guard.url, f"/lookup?email=decoy@example.org&email=victim{i}@example.org".encode())[0]
                for i in range(3)]
    # three distinct victims (the decoy would have been one): the third goes over the quota
    assert statuses[2] == 429
    assert guard.decisions()[0]["subject"] == "email:victim2@example.org"


def test_an_encoded_slash_in_a_profile_path_is_the_profile(demo_site: str, make_guard: Callable) -> None:
    guard = make_guard(demo_site, "[detectors.profile_quota.anonymous]\nper_hour = 2\nper_day = 2\n")
    names = usernames(demo_site)[:3]
    statuses = [raw_get(guard.url, f"/u%2F{name}".encode())[0] for name in names]
    assert statuses == [200, 200, 429]  # uvicorn decodes %2F: these were profiles, and are counted
    assert guard.decisions()[0]["subject"] == f"username:{names[2]}"


def test_dot_segments_and_double_slashes_that_change_the_member_are_refused(
    demo_site: str, make_guard: Callable
) -> None:
    guard = make_guard(demo_site)
    name = usernames(demo_site)[0].encode()
    for target in (b"/x/../u/" + name, b"/x/%2E%2E/u/" + name, b"//u/" + name, b"/u//" + name):
        assert raw_get(guard.url, target)[0] == 400, target
    assert guard.proxy.counts["ambiguous_path"] == 4
    # a sloppy link to a stylesheet reads the same either way: served as the site serves it
    assert raw_get(guard.url, b"/static//site.css")[0] == 200


def test_double_slashes_are_merged_when_the_policy_says_the_site_merges_them(
    demo_site: str, make_guard: Callable
) -> None:
    guard = make_guard(demo_site, "[route_matching]\nmerge_slashes = true\n"
                       "[detectors.profile_quota.anonymous]\nper_hour = 1\nper_day = 1\n")
    names = usernames(demo_site)[:2]
    assert [raw_get(guard.url, f"//u//{name}".encode())[0] for name in names][1] == 429
    assert guard.decisions()[0]["subject"] == f"username:{names[1]}"


# -- X-Forwarded-For behind a trusted proxy, and the 400 page -----------------------------------

def forwarded_echo() -> web.Application:
    async def echo(request: web.Request) -> web.Response:
        return web.json_response({"forwarded": request.headers.getall("X-Forwarded-For", []),
                                  "cookie": request.headers.getall("Cookie", [])})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", echo)
    return app


def test_every_forwarded_for_line_is_read_and_the_site_gets_the_client_the_guard_keyed(
    start_upstream: Callable, make_guard: Callable
) -> None:
    guard = make_guard(start_upstream(forwarded_echo()),
                       "[detectors.profile_quota.anonymous]\nper_hour = 1\nper_day = 1\n",
                       trusted=("127.0.0.0/8",))
    # the client's own line claims Googlebot's address; the load balancer (HAProxy's option
    # forwardfor) appends a line of its own with the address it saw
    lines = ((b"X-Forwarded-For", b"66.249.66.1"), (b"X-Forwarded-For", b"203.0.113.7"))
    status, body = raw_get(guard.url, b"/u/a", *lines)
    assert status == 200
    assert json.loads(body)["forwarded"] == ["203.0.113.7"]  # one address: the one keyed
    assert raw_get(guard.url, b"/u/b", *lines)[0] == 429
    assert guard.decisions()[0]["keys"]["ip"] == "203.0.113.7"


def test_scope_ids_and_ports_are_not_client_addresses(start_upstream: Callable, make_guard: Callable) -> None:
    guard = make_guard(start_upstream(forwarded_echo()), trusted=("127.0.0.0/8",))
    for value in (b"fe80::1%eth0", b"fe80::1%25x", b"203.0.113.7:8080", b"[203.0.113.7]"):
        status, body = raw_get(guard.url, b"/", (b"X-Forwarded-For", value))
        assert status == 400 and b"not an IP address" in body, value
    assert guard.proxy.counts["bad_forwarded_header"] == 4


def test_the_400_page_escapes_what_it_quotes(start_upstream: Callable, make_guard: Callable) -> None:
    guard = make_guard(start_upstream(forwarded_echo()), trusted=("127.0.0.0/8",))
    status, body = raw_get(guard.url, b"/", (b"X-Forwarded-For", b"<script>alert(1)</script>"))
    assert status == 400
    assert b"<script>" not in body and b"&lt;script&gt;" in body


def test_cookie_lines_reach_the_site_as_one_line_without_the_guards_cookies(
    start_upstream: Callable, make_guard: Callable
) -> None:
    guard = make_guard(start_upstream(forwarded_echo()))
    status, body = raw_get(guard.url, b"/", (b"Cookie", b"a=1"), (b"Cookie", b"scrapeguard_clearance=x; b=2"),
                           (b"Cookie", b""))
    assert status == 200
    assert json.loads(body)["cookie"] == ["a=1; b=2"]


def test_the_cookie_fact_reads_every_cookie_line() -> None:
    headers = CIMultiDict([("Cookie", ";"), ("Cookie", "session=abc")])
    assert header_facts(headers)["cookie"] == "1"
    assert "cookie" not in header_facts(CIMultiDict([("Cookie", ";"), ("Cookie", " ")]))
