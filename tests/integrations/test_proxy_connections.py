"""Connection limits of the proxy and the demo site (issue 12, item 8): slow clients on loopback.

No test relies on timing luck: deadlines are small, every wait polls for the condition with a
generous bound, and the only lower bounds asserted are ones a deadline cannot beat.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import resource
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiohttp import web

from scrapeguard.integrations.connections import ConnectionGuard, ConnectionLimits, client_of
from scrapeguard.integrations.proxy import GuardProxy, start_proxy
from scrapeguard.policy import default_policy
from scrapeguard.serving import build_proxy, start_site

#: How long any test waits for what should happen, at most (a slow, loaded machine).
BOUND = 10.0
HEAD = b"GET /page HTTP/1.1\r\nHost: guarded.test\r\n"


def upstream_app() -> web.Application:
    async def page(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(1.5)  # longer than the header and idle deadlines of the test
        return web.Response(text="slow but served")

    app = web.Application()
    app.router.add_get("/slow", slow)
    app.router.add_get("/{tail:.*}", page)
    return app


class Guard:
    def __init__(self, proxy: GuardProxy, port: int) -> None:
        self.proxy = proxy
        self.port = port

    @property
    def counts(self) -> Counter[str]:
        return Counter(self.proxy.counts)


@pytest.fixture
def start_guard(loop_thread, start_upstream: Callable[[web.Application], str],  # type: ignore[no-untyped-def]
                tmp_path: Path) -> Iterator[Callable[..., Guard]]:
    runners: list[web.AppRunner] = []
    upstream = start_upstream(upstream_app())

    def start(limits: ConnectionLimits, trusted: tuple[str, ...] = ()) -> Guard:
        proxy = build_proxy(default_policy(), upstream, trusted_proxies=trusted)
        runner = loop_thread.run(start_proxy(proxy, "127.0.0.1", 0, limits))
        runners.append(runner)
        return Guard(proxy, int(runner.addresses[0][1]))

    yield start
    for runner in runners:
        loop_thread.run(runner.cleanup())


def connect(port: int, source: str = "127.0.0.1") -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((source, 0))
    except OSError as exc:
        sock.close()
        pytest.skip(f"cannot bind a client socket to {source}: {exc}")
    sock.settimeout(BOUND)
    sock.connect(("127.0.0.1", port))
    return sock


def closed_by_server(sock: socket.socket, wait: float = 0.05) -> tuple[bool, bytes]:
    """Whether the server has closed `sock` (EOF or reset), and what it sent before, waiting
    at most `wait` seconds for news."""
    sock.settimeout(wait)
    received = b""
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                return True, received
            received += chunk
    except TimeoutError:
        return False, received
    except (ConnectionResetError, BrokenPipeError):
        return True, received


def dribble_until_closed(sock: socket.socket, every: float = 0.1) -> tuple[float, bytes]:
    """Send one header byte every `every` seconds until the server closes the connection; the
    seconds that took and what the server sent. Gives up after BOUND seconds."""
    started = time.monotonic()
    received = b""
    trickle = b"X-Slow: " + b"a" * 10_000
    for i in range(len(trickle)):
        if time.monotonic() - started > BOUND:
            break
        try:
            sock.sendall(trickle[i : i + 1])
        except (BrokenPipeError, ConnectionResetError):
            return time.monotonic() - started, received
        closed, got = closed_by_server(sock, every)
        received += got
        if closed:
            return time.monotonic() - started, received
    pytest.fail(f"the server kept a dribbling connection open for {BOUND} s")


def get(port: int, path: str = "/page", source: str = "127.0.0.1") -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=BOUND, source_address=(source, 0))
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def keep_requesting(port: int, path: str, seconds: float, headers: dict[str, str] | None = None) -> int:
    """Requests one after another on one kept-alive connection for `seconds`; how many were served
    (each 200, and all on the one connection)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=BOUND)
    try:
        served, started, first = 0, time.monotonic(), None
        while time.monotonic() - started < seconds:
            connection.request("GET", path, headers=headers or {})
            response = connection.getresponse()
            response.read()
            assert response.status == 200
            first = first or connection.sock
            assert connection.sock is first, "the connection was closed between requests"
            served += 1
        return served
    finally:
        connection.close()


def poll(condition: Callable[[], bool], bound: float = BOUND) -> bool:
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


# -- deadlines ----------------------------------------------------------------------------------

def test_a_client_dribbling_its_headers_is_disconnected_after_the_deadline(start_guard) -> None:  # type: ignore[no-untyped-def]
    guard = start_guard(ConnectionLimits(header_timeout=0.5, idle_timeout=30, max_per_client=64))
    started = time.monotonic()
    with connect(guard.port) as sock:
        sock.sendall(HEAD)
        _, received = dribble_until_closed(sock)
    assert time.monotonic() - started >= 0.5  # it had its deadline (from the connection's opening)
    assert received.startswith(b"HTTP/1.1 408")
    assert guard.counts["header_timeouts"] == 1
    assert get(guard.port) == 200  # the guard serves on


def test_a_connection_that_never_sends_a_request_is_closed(start_guard) -> None:  # type: ignore[no-untyped-def]
    guard = start_guard(ConnectionLimits(header_timeout=0.5, idle_timeout=30, max_per_client=64))
    with connect(guard.port) as sock:
        assert poll(lambda: closed_by_server(sock)[0])
    assert guard.counts["header_timeouts"] == 1


def test_the_next_request_on_a_kept_alive_connection_has_the_deadline_too(start_guard) -> None:  # type: ignore[no-untyped-def]
    guard = start_guard(ConnectionLimits(header_timeout=0.5, idle_timeout=30, max_per_client=64))
    with connect(guard.port) as sock:
        sock.sendall(HEAD + b"\r\n")
        response = b""
        while b"\r\n\r\nok" not in response:
            response += sock.recv(4096)
        assert response.startswith(b"HTTP/1.1 200")
        sock.sendall(HEAD)  # the second request's head never ends
        _, received = dribble_until_closed(sock)
    assert received.startswith(b"HTTP/1.1 408")
    assert guard.counts["header_timeouts"] == 1


def test_an_idle_keep_alive_connection_is_closed(start_guard) -> None:  # type: ignore[no-untyped-def]
    guard = start_guard(ConnectionLimits(header_timeout=30, idle_timeout=0.5, max_per_client=64))
    with connect(guard.port) as sock:
        sock.sendall(HEAD + b"\r\n")
        assert poll(lambda: closed_by_server(sock)[0])
    assert guard.counts["idle_timeouts"] == 1
    assert guard.counts["header_timeouts"] == 0


def test_a_request_being_served_is_not_cut_by_the_deadlines(start_guard) -> None:  # type: ignore[no-untyped-def]
    # the upstream takes 1.5 s, three times the deadlines: they count only while the client sends
    guard = start_guard(ConnectionLimits(header_timeout=0.5, idle_timeout=0.5, max_per_client=64))
    assert get(guard.port, "/slow") == 200
    assert guard.counts["header_timeouts"] == guard.counts["idle_timeouts"] == 0


def test_a_busy_kept_alive_connection_outlives_the_header_deadline(start_guard) -> None:  # type: ignore[no-untyped-def]
    # its requests' heads each come at once: the deadline starts again with every request
    guard = start_guard(ConnectionLimits(header_timeout=0.5, idle_timeout=30, max_per_client=64))
    assert keep_requesting(guard.port, "/page", 1.5) > 1
    assert guard.counts["header_timeouts"] == 0


def test_a_head_sent_in_pieces_within_the_deadline_is_served(start_guard) -> None:  # type: ignore[no-untyped-def]
    guard = start_guard(ConnectionLimits(header_timeout=BOUND, idle_timeout=30, max_per_client=64))
    with connect(guard.port) as sock:
        for piece in (b"GET /page HT", b"TP/1.1\r\nHost: guar", b"ded.test\r\n", b"\r\n"):
            sock.sendall(piece)
            time.sleep(0.05)
        response = b""
        while b"\r\n\r\nok" not in response:
            response += sock.recv(4096)
    assert response.startswith(b"HTTP/1.1 200")


# -- connections per client ------------------------------------------------------------------------

def test_connections_beyond_the_cap_per_client_are_closed_at_once(start_guard) -> None:  # type: ignore[no-untyped-def]
    guard = start_guard(ConnectionLimits(header_timeout=60, idle_timeout=60, max_per_client=8))
    dribblers = [connect(guard.port, "127.0.0.2") for _ in range(20)]
    try:
        for sock in dribblers:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # refused already
                sock.sendall(HEAD)
        assert poll(lambda: guard.counts["connections_refused"] == 12)
        states = [closed_by_server(sock)[0] for sock in dribblers]
        assert states.count(True) == 12 and states.count(False) == 8
        # another address is served as usual, while the 8 still hold their connections
        assert get(guard.port, source="127.0.0.1") == 200
        assert get(guard.port, source="127.0.0.3") == 200
        assert not any(closed_by_server(sock)[0] for sock, closed in zip(dribblers, states, strict=True)
                       if not closed)
    finally:
        for sock in dribblers:
            sock.close()
    # once they are gone, the address may connect again
    assert poll(lambda: get(guard.port, source="127.0.0.2") == 200)


def test_trusted_proxies_are_not_capped(start_guard) -> None:  # type: ignore[no-untyped-def]
    guard = start_guard(ConnectionLimits(header_timeout=60, idle_timeout=60, max_per_client=2),
                        trusted=("127.0.0.4/32",))
    held = [connect(guard.port, "127.0.0.4") for _ in range(6)]
    try:
        for sock in held:
            sock.sendall(HEAD)
        assert get(guard.port, source="127.0.0.4") == 200
        assert not any(closed_by_server(sock)[0] for sock in held)
        assert guard.counts["connections_refused"] == 0
    finally:
        for sock in held:
            sock.close()


def test_the_guard_keeps_serving_with_hundreds_of_dribblers_and_few_file_descriptors(  # type: ignore[no-untyped-def]
        start_upstream, tmp_path: Path) -> None:
    """The issue's attack: 300 dribbling connections from one address, against a guard process that
    may open 256 files. Each held connection costs the guard a file descriptor; without a cap per
    client they run it out and other clients' connections fail."""
    upstream = start_upstream(upstream_app())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])

    def few_files() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    command = [sys.executable, "-m", "scrapeguard", "proxy", "--listen", f"127.0.0.1:{port}",
               "--upstream", upstream, "--header-timeout", "60", "--max-connections-per-client", "64"]
    with (tmp_path / "guard.log").open("w") as log:
        guard = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, preexec_fn=few_files)
    dribblers: list[socket.socket] = []
    try:
        assert poll(lambda: listening(port), 60), (tmp_path / "guard.log").read_text()  # (imports take time)
        for _ in range(300):
            sock = connect(port, "127.0.0.2")
            dribblers.append(sock)
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                sock.sendall(HEAD)
        assert poll(lambda: sum(closed_by_server(sock, 0.001)[0] for sock in dribblers) >= 300 - 64)
        assert get(port, source="127.0.0.1") == 200
        assert get(port, source="127.0.0.3") == 200
    finally:
        for sock in dribblers:
            sock.close()
        guard.terminate()
        try:
            guard.wait(BOUND)
        except subprocess.TimeoutExpired:
            guard.kill()
            guard.wait(BOUND)


# -- the demo site -------------------------------------------------------------------------------------

def test_the_demo_site_disconnects_a_dribbler_and_an_idle_connection(loop_thread) -> None:  # type: ignore[no-untyped-def]
    limits = ConnectionLimits(header_timeout=0.5, idle_timeout=0.5, max_per_client=0)
    server = loop_thread.run(start_site("127.0.0.1", 0, 20, 1, False, limits))
    try:
        port = int(server.server.servers[0].sockets[0].getsockname()[1])
        with connect(port) as sock:
            sock.sendall(b"GET /robots.txt HTTP/1.1\r\nHost: site.test\r\n")
            _, received = dribble_until_closed(sock)
        assert received.startswith(b"HTTP/1.1 408")
        with connect(port) as sock:
            sock.sendall(b"GET /robots.txt HTTP/1.1\r\nHost: site.test\r\n\r\n")
            assert poll(lambda: closed_by_server(sock)[0])
        assert get(port, "/robots.txt") == 200
        assert server.connections.counts["header_timeouts"] == 1
        assert server.connections.counts["idle_timeouts"] >= 1
    finally:
        loop_thread.run(server.stop())


def test_the_demo_site_tells_its_connections_apart_behind_a_proxy(loop_thread) -> None:  # type: ignore[no-untyped-def]
    # uvicorn replaces the client with the X-Forwarded-For address of a trusted proxy (127.0.0.1
    # by default): the connection limits must still find the connection its requests came on
    limits = ConnectionLimits(header_timeout=0.5, idle_timeout=30, max_per_client=0)
    server = loop_thread.run(start_site("127.0.0.1", 0, 20, 1, False, limits))
    try:
        port = int(server.server.servers[0].sockets[0].getsockname()[1])
        assert keep_requesting(port, "/robots.txt", 1.5, {"X-Forwarded-For": "203.0.113.9"}) > 1
        assert server.connections.counts["header_timeouts"] == 0
    finally:
        loop_thread.run(server.stop())


def test_the_site_command_applies_its_header_deadline(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    command = [sys.executable, "-m", "scrapeguard", "site", "--listen", f"127.0.0.1:{port}", "--members", "5",
               "--header-timeout", "0.5"]
    with (tmp_path / "site.log").open("w") as log:
        site = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        assert poll(lambda: listening(port), 60), (tmp_path / "site.log").read_text()
        with connect(port) as sock:
            sock.sendall(b"GET /robots.txt HTTP/1.1\r\nHost: site.test\r\n")
            _, received = dribble_until_closed(sock)
        assert received.startswith(b"HTTP/1.1 408")
    finally:
        site.terminate()
        try:
            site.wait(BOUND)
        except subprocess.TimeoutExpired:
            site.kill()
            site.wait(BOUND)


def test_the_demo_site_may_cap_connections_per_client(loop_thread) -> None:  # type: ignore[no-untyped-def]
    limits = ConnectionLimits(header_timeout=60, idle_timeout=60, max_per_client=3)
    server = loop_thread.run(start_site("127.0.0.1", 0, 20, 1, False, limits))
    held: list[socket.socket] = []
    try:
        port = int(server.server.servers[0].sockets[0].getsockname()[1])
        held = [connect(port, "127.0.0.2") for _ in range(5)]
        assert poll(lambda: server.connections.counts["connections_refused"] == 2)
        assert get(port, "/robots.txt", source="127.0.0.1") == 200
    finally:
        for sock in held:
            sock.close()
        loop_thread.run(server.stop())


# -- the parts -------------------------------------------------------------------------------------------

def test_clients_are_addresses_and_ipv6_networks() -> None:
    assert client_of("192.0.2.7") == "192.0.2.7"
    assert client_of("::ffff:192.0.2.7") == "192.0.2.7"
    assert client_of("2001:db8:1:2:aaaa::1") == client_of("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert client_of("fe80::1%eth0") == "fe80::/64"


def test_limits_are_checked() -> None:
    for bad in ({"header_timeout": 0}, {"idle_timeout": -1}, {"max_per_client": -1}):
        with pytest.raises(ValueError):
            ConnectionLimits(**bad)  # type: ignore[arg-type]


class StubTransport(asyncio.Transport):
    """A connection's transport as the guard sees it: a peer address, and abort() when refused."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__()
        self.peer = (host, port)
        self.aborted = False

    def get_extra_info(self, name: str, default: object = None) -> object:
        return self.peer if name == "peername" else default

    def abort(self) -> None:
        self.aborted = True

    def is_closing(self) -> bool:
        return self.aborted


def test_the_cap_counts_open_connections_only() -> None:
    async def scenario() -> None:
        guard = ConnectionGuard(ConnectionLimits(max_per_client=2))

        def connect(port: int) -> tuple[asyncio.Protocol, StubTransport]:
            protocol, transport = guard.wrap(asyncio.Protocol)(), StubTransport("192.0.2.7", port)
            protocol.connection_made(transport)
            return protocol, transport

        first, second, third = connect(1), connect(2), connect(3)
        assert [c[1].aborted for c in (first, second, third)] == [False, False, True]  # the third: over
        first[0].connection_lost(None)
        fourth = connect(4)
        assert not fourth[1].aborted  # the closed connection's place
        for protocol, _ in (second, third, fourth):  # (the refused one held no place to give back)
            protocol.connection_lost(None)
        assert guard.open == {} and guard.connections == 0 and guard.counts["connections_refused"] == 1

    asyncio.run(scenario())


class FakeTransport:
    def __init__(self, peer: tuple[str, int]) -> None:
        self.peer = peer
        self.closed = False
        self.written = b""

    def get_extra_info(self, name: str) -> object:
        return self.peer if name == "peername" else None

    def is_closing(self) -> bool:
        return self.closed

    def write(self, data: bytes) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    abort = close


def test_a_connection_is_idle_only_when_no_request_on_it_is_being_served() -> None:
    # uvicorn may start a connection's next request before the application returns from the last
    async def scenario() -> None:
        guard = ConnectionGuard(ConnectionLimits(header_timeout=0.05, idle_timeout=0.05))
        connection = guard.wrap(asyncio.Protocol)()
        transport = FakeTransport(("192.0.2.7", 5000))
        connection.connection_made(transport)  # type: ignore[arg-type]
        guard.request_started(("192.0.2.7", 5000))
        guard.request_started(("192.0.2.7", 5000))  # the next one, already
        guard.request_finished(("192.0.2.7", 5000))  # the first one's application returns
        await asyncio.sleep(0.2)  # well past both deadlines
        assert not transport.closed
        guard.request_finished(("192.0.2.7", 5000))
        for _ in range(200):  # now idle: closed after the idle deadline
            if transport.closed:
                break
            await asyncio.sleep(0.05)
        assert transport.closed and transport.written == b""
        assert guard.counts == Counter({"idle_timeouts": 1})
        connection.connection_lost(None)
        assert guard.open == {} and guard.connections == 0

    asyncio.run(scenario())
