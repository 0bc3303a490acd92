"""Benchmark: what each integration adds, in one run, side by side.

Run: `make bench-integrations` (or `.venv/bin/python bench/bench_integrations.py [--requests N]
[--seconds S] [--no-nginx]`).

1. The middlewares (ASGI/Starlette, WSGI/Flask, Django), each against its bare app (the same
   example app of examples/ without the guard), called in-process with no server around them, so
   that only the middleware differs: per-request latency (p50, p99), the p50 the guard adds, and
   requests per second, on a member-data route (`/api/v1/members/<id>`) and on the stylesheet.
   Every request comes from a different client of many (X-Forwarded-For from a trusted peer,
   a browser's headers), so that the guard's allow path is what is measured (refusals counted).
2. nginx + `scrapeguard decide` (auth_request, log lines over syslog) against nginx alone, in
   front of the same site (`scrapeguard site`, the demo site), on a member-data route and on an
   asset (served without a subrequest), with `wrk` (Debian's package) where installed, else a
   Python load generator (aiohttp); the report says which. nginx, the decide server and the site
   are separate processes, as deployed.

Targets (issue 16): middleware p50 added <= 0.3 ms on a member-data route; nginx + decide >= 50%
of nginx alone on member-data routes and >= 95% on assets. This machine's cores are shared: read
the ratios, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from scrapeguard.drill.nginx import ASSET_LOCATION, Nginx, free_port, nginx_binary, nginx_conf

ROOT = Path(__file__).resolve().parents[1]
CHROME_UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Chrome/131.0.0.0 Safari/537.36")
BROWSER = {"user-agent": CHROME_UA, "accept": "application/json", "accept-language": "en-GB,en;q=0.9",
           "accept-encoding": "gzip, deflate, br", "sec-fetch-mode": "cors"}


def example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_example_{name}", ROOT / "examples" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def client_ip(i: int) -> str:
    return f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


def member_path(i: int) -> str:
    return f"/api/v1/members/{(i * 7) % 500 + 1}"


# -- 1. the middlewares, in-process ------------------------------------------------------

class Timed:
    """Per-request latencies (seconds) and the statuses answered."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.statuses: Counter[int] = Counter()

    def p(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    @property
    def rate(self) -> float:
        return len(self.latencies) / sum(self.latencies)


def run_asgi(app: Any, paths: list[str]) -> Timed:
    timed = Timed()

    status = [0]

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status[0] = message["status"]

    async def go() -> None:
        for i, path in enumerate(paths):
            headers = [(k.encode(), v.encode()) for k, v in BROWSER.items()]
            headers.append((b"x-forwarded-for", client_ip(i).encode()))
            scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                     "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
                     "headers": headers, "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80),
                     "root_path": ""}
            start = time.perf_counter()
            await app(scope, receive, send)
            timed.latencies.append(time.perf_counter() - start)
            timed.statuses[status[0]] += 1

    asyncio.run(go())
    return timed


def wsgi_environ(path: str, i: int) -> dict[str, Any]:
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "RAW_URI": path, "REQUEST_URI": path,
               "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80",
               "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http",
               "wsgi.input": io.BytesIO(b""), "wsgi.errors": sys.stderr, "wsgi.version": (1, 0),
               "wsgi.multithread": False, "wsgi.multiprocess": False, "wsgi.run_once": False,
               "HTTP_HOST": "127.0.0.1", "HTTP_X_FORWARDED_FOR": client_ip(i)}
    for name, value in BROWSER.items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ


def run_wsgi(app: Callable[..., Any], paths: list[str]) -> Timed:
    timed = Timed()
    status = [""]

    def start_response(line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        status[0] = line
        return lambda data: None

    for i, path in enumerate(paths):
        environ = wsgi_environ(path, i)
        start = time.perf_counter()
        body = app(environ, start_response)
        for _ in body:
            pass
        if hasattr(body, "close"):
            body.close()
        timed.latencies.append(time.perf_counter() - start)
        timed.statuses[int(status[0].split()[0])] += 1
    return timed


def middleware_apps() -> dict[str, tuple[Callable[[list[str]], Timed], Callable[[list[str]], Timed]]]:
    """name -> (bare run, guarded run)."""
    trusted = ("127.0.0.1",)
    starlette_app = example("starlette_app")
    flask_app = example("flask_app")
    django_app = example("django_app")
    bare_asgi = starlette_app.create_app(guarded=False)
    guarded_asgi = starlette_app.create_app(trusted_proxies=trusted)
    guarded_flask = flask_app.create_app(trusted_proxies=trusted)
    bare_flask = flask_app.create_app(trusted_proxies=trusted)
    bare_flask.wsgi_app = bare_flask.wsgi_app.app  # the Flask app without the guard around it

    django_app.SCRAPEGUARD.update({"trusted_proxies": list(trusted)})
    django_app.configure()
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import override_settings

    with override_settings(MIDDLEWARE=[]):
        bare_django = WSGIHandler()
    guarded_django = WSGIHandler()
    return {
        "ASGI (Starlette)": (lambda p: run_asgi(bare_asgi, p), lambda p: run_asgi(guarded_asgi, p)),
        "WSGI (Flask)": (lambda p: run_wsgi(bare_flask, p), lambda p: run_wsgi(guarded_flask, p)),
        "Django": (lambda p: run_wsgi(bare_django, p), lambda p: run_wsgi(guarded_django, p)),
    }


def bench_middlewares(requests: int) -> list[str]:
    lines = [f"{'middleware':18} {'route':12} {'bare p50':>9} {'guard p50':>9} {'added p50':>9} "
             f"{'bare p99':>9} {'guard p99':>9} {'bare rps':>9} {'guard rps':>9} {'ratio':>6}  "
             f"statuses (guarded)"]
    for name, (bare, guarded) in middleware_apps().items():
        for route, paths in (("member-data", [member_path(i) for i in range(requests)]),
                             ("asset", ["/static/site.css"] * requests)):
            bare(paths[: requests // 10])  # warm up
            guarded(paths[: requests // 10])
            b, g = bare(paths), guarded([p for p in paths])
            added = (g.p(0.5) - b.p(0.5)) * 1000
            lines.append(f"{name:18} {route:12} {b.p(0.5) * 1000:8.3f}ms {g.p(0.5) * 1000:8.3f}ms "
                         f"{added:8.3f}ms {b.p(0.99) * 1000:8.3f}ms {g.p(0.99) * 1000:8.3f}ms "
                         f"{b.rate:9.0f} {g.rate:9.0f} "
                         f"{g.rate / b.rate:6.0%}  {dict(g.statuses)}")
    return lines


# -- 2. nginx + decide against nginx alone -----------------------------------------------

WRK_SCRIPT = """
local n = 0
request = function()
  n = n + 1
  local ip = string.format("10.%d.%d.%d", math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
  local path = "%PATH%"
  if path == "member" then path = "/api/v1/members/" .. ((n * 7) % 500 + 1) end
  wrk.headers["X-Forwarded-For"] = ip
  wrk.headers["User-Agent"] = "%UA%"
  wrk.headers["Accept"] = "application/json"
  wrk.headers["Accept-Language"] = "en-GB,en;q=0.9"
  wrk.headers["Accept-Encoding"] = "gzip, deflate, br"
  wrk.headers["Sec-Fetch-Mode"] = "cors"
  return wrk.format("GET", path)
end
done = function(summary, latency, requests)
  io.write(string.format("p50_us %d\\np99_us %d\\n", latency:percentile(50), latency:percentile(99)))
end
"""


def run_wrk(url: str, route: str, seconds: float, workdir: Path) -> tuple[float, float, float]:
    """(requests per second, p50 ms, p99 ms) with wrk, 1 thread, 32 connections."""
    script = workdir / f"{route}.lua"
    path = "member" if route == "member-data" else f"{ASSET_LOCATION}site.css"
    script.write_text(WRK_SCRIPT.replace("%PATH%", path).replace("%UA%", CHROME_UA))
    run = subprocess.run(["wrk", "-t1", "-c32", f"-d{max(1, int(seconds))}s", "-s", str(script), url],
                         capture_output=True, text=True, check=True)
    out = run.stdout
    if "p50_us" not in out:
        raise RuntimeError(f"wrk: {out} {run.stderr}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = int(re.search(r"p50_us (\d+)", out).group(1)) / 1000  # type: ignore[union-attr]
    p99 = int(re.search(r"p99_us (\d+)", out).group(1)) / 1000  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad:
        print(f"  ({url} {route}: {bad.group(1)} non-2xx answers)", file=sys.stderr)
    return rps, p50, p99


def run_python_load(url: str, route: str, seconds: float) -> tuple[float, float, float]:
    """The same load from aiohttp (32 concurrent clients) where wrk is not installed."""
    import aiohttp

    async def go() -> tuple[float, float, float]:
        latencies: list[float] = []
        deadline = time.perf_counter() + seconds
        counter = iter(range(10**9))

        async def worker(session: aiohttp.ClientSession) -> None:
            while time.perf_counter() < deadline:
                n = next(counter)
                path = member_path(n) if route == "member-data" else f"{ASSET_LOCATION}site.css"
                headers = {**BROWSER, "X-Forwarded-For": client_ip(n)}
                start = time.perf_counter()
                async with session.get(url + path, headers=headers) as response:
                    await response.read()
                latencies.append(time.perf_counter() - start)

        start = time.perf_counter()
        async with aiohttp.ClientSession() as session:
            await asyncio.gather(*(worker(session) for _ in range(32)))
        ordered = sorted(latencies)
        return (len(latencies) / (time.perf_counter() - start), ordered[len(ordered) // 2] * 1000,
                ordered[int(len(ordered) * 0.99)] * 1000)

    return asyncio.run(go())


@contextlib.contextmanager
def process(args: list[str], port: int) -> Iterator[None]:
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        import socket

        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"{args[:2]} did not start") from None
                time.sleep(0.05)
        yield
    finally:
        proc.terminate()
        proc.wait(10)


def warm_up(decide_url: str) -> None:
    """One decision before the clock starts: the first loads the address lists (seconds)."""
    import urllib.request

    headers = {**BROWSER, "X-Original-Method": "GET", "X-Original-URI": member_path(0),
               "X-Forwarded-For": "10.255.0.1"}
    with urllib.request.urlopen(urllib.request.Request(decide_url + "/auth", headers=headers),
                                timeout=300) as answer:
        answer.read()


def median_run(runs: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    """The run of median throughput."""
    return sorted(runs)[len(runs) // 2]


#: The fronts compared: nginx alone; with decide; with decide and no log lines for the assets
#: (the asset history is then not recorded: less work for the decide server).
FRONTS = ("alone", "decide", "decide, assets unlogged")


def bench_nginx(seconds: float, rounds: int) -> list[str]:
    binary = nginx_binary()
    if binary is None:
        return ["nginx is not installed (apt-get install nginx-light): nginx + decide not measured"]
    use_wrk = shutil.which("wrk") is not None
    scrapeguard = str(Path(sys.executable).with_name("scrapeguard"))
    site_port, decide_port = free_port(), free_port()
    site = f"127.0.0.1:{site_port}"
    generator = "wrk (1 thread, 32 connections)" if use_wrk else "aiohttp, 32 clients"
    lines = [f"load generator: {generator}, {seconds:.0f} s per run, median of {rounds} alternating "
             f"rounds; site: the demo site (`scrapeguard site`), one process",
             f"{'route':12} {'front':24} {'rps':>7} {'of alone':>8} {'p50':>9} {'p99':>9}"]
    with tempfile.TemporaryDirectory() as tmp, \
            process([scrapeguard, "site", "--listen", site, "--members", "1000"], site_port), \
            process([scrapeguard, "decide", "--listen", f"127.0.0.1:{decide_port}",
                     "--trusted-proxies", "127.0.0.1"], decide_port):
        workdir = Path(tmp)
        warm_up(f"http://127.0.0.1:{decide_port}")
        fronts: dict[str, Nginx] = {}
        try:
            for number, label in enumerate(FRONTS):
                conf_dir = workdir / str(number)
                conf_dir.mkdir()
                port = free_port()
                decide = None if label == "alone" else f"127.0.0.1:{decide_port}"
                conf = nginx_conf(conf_dir, port, site, decide, log_assets=label == "decide")
                fronts[label] = Nginx(binary, conf_dir, conf, port)

            def load(url: str, route: str) -> tuple[float, float, float]:
                if use_wrk:
                    return run_wrk(url, route, seconds, workdir)
                return run_python_load(url, route, seconds)

            # alternating rounds, the median of each: other load on the machine hits all alike
            runs: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
            for route in ("member-data", "asset"):
                for nginx in fronts.values():
                    load(nginx.url, route)  # warm up
                for _ in range(rounds):
                    for label, nginx in fronts.items():
                        runs.setdefault((route, label), []).append(load(nginx.url, route))
        finally:
            for nginx in fronts.values():
                nginx.stop()
        for route in ("member-data", "asset"):
            alone = median_run(runs[(route, "alone")])
            for label in FRONTS:
                rps, p50, p99 = median_run(runs[(route, label)])
                lines.append(f"{route:12} {label:24} {rps:7.0f} {rps / alone[0]:8.0%} "
                             f"{p50:7.2f}ms {p99:7.2f}ms")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000, help="requests per middleware run")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per nginx load run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating nginx rounds (median)")
    parser.add_argument("--no-nginx", action="store_true", help="only the middlewares")
    args = parser.parse_args()
    os.environ.setdefault("SCRAPEGUARD_SECRET_KEY", "bench-only-" + "k" * 32)
    import logging

    logging.disable(logging.WARNING)
    print(f"1. middlewares, in-process, {args.requests} requests per run (p50 of each run)")
    for line in bench_middlewares(args.requests):
        print("  " + line)
    if not args.no_nginx:
        print("\n2. nginx + scrapeguard decide against nginx alone")
        for line in bench_nginx(args.seconds, args.rounds):
            print("  " + line)
    print("\ntargets: middleware added p50 <= 0.3 ms (member-data); nginx + decide >= 50% of nginx alone "
          "(member-data), >= 95% (asset)")


if __name__ == "__main__":
    main()
