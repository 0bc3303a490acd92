"""Shared fixtures: real servers (demo site, guard proxy, test upstreams) on loopback ports."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from scrapeguard.drill.harness import (
    FakeClock,
    Guarded,
    LoopThread,
    runner_port,
    start_demo,
    start_guard,
    stop_demo,
    stop_guard,
)
from scrapeguard.stores.failover import FailoverStore

__all__ = ["Guarded", "LoopThread"]


REDIS_URL = os.environ.get("SCRAPEGUARD_TEST_REDIS", "redis://127.0.0.1:6379/0")


def _redis_or_skip() -> str:
    """The test Redis URL. In CI (CI set) a missing Redis fails the test; elsewhere it skips."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except (redis.exceptions.ConnectionError, OSError) as exc:
        message = f"Redis at {REDIS_URL} is not reachable ({exc}); set SCRAPEGUARD_TEST_REDIS or start one"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return REDIS_URL


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis URL and a fresh key prefix; the prefix's keys are deleted afterwards."""
    import redis

    url = _redis_or_skip()
    prefix = f"sgtest-{uuid.uuid4().hex[:10]}"
    yield f"{url}?prefix={prefix}"
    client = redis.Redis.from_url(url)
    for key in client.scan_iter(f"{prefix}:*", count=1000):
        client.delete(key)
    client.close()


@pytest.fixture(scope="session", autouse=True)
def _keys_in_a_temporary_config_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The records' "auto" pseudonym keys go under $XDG_CONFIG_HOME: a temporary one, not ~/.config
    (set in the environment, so subprocesses see it too)."""
    saved = os.environ.get("XDG_CONFIG_HOME")
    os.environ["XDG_CONFIG_HOME"] = str(tmp_path_factory.mktemp("config-home"))
    yield
    if saved is None:
        os.environ.pop("XDG_CONFIG_HOME", None)
    else:
        os.environ["XDG_CONFIG_HOME"] = saved


@pytest.fixture(scope="session")
def loop_thread() -> Iterator[LoopThread]:
    lt = LoopThread()
    yield lt
    lt.close()


@pytest.fixture(scope="session")
def demo_site(loop_thread: LoopThread) -> Iterator[str]:
    """One demo site (300 members, demo logins) for the whole run; its state is per-session only."""
    demo = start_demo(loop_thread, members=300, seed=1, demo_logins=True)
    yield demo.url
    stop_demo(loop_thread, demo)


@pytest.fixture
def make_guard(loop_thread: LoopThread, tmp_path: Path) -> Iterator[Callable[..., Guarded]]:
    """Start a guard in front of `upstream` with a policy (TOML text, laid over the defaults). With a
    `clock` (a FakeClock) the guard's events take their time from it, and clients pause with
    `clock.sleep`: timing rules then see the pace the test wrote, however slow the machine. A shared
    store's retry window (`retry_seconds` after a failure) then passes in that time too."""
    started: list[Guarded] = []

    def make(upstream: str, policy_text: str = "", trusted: tuple[str, ...] = (),
             name: str = "decisions.jsonl", store: str | None = None, db: str | None = None,
             clock: FakeClock | None = None) -> Guarded:
        guard = start_guard(loop_thread, upstream, tmp_path / name, policy_text, trusted, store, db,
                            clock=None if clock is None else clock.time)
        if clock is not None and isinstance(guard.proxy.engine.store, FailoverStore):
            guard.proxy.engine.store.clock = clock.time
        started.append(guard)
        return guard

    yield make
    for guard in started:
        stop_guard(loop_thread, guard)


@pytest.fixture
def start_upstream(loop_thread: LoopThread) -> Iterator[Callable[[web.Application], str]]:
    """Serve an aiohttp app (a test upstream) on a loopback port; returns its URL."""
    runners: list[web.AppRunner] = []

    def start(app: web.Application) -> str:
        async def go() -> web.AppRunner:
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            return runner

        runner = loop_thread.run(go())
        runners.append(runner)
        return f"http://127.0.0.1:{runner_port(runner)}"

    yield start
    for runner in runners:
        loop_thread.run(runner.cleanup())


def free_port(below: int = 65536) -> int:
    import socket

    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port < below:
            return port
    raise RuntimeError(f"no free port below {below}")


def free_cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is valid and free too."""
    import socket

    for _ in range(200):
        port = free_port(below=55000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


class RedisServer:
    """A redis-server of the test's own on a loopback port, that the test may stop and restart."""

    def __init__(self, workdir: Path, port: int | None = None, extra: tuple[str, ...] = ()) -> None:
        import shutil

        if shutil.which("redis-server") is None:
            message = "redis-server is not installed (apt-get install redis-server)"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
        self.workdir = workdir
        self.port = free_port() if port is None else port
        self.extra = extra
        self.proc: Any = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import subprocess
        import time

        import redis

        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir), *self.extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                if self.port == 0:  # unix socket only
                    path = self.extra[self.extra.index("--unixsocket") + 1]
                    redis.Redis(unix_socket_path=path, socket_connect_timeout=0.2).ping()
                else:
                    redis.Redis(port=self.port, socket_connect_timeout=0.2).ping()
                return
            except redis.exceptions.RedisError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server on port {self.port} did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def pause(self) -> None:
        import signal

        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        import signal

        self.proc.send_signal(signal.SIGCONT)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    yield server
    if server.proc is not None and server.proc.poll() is None:
        server.resume()  # in case the test paused it
    server.stop()


@pytest.fixture
def redis_cluster(tmp_path: Path) -> Iterator[str]:
    """A real three-node Redis Cluster on loopback ports; yields a redis-cluster:// URL."""
    import subprocess
    import time

    cluster_options = ("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                       "--cluster-node-timeout", "2000")
    nodes = [RedisServer(tmp_path / f"node{i}", port=free_cluster_port(), extra=cluster_options)
             for i in range(3)]
    try:
        subprocess.run(["redis-cli", "--cluster", "create", *(f"127.0.0.1:{n.port}" for n in nodes),
                        "--cluster-replicas", "0", "--cluster-yes"],
                       check=True, capture_output=True, timeout=60)
        deadline = time.time() + 30
        while time.time() < deadline:
            info = subprocess.run(["redis-cli", "-p", str(nodes[0].port), "cluster", "info"],
                                  capture_output=True, text=True, timeout=10).stdout
            if "cluster_state:ok" in info:
                break
            time.sleep(0.2)
        else:
            raise RuntimeError("the test cluster did not reach cluster_state:ok")
        yield f"redis-cluster://127.0.0.1:{nodes[0].port}"
    finally:
        for n in nodes:
            n.stop()


class FileClock(FakeClock):
    """A FakeClock that writes its time to a file whenever it moves, for guard processes of their
    own to read (tests/integrations/clocked_proxy.py): one fake timeline across processes."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self._publish()

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        self._publish()

    def _publish(self) -> None:
        partial = self.path.with_name(f"{self.path.name}.partial")
        partial.write_text(repr(self.time()))
        os.replace(partial, self.path)  # a reader never sees half a number


@pytest.fixture
def file_clock(tmp_path: Path) -> FileClock:
    return FileClock(tmp_path / "clock")


CLOCKED_PROXY = Path(__file__).parent / "integrations" / "clocked_proxy.py"


@pytest.fixture
def spawn_proxy(tmp_path: Path) -> Iterator[Callable[..., tuple[str, Path]]]:
    """Start `scrapeguard proxy` as a separate process; returns its URL and decisions file. With a
    `clock` (a FileClock), the process takes its events' time from it (clocked_proxy.py)."""
    import subprocess
    import sys
    import time

    procs: list[Any] = []

    def spawn(upstream: str, store: str, name: str, clock: FileClock | None = None) -> tuple[str, Path]:
        port = free_port()
        decisions = tmp_path / f"{name}.jsonl"
        if clock is None:
            command = [sys.executable, "-m", "scrapeguard", "proxy", "--listen", f"127.0.0.1:{port}",
                       "--upstream", upstream, "--store", store, "--decisions-out", str(decisions)]
        else:
            command = [sys.executable, str(CLOCKED_PROXY), str(clock.path), f"127.0.0.1:{port}", upstream,
                       store, str(decisions)]
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        import httpx

        deadline = time.time() + 30
        while time.time() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"proxy {name} exited: {proc.stdout.read() if proc.stdout else ''}")
            try:
                httpx.get(f"{url}/.well-known/scrapeguard/status", timeout=1)
                return url, decisions
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"proxy {name} did not start")

    yield spawn
    import subprocess as sp

    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(10)
        except sp.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.fixture
def own_redis_unix(tmp_path: Path) -> Iterator[Path]:
    """A redis-server of the test's own listening on a unix socket only."""
    socket_path = tmp_path / "redis.sock"
    server = RedisServer(tmp_path / "redis-unix", port=0, extra=("--unixsocket", str(socket_path)))
    yield socket_path
    server.stop()


class RedisClusterNodes:
    """A real three-master Redis Cluster (with `replicas` replicas per master) on loopback ports
    whose nodes a test may stop and restart (each keeps its nodes.conf in its own directory, so a
    restarted node rejoins with its slots)."""

    def __init__(self, workdir: Path, replicas: int = 0) -> None:
        import shutil
        import subprocess

        if shutil.which("redis-cli") is None:
            message = "redis-cli is not installed (apt-get install redis-tools)"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
        options = ("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                   "--cluster-node-timeout", "2000")
        self.nodes: list[RedisServer] = []
        self._clients: dict[int, Any] = {}
        try:
            for i in range(3 * (1 + replicas)):
                self.nodes.append(RedisServer(workdir / f"node{i}", port=free_cluster_port(), extra=options))
            subprocess.run(["redis-cli", "--cluster", "create", *(f"127.0.0.1:{n.port}" for n in self.nodes),
                            "--cluster-replicas", str(replicas), "--cluster-yes"],
                           check=True, capture_output=True, timeout=60)
            self.wait_until_ok()
        except BaseException:
            self.stop()
            raise

    @property
    def url(self) -> str:
        return f"redis-cluster://127.0.0.1:{self.nodes[0].port}"

    def client(self, node: RedisServer) -> Any:
        """A plain client of one node (not cluster-aware: the test says which node it asks)."""
        import redis

        if node.port not in self._clients:
            self._clients[node.port] = redis.Redis(port=node.port, decode_responses=True, socket_timeout=10)
        return self._clients[node.port]

    def node_id(self, node: RedisServer) -> str:
        return str(self.client(node).execute_command("CLUSTER", "MYID"))

    def owner_of(self, slot: int) -> RedisServer:
        """The node that serves `slot`, as the cluster says."""
        for start, end, master, *_ in self.client(self.nodes[0]).execute_command("CLUSTER", "SLOTS"):
            if int(start) <= slot <= int(end):
                return next(n for n in self.nodes if n.port == int(master[1]))
        raise LookupError(f"no node serves slot {slot}")

    def wait_until_ok(self, timeout: float = 60.0) -> None:
        """Poll (a readiness check, not a timing assumption) until every live node says cluster_state:ok."""
        import time

        import redis

        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if all("cluster_state:ok" in str(self.client(n).execute_command("CLUSTER", "INFO"))
                       for n in self.nodes if n.proc is not None and n.proc.poll() is None):
                    return
            except redis.exceptions.RedisError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the test cluster did not reach cluster_state:ok")

    def stop(self) -> None:
        for client in self._clients.values():
            client.close()
        for n in self.nodes:
            n.stop()


@pytest.fixture
def cluster_nodes(tmp_path: Path) -> Iterator[RedisClusterNodes]:
    """A three-master Redis Cluster whose nodes the test can reach, stop and restart."""
    cluster = RedisClusterNodes(tmp_path / "cluster")
    yield cluster
    cluster.stop()


@pytest.fixture
def replicated_cluster(tmp_path: Path) -> Iterator[RedisClusterNodes]:
    """Three masters with a replica each: a master that fails is replaced by its replica."""
    cluster = RedisClusterNodes(tmp_path / "cluster", replicas=1)
    yield cluster
    cluster.stop()
