"""Benchmark: the engine on the memory store vs the Redis store, next to `limits` on the same Redis.

Run: `make bench-stores` (or `.venv/bin/python bench/bench_stores.py [--redis URL] [--events N]`).

One run, side by side, on the same event stream (profile views from many
clients): events per second and per-event latency (median, p99) for
- `Engine.decide` with the in-process memory store,
- `Engine.decide` with the Redis store (one pipeline of Lua scripts per event),
- one `limits` moving-window hit per event on the same Redis (its reference
  Redis rate limiter, also a Lua script per call), and on its memory storage.
Redis is used under a fresh key prefix that is deleted afterwards.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import redis
from limits import RateLimitItemPerHour, storage, strategies

from scrapeguard.engine import Engine
from scrapeguard.events import Event
from scrapeguard.policy import default_policy
from scrapeguard.routes import RouteMap
from scrapeguard.stores import MemoryStore
from scrapeguard.stores.redis import RedisStore

T0 = 1_800_000_000.0


def events(n: int, clients: int) -> list[Event]:
    routes = RouteMap(default_policy().routes)
    out = []
    for i in range(n):
        c = i % clients
        path = f"/u/member{(i // clients) % 50}"
        out.append(Event(ts=T0 + i * 0.001, ip=f"10.0.{c >> 8 & 255}.{c & 255}", path=path,
                         route=routes.match(path)))
    return out


def measure(name: str, calls: list[Callable[[], Any]]) -> dict[str, Any]:
    latencies = []
    start = time.perf_counter()
    for call in calls:
        t = time.perf_counter_ns()
        call()
        latencies.append(time.perf_counter_ns() - t)
    total = time.perf_counter() - start
    latencies.sort()
    return {"name": name, "events_per_s": round(len(calls) / total),
            "median_us": round(statistics.median(latencies) / 1000, 1),
            "p99_us": round(latencies[int(len(latencies) * 0.99)] / 1000, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="Redis to use")
    parser.add_argument("--events", type=int, default=20_000, help="events per contender")
    args = parser.parse_args()

    stream = events(args.events, clients=2000)
    policy = default_policy()
    prefix = f"sgbench-{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(args.redis)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        sys.exit(f"Redis at {args.redis} is not reachable: {exc}")

    memory_engine = Engine(policy, MemoryStore())
    redis_store = RedisStore.from_url(args.redis, prefix, timeout=1.0, max_members_per_key=4096)
    redis_engine = Engine(policy, redis_store)
    item = RateLimitItemPerHour(60)
    limits_redis = strategies.MovingWindowRateLimiter(storage.RedisStorage(args.redis))
    limits_memory = strategies.MovingWindowRateLimiter(storage.MemoryStorage())
    rows = []
    try:
        for _round in range(2):  # alternate, so drift hits all contenders alike; keep the best
            rows.append(measure("engine + memory store",
                                [lambda e=e: memory_engine.decide(e) for e in stream]))
            rows.append(measure("engine + Redis store",
                                [lambda e=e: redis_engine.decide(e) for e in stream]))
            rows.append(measure("limits moving window, Redis",
                                [lambda e=e: limits_redis.hit(item, prefix, e.ip or "") for e in stream]))
            rows.append(measure("limits moving window, memory",
                                [lambda e=e: limits_memory.hit(item, prefix, e.ip or "") for e in stream]))
    finally:
        for key in client.scan_iter(f"{prefix}*", count=1000):
            client.delete(key)
        for key in client.scan_iter(f"LIMITS:LIMITER/{prefix}*", count=1000):
            client.delete(key)
        redis_store.close()
    best: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["name"] not in best or row["events_per_s"] > best[row["name"]]["events_per_s"]:
            best[row["name"]] = row
    print(f"{args.events} profile-view events from 2,000 clients, best of 2 rounds, {args.redis}")
    print(f"{'contender':32} {'events/s':>10} {'median µs':>10} {'p99 µs':>10}")
    for row in best.values():
        print(f"{row['name']:32} {row['events_per_s']:>10} {row['median_us']:>10} {row['p99_us']:>10}")
    ratio = best["engine + Redis store"]["events_per_s"] / best["limits moving window, Redis"]["events_per_s"]
    print(f"engine+Redis throughput / limits-on-Redis throughput: {ratio:.2f}")


if __name__ == "__main__":
    main()
