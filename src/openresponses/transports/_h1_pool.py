"""The keep-alive pool of ``http_backend="httptools"``'s connections (``_h1.py``).

Bounded as ``httpx.Limits`` says, as httpcore's pool is: ``max_connections`` open at once (a
request beyond them waits for one, at most the ``pool`` timeout, then ``PoolTimeout``), up to
``max_keepalive_connections`` of them idle, each idle at most ``keepalive_expiry`` seconds
(checked when it would be reused: an idle connection the server closed is dropped as soon as
its close arrives). The most recently used idle connection is reused first: it is the least
likely to have been closed by the server. An idle connection to another origin gives up its
slot to a request that would otherwise wait.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import Callable, Mapping

import httpx

from ._h1 import Connection, Exchange, Origin

__all__ = ["Pool"]


class Pool:
    """Keep-alive connections per origin, bounded as ``httpx.Limits`` says: ``max_connections``
    open at once (a wait for one is bounded by the ``pool`` timeout), ``max_keepalive_connections``
    idle, each idle at most ``keepalive_expiry`` seconds."""

    def __init__(self, limits: httpx.Limits, ssl_context: Callable[[], ssl.SSLContext]) -> None:
        self._limits = limits
        # Built at the first HTTPS connection: loading the certificate store takes ~30 ms, which
        # a pool talking plain HTTP (a local server) need not pay on its first request.
        self._make_ssl = ssl_context
        self._ssl: ssl.SSLContext | None = None
        self._idle: dict[tuple[str, str, int], list[Connection]] = {}
        self._idle_count = 0
        self._open: set[Connection] = set()
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._closed = False
        self.loop = asyncio.get_running_loop()

    def lost(self, connection: Connection) -> None:
        """``connection`` closed: its slot is free."""
        idle = self._idle.get(connection.key)
        if idle and connection in idle:
            idle.remove(connection)
            self._idle_count -= 1
        if connection in self._open:
            self._open.discard(connection)
            self._wake()

    def _wake(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _close(self, connection: Connection) -> None:
        self._open.discard(connection)
        if connection.transport is not None:
            connection.transport.close()
        self._wake()

    def release(self, connection: Connection, *, reusable: bool) -> None:
        """``connection``'s exchange is over: keep it for the next request, or close it."""
        maximum = self._limits.max_keepalive_connections
        transport = connection.transport
        if (
            not reusable
            or transport is None
            or transport.is_closing()
            or (maximum is not None and self._idle_count >= maximum)
        ):
            self._close(connection)
            return
        connection.idle_since = self.loop.time()
        self._idle.setdefault(connection.key, []).append(connection)
        self._idle_count += 1
        self._wake()

    async def _acquire(self, key: tuple[str, str, int], timeout: Mapping[str, float | None]) -> Connection:
        if self._closed:
            raise RuntimeError("Cannot send a request, as the transport has been closed.")  # as httpx
        expiry = self._limits.keepalive_expiry
        idle = self._idle.get(key)
        while idle:
            connection = idle.pop()  # the most recent: the least likely to have been dropped
            self._idle_count -= 1
            transport = connection.transport
            stale = expiry is not None and self.loop.time() - connection.idle_since > expiry
            if transport is None or transport.is_closing() or stale:
                self._close(connection)
                continue
            return connection
        limit = self._limits.max_connections
        while limit is not None and len(self._open) >= limit:
            if self._idle_count:  # an idle connection to another origin gives up its slot
                oldest = next(c for conns in self._idle.values() for c in conns)
                self._idle[oldest.key].remove(oldest)
                self._idle_count -= 1
                self._close(oldest)
                continue
            waiter = self.loop.create_future()
            self._waiters.append(waiter)
            try:
                await asyncio.wait_for(waiter, timeout.get("pool"))
            except BaseException as exc:
                if waiter.done() and not waiter.cancelled():
                    self._wake()  # woken as it timed out or was cancelled: the next one may go
                if isinstance(exc, TimeoutError):
                    raise httpx.PoolTimeout("no connection became free within the pool timeout") from None
                raise
            finally:
                if not waiter.done():
                    waiter.cancel()
            if self._closed:
                raise RuntimeError("Cannot send a request, as the transport has been closed.")
            idle = self._idle.get(key)
            if idle:
                return await self._acquire(key, timeout)
        return await self._connect(key, timeout.get("connect"))

    async def _connect(self, key: tuple[str, str, int], timeout: float | None) -> Connection:
        scheme, host, port = key
        connection = Connection(self, key)
        self._open.add(connection)
        tls = scheme == "https"
        if tls and self._ssl is None:
            self._ssl = self._make_ssl()
        try:
            await asyncio.wait_for(
                self.loop.create_connection(
                    lambda: connection,
                    host,
                    port,
                    ssl=self._ssl if tls else None,
                    server_hostname=host if tls else None,
                ),
                timeout,
            )
        except BaseException as exc:
            self._open.discard(connection)
            self._wake()
            if isinstance(exc, asyncio.TimeoutError):
                raise httpx.ConnectTimeout(f"connecting to {host}:{port} timed out") from None
            if isinstance(exc, OSError | ssl.SSLError):  # refused, unreachable, DNS, TLS
                raise httpx.ConnectError(str(exc) or type(exc).__name__) from None
            raise
        return connection

    async def send(
        self,
        origin: Origin,
        payload: bytes,
        timeout: Mapping[str, float | None],
        *,
        whole: bool,
        error_limit: int,
    ) -> Exchange:
        """Send ``payload`` to ``origin``; the exchange has its head once this returns. Close it
        when done with it (after its body, or to abandon it)."""
        connection = await self._acquire((origin.scheme, origin.host, origin.port), timeout)
        exchange = connection.start(payload, whole=whole, limit=error_limit, read=timeout.get("read"))
        try:
            await exchange.head()
        except BaseException:
            exchange.close()  # failed or cancelled before the head: the connection is closed
            raise
        return exchange

    async def aclose(self) -> None:
        """Close every connection; a request still waiting for one raises ``RuntimeError``."""
        self._closed = True
        for connection in list(self._open):
            self._close(connection)
        self._idle.clear()
        self._idle_count = 0
