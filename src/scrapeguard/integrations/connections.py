"""Connection limits for the guard's and the demo site's HTTP servers: deadlines and a cap per client.

Neither aiohttp nor uvicorn bounds the time a client may take to send a request's head (request
line and headers): a client sending one byte every few seconds holds its connection for as long as
it likes, and a few hundred such clients use up the server's file descriptors. aiohttp's keep-alive
timer does not help by default (an hour), uvicorn's starts only after a first response.

Every connection goes through a small protocol wrapper (`ConnectionGuard.wrap`) that sits between
the transport and the server's own protocol and keeps one timer per connection:

- `header_timeout`: a request's head must be complete within this many seconds of the connection's
  opening (first request) or of the first byte of the request (later ones). Otherwise the
  connection is closed (after a `408` if part of a request had come) and `header_timeouts` counted.
- `idle_timeout`: a keep-alive connection with no request for this long is closed
  (`idle_timeouts`).
- `max_per_client`: connections open at once from one client (a socket peer address; for IPv6
  its /64, which one host commonly holds whole). A connection beyond it is closed at once, before
  a byte is read, and counted (`connections_refused`). Addresses for which `exempt` says so (the
  trusted proxies in front of the guard, which carry many clients' connections) are not capped.

Which phase a connection is in (waiting for a head, serving a request, idle) is told by the server:
a request whose head is complete reaches the application, so an aiohttp middleware
(`aiohttp_middleware`) or an ASGI wrapper (`asgi`) reports each request's start and end, by the
connection's peer (host, port).
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any, cast

from aiohttp import web

#: A connection's peer as the servers name it: (host, port).
Peer = tuple[str, int]
ASGIApp = Callable[[MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
                   Awaitable[None]]

#: What a client that was too slow to send its request's head is told before the connection closes.
TIMEOUT_RESPONSE = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"

_HEAD, _BUSY, _IDLE = 0, 1, 2


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """Documented defaults: those of `scrapeguard proxy` (see docs/security.md)."""

    #: Seconds for a request's head to arrive (nginx's client_header_timeout is 60 s; 10 s is
    #: plenty for any real client, even on a slow mobile network).
    header_timeout: float = 10.0
    #: Seconds a keep-alive connection may wait for its next request. Behind a load balancer that
    #: reuses connections, keep this above its own idle timeout (AWS ALB: 60 s).
    idle_timeout: float = 75.0
    #: Connections open at once per client address (IPv6: per /64); 0 for no cap.
    max_per_client: int = 64

    def __post_init__(self) -> None:
        if not (self.header_timeout > 0 and self.idle_timeout > 0):
            raise ValueError("header_timeout and idle_timeout must be positive")
        if self.max_per_client < 0:
            raise ValueError("max_per_client must be 0 (no cap) or more")


def client_of(host: str) -> str:
    """The unit the per-client cap counts: an IPv4 address (also when IPv4-mapped) or an IPv6 /64."""
    try:
        addr = ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        return host
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return str(addr.ipv4_mapped)
        return str(ipaddress.ip_network(f"{addr}/64", strict=False))
    return str(addr)


class ConnectionGuard:
    """Applies `limits` to every connection of the servers whose protocol factories it wraps."""

    def __init__(self, limits: ConnectionLimits, counts: Counter[str] | None = None,
                 exempt: Callable[[str], bool] | None = None) -> None:
        self.limits = limits
        self.counts: Counter[str] = counts if counts is not None else Counter()
        self._exempt = exempt
        #: Open connections per client (clients with none are not kept).
        self.open: dict[str, int] = {}
        self._connections: dict[Peer, _Connection] = {}

    @property
    def connections(self) -> int:
        return len(self._connections)

    def wrap(self, factory: Callable[[], asyncio.BaseProtocol]) -> Callable[[], asyncio.Protocol]:
        """A protocol factory (for `loop.create_server`) that applies the limits around `factory`'s."""
        return lambda: _Connection(self, factory)

    # -- what the server tells: a request's head arrived, its response is done ---------------

    def request_started(self, peer: Any) -> None:
        connection = self._connection(peer)
        if connection is not None:
            connection.busy()

    def request_finished(self, peer: Any) -> None:
        connection = self._connection(peer)
        if connection is not None:
            connection.idle()

    def _connection(self, peer: Any) -> _Connection | None:
        if isinstance(peer, (tuple, list)) and len(peer) >= 2:
            return self._connections.get((str(peer[0]), int(peer[1])))
        return None

    def aiohttp_middleware(self) -> Callable[..., Awaitable[web.StreamResponse]]:
        @web.middleware
        async def connection_phases(request: web.Request,
                                    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
                                    ) -> web.StreamResponse:
            transport = request.transport
            peer = transport.get_extra_info("peername") if transport is not None else None
            self.request_started(peer)
            try:
                return await handler(request)
            finally:
                self.request_finished(peer)

        return connection_phases

    def asgi(self, app: ASGIApp) -> ASGIApp:
        """`app` reporting each HTTP request's start and end (uvicorn's scope names the peer)."""
        async def with_connection_phases(scope: MutableMapping[str, Any],
                                         receive: Callable[[], Awaitable[Any]],
                                         send: Callable[[Any], Awaitable[None]]) -> None:
            if scope.get("type") != "http":
                await app(scope, receive, send)
                return
            peer = scope.get("client")
            self.request_started(peer)
            try:
                await app(scope, receive, send)
            finally:
                self.request_finished(peer)

        return with_connection_phases

    # -- bookkeeping (called by the connections) ---------------------------------------------

    def _admit(self, host: str) -> str | None:
        """Count a new connection from `host`: the client key it is counted under, "" when not
        capped, or None when it is over the cap (then it is not counted)."""
        cap = self.limits.max_per_client
        if cap == 0 or not host or (self._exempt is not None and self._exempt(host)):
            return ""  # no cap, no address to count by (a unix socket), or a trusted proxy
        client = client_of(host)
        n = self.open.get(client, 0)
        if n >= cap:
            self.counts["connections_refused"] += 1
            return None
        self.open[client] = n + 1
        return client

    def _release(self, client: str) -> None:
        n = self.open.get(client, 0) - 1
        if n > 0:
            self.open[client] = n
        else:
            self.open.pop(client, None)


class _Connection(asyncio.Protocol):
    """Between a transport and the server's protocol: passes everything on, and keeps the timer."""

    def __init__(self, guard: ConnectionGuard, factory: Callable[[], asyncio.BaseProtocol]) -> None:
        self.guard = guard
        self.factory = factory
        self.inner: Any = None
        self.transport: asyncio.Transport | None = None
        self.client: str | None = None
        self.peer: Peer | None = None
        self.phase = _HEAD
        #: Requests being served (started and not finished).
        self.serving = 0
        #: Whether bytes of the awaited request head have come.
        self.started = False
        self.timer: asyncio.TimerHandle | None = None

    # -- phases ---------------------------------------------------------------------------

    def _arm(self, seconds: float) -> None:
        if self.peer is None:
            return  # (no peer address, as on a unix socket: requests cannot report to it, no deadline)
        if self.timer is not None:
            self.timer.cancel()
        self.timer = asyncio.get_running_loop().call_later(seconds, self._expire)

    def busy(self) -> None:
        self.phase = _BUSY
        self.serving += 1
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def idle(self) -> None:
        # uvicorn may start the next request on a connection before the application has returned
        # from the one before: the connection is idle only when no request is being served
        self.serving = max(0, self.serving - 1)
        if self.transport is None or self.serving:
            return
        self.phase, self.started = _IDLE, False
        self._arm(self.guard.limits.idle_timeout)

    def _expire(self) -> None:
        self.timer = None
        transport = self.transport
        if transport is None or transport.is_closing() or self.phase == _BUSY:
            return
        if self.phase == _HEAD:
            self.guard.counts["header_timeouts"] += 1
            if self.started:
                transport.write(TIMEOUT_RESPONSE)
        else:
            self.guard.counts["idle_timeouts"] += 1
        transport.close()

    # -- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (uvloop's transports are not asyncio.Transport subclasses, but have its methods)
        transport = cast(asyncio.Transport, transport)
        peername = transport.get_extra_info("peername")
        host = str(peername[0]) if isinstance(peername, (tuple, list)) and peername else ""
        client = self.guard._admit(host)
        if client is None:
            transport.abort()  # at once: nothing read, nothing queued, no protocol of the server made
            return
        self.client, self.transport = client, transport
        if isinstance(peername, (tuple, list)) and len(peername) >= 2:
            self.peer = (host, int(peername[1]))
            self.guard._connections[self.peer] = self
        self.inner = self.factory()
        self._arm(self.guard.limits.header_timeout)
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self.inner is None:
            return
        if self.phase == _IDLE:  # the next request begins: its head has header_timeout to arrive
            self.phase, self.started = _HEAD, True
            self._arm(self.guard.limits.header_timeout)
        elif self.phase == _HEAD:
            self.started = True
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.inner is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.inner is None:
            return
        self.transport = None
        if self.peer is not None and self.guard._connections.get(self.peer) is self:
            del self.guard._connections[self.peer]
        if self.client:
            self.guard._release(self.client)
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()


class GuardedSite(web.BaseSite):
    """aiohttp's TCPSite with every connection going through a ConnectionGuard."""

    def __init__(self, runner: web.BaseRunner, host: str | None, port: int, guard: ConnectionGuard,
                 reuse_address: bool | None = None, backlog: int = 128) -> None:
        super().__init__(runner, backlog=backlog)
        self._guard = guard
        self._host_name = host
        self._port_number = port
        self._reuse_address = reuse_address

    @property
    def name(self) -> str:
        return f"http://{self._host_name or '0.0.0.0'}:{self._port_number}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        self._server = await asyncio.get_running_loop().create_server(
            self._guard.wrap(server), self._host_name, self._port_number, backlog=self._backlog,
            reuse_address=self._reuse_address)
