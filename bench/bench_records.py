"""Benchmark: what keeping records costs the guard.

Run: `.venv/bin/python bench/bench_records.py [--quick] [--json]`.

Measured side by side in one run (ratios are what to compare on a shared machine):

1. Hot path: the cost of handing one exposure record to the sink (`RecordSink.exposure`:
   pseudonymise, build the record, put it on the queue) next to a bare `queue.put_nowait` of a
   small dict and next to one `Engine.decide` on the same event.
2. Writer: records per second the sink's worker writes (exposure merged into the ledger,
   decisions appended) into SQLite and into PostgreSQL (if reachable).
3. Proxy: throughput of the demo site through `scrapeguard proxy` without `--db`, with
   `--db` SQLite and with `--db` PostgreSQL, under the same load of member-data requests, in two
   scenarios: "served" (quotas raised and the automation detector off: every response is member
   data, recorded as exposure) and "refused" (the default detectors refuse the machine-regular
   load: a refusal flood, every request a decision record). Target: with --db >= 90% of the
   proxy without it.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from bench_guard import WRK_SCRIPT, alternate_load, free_port, wait_port
from scrapeguard.decisions import Decision, Reason
from scrapeguard.engine import Engine
from scrapeguard.events import Event
from scrapeguard.policy import default_policy
from scrapeguard.records.db import Database
from scrapeguard.records.privacy import Pseudonymiser
from scrapeguard.records.sink import RecordSink
from scrapeguard.routes import RouteMap

PG_URL = os.environ.get("SCRAPEGUARD_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
T0 = 1_800_000_000.0
KEY = b"bench-key-0123456789abcdef"


def events(n: int) -> list[Event]:
    routes = RouteMap(default_policy().routes)
    return [Event(ts=T0 + i * 0.001, ip=f"10.0.{i // 250 % 250}.{i % 250}", path=f"/api/v1/members/{i % 500}",
                  route=routes.match(f"/api/v1/members/{i % 500}")) for i in range(n)]


def bench_hot_path(n: int, tmp: Path) -> dict[str, Any]:
    stream = events(n)
    bare: queue.Queue[dict[str, Any]] = queue.Queue()
    start = time.perf_counter()
    for e in stream:
        bare.put_nowait({"ts": e.ts, "ip": e.ip, "member": e.route.subject})
    bare_s = time.perf_counter() - start
    db = Database(str(tmp / "hot.db"))
    db.ensure_schema()
    sink = RecordSink(db, Pseudonymiser(KEY), tmp / "hot.spill", max_queue=n + 1)
    start = time.perf_counter()
    for e in stream:
        sink.exposure(e)
    sink_s = time.perf_counter() - start
    sink.close(timeout=120)
    engine = Engine(default_policy())
    start = time.perf_counter()
    for e in stream:
        engine.decide(e)
    engine_s = time.perf_counter() - start
    return {"events": n, "queue_put_us": round(bare_s / n * 1e6, 2),
            "sink_exposure_us": round(sink_s / n * 1e6, 2), "engine_decide_us": round(engine_s / n * 1e6, 2),
            "sink_vs_engine": round(sink_s / engine_s, 3)}


def bench_writer(target: str, n: int, tmp: Path) -> dict[str, Any]:
    db = Database(target)
    db.ensure_schema()
    sink = RecordSink(db, Pseudonymiser(KEY), tmp / "writer.spill", max_queue=n * 2)
    stream = events(n)
    start = time.perf_counter()
    for i, e in enumerate(stream):
        sink.exposure(e)
        if i % 10 == 0:
            sink.decision(Decision("throttle", e.ts, (Reason("profile_quota", f"ip:{e.ip}", 0.6, "over"),),
                                   until=e.ts + 300, id=f"sg-{i:012x}", keys={"ip": str(e.ip)},
                                   route="profile", subject=e.route.subject, path=e.path))
    assert sink.flush(600)
    seconds = time.perf_counter() - start
    written = sink.counts.written
    sink.close()
    db.dispose()
    return {"records": written, "seconds": round(seconds, 2), "records_per_s": round(written / seconds),
            "batches": sink.counts.batches}


SCENARIOS = {
    "served": "[detectors.automation]\nenabled = false\n",
    "refused": "",
}


def bench_proxy(seconds: int, connections: int, tmp: Path, pg: str | None, scenario: str) -> dict[str, Any]:
    exe = [sys.executable, "-m", "scrapeguard"]
    policy = tmp / f"policy-{scenario}.toml"
    policy.write_text("[detectors.profile_quota.anonymous]\nper_hour = 1000000\nper_day = 1000000\n"
                      "[store]\nmax_members_per_key = 2000000\n"
                      '[incidents]\npseudonym_key = "env:SG_BENCH_KEY"\n' + SCENARIOS[scenario])
    env = {**os.environ, "SG_BENCH_KEY": KEY.decode()}
    site_port = free_port()
    variants: dict[str, list[str]] = {"no_db": [], "sqlite": ["--db", str(tmp / f"proxy-{scenario}.db")]}
    if pg:
        variants["postgresql"] = ["--db", pg]
    ports = {name: free_port() for name in variants}
    procs = [subprocess.Popen([*exe, "site", "--listen", f"127.0.0.1:{site_port}", "--members", "1000"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        for name, extra in variants.items():
            procs.append(subprocess.Popen(
                [*exe, "proxy", "--listen", f"127.0.0.1:{ports[name]}", "--upstream",
                 f"http://127.0.0.1:{site_port}", "--policy", str(policy), *extra],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env))
        wait_port(site_port)
        for port in ports.values():
            wait_port(port)
        script = tmp / "members.lua"
        script.write_text(WRK_SCRIPT)
        use_wrk = shutil.which("wrk") is not None
        best, _ = alternate_load(ports, seconds, connections, script)
    finally:
        for p in procs:
            p.terminate()
            p.wait(10)
    base = best["no_db"]["requests_per_s"]
    return {
        "load_generator": "wrk" if use_wrk else "python (wrk not installed)",
        "connections": connections, "seconds_per_run": seconds,
        **{f"{name}_rps": round(r["requests_per_s"]) for name, r in best.items()},
        **{f"{name}_p99_ms": round(r["p99_ms"], 2) for name, r in best.items()},
        **{f"{name}_refused": int(r["non_2xx"]) for name, r in best.items()},
        **{f"{name}_vs_no_db": round(r["requests_per_s"] / base, 3)
           for name, r in best.items() if name != "no_db"},
        "target_ratio": 0.9,
    }


def postgres_schema() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_URL, connect_timeout=2, autocommit=True) as conn:
            conn.execute("DROP SCHEMA IF EXISTS sgbench CASCADE")
            conn.execute("CREATE SCHEMA sgbench")
    except Exception as exc:  # any failure: the PostgreSQL part is skipped and the report says why
        print(f"PostgreSQL not used: {exc}", file=sys.stderr)
        return None
    return f"{PG_URL}?options=-csearch_path%3Dsgbench"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller runs (a smoke test, not figures)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report: dict[str, Any] = {"python": sys.version.split()[0], "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        report["hot_path"] = bench_hot_path(20_000 if args.quick else 100_000, tmp)
        n = 5_000 if args.quick else 50_000
        report["writer_sqlite"] = bench_writer(str(tmp / "writer.db"), n, tmp)
        pg = postgres_schema()
        if pg:
            report["writer_postgresql"] = bench_writer(pg, n, tmp)
        for scenario in SCENARIOS:
            pg = postgres_schema() if pg else None  # empty again for each proxy run
            report[f"proxy_{scenario}"] = bench_proxy(2 if args.quick else 10, 32, tmp, pg, scenario)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
