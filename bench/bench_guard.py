"""Benchmark: engine cost per event, memory under a flood of clients, proxy overhead.

Run: `make bench` (or `.venv/bin/python bench/bench_guard.py [--quick]`).

Everything is measured side by side in one run, and ratios are what to
compare: absolute times on shared 2-core machines are noisy.

1. Engine: `Engine.decide` on a stream of profile views from many clients,
   next to one `limits` moving-window check per event (memory storage) on
   the same stream. Target: engine <= 3x the limits check. Two streams:
   "sweepers" (5,000 clients each walking the same 50 names in alphabetical
   order: every request is a sweep, judged in full) and "readers" (5,000
   people reading profiles of their own choosing with a stylesheet now and
   then, all allowed: the guard's everyday path).
2. Memory: 1,000,000 distinct client IPs, one profile view each, through
   the engine with its default bounded store; next to `limits`' memory
   storage fed the same IPs (which keeps every key until it expires).
3. Proxy: throughput and latency of the demo site through `scrapeguard
   proxy` against the demo site directly, under the same load from `wrk`
   (Debian package `wrk`; without it a slower Python load generator is
   used and the report says so). Target: proxy >= 60% of direct throughput.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from limits import RateLimitItemPerHour, storage, strategies

from scrapeguard.engine import Engine
from scrapeguard.events import Event
from scrapeguard.policy import default_policy
from scrapeguard.routes import RouteMap

T0 = 1_800_000_000.0


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def event_stream(n: int, clients: int) -> list[Event]:
    """Profile views (and some assets) from `clients` IPs, each walking its own profiles."""
    routes = RouteMap(default_policy().routes)
    events = []
    for i in range(n):
        c = i % clients
        ip = f"10.{c >> 16 & 255}.{c >> 8 & 255}.{c & 255}"
        path = "/static/site.css" if i % 4 == 3 else f"/u/member{(i // clients) % 50}"
        events.append(Event(ts=T0 + i * 0.001, ip=ip, path=path, route=routes.match(path),
                            user_agent="Mozilla/5.0"))
    return events


FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def reader_stream(n: int, clients: int) -> list[Event]:
    """People reading: each client views profiles of its own choosing (no order), a browser's headers,
    a stylesheet now and then, uneven pauses: what the guard mostly sees and allows."""
    routes = RouteMap(default_policy().routes)
    rnd = random.Random(5)
    headers = {"accept": "text/html", "accept-language": "en-GB", "accept-encoding": "gzip"}
    events = []
    for i in range(n):
        c = i % clients
        ip = f"10.{c >> 16 & 255}.{c >> 8 & 255}.{c & 255}"
        path = "/static/site.css" if (i // clients) % 4 == 3 else f"/u/m{rnd.randrange(10**6):06d}"
        events.append(Event(ts=T0 + i * 0.01 + rnd.uniform(0, 30), ip=ip, path=path,
                            route=routes.match(path),
                            user_agent=FIREFOX,
                            headers=headers))
    events.sort(key=lambda e: e.ts)
    return events


def bench_engine(n: int, repeats: int, stream: str = "sweepers") -> dict[str, Any]:
    events = event_stream(n, clients=5000) if stream == "sweepers" else reader_stream(n, clients=5000)
    keys = [e.ip or "" for e in events]
    item = RateLimitItemPerHour(60)
    engine_times, limits_times = [], []
    for _ in range(repeats):
        engine = Engine(default_policy())
        gc.collect()
        start = time.perf_counter()
        decide = engine.decide
        for e in events:
            decide(e)
        engine_times.append((time.perf_counter() - start) / n)

        limiter = strategies.MovingWindowRateLimiter(storage.MemoryStorage())
        gc.collect()
        start = time.perf_counter()
        hit = limiter.hit
        for k in keys:
            hit(item, "ip", k)
        limits_times.append((time.perf_counter() - start) / n)
    engine_us, limits_us = min(engine_times) * 1e6, min(limits_times) * 1e6
    return {"stream": stream, "events": n, "engine_us_per_event": round(engine_us, 2),
            "limits_moving_window_us_per_check": round(limits_us, 2),
            "ratio": round(engine_us / limits_us, 2), "target_ratio": 3.0}


def bench_memory(n: int) -> dict[str, Any]:
    routes = RouteMap(default_policy().routes)
    route = routes.match("/u/someone")
    gc.collect()
    before = rss_bytes()
    engine = Engine(default_policy())
    for i in range(n):
        ip = f"{10 + (i >> 24)}.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"
        engine.decide(Event(ts=T0 + i * 0.001, ip=ip, path="/u/someone", route=route))
    gc.collect()
    engine_growth = rss_bytes() - before
    entries = len(engine.store)  # type: ignore[arg-type]
    del engine
    gc.collect()

    before = rss_bytes()
    limiter = strategies.MovingWindowRateLimiter(storage.MemoryStorage())
    item = RateLimitItemPerHour(60)
    for i in range(n):
        limiter.hit(item, "ip", f"{10 + (i >> 24)}.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}")
    gc.collect()
    limits_growth = rss_bytes() - before
    return {"distinct_ips": n, "engine_store_entries": entries,
            "engine_rss_growth_mb": round(engine_growth / 2**20, 1),
            "limits_rss_growth_mb": round(limits_growth / 2**20, 1)}


# -- proxy ------------------------------------------------------------------------------

WRK_SCRIPT = """
local names = {}
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", "/api/v1/members/" .. ((counter % 50) + 1))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listening on port {port} after {timeout}s")


Runs = dict[str, list[dict[str, float]]]


def alternate_load(ports: dict[str, int], seconds: int, connections: int,
                   script: Path) -> tuple[dict[str, dict[str, float]], Runs]:
    """Load each named port in turn, twice over (so drift hits every side alike), with wrk if it is
    installed: each side's best run, and all the runs."""
    use_wrk = shutil.which("wrk") is not None
    results: Runs = {name: [] for name in ports}
    for _round in range(2):
        for name, port in ports.items():
            url = f"http://127.0.0.1:{port}"
            results[name].append(run_wrk(url, seconds, connections, script) if use_wrk
                                 else run_python_load(url, seconds, connections))
    return {name: max(runs, key=lambda r: r["requests_per_s"]) for name, runs in results.items()}, results


def run_wrk(url: str, seconds: int, connections: int, script: Path) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def ms(label: str) -> float:
        m = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        assert m, out
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"requests_per_s": rps, "p50_ms": ms("50"), "p99_ms": ms("99"),
            "non_2xx": float(non2xx.group(1)) if non2xx else 0.0}


def run_python_load(url: str, seconds: int, connections: int) -> dict[str, float]:
    import asyncio

    import aiohttp

    async def go() -> dict[str, float]:
        latencies: list[float] = []
        errors = 0
        deadline = time.perf_counter() + seconds

        async def worker(session: aiohttp.ClientSession, w: int) -> None:
            nonlocal errors
            i = w
            while time.perf_counter() < deadline:
                i += 1
                start = time.perf_counter()
                async with session.get(f"{url}/api/v1/members/{i % 50 + 1}") as r:
                    await r.read()
                    errors += r.status >= 300
                latencies.append(time.perf_counter() - start)

        async with aiohttp.ClientSession() as session:
            await asyncio.gather(*(worker(session, w) for w in range(connections)))
        latencies.sort()
        return {"requests_per_s": len(latencies) / seconds,
                "p50_ms": latencies[len(latencies) // 2] * 1000,
                "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000, "non_2xx": float(errors)}

    return asyncio.run(go())


def bench_proxy(seconds: int, connections: int, store: str = "memory://") -> dict[str, Any]:
    exe = [sys.executable, "-m", "scrapeguard"]
    site_port, proxy_port = free_port(), free_port()
    procs = []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            procs.append(subprocess.Popen(
                [*exe, "site", "--listen", f"127.0.0.1:{site_port}", "--members", "1000"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            procs.append(subprocess.Popen(
                [*exe, "proxy", "--listen", f"127.0.0.1:{proxy_port}",
                 "--upstream", f"http://127.0.0.1:{site_port}", "--store", store,
                 "--decisions-out", f"{tmp}/decisions.jsonl"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            wait_port(site_port)
            wait_port(proxy_port)
            script = Path(tmp) / "members.lua"
            script.write_text(WRK_SCRIPT)
            use_wrk = shutil.which("wrk") is not None
            best, results = alternate_load({"direct": site_port, "proxy": proxy_port}, seconds, connections,
                                           script)
        finally:
            for p in procs:
                p.terminate()
                p.wait(10)
    direct, proxied = best["direct"], best["proxy"]
    return {
        "load_generator": "wrk" if use_wrk else "python (wrk not installed: numbers are pessimistic)",
        "proxy_store": store.split("?")[0],
        "connections": connections, "seconds_per_run": seconds,
        "direct_rps": round(direct["requests_per_s"]), "proxy_rps": round(proxied["requests_per_s"]),
        "throughput_ratio": round(proxied["requests_per_s"] / direct["requests_per_s"], 3),
        "target_ratio": 0.6,
        "direct_p50_ms": round(direct["p50_ms"], 2), "proxy_p50_ms": round(proxied["p50_ms"], 2),
        "direct_p99_ms": round(direct["p99_ms"], 2), "proxy_p99_ms": round(proxied["p99_ms"], 2),
        "added_p50_ms": round(proxied["p50_ms"] - direct["p50_ms"], 2),
        "added_p99_ms": round(proxied["p99_ms"] - direct["p99_ms"], 2),
        "non_2xx_through_proxy": proxied["non_2xx"],
        "all_rounds": {k: [round(r["requests_per_s"]) for r in v] for k, v in results.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller runs (a smoke test, not figures)")
    parser.add_argument("--only", choices=["engine", "memory", "proxy"], help="run one part")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--store", default="memory://",
                        help="the proxy's store URI, e.g. redis://127.0.0.1:6379/0?prefix=bench")
    args = parser.parse_args()
    report: dict[str, Any] = {"python": sys.version.split()[0], "cpus": os.cpu_count()}
    if args.only in (None, "engine"):
        report["engine"] = bench_engine(50_000 if args.quick else 300_000, 2 if args.quick else 5)
        report["engine_readers"] = bench_engine(50_000 if args.quick else 300_000, 2 if args.quick else 5,
                                                "readers")
    if args.only in (None, "memory"):
        report["memory"] = bench_memory(50_000 if args.quick else 1_000_000)
    if args.only in (None, "proxy"):
        report["proxy"] = bench_proxy(2 if args.quick else 10, 32, args.store)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    for section, values in report.items():
        if isinstance(values, dict):
            print(f"[{section}]")
            for k, v in values.items():
                print(f"  {k:38} {v}")
        else:
            print(f"{section}: {values}")


if __name__ == "__main__":
    main()
