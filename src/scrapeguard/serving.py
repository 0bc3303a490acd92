"""Running servers: the demo site (uvicorn) and the proxy (aiohttp), alone or together."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import math
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import uvicorn

from scrapeguard.decisions import DecisionWriter
from scrapeguard.demo.site import create_app
from scrapeguard.engine import Engine
from scrapeguard.integrations.connections import ConnectionGuard, ConnectionLimits
from scrapeguard.integrations.proxy import GuardProxy, ProxyConfig
from scrapeguard.policy import PolicyError, load_policy_text
from scrapeguard.policy.model import Policy
from scrapeguard.stores import store_from_uri

log = logging.getLogger(__name__)


def parse_listen(value: str) -> tuple[str, int]:
    """'127.0.0.1:8000', '[::1]:8000' or ':8000' (loopback) -> (host, port)."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not (port_text.isascii() and port_text.isdigit()):
        raise ValueError(f"{value!r} is not HOST:PORT (for example 127.0.0.1:8000)")
    port = int(port_text)
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} is out of range 0..65535")
    host = host.strip("[]") or "127.0.0.1"
    return host, port


@dataclass
class SiteServer:
    server: uvicorn.Server
    task: asyncio.Task[None]
    #: The connection limits' counters (connections_refused, header_timeouts, idle_timeouts).
    connections: ConnectionGuard

    async def stop(self) -> None:
        self.server.should_exit = True
        await self.task


#: The demo site's connection limits: uvicorn's own idle keep-alive (5 s), a deadline for request
#: heads (uvicorn has none), and no cap per client: behind the guard, every connection is the guard's.
SITE_LIMITS = ConnectionLimits(header_timeout=10.0, idle_timeout=5.0, max_per_client=0)


async def start_site(host: str, port: int, members: int, seed: int, demo_logins: bool,
                     limits: ConnectionLimits = SITE_LIMITS) -> SiteServer:
    app = create_app(members=members, seed=seed, demo_logins=demo_logins)
    connections = ConnectionGuard(limits)
    # uvicorn's keep-alive timer is set past ours, which decides (it has no deadline for heads).
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                            lifespan="off", timeout_keep_alive=math.ceil(limits.idle_timeout) + 1)
    config.load()
    # Outermost, so that it sees the socket peer (uvicorn's proxy-headers middleware, inside it,
    # replaces the scope's client with the X-Forwarded-For address of a trusted proxy).
    config.loaded_app = connections.asgi(config.loaded_app)
    protocol = config.http_protocol_class

    def create_protocol(**kwargs: Any) -> asyncio.Protocol:
        return connections.wrap(functools.partial(protocol, **kwargs))()

    config.http_protocol_class = cast(type[asyncio.Protocol], create_protocol)
    server, task = await _serve(config, f"the demo site could not listen on {host}:{port}")
    return SiteServer(server, task, connections)


async def _serve(config: uvicorn.Config, failure: str) -> tuple[uvicorn.Server, asyncio.Task[None]]:
    """Start uvicorn on the running loop; return once it listens (its startup error raised)."""
    server = uvicorn.Server(config)
    # Signals are handled by run_until_signalled, not by uvicorn.
    setattr(server, "capture_signals", contextlib.nullcontext)  # noqa: B010
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # raises the startup error (e.g. address in use)
            raise OSError(failure)
        await asyncio.sleep(0.02)
    return server, task


@dataclass
class ConsoleServer:
    server: uvicorn.Server
    task: asyncio.Task[None]

    @property
    def port(self) -> int:
        """The port it listens on (the one the system chose, for port 0)."""
        return int(self.server.servers[0].sockets[0].getsockname()[1])

    async def stop(self) -> None:
        self.server.should_exit = True
        await self.task


async def start_console(app: Any, host: str, port: int) -> ConsoleServer:
    """The web console (scrapeguard.console) on uvicorn, on the running loop."""
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                            lifespan="off")
    server, task = await _serve(config, f"the console could not listen on {host}:{port}")
    return ConsoleServer(server, task)


def build_proxy(policy: Policy, upstream: str, store_uri: str | None = None,
                decisions_out: str | None = None, trusted_proxies: tuple[str, ...] = (),
                db: str | None = None) -> GuardProxy:
    """The guard; with `db` (a URL or a SQLite path) it keeps records (scrapeguard.records)."""
    store = store_from_uri(store_uri, policy.store)
    engine = Engine(policy, store)
    writer = DecisionWriter(decisions_out) if decisions_out else None
    records = None
    if db is not None:
        from scrapeguard.records.guard import open_sink

        records = open_sink(policy, db)
    config = ProxyConfig(upstream=upstream, trusted_proxies=trusted_proxies)
    return GuardProxy(config, engine, writer, records)


class PolicyReloader:
    """Reloads the guard's policy file when its content changes and on SIGHUP, so that a change
    approved in the console (or made by hand) takes effect without a restart. The file is looked at
    at most every `interval` seconds: its inode, size and mtime first, its SHA-256 when they moved. A
    policy that does not load is logged and the one in force kept. With records (`--db`) each
    policy put in force is audited ("policy.in_force", records.guard.record_policy)."""

    def __init__(self, guard: GuardProxy, path: str | Path, interval: float = 2.0) -> None:
        self.guard, self.path, self.interval = guard, Path(path), interval
        self._stamp = self._stat()
        self._sha256 = self._digest(self.path.read_bytes()) if self._stamp else ""
        self._task: asyncio.Task[None] | None = None

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            found = self.path.stat()
        except OSError:
            return None
        return found.st_ino, found.st_size, found.st_mtime_ns

    @staticmethod
    def _digest(data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()

    def check(self, force: bool = False) -> bool:
        """Load the file if it changed (`force`: look at its content whatever its stamp says);
        whether another policy is now in force."""
        stamp = self._stat()
        if stamp is None or (stamp == self._stamp and not force):
            return False
        self._stamp = stamp
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            log.error("policy file %s could not be read (the policy in force stays): %s", self.path, exc)
            return False
        digest = self._digest(data)
        if digest == self._sha256:
            return False
        self._sha256 = digest  # (a broken file is reported once, not every interval)
        try:
            policy = load_policy_text(data.decode("utf-8"), source=str(self.path))
            self.guard.use_policy(policy)
        except (PolicyError, UnicodeDecodeError, ValueError) as exc:
            log.error("policy file %s not loaded, the policy in force stays:\n%s", self.path, exc)
            return False
        log.warning("policy reloaded from %s (mode %s, SHA-256 %s)", self.path, policy.mode, digest[:16])
        from scrapeguard.policy.warnings import policy_warnings

        for warning in policy_warnings(policy):
            log.warning("policy warning: %s", warning)
        records = self.guard.records
        if records is not None:
            from scrapeguard.records.guard import record_policy

            future = asyncio.get_running_loop().run_in_executor(None, record_policy, records.db, policy) \
                if _loop_running() else None
            if future is None:
                record_policy(records.db, policy)
            else:
                future.add_done_callback(_log_failure)
        return True

    def start(self) -> None:
        """Check every `interval` seconds and on SIGHUP (on the running loop)."""
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signal.SIGHUP, functools.partial(self.check, force=True))
        self._task = loop.create_task(self._watch())

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.check()

    async def stop(self) -> None:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _log_failure(future: asyncio.Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("the reloaded policy could not be audited in the records: %s", future.exception())


async def run_until_signalled(stop: Callable[[], Awaitable[None]]) -> None:
    """Wait for Ctrl-C or SIGTERM, then run `stop`."""
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, done.set)
    await done.wait()
    await stop()
