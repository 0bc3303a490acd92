"""Proxy mechanics against test upstreams: streaming, headers, status codes, errors, bad input."""

from __future__ import annotations

import hashlib
import json
import socket
from collections.abc import Callable

import httpx
import pytest
from aiohttp import web

#: A browser's user agent and headers: an HTTP library's own user agent asking for a member page
#: is a scripting tool, challenged at once (tests/integrations/test_proxy_scrapers.py).
BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
           "Accept-Language": "en-GB,en;q=0.5", "Accept-Encoding": "gzip, deflate"}


def echo_app() -> web.Application:
    async def echo(request: web.Request) -> web.StreamResponse:
        digest = hashlib.sha256()
        size = 0
        async for chunk in request.content.iter_any():
            digest.update(chunk)
            size += len(chunk)
        body = json.dumps({
            "method": request.method, "path": request.raw_path, "size": size,
            "sha256": digest.hexdigest(), "headers": dict(request.headers),
        })
        response = web.Response(status=201 if request.method == "POST" else 200, text=body,
                                content_type="application/json")
        response.headers.add("Set-Cookie", "a=1; Path=/")
        response.headers.add("Set-Cookie", "b=2; Path=/")
        response.headers["X-Custom"] = "kept"
        response.headers["X-Account-Id"] = "42"
        response.headers["X-Account-Created"] = "2020-01-01T00:00:00+00:00"
        return response

    async def teapot(request: web.Request) -> web.Response:
        return web.Response(status=418, text="short and stout", headers={"X-Why": "tea"})

    async def big(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for i in range(64):
            await response.write(bytes([i]) * 32768)
        await response.write_eof()
        return response

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("/elsewhere")

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_route("*", "/teapot", teapot)
    app.router.add_get("/big", big)
    app.router.add_get("/redirect", redirect)
    app.router.add_route("*", "/{tail:.*}", echo)
    return app


@pytest.fixture
def echo_guard(start_upstream: Callable, make_guard: Callable):  # type: ignore[no-untyped-def]
    return make_guard(start_upstream(echo_app()))


def test_request_body_streams_to_the_upstream(echo_guard) -> None:  # type: ignore[no-untyped-def]
    payload = bytes(range(256)) * 20_000  # 5 MB

    def chunks():  # type: ignore[no-untyped-def]
        for i in range(0, len(payload), 65536):
            yield payload[i : i + 65536]

    r = httpx.post(f"{echo_guard.url}/upload", content=chunks())
    assert r.status_code == 201
    seen = r.json()
    assert seen["size"] == len(payload)
    assert seen["sha256"] == hashlib.sha256(payload).hexdigest()


def test_response_streams_back_whole(echo_guard) -> None:  # type: ignore[no-untyped-def]
    with httpx.stream("GET", f"{echo_guard.url}/big") as r:
        body = b"".join(r.iter_bytes())
    assert r.status_code == 200
    assert body == b"".join(bytes([i]) * 32768 for i in range(64))


def test_status_codes_headers_and_cookies_are_kept(echo_guard) -> None:  # type: ignore[no-untyped-def]
    r = httpx.get(f"{echo_guard.url}/teapot")
    assert (r.status_code, r.text, r.headers["X-Why"]) == (418, "short and stout", "tea")
    r = httpx.get(f"{echo_guard.url}/redirect", follow_redirects=False)
    assert r.status_code == 302 and r.headers["Location"] == "/elsewhere"
    r = httpx.get(f"{echo_guard.url}/x?q=1&q=2", headers={"X-Client": "yes"})
    assert r.headers.get_list("Set-Cookie") == ["a=1; Path=/", "b=2; Path=/"]
    assert r.headers["X-Custom"] == "kept"
    # the site's account headers are for the guard only
    assert "X-Account-Id" not in r.headers and "X-Account-Created" not in r.headers
    seen = r.json()
    assert seen["path"] == "/x?q=1&q=2"
    assert seen["headers"]["X-Client"] == "yes"
    assert seen["headers"]["X-Forwarded-For"] == "127.0.0.1"


def test_spoofed_forwarded_for_from_an_untrusted_client_is_ignored(echo_guard) -> None:  # type: ignore[no-untyped-def]
    r = httpx.get(f"{echo_guard.url}/x", headers={"X-Forwarded-For": "6.6.6.6"})
    assert r.status_code == 200
    assert r.json()["headers"]["X-Forwarded-For"] == "127.0.0.1"


def test_forwarded_for_from_a_trusted_proxy_names_the_client(
    start_upstream: Callable, make_guard: Callable
) -> None:
    guard = make_guard(start_upstream(echo_app()),
                       "[detectors.profile_quota.anonymous]\nper_hour = 3\nper_day = 10\n",
                       trusted=("127.0.0.0/8",))
    # two clients behind the same load balancer have separate quotas
    for client in ("203.0.113.1", "203.0.113.2"):
        codes = [httpx.get(f"{guard.url}/u/m{i}", headers={**BROWSER, "X-Forwarded-For": client}).status_code
                 for i in range(5)]
        assert codes == [200, 200, 200, 429, 429]
    assert {d["keys"]["ip"] for d in guard.decisions()} == {"203.0.113.1", "203.0.113.2"}


def test_upstream_down_gives_a_clear_502(make_guard: Callable) -> None:
    with socket.socket() as s:
        # bound and never listening for the whole test: connections are refused, and no other
        # server (another test's, on a busy machine) can take the port in the meantime
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
        guard = make_guard(f"http://127.0.0.1:{closed_port}")
        r = httpx.get(f"{guard.url}/u/anyone", headers=BROWSER)
    assert r.status_code == 502, r.text
    assert "could not be reached" in r.text


def raw_request(url: str, data: bytes) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=3) as s:
        s.sendall(data)
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


@pytest.mark.parametrize("request_bytes,expected", [
    pytest.param(b"GARBAGE\r\n\r\n", "4xx", id="not-http"),
    pytest.param(b"GET /u/%ZZ%00 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "any", id="bad-percent"),
    pytest.param(b"GET /u/\xff\xfe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "any",
                 id="non-utf8-path"),
    pytest.param(b"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "any",
                 id="traversal"),
    pytest.param(b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", "4xx", id="huge-path"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 20000 + b"\r\n\r\n", "4xx",
                 id="huge-header"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(300))
                 + b"Connection: close\r\n\r\n", "any", id="many-headers"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: not-an-ip, ???\r\n"
                 b"Connection: close\r\n\r\n", "any", id="garbage-forwarded-for-untrusted"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: x\r\nCookie: session=\x01\x02; ;;=\r\nConnection: close\r\n\r\n",
                 "any", id="garbage-cookie"),
    pytest.param(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nConnection: close\r\n\r\nabc", "any",
                 id="short-body"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\nConnection: close\r\n\r\n", "4xx",
                 id="negative-length"),
])
def test_malformed_requests_get_a_4xx_or_pass_through_and_never_crash_the_proxy(
    echo_guard, request_bytes: bytes, expected: str  # type: ignore[no-untyped-def]
) -> None:
    response = raw_request(echo_guard.url, request_bytes)
    if response:  # a client that sends half a body may be cut off; the proxy must survive
        status = status_of(response)
        if expected == "4xx":
            assert 400 <= status < 500, response[:200]
        else:
            assert status < 500, response[:200]
    else:
        assert expected == "any"
    # the proxy is still serving
    assert httpx.get(f"{echo_guard.url}/still-alive").status_code == 200


def test_unparseable_requests_are_counted(echo_guard) -> None:  # type: ignore[no-untyped-def]
    for _ in range(3):
        raw_request(echo_guard.url, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 20000 + b"\r\n\r\n")
    assert echo_guard.proxy.counts["malformed_request"] == 3


def test_garbage_forwarded_for_from_a_trusted_proxy_is_a_400(
    start_upstream: Callable, make_guard: Callable
) -> None:
    guard = make_guard(start_upstream(echo_app()), trusted=("127.0.0.0/8",))
    r = httpx.get(f"{guard.url}/x", headers={"X-Forwarded-For": "203.0.113.1, not-an-ip"})
    assert r.status_code == 400
    assert "not an IP address" in r.text
    assert httpx.get(f"{guard.url}/x").status_code == 200


def broken_upstream_app() -> web.Application:
    async def short(request: web.Request) -> web.StreamResponse:
        # promises 1000 bytes, sends 10, hangs up
        response = web.StreamResponse(headers={"Content-Length": "1000"})
        await response.prepare(request)
        await response.write(b"0123456789")
        assert request.transport is not None
        request.transport.close()
        return response

    async def long_then_cut(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(b"x" * 100_000)
        assert request.transport is not None
        request.transport.close()
        return response

    app = web.Application()
    app.router.add_get("/short", short)
    app.router.add_get("/cut", long_then_cut)
    return app


def test_an_upstream_that_breaks_off_gives_a_502_or_a_cut_response(
    start_upstream: Callable, make_guard: Callable
) -> None:
    guard = make_guard(start_upstream(broken_upstream_app()))
    r = httpx.get(f"{guard.url}/short")
    assert r.status_code == 502 and "broke off" in r.text
    with pytest.raises(httpx.HTTPError), httpx.stream("GET", f"{guard.url}/cut") as streamed:
        b"".join(streamed.iter_bytes())  # the client sees the cut, not a fake complete body
    assert guard.proxy.counts["upstream_broken"] == 2
    assert httpx.get(f"{guard.url}/short").status_code == 502  # and the proxy keeps serving


def test_a_target_that_looks_like_another_host_stays_on_the_upstream(
    start_upstream: Callable, make_guard: Callable
) -> None:
    secret = web.Application()

    async def leak(request: web.Request) -> web.Response:
        return web.Response(text="INTERNAL-ONLY")

    secret.router.add_get("/{tail:.*}", leak)
    other = start_upstream(secret).removeprefix("http://")
    upstream = start_upstream(echo_app())
    plain = make_guard(upstream)  # runs of slashes that change no member: passed as they are
    merging = make_guard(upstream, "[route_matching]\nmerge_slashes = true\n", name="merging.jsonl")
    for target in (f"//{other}/secret.txt", f"//x@{other}/secret.txt"):
        request = f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        for guard in (plain, merging):
            response = raw_request(guard.url, request.encode())
            assert b"INTERNAL-ONLY" not in response
            assert json.loads(response.split(b"\r\n\r\n", 1)[1])["path"] == target  # the upstream got it


def test_a_compressed_request_body_reaches_the_site_as_it_was_sent(echo_guard) -> None:  # type: ignore[no-untyped-def]
    import gzip

    original = b"field=" + b"x" * 5000
    r = httpx.post(f"{echo_guard.url}/upload", content=gzip.compress(original),
                   headers={"Content-Encoding": "gzip", "Content-Type": "application/x-www-form-urlencoded"})
    # the site (aiohttp, which inflates it) reads the original: the guard forwarded the gzip bytes
    assert r.status_code == 201 and r.json()["sha256"] == hashlib.sha256(original).hexdigest()


def test_an_upstream_path_prefix_is_kept(start_upstream: Callable, make_guard: Callable) -> None:
    guard = make_guard(start_upstream(echo_app()) + "/app/")
    assert httpx.get(f"{guard.url}/u/x?y=1", headers=BROWSER).json()["path"] == "/app/u/x?y=1"


def test_client_side_forwarding_claims_are_not_passed_on(echo_guard) -> None:  # type: ignore[no-untyped-def]
    claims = {"Forwarded": "for=6.6.6.6", "X-Real-IP": "6.6.6.6"}
    seen = httpx.get(f"{echo_guard.url}/x", headers=claims).json()
    assert "Forwarded" not in seen["headers"] and "X-Real-IP" not in seen["headers"]


def test_no_content_type_is_invented(start_upstream: Callable, make_guard: Callable) -> None:
    app = web.Application()

    async def bare(request: web.Request) -> web.Response:
        response = web.Response(body=b"raw bytes")
        response.headers.popall("Content-Type", None)
        return response

    app.router.add_get("/", bare)
    guard = make_guard(start_upstream(app))
    direct = httpx.get(guard.upstream_url + "/")
    through = httpx.get(guard.url + "/")
    assert through.content == b"raw bytes"
    assert through.headers.get("content-type") == direct.headers.get("content-type")
