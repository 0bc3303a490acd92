"""The proxy's own answers when it cannot serve: 504 when the site behind it does not answer in
time, 503 when the shared store is down and the policy fails closed (also for a challenge answer)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from scrapeguard.drill.harness import LoopThread, runner_port
from scrapeguard.integrations.proxy import GuardProxy, start_proxy
from scrapeguard.policy import default_policy
from scrapeguard.serving import build_proxy

from ..challenge.test_challenge_e2e import POLICY, SUBMIT, client, names_from, solve  # type: ignore[import-not-found]
from ..conftest import RedisServer  # type: ignore[import-not-found]

#: Long enough for the fast route on a loaded machine; the slow route never answers at all.
UPSTREAM_TIMEOUT = 2.0


@pytest.fixture
def silent_upstream(start_upstream: Callable[[web.Application], str],
                    loop_thread: LoopThread) -> Iterator[str]:
    """A site that accepts connections and never answers /slow (until the test ends); /fast answers."""
    released = loop_thread.run(_event())

    async def slow(request: web.Request) -> web.Response:
        await released.wait()
        return web.Response(text="too late")

    async def fast(request: web.Request) -> web.Response:
        return web.Response(text="fast")

    app = web.Application()
    app.router.add_get("/slow", slow)
    app.router.add_get("/fast", fast)
    yield start_upstream(app)
    loop_thread.loop.call_soon_threadsafe(released.set)


async def _event() -> asyncio.Event:
    return asyncio.Event()


@pytest.fixture
def impatient_guard(loop_thread: LoopThread, silent_upstream: str,
                    tmp_path: Path) -> Iterator[tuple[str, GuardProxy]]:
    """The guard with an upstream timeout of UPSTREAM_TIMEOUT seconds."""
    proxy = build_proxy(default_policy(), silent_upstream, decisions_out=str(tmp_path / "decisions.jsonl"))
    proxy.config.upstream_timeout = UPSTREAM_TIMEOUT
    runner = loop_thread.run(start_proxy(proxy, "127.0.0.1", 0))
    yield f"http://127.0.0.1:{runner_port(runner)}", proxy
    loop_thread.run(runner.cleanup())
    if proxy.decisions is not None:
        proxy.decisions.close()


def test_an_upstream_that_does_not_answer_in_time_gives_a_504_and_the_guard_goes_on(
        impatient_guard: tuple[str, GuardProxy]) -> None:
    url, proxy = impatient_guard
    r = httpx.get(f"{url}/slow", timeout=30)
    assert r.status_code == 504
    assert "did not answer in time" in r.text and r.headers["Content-Type"].startswith("text/html")
    assert proxy.counts["upstream_timeout"] == 1
    assert httpx.get(f"{url}/fast", timeout=30).text == "fast"  # the guard keeps serving
    assert proxy.counts["upstream_timeout"] == 1


def test_a_challenge_answer_while_the_store_is_down_and_failing_closed_gives_a_503(
        demo_site: str, own_redis: RedisServer, make_guard: Callable) -> None:  # type: ignore[type-arg]
    store = f"{own_redis.url}?prefix=chal503&fail=closed&retry_seconds=30&timeout_ms=3000"
    guard = make_guard(demo_site, POLICY, trusted=("127.0.0.1",), store=store)
    scraper = client(guard.url, "198.51.100.7")
    challenged = scraper.get(f"/u/{names_from(demo_site)[0]}")
    assert challenged.status_code == 403 and challenged.json()["action"] == "challenge"
    payload = solve(challenged.json()["challenge"]["pow"])

    own_redis.stop()
    answer = scraper.post(SUBMIT, data={"altcha": payload, "next": "/"})
    assert answer.status_code == 503
    assert "cannot check requests right now" in answer.text
    # as for any request refused while the store is down: retry once the store's pause is over
    # (the store URI's retry_seconds, not the policy's 5)
    assert answer.headers["Retry-After"] == "30"
    assert guard.proxy.counts["store_unavailable"] == 1
    # and a request for member data meanwhile: the same answer
    page = scraper.get(f"/u/{names_from(demo_site)[1]}")
    assert page.status_code == 503 and page.headers["Retry-After"] == "30"
