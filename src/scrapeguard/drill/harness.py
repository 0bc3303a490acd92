"""A stage for drills, benchmarks and tests: the demo site and the guard on loopback, in-process.

`Stage` starts the demo site (`scrapeguard.demo`) and the guard proxy in front
of it on ephemeral loopback ports, with a policy (the defaults unless told),
and tears both down. The pieces (`LoopThread`, `start_demo`, `start_guard`)
are what the test fixtures use too.

Time: a `FakeClock` given to the stage is the guard's clock (its events' time)
and the clients' (`clock.sleep` advances it instead of waiting), so a scraper
pausing for days runs in seconds, the same way every time. Requests must then
be made one at a time (the clock moves only when a client pauses).
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from aiohttp import web

from scrapeguard.integrations.proxy import GuardProxy, start_proxy
from scrapeguard.policy import Policy, default_policy, load_policy_text
from scrapeguard.serving import SiteServer, build_proxy, start_site

if TYPE_CHECKING:
    from scrapeguard.drill.strategies import Target

T = TypeVar("T")

#: Where fake time starts by default: a fixed instant (2027-01-15 08:00 UTC, a Friday), so runs repeat.
FAKE_EPOCH = 1_800_000_000.0


class Clock(Protocol):
    """Time for the guard's events and for clients' pauses."""

    def time(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class WallClock:
    """Real time: pauses really wait."""

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class FakeClock:
    """Time that passes only when a client pauses: `sleep` advances it at once."""

    def __init__(self, start: float = FAKE_EPOCH) -> None:
        self.start = start
        self._now = start
        self._lock = threading.Lock()

    def time(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            with self._lock:
                self._now += seconds

    @property
    def elapsed(self) -> float:
        """Seconds passed since the start."""
        return self.time() - self.start


class LoopThread:
    """An asyncio loop in a background thread, so that synchronous code (clients, tests) can
    run the async servers."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="drill-loop")
        self.thread.start()

    def run(self, coro: Awaitable[T], timeout: float = 60) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)  # type: ignore[arg-type]
        return future.result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        if not self.thread.is_alive():
            self.loop.close()


def runner_port(runner: web.AppRunner) -> int:
    return int(runner.addresses[0][1])


def site_port(server: SiteServer) -> int:
    return int(server.server.servers[0].sockets[0].getsockname()[1])


@dataclass
class DemoServer:
    """A running demo site."""

    url: str
    members: int
    server: SiteServer


def start_demo(loop: LoopThread, members: int = 1000, seed: int = 1, demo_logins: bool = True) -> DemoServer:
    """The demo site on a free loopback port (members log in with password `demo` if `demo_logins`)."""
    server = loop.run(start_site("127.0.0.1", 0, members, seed, demo_logins))
    return DemoServer(f"http://127.0.0.1:{site_port(server)}", members, server)


def stop_demo(loop: LoopThread, demo: DemoServer) -> None:
    loop.run(demo.server.stop())


@dataclass
class Guarded:
    """A running guard in front of an upstream."""

    url: str
    upstream_url: str
    decisions_path: Path
    proxy: GuardProxy
    runner: web.AppRunner
    _stopped: bool = field(default=False, repr=False)

    def decisions(self) -> list[dict[str, Any]]:
        """The decisions file's lines so far (each a refused or flagged request)."""
        if not self.decisions_path.exists():
            return []
        return [json.loads(line) for line in self.decisions_path.read_text().splitlines()]


def as_policy(policy: Policy | str | None) -> Policy:
    """A policy, TOML text laid over the defaults, or None for the defaults."""
    if policy is None:
        return default_policy()
    if isinstance(policy, str):
        return load_policy_text(policy, "drill-policy.toml") if policy.strip() else default_policy()
    return policy


def start_guard(loop: LoopThread, upstream: str, decisions_path: Path, policy: Policy | str | None = None,
                trusted: tuple[str, ...] = (), store: str | None = None, db: str | None = None,
                clock: Callable[[], float] | None = None) -> Guarded:
    """The guard proxy in front of `upstream` on a free loopback port, writing its decisions to
    `decisions_path`; `clock` replaces the wall clock as the time of its events."""
    proxy = build_proxy(as_policy(policy), upstream, store, str(decisions_path), trusted, db=db)
    if clock is not None:
        proxy.config.clock = clock
    runner = loop.run(start_proxy(proxy, "127.0.0.1", 0))
    return Guarded(f"http://127.0.0.1:{runner_port(runner)}", upstream, decisions_path, proxy, runner)


def stop_guard(loop: LoopThread, guard: Guarded) -> None:
    if guard._stopped:
        return
    guard._stopped = True
    loop.run(guard.runner.cleanup())
    if guard.proxy.decisions is not None:
        guard.proxy.decisions.close()
    guard.proxy.engine.store.close()


class Stage:
    """The demo site and the guard in front of it, started on entering and stopped on leaving:

        with Stage(clock=FakeClock()) as stage:
            result = run_strategy("curl", stage.target())
    """

    def __init__(self, policy: Policy | str | None = None, members: int = 1000, seed: int = 1,
                 clock: Clock | None = None, loop: LoopThread | None = None,
                 workdir: Path | None = None) -> None:
        self.policy = as_policy(policy)
        self.members = members
        self.seed = seed
        self.clock: Clock = clock if clock is not None else WallClock()
        self._own_loop = loop is None
        self.loop = loop if loop is not None else LoopThread()
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="scrapeguard-drill-")
            workdir = Path(self._tmp.name)
        self.workdir = workdir
        self.demo: DemoServer | None = None
        self.guard: Guarded | None = None

    def start(self) -> Stage:
        try:
            self.demo = start_demo(self.loop, self.members, self.seed, demo_logins=True)
            self.guard = start_guard(self.loop, self.demo.url, self.workdir / "decisions.jsonl",
                                     self.policy, clock=self.clock.time)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.guard is not None:
            stop_guard(self.loop, self.guard)
            self.guard = None
        if self.demo is not None:
            stop_demo(self.loop, self.demo)
            self.demo = None
        if self._own_loop:
            self.loop.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> Stage:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The guarded site's URL (what clients talk to)."""
        if self.guard is None:
            raise RuntimeError("the stage is not running")
        return self.guard.url

    @property
    def site_url(self) -> str:
        """The demo site itself, unguarded (for set-up only, e.g. reading the directory)."""
        if self.demo is None:
            raise RuntimeError("the stage is not running")
        return self.demo.url

    def decisions(self) -> list[dict[str, Any]]:
        return self.guard.decisions() if self.guard is not None else []

    def target(self) -> Target:
        from scrapeguard.drill.strategies import Target

        return Target(self.url, self.clock, members=self.members)


__all__ = ["FAKE_EPOCH", "Clock", "DemoServer", "FakeClock", "Guarded", "LoopThread", "Stage", "WallClock",
           "start_demo", "start_guard", "stop_demo", "stop_guard"]
