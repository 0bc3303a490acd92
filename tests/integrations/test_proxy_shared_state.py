"""Several guard instances sharing Redis (and Redis Cluster), and what happens when Redis fails."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import redis

from scrapeguard.drill.harness import FakeClock

#: Seconds a test's client waits for an answer: a safety net against a hang, not a check of speed
#: (under coverage on a busy machine an answer can take seconds; httpx's own default is 5).
PATIENT = 60.0

MEMBER_ID = re.compile(r'data-member-id="(\d+)"')


def profile_names(base: str) -> list[str]:
    names: list[str] = []
    with httpx.Client(timeout=PATIENT, base_url=base, headers=BROWSER_LIKE) as client:
        for page in (1, 2, 3):
            names += re.findall(r'href="/u/([^"]+)"', client.get(f"/directory?page={page}").text)
    return list(dict.fromkeys(names))


BROWSER_LIKE = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
                "Accept": "text/html,*/*;q=0.8", "Accept-Language": "en", "Accept-Encoding": "gzip"}
#: A page's script asking the site's API (JSON) from a browser: no stylesheets expected of it.
API = {**BROWSER_LIKE, "Accept": "application/json"}


def uneven_pause(clock: FakeClock, i: int) -> None:
    """0 to 36 ms of the guards' clock, varying: an even pace is machine-regular timing to the
    automation detector, which these tests keep out. Fake time: the machine's speed changes nothing."""
    clock.sleep(((i * 7919) % 10) * 4 / 1000)


def alternate(proxies: list[str], names: list[str], clock: FakeClock) -> list[tuple[int, int]]:
    """A scraper alternating between guard instances, passing for a browser (headers, the
    stylesheet, an uneven pace on the guards' `clock`) so that only the shared quota stops it;
    returns (instance, status) per profile."""
    results = []
    with httpx.Client(timeout=PATIENT, headers=BROWSER_LIKE) as client:
        for i, name in enumerate(names):
            uneven_pause(clock, i)
            client.cookies.clear()
            client.get(f"{proxies[i % len(proxies)]}/static/site.css")
            r = client.get(f"{proxies[i % len(proxies)]}/u/{name}")
            if r.status_code == 200:
                assert MEMBER_ID.search(r.text)
            results.append((i % len(proxies), r.status_code))
    return results


def check_one_quota_across_instances(results: list[tuple[int, int]], decisions: list[Path],
                                     clock: FakeClock) -> None:
    statuses = [status for _, status in results]
    assert statuses.count(200) == 60, "two instances must share one quota, not double it"
    first_refusal = statuses.index(429)
    assert first_refusal == 60 and statuses[:60] == [200] * 60
    # refused by one instance, refused by the other at once
    assert {instance for instance, status in results[60:] if status != 200} == {0, 1}
    assert all(status in (429, 403) for status in statuses[60:])
    lines = [json.loads(line) for path in decisions for line in path.read_text().splitlines()]
    assert len(lines) == len(results) - 60
    assert {d["action"] for d in lines} == {"throttle", "block"}
    # both processes timed their events by the test's clock, not by the machine's
    assert all(clock.start <= d["ts"] <= clock.time() for d in lines)


def patient(store: str) -> str:
    """The store URL with a generous timeout: the default 50 ms is for production, and on a loaded
    test machine a slow answer would send an instance to its local fallback (its own quota)."""
    return f"{store}{'&' if '?' in store else '?'}timeout_ms=3000"


def test_two_proxy_processes_share_one_quota_through_redis(
    demo_site: str, redis_url: str, spawn_proxy: Callable, file_clock: FakeClock
) -> None:
    a, decisions_a = spawn_proxy(demo_site, patient(redis_url), "a", clock=file_clock)
    b, decisions_b = spawn_proxy(demo_site, patient(redis_url), "b", clock=file_clock)
    names = profile_names(demo_site)
    results = alternate([a, b], names[:100], file_clock)
    check_one_quota_across_instances(results, [decisions_a, decisions_b], file_clock)


def test_two_proxy_processes_share_one_quota_through_a_redis_cluster(
    demo_site: str, redis_cluster: str, spawn_proxy: Callable, file_clock: FakeClock
) -> None:
    a, decisions_a = spawn_proxy(demo_site, patient(redis_cluster), "a", clock=file_clock)
    b, decisions_b = spawn_proxy(demo_site, patient(redis_cluster), "b", clock=file_clock)
    results = alternate([a, b], profile_names(demo_site)[:100], file_clock)
    check_one_quota_across_instances(results, [decisions_a, decisions_b], file_clock)
    # the state really is spread over the cluster's nodes (the hash tags did their job)
    port = int(redis_cluster.rsplit(":", 1)[1])
    client = redis.cluster.RedisCluster(host="127.0.0.1", port=port)
    keys = list(client.scan_iter("scrapeguard:*"))
    assert any(b":{ip:127.0.0.1}:d:profiles" in k for k in keys)
    client.close()


def load(url: str, paths: list[str], workers: int = 8) -> list[tuple[int, float]]:
    """Concurrent requests; returns (status, seconds) for each."""
    def one(path: str) -> tuple[int, float]:
        start = time.perf_counter()
        status = httpx.get(f"{url}{path}", timeout=PATIENT, headers=API).status_code
        return status, time.perf_counter() - start

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, paths))


def status(url: str) -> dict:  # type: ignore[type-arg]
    return httpx.get(f"{url}/.well-known/scrapeguard/status", timeout=PATIENT).json()  # type: ignore[no-any-return]


def paced(url: str, paths: list[str], clock: FakeClock) -> list[int]:
    """One API client's requests without cookies (counted by its address), one at a time at an
    uneven pace on the guard's clock; returns the statuses."""
    codes = []
    with httpx.Client(timeout=PATIENT, base_url=url, headers=API) as client:
        for i, path in enumerate(paths):
            uneven_pause(clock, i)
            client.cookies.clear()
            codes.append(client.get(path).status_code)
    return codes


#: A Redis URL's failure options for the failure tests: retried 0.5 s (of the guard's clock) after a
#: failure, and a generous timeout (a slow answer on a loaded machine is not what these test: a
#: fresh Redis loading its scripts within the default 50 ms would be luck).
FAILURE_OPTIONS = "retry_seconds=0.5&timeout_ms=3000"


def test_fail_open_keeps_answering_with_local_limits_and_recovers(
    demo_site: str, own_redis, make_guard: Callable  # type: ignore[no-untyped-def]
) -> None:
    clock = FakeClock()
    guard = make_guard(demo_site, store=f"{own_redis.url}?prefix=fo&{FAILURE_OPTIONS}", clock=clock)
    assert status(guard.url)["store"] == "ok"
    own_redis.stop()
    codes = paced(guard.url, [f"/api/v1/members/{(i * 37) % 150 + 1}" for i in range(100)], clock)  # no sweep
    assert all(code in (200, 429, 403) for code in codes), codes  # every request answered
    assert codes.count(200) == 60  # the local fallback still enforces the quota
    assert status(guard.url)["store"] == "degraded"

    own_redis.start()  # same port, empty
    clock.sleep(0.5)  # the retry window passes
    probe = httpx.get(f"{guard.url}/api/v1/members/1", timeout=PATIENT, headers={**API, "X-Probe": "1"})
    assert probe.status_code in (200, 429, 403)
    assert status(guard.url)["store"] == "ok"
    # shared limits resume: this client's views are counted in Redis again
    assert redis.Redis(port=own_redis.port).exists("fo:{ip:127.0.0.1}:d:profiles") or \
        redis.Redis(port=own_redis.port).exists("fo:{ip:127.0.0.1}:pen")


def test_fail_closed_answers_503_without_asking_redis_each_time_and_recovers(
    demo_site: str, own_redis, make_guard: Callable  # type: ignore[no-untyped-def]
) -> None:
    clock = FakeClock()
    guard = make_guard(demo_site, store=f"{own_redis.url}?prefix=fc&fail=closed&{FAILURE_OPTIONS}",
                       clock=clock)
    store = guard.proxy.engine.store
    assert httpx.get(f"{guard.url}/api/v1/members/1", timeout=PATIENT, headers=API).status_code == 200
    own_redis.stop()
    # forty requests within the retry window (the clock does not move): all refused, Redis asked once
    with httpx.Client(timeout=PATIENT, base_url=guard.url, headers=API) as client:
        codes = {client.get(f"/api/v1/members/{(i * 37) % 150 + 1}").status_code for i in range(40)}
    assert codes == {503}
    assert store.failures == 1
    own_redis.start()
    # still within the window
    assert httpx.get(f"{guard.url}/api/v1/members/2", timeout=PATIENT, headers=API).status_code == 503
    assert store.failures == 1
    clock.sleep(0.5)  # the retry window passes: Redis is asked again, and answers
    assert httpx.get(f"{guard.url}/api/v1/members/2", timeout=PATIENT, headers=API).status_code == 200
    assert status(guard.url)["store"] == "ok"


def test_a_hung_redis_never_holds_a_request_past_the_timeout(
    demo_site: str, own_redis, make_guard: Callable  # type: ignore[no-untyped-def]
) -> None:
    guard = make_guard(demo_site, store=f"{own_redis.url}?prefix=hung&timeout_ms=100&retry_seconds=30")
    assert httpx.get(f"{guard.url}/api/v1/members/1", timeout=PATIENT, headers=API).status_code == 200
    own_redis.pause()  # accepts connections, answers nothing
    try:
        # member ids far apart: a run of nearby ids would be an enumeration sweep
        answers = load(guard.url, [f"/api/v1/members/{(i * 37) % 150 + 1}" for i in range(30)], workers=4)
    finally:
        own_redis.resume()
    assert {code for code, _ in answers} <= {200}
    # the requests in flight when Redis hung each wait for the 100 ms timeout; after that the
    # fallback answers without asking the hung store again until retry_seconds pass. Without the
    # timeout a hung store holds a request until the client gives up (PATIENT, 60 s): the bound
    # tells the two apart with room for a loaded machine, where 30 answers may take seconds.
    assert max(seconds for _, seconds in answers) < 15
    store = guard.proxy.engine.store
    assert 1 <= store.failures <= 4 and store.fallback_calls >= 26
    assert status(guard.url)["store"] == "degraded"  # and it says so until a call succeeds


def test_a_request_waiting_on_the_store_does_not_hold_up_the_others(
    demo_site: str, own_redis, make_guard: Callable  # type: ignore[no-untyped-def]
) -> None:
    # a store timeout far longer than the test: the store-bound request waits until Redis resumes,
    # so "still waiting" below is certain however slow the machine, not a race against a timer
    guard = make_guard(demo_site, store=f"{own_redis.url}?prefix=wait&timeout_ms=40000&retry_seconds=30")
    assert httpx.get(f"{guard.url}/api/v1/members/1", timeout=PATIENT, headers=API).status_code == 200
    own_redis.pause()
    try:
        with ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(lambda: httpx.get(f"{guard.url}/api/v1/members/2", timeout=PATIENT,
                                                          headers=API))
            time.sleep(0.3)  # (gives it time to reach the store; the checks hold either way)
            # an asset needs no store (pages do now: the flood detector counts them before judging)
            page = httpx.get(f"{guard.url}/static/avatars/3.svg", timeout=PATIENT)
            assert page.status_code == 200
            assert not waiting.done(), "the store-bound request should still be waiting"
            own_redis.resume()
            assert waiting.result().status_code == 200  # answered once the store answered
    finally:
        own_redis.resume()
