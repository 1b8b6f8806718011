"""Slow and greedy clients at the socket: a deadline for a request's headers, and a cap on the
connections one address may hold open.

aiohttp closes idle keep-alive connections, but waits forever for the first request's headers
and for a request whose headers trickle in a byte at a time (slowloris): each such connection
holds a socket and memory. The guard wraps aiohttp's protocol: from the moment a connection
opens, and again after every answer, the next request's headers must arrive within
`read_timeout_s`, else the connection is closed. The app's `mark_request` middleware says when
a request's headers are in (its handler runs) and when it is answered. Bodies are the
handlers' business (the gateway reads them under the same timeout). Connections from a
trusted proxy are never capped: they carry many clients.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any

from aiohttp import web

from services.common.clientaddr import networks


class _Guarded(asyncio.Protocol):
    """Forwards every callback to aiohttp's protocol; closes the connection when headers are late."""

    def __init__(self, inner: Any, guard: ConnectionGuard) -> None:
        self.inner = inner
        self.guard = guard
        self.transport: asyncio.Transport | None = None
        self.peer = ""
        self.timer: asyncio.TimerHandle | None = None
        self.busy = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        self.inner.connection_made(transport)
        if not self.guard.admit(self):
            transport.abort()  # over this address's cap: refused before reading anything
            return
        self.wait_for_headers()

    def wait_for_headers(self) -> None:
        """Start the clock for the next request's headers."""
        self.cancel_timer()
        if self.guard.read_timeout_s > 0:
            self.timer = asyncio.get_running_loop().call_later(self.guard.read_timeout_s, self.expired)

    def cancel_timer(self) -> None:
        """Stop the clock (a request is being handled)."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def expired(self) -> None:
        if self.busy == 0 and self.transport is not None:
            self.guard.timed_out += 1
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()  # type: ignore[no-any-return]

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self.cancel_timer()
        self.guard.release(self)
        self.inner.connection_lost(exc)


class ConnectionGuard:
    """A protocol factory around aiohttp's, with the deadline and the per-address cap."""

    def __init__(self, read_timeout_s: float, max_per_client: int, trusted_proxies: list[str],
                 factory: Callable[[], Any] | None = None) -> None:
        self.factory = factory
        self.read_timeout_s = read_timeout_s
        self.max_per_client = max_per_client
        self.trusted = networks(tuple(trusted_proxies))
        self.open: Counter[str] = Counter()
        self.by_transport: dict[asyncio.BaseTransport, _Guarded] = {}
        self.refused = 0
        self.timed_out = 0

    def __call__(self) -> _Guarded:
        assert self.factory is not None, "GuardedSite sets the factory when it starts"
        return _Guarded(self.factory(), self)

    def _capped(self, peer: str) -> bool:
        import ipaddress

        if self.max_per_client <= 0:
            return False
        try:
            ip = ipaddress.ip_address(peer)
        except ValueError:
            return True
        return not any(ip.version == n.version and ip in n for n in self.trusted)

    def admit(self, conn: _Guarded) -> bool:
        """Count a new connection; False when its address already holds its share."""
        if self._capped(conn.peer) and self.open[conn.peer] >= self.max_per_client:
            self.refused += 1
            return False
        self.open[conn.peer] += 1
        assert conn.transport is not None
        self.by_transport[conn.transport] = conn
        return True

    def release(self, conn: _Guarded) -> None:
        """Forget a closed connection."""
        if conn.transport is not None and self.by_transport.pop(conn.transport, None) is not None:
            self.open[conn.peer] -= 1
            if self.open[conn.peer] <= 0:
                del self.open[conn.peer]


GUARD = web.AppKey("connection_guard", ConnectionGuard)


@web.middleware
async def mark_request(request: web.Request, handler: Any) -> web.StreamResponse:
    """Headers are in: stop the connection's clock; answered: start it for the next request."""
    guard = request.app.get(GUARD)
    conn = guard.by_transport.get(request.transport) if guard is not None and request.transport else None
    if conn is None:
        return await handler(request)  # type: ignore[no-any-return]
    conn.busy += 1
    conn.cancel_timer()
    try:
        return await handler(request)  # type: ignore[no-any-return]
    finally:
        conn.busy -= 1
        if conn.busy == 0:
            conn.wait_for_headers()


class GuardedSite(web.TCPSite):
    """A TCP site whose connections go through a ConnectionGuard."""

    def __init__(self, runner: web.BaseRunner, host: str, port: int, guard: ConnectionGuard) -> None:
        super().__init__(runner, host, port)
        self._guard = guard

    async def start(self) -> None:
        """Register with the runner and listen, with the guard as the protocol factory."""
        await web.BaseSite.start(self)
        assert self._runner.server is not None
        self._guard.factory = self._runner.server
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._guard, self._host, self._port, reuse_address=True)
