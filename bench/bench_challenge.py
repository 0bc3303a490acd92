"""Benchmark: what challenges cost the guard, and what they cost a solver.

Run: `.venv/bin/python bench/bench_challenge.py [--n N]`.

One run, side by side, per call (median and p99 microseconds):
- checking a clearance cookie (done on every request that presents one),
- `Engine.decide` for a profile view without and with a clearance (the clearance adds one
  distinct-set count to the same store call),
- issuing a proof-of-work challenge and verifying a solution (per challenge served/solved),
- and, for scale, solving one challenge at the default difficulty in pure Python (what a
  scraper pays per solve; a browser's WebCrypto worker is of the same order).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from scrapeguard.challenge.clearance import ClearanceSigner, client_binding
from scrapeguard.challenge.keys import SigningKeys
from scrapeguard.challenge.pow import ProofOfWork, solve
from scrapeguard.engine import Engine
from scrapeguard.events import Event
from scrapeguard.policy import default_policy
from scrapeguard.routes import RouteMap

KEYS = SigningKeys((b"bench-key-0123456789abcdef",), "bench")
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"


def measure(name: str, calls: list[Callable[[], Any]]) -> dict[str, Any]:
    latencies = []
    for call in calls:
        t = time.perf_counter_ns()
        call()
        latencies.append(time.perf_counter_ns() - t)
    latencies.sort()
    return {"name": name, "calls": len(calls), "median_us": round(statistics.median(latencies) / 1000, 1),
            "p99_us": round(latencies[int(len(latencies) * 0.99)] / 1000, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000, help="calls per measurement")
    args = parser.parse_args()
    n = args.n
    now = time.time()
    signer = ClearanceSigner(KEYS)
    binding = client_binding("198.51.100.7", UA)
    token, _ = signer.issue(binding, now, 1800)
    pow_ = ProofOfWork(KEYS)
    policy = default_policy()
    routes = RouteMap(policy.routes)

    def decide(engine: Engine, clearance: str | None) -> list[Callable[[], Any]]:
        calls: list[Callable[[], Any]] = []
        for i in range(n):
            path = f"/u/member{i % 50}"
            event = Event(ts=now + i * 0.001, ip=f"10.0.{i >> 8 & 255}.{i & 255}", path=path,
                          route=routes.match(path), user_agent=UA, clearance=clearance)
            calls.append(lambda e=event: engine.decide(e))  # type: ignore[misc]
        return calls

    challenge = pow_.create(binding, now, 600, policy.challenge.difficulty)
    payload = solve(challenge)
    rows = [
        measure("clearance cookie check", [lambda: signer.verify(token, binding, now)] * n),
        measure("decide, no clearance", decide(Engine(policy), None)),
        measure("decide, with clearance", decide(Engine(policy), "c-0123456789abcdef")),
        measure("issue a pow challenge", [lambda: pow_.create(binding, now, 600, 50000)] * (n // 10)),
        measure("verify a pow solution", [lambda: pow_.verify(payload, binding, now)] * (n // 10)),
    ]
    solves = [pow_.create(binding, now, 600, policy.challenge.difficulty) for _ in range(20)]
    rows.append(measure(f"solve one (difficulty {policy.challenge.difficulty}, Python)",
                        [lambda c=c: solve(c) for c in solves]))  # type: ignore[misc]
    width = max(len(r["name"]) for r in rows)
    print(f"{'measurement':<{width}}  {'calls':>6}  {'median µs':>10}  {'p99 µs':>10}")
    for r in rows:
        print(f"{r['name']:<{width}}  {r['calls']:>6}  {r['median_us']:>10}  {r['p99_us']:>10}")


if __name__ == "__main__":
    main()
