"""The proxy's own challenge endpoints: assets from the package, bad submissions, headers."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from importlib import resources

import httpx
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st

from scrapeguard.integrations.proxy import without_cookie

SUBMIT = "/.well-known/scrapeguard/challenge"
BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
           "Accept-Language": "en-GB,en;q=0.5", "Accept-Encoding": "gzip, deflate"}


def first_names(demo_site: str, n: int) -> list[str]:
    html = httpx.get(f"{demo_site}/directory?page=1").text
    return list(dict.fromkeys(re.findall(r'href="/u/([^"]+)"', html)))[:n]


def test_widget_and_licence_are_served_from_the_package(demo_site: str, make_guard: Callable) -> None:
    guard = make_guard(demo_site)
    r = httpx.get(f"{guard.url}/.well-known/scrapeguard/altcha.js")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/javascript")
    shipped = resources.files("scrapeguard.challenge").joinpath("static", "altcha.js").read_bytes()
    assert r.content == shipped
    assert hashlib.sha256(shipped).hexdigest() in \
        resources.files("scrapeguard.challenge").joinpath("static", "SOURCE.txt").read_text()
    assert "MIT License" in httpx.get(f"{guard.url}/.well-known/scrapeguard/LICENSE-altcha.txt").text
    # other /.well-known/ paths are the site's own
    assert httpx.get(f"{guard.url}/.well-known/scrapeguard/nothing").status_code == 404
    assert httpx.get(f"{guard.url}{SUBMIT}").status_code == 405


def test_bad_submissions_get_clear_answers(demo_site: str, make_guard: Callable) -> None:
    guard = make_guard(demo_site)
    big = httpx.post(f"{guard.url}{SUBMIT}", content=b"altcha=" + b"a" * 20000,
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert big.status_code == 413
    garbage = httpx.post(f"{guard.url}{SUBMIT}", data={"altcha": "not-base64!", "next": "//evil.example/x"},
                         headers={"Accept": "application/json"})
    assert garbage.status_code == 403
    body = garbage.json()
    assert body["action"] == "challenge" and "not base64 JSON" in body["error"]
    assert body["challenge"]["next"] == "/"  # never an open redirect
    assert guard.proxy.counts["challenge_failed"] == 1


def test_any_form_is_answered_without_a_server_error(demo_site: str, make_guard: Callable) -> None:
    guard = make_guard(demo_site)

    @settings(max_examples=40, deadline=None)
    @given(fields=st.dictionaries(st.sampled_from(["altcha", "next", "h-captcha-response", "x"]),
                                  st.text(max_size=300)))
    def answered(fields: dict[str, str]) -> None:
        r = httpx.post(f"{guard.url}{SUBMIT}", data=fields)
        assert r.status_code in (400, 403)

    answered()
    assert guard.proxy.counts["challenge_cleared"] == 0


def test_throttle_through_the_proxy_has_ratelimit_headers(demo_site: str, make_guard: Callable) -> None:
    guard = make_guard(demo_site, "[detectors.profile_quota.anonymous]\nper_hour = 2\nper_day = 10\n")
    names = first_names(demo_site, 3)
    with httpx.Client(base_url=guard.url, headers=BROWSER) as client:
        client.get("/")  # the site issues the browser its session: the quota counts per session
        assert [client.get(f"/u/{n}").status_code for n in names] == [200, 200, 429]
        r = client.get(f"/u/{names[2]}")
    assert r.headers["RateLimit-Policy"] == '"profiles-hour";q=2;w=3600, "profiles-day";q=10;w=86400'
    assert re.fullmatch(r'"profiles-hour";r=0;t=\d+', r.headers["RateLimit"])
    assert int(r.headers["Retry-After"]) > 0


def test_challenge_status_200_when_the_site_prefers_it(demo_site: str, make_guard: Callable) -> None:
    guard = make_guard(demo_site, "[actions]\nchallenge_status = 200\n")
    names = first_names(demo_site, 1)
    with httpx.Client(base_url=guard.url) as client:  # an HTTP library's user agent: challenged at once
        client.get("/")
        r = client.get(f"/u/{names[0]}")
    assert r.status_code == 200 and "<altcha-widget" in r.text and "data-member-id" not in r.text


def test_the_clearance_cookie_is_not_passed_to_the_site(
    make_guard: Callable, start_upstream: Callable[[web.Application], str]
) -> None:
    async def echo(request: web.Request) -> web.Response:
        return web.Response(text=request.headers.get("Cookie", "<none>"))

    app = web.Application()
    app.router.add_get("/{tail:.*}", echo)
    guard = make_guard(start_upstream(app))
    only = httpx.get(f"{guard.url}/", headers={"Cookie": "scrapeguard_clearance=1.c-1.2.x"})
    assert only.text == "<none>"
    mixed = httpx.get(f"{guard.url}/", headers={"Cookie": "a=1; scrapeguard_clearance=1.c-1.2.x; session=s"})
    assert mixed.text == "a=1; session=s"


@given(st.lists(st.tuples(st.text("abcz_", min_size=1, max_size=5), st.text("xyz=", max_size=5)), max_size=5))
def test_without_cookie_drops_only_that_cookie(pairs: list[tuple[str, str]]) -> None:
    header = "; ".join(f"{k}={v}" for k, v in pairs)
    kept = without_cookie(header, "z")
    assert kept == "; ".join(f"{k}={v}" for k, v in pairs if k != "z")
