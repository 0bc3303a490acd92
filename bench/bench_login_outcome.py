"""Benchmark: what waiting for a login's outcome costs with a shared store.

Run: `.venv/bin/python bench/bench_login_outcome.py [--redis URL] [--requests N] [--rounds R]`.

Since a login's outcome is written to the shared store before its answer is sent (so that a guesser
waiting for each answer has every failure counted before its next try), a failed login's answer
waits one store write. This measures, side by side in each round, the answer time of failed logins
through the ASGI middleware on a real Redis, with the wait (as shipped) and without it (the wait
skipped, as before the change): median per answer. The failed-login limits are raised so that every
try reaches the app. Redis is used under a fresh key prefix that is deleted afterwards.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from typing import Any

import redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from scrapeguard.challenge.keys import SigningKeys
from scrapeguard.engine import Engine
from scrapeguard.integrations.adapter import GuardAdapter, ResponseEdit
from scrapeguard.integrations.asgi import ScrapeGuardMiddleware
from scrapeguard.policy import load_policy_text
from scrapeguard.stores import store_from_uri

BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
           "Accept": "text/html", "Accept-Language": "en", "Accept-Encoding": "gzip"}
#: Limits high enough that no try is refused (every answer is a failed login the app gave).
POLICY = ("[detectors.failed_logins]\naddress_throttle = 900\naddress_block_per_day = 900\n"
          "username_throttle = 900\n")


def login_fails(request: Request) -> PlainTextResponse:
    return PlainTextResponse("wrong password", status_code=401)


async def _no_wait(self: ResponseEdit) -> None:
    return None


def median_answer(store_uri: str, requests: int, wait: bool) -> float:
    """Median seconds per failed login's answer, waiting for its outcome or not."""
    shipped = ResponseEdit.counted_async
    ResponseEdit.counted_async = shipped if wait else _no_wait  # type: ignore[method-assign]
    try:
        policy = load_policy_text(POLICY)
        guard = GuardAdapter(Engine(policy, store_from_uri(store_uri, policy.store)), metrics=False,
                             keys=SigningKeys((b"bench-key-" + uuid.uuid4().hex.encode(),), "bench"))
        app = ScrapeGuardMiddleware(Starlette(routes=[Route("/login", login_fails, methods=["POST"])]),
                                    guard=guard)
        times = []
        with TestClient(app, headers=BROWSER) as client:
            for i in range(requests):
                start = time.perf_counter()
                status = client.post("/login", data={"username": f"user{i}", "password": "x"}).status_code
                times.append(time.perf_counter() - start)
                assert status == 401, status
        assert guard.engine.counts.get("errors.record", 0) == 0
        return statistics.median(times)
    finally:
        ResponseEdit.counted_async = shipped  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    prefix = f"bench-login-{uuid.uuid4().hex[:8]}"
    uri = f"{args.redis}{'&' if '?' in args.redis else '?'}prefix={prefix}"
    rows: list[tuple[float, float]] = []
    try:
        for r in range(args.rounds):
            waited = median_answer(uri, args.requests, wait=True)
            skipped = median_answer(uri, args.requests, wait=False)
            rows.append((waited, skipped))
            print(f"round {r + 1}: waiting {waited * 1e6:,.0f} µs, not waiting {skipped * 1e6:,.0f} µs, "
                  f"ratio {waited / skipped:.2f}")
    finally:
        client: Any = redis.Redis.from_url(args.redis)
        for key in client.scan_iter(f"{prefix}:*", count=1000):
            client.delete(key)
    ratios = sorted(w / s for w, s in rows)
    print(f"median ratio (waiting / not waiting) over {len(rows)} rounds: {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
