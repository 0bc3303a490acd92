"""Benchmark: the request adapter's cost per request with Prometheus metrics on and off.

Run: `.venv/bin/python bench/bench_metrics.py [--requests N] [--rounds R] [--redis URL]`.

The same request stream (people reading profiles with a stylesheet now and then, and a scraping
tool walking the member API, refused) goes through `GuardAdapter` as an integration drives it:
the view read, the decision, the refusal page or the after-response learning. Each round builds
two fresh guards, metrics on and metrics off, and times them one after the other on the same
stream; the report gives the fastest and the median round per request of each and the
differences. On a busy shared machine the rounds' noise is larger than the metrics' cost, so the
report also times the metrics' own work alone: the decisions of one run fed again to a fresh
`GuardMetrics` (what the adapter calls per request), per request. With `--redis` the guards share
a Redis (each round a fresh key prefix, deleted after it), so the store-call timing is included.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid

from multidict import CIMultiDict

from scrapeguard.decisions import Decision
from scrapeguard.engine import Engine
from scrapeguard.integrations.adapter import GuardAdapter, RequestView
from scrapeguard.integrations.metrics import GuardMetrics
from scrapeguard.policy import default_policy
from scrapeguard.stores import store_from_uri

BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
           "Accept": "text/html,application/xhtml+xml", "Accept-Language": "en", "Accept-Encoding": "gzip"}
TOOL = {"User-Agent": "python-requests/2.32.3", "Accept": "application/json"}
T0 = 1_800_000_000.0


def request_stream(n: int) -> list[RequestView]:
    """n requests: 90% people (500 addresses, profiles of their choosing, a stylesheet every fifth),
    10% one scraping tool walking the member ids."""
    views = []
    for i in range(n):
        if i % 10 == 9:
            target = f"/api/v1/members/{i // 10 + 1}"
            views.append(RequestView("GET", target, CIMultiDict(TOOL), "198.51.100.7"))
            continue
        person = (i * 7919) % 500
        ip = f"10.{person // 250}.{person % 250}.1"
        target = "/static/site.css" if i % 5 == 0 else f"/u/member{(i * 31) % 3000}"
        views.append(RequestView("GET", target, CIMultiDict(BROWSER), ip))
    return views


def run(adapter: GuardAdapter, views: list[RequestView]) -> float:
    """Seconds per request through the adapter."""
    empty: CIMultiDict[str] = CIMultiDict({"Content-Type": "text/html"})
    start = time.perf_counter()
    for i, view in enumerate(views):
        now = T0 + i * 0.05
        client_ip = adapter.client_ip(view)
        reading = adapter.read(view)
        event, decision = adapter.decide(view, client_ip, now, reading)
        if adapter.refuses(decision):
            adapter.refusal(view, decision, client_ip)
        else:
            adapter.after_response(event, 200, empty, now)
    return (time.perf_counter() - start) / len(views)


def metrics_alone(adapter: GuardAdapter, views: list[RequestView]) -> float:
    """Seconds per request of the metrics' own work: the decisions `adapter` makes for `views`,
    fed to a fresh GuardMetrics as the adapter feeds its own (every decision; enforced refusals)."""
    decisions: list[Decision] = []
    for i, view in enumerate(views):
        now = T0 + i * 0.05
        client_ip = adapter.client_ip(view)
        _, decision = adapter.decide(view, client_ip, now, adapter.read(view))
        adapter.refuses(decision)
        decisions.append(decision)
    metrics = GuardMetrics([d.name for d in adapter.engine.detectors], adapter.engine.store)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for decision in decisions:
            metrics.decision(decision)
            if decision.refused and decision.enforced:
                metrics.refusal(decision)
        best = min(best, time.perf_counter() - start)
    return best / len(decisions)


def store_call_cost(calls: int = 20_000) -> float:
    """Seconds the store-call timing adds to one call to a shared store: the clock read twice and
    the histogram observed (the best of five runs)."""
    metrics = GuardMetrics([], store_from_uri("memory://", default_policy().store))
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(calls):
            began = time.perf_counter()
            metrics.store_call("observe", time.perf_counter() - began)
        best = min(best, time.perf_counter() - start)
    return best / calls


def drop_prefix(redis_url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{prefix}:*", count=1000):
        client.delete(key)
    client.close()


def guard(metrics: bool, store_uri: str) -> GuardAdapter:
    policy = default_policy()
    return GuardAdapter(Engine(policy, store_from_uri(store_uri, policy.store)), metrics=metrics)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--redis", metavar="URL", help="a Redis to share (e.g. redis://127.0.0.1:6379/0)")
    args = parser.parse_args()
    views = request_stream(args.requests)
    timings: dict[bool, list[float]] = {True: [], False: []}
    warm = guard(False, "memory://")  # loads the intel data (once per process) outside the timings
    run(warm, views[:2000])
    warm.close()
    for round_number in range(args.rounds):
        # alternate which goes first: a warming machine favours neither
        for metrics in (True, False) if round_number % 2 == 0 else (False, True):
            prefix = f"bench-{uuid.uuid4().hex[:8]}"
            # (a generous timeout: on a loaded machine the 50 ms default sends calls to the fallback)
            uri = f"{args.redis}?prefix={prefix}&timeout_ms=1000" if args.redis else "memory://"
            adapter = guard(metrics, uri)
            timings[metrics].append(run(adapter, views))
            adapter.close()
            adapter.engine.store.close()
            if args.redis:
                drop_prefix(args.redis, prefix)
    store = "redis" if args.redis else "memory"
    print(f"adapter per request, {store} store, {args.requests} requests x {args.rounds} rounds:")
    for name, pick in (("fastest", min), ("median", statistics.median)):
        on, off = pick(timings[True]), pick(timings[False])
        print(f"  {name:8s} metrics off {off * 1e6:7.1f} us, on {on * 1e6:7.1f} us: "
              f"{(on - off) * 1e6:+.1f} us ({(on / off - 1) * 100:+.1f}%)")
    alone = metrics_alone(guard(False, "memory://"), views)
    print(f"  the metrics' own work alone: {alone * 1e6:.2f} us per request "
          f"({alone / min(timings[False]) * 100:.1f}% of the fastest round without them)")
    print(f"  timing one shared-store call (the failover store's hook): {store_call_cost() * 1e6:.2f} us")


if __name__ == "__main__":
    main()
