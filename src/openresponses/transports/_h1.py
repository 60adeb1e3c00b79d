"""HTTP/1.1 connections for ``http_backend="httptools"`` (their pool: ``_h1_pool.py``).

Why our own: on the proxy's non-streamed path the HTTP client was the largest share of a
request's CPU. httpx (httpcore, h11, anyio) spends about 0.5 ms on one loopback POST; aiohttp's
request machinery (``ClientSession._request``, ``ClientRequest``, ``ClientResponse``, its
``StreamReader``, URL and header models, a timer per read) about a quarter of the proxy's
0.9 ms. An API client sends one kind of request, a POST with a whole body, to a few origins, so
it needs little: the request written as one ``bytes``, llhttp (``httptools``, the C parser
uvicorn is built on, maintained by the uvloop authors) for the reply, a pool. That is all this
module and its pool are; what they do not do (proxies, HTTP/2, redirects, cookies) the transport sends
elsewhere or nobody asked of it (``_httptools.py``).

The contract is httpcore's, where the rest of the transport reads it: the httpx exception
httpcore raises for the same event (refused: ``ConnectError``; a server that closes before
answering or mid-body: ``RemoteProtocolError``; a reset: ``ReadError``; each phase's timeout by
name, a pool wait ``PoolTimeout``), a header with CR or LF refused before anything is sent,
``max_connections`` / ``max_keepalive_connections`` / ``keepalive_expiry`` as ``httpx.Limits``
says. No write timeout: a request is one buffered write.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, NamedTuple

import httpx

if TYPE_CHECKING:
    from ._h1_pool import Pool

__all__ = ["HIGH_WATER", "Connection", "Exchange", "Origin", "reply_headers", "request_head"]

#: Body bytes a stream may hold unread before the socket stops being read (flow control).
HIGH_WATER = 256 * 1024


class Origin(NamedTuple):
    """Where a URL's requests go and what their request line and ``Host`` header say."""

    scheme: str
    host: str
    port: int
    target: bytes  # path and query, as sent on the request line
    host_header: bytes


def _encode(value: str) -> bytes:
    if "\r" in value or "\n" in value:
        # As h11 refuses it: a CR or LF would end the header and start another (smuggling).
        raise httpx.LocalProtocolError("Illegal header value: CR or LF in a header")
    try:
        return value.encode("ascii")
    except UnicodeEncodeError:
        return value.encode("utf-8")  # as httpx encodes a non-ASCII value


_OURS = frozenset({"host", "content-length", "transfer-encoding", "connection"})


def request_head(origin: Origin, headers: Mapping[str, str], length: int) -> bytes:
    """The request line and headers of a POST of ``length`` bytes (``Host`` and
    ``Content-Length`` are ours: the caller's are not sent twice)."""
    lines = [b"POST ", origin.target, b" HTTP/1.1\r\nhost: ", origin.host_header, b"\r\n"]
    for name, value in headers.items():
        if name.lower() in _OURS:
            continue
        lines += (_encode(name), b": ", _encode(value), b"\r\n")
    lines += (b"content-length: ", str(length).encode(), b"\r\n\r\n")
    return b"".join(lines)


class Exchange:
    """One request's reply as it arrives: the head (:meth:`head`), then the body, either whole
    (:meth:`whole`) or read by batches (:meth:`read`: every byte received since the last read).
    """

    __slots__ = (
        "_batch",
        "_connection",
        "_done",
        "_error",
        "_limit",
        "_queued",
        "_size",
        "_waiter",
        "_whole",
        "headers",
        "reason",
        "status",
    )

    def __init__(self, connection: Connection, *, whole: bool, limit: int) -> None:
        self._connection: Connection | None = connection
        self._whole = whole  # keep every body byte for :meth:`whole`, no flow control
        self._limit = limit  # an error status's body: at most this many bytes are kept
        self.status = 0
        self.reason = ""
        self.headers: list[tuple[bytes, bytes]] = []
        self._batch: list[bytes] = []  # body bytes not yet read
        self._queued = 0
        self._size = 0
        self._done = False  # the body ended (or the kept part of an error body did)
        self._error: Exception | None = None
        self._waiter: asyncio.Future[None] | None = None

    # -- the connection's side --------------------------------------------------------------------

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _body(self, data: bytes) -> None:
        if self.status >= 300:
            room = self._limit - self._size
            if room <= 0:
                return
            data = data[:room]
        self._batch.append(data)
        self._size += len(data)
        self._queued += len(data)

    def _end(self, error: Exception | None = None) -> None:
        self._done = True
        self._error = error
        self._wake()

    # -- the reader's side --------------------------------------------------------------------

    async def _wait(self) -> None:
        connection = self._connection
        # The pool's loop is the running one (its connections live there); asking asyncio costs
        # a getpid() system call on CPython 3.11.
        loop = connection._pool.loop if connection is not None else asyncio.get_running_loop()
        self._waiter = waiter = loop.create_future()
        if connection is not None:
            connection.reading(True)
        try:
            await waiter
        finally:
            self._waiter = None
            if connection is not None:
                connection.reading(False)

    async def head(self) -> None:
        """Wait for the reply's status and headers."""
        while not self.status and not self._done:
            await self._wait()
        if not self.status:
            assert self._error is not None
            raise self._error

    async def read(self) -> bytes:
        """The body bytes received since the last read (``b""`` at its end)."""
        while not self._batch and not self._done:
            await self._wait()
        if self._batch:
            data = self._batch[0] if len(self._batch) == 1 else b"".join(self._batch)
            self._batch = []
            self._queued = 0
            if self._connection is not None:
                self._connection.drained()
            return data
        if self._error is not None:
            raise self._error
        return b""

    async def whole(self) -> bytes:
        """The whole body (an error status's: at most ``limit`` bytes, and a cut one as far as
        it came, as httpx reads it)."""
        while not self._done:
            await self._wait()
        if self._error is not None and self.status < 300:
            raise self._error
        data = b"".join(self._batch)
        self._batch = []
        return data

    @property
    def complete(self) -> bool:
        """Whether the body was read to its end."""
        return self._done and self._error is None and not self._batch

    def close(self) -> None:
        """Done with it: its connection goes back to the pool if the body ended cleanly and the
        server keeps the connection, and is closed otherwise."""
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.release(self)


class Connection(asyncio.Protocol):
    """One keep-alive connection; one exchange at a time (no pipelining)."""

    def __init__(self, pool: Pool, key: tuple[str, str, int]) -> None:
        import httptools

        self._pool = pool
        self.key = key
        self.transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._parse_error: type[Exception] = httptools.HttpParserError
        self._exchange: Exchange | None = None
        self._framed = False  # a Content-Length or chunked body: it ends on its own
        self._keep = False  # the last reply ended and the server keeps the connection
        self._paused = False
        self._waiting = False  # the reader waits for bytes: the read timeout runs
        self._timer: asyncio.TimerHandle | None = None
        self._read: float | None = None
        self._wait_from = 0.0
        self._informational = False  # a 1xx head (103 Early Hints): the real reply follows
        self.last_read = 0.0
        self.idle_since = 0.0

    # -- asyncio.Protocol ---------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        exchange = self._exchange
        if exchange is None or exchange._done:  # bytes nobody asked for: not to be trusted
            self._keep = False
            if self.transport is not None:
                self.transport.close()
            return
        self.last_read = self._pool.loop.time()
        try:
            self._parser.feed_data(data)
        except self._parse_error as exc:
            # As h11 names it, the line it could not read (the redactor sees the message); bytes
            # after a whole reply that do not parse end the connection, not the reply.
            first = data.partition(b"\r\n")[0][:200]
            line = "" if exchange.status else f": {first!r}"
            self._fail(httpx.RemoteProtocolError(f"malformed reply from the server ({exc}){line}"))
            return
        if exchange._done:
            exchange._wake()
        elif exchange._batch and not exchange._whole:  # a whole body's reader waits for its end
            exchange._wake()
            if exchange._queued > HIGH_WATER and not self._paused:
                self._paused = True
                assert self.transport is not None
                self.transport.pause_reading()

    def eof_received(self) -> bool:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self._keep = False
        self._pool.lost(self)
        exchange = self._exchange
        if exchange is None or exchange._done:
            return
        if exchange.status and not self._framed:
            exchange._end()  # a body delimited by the connection's close
        elif isinstance(exc, ConnectionResetError | BrokenPipeError):
            self._fail(httpx.ReadError(str(exc) or "connection reset by the server"))
        elif not exchange.status:
            self._fail(httpx.RemoteProtocolError("Server disconnected without sending a response."))
        else:
            self._fail(
                httpx.RemoteProtocolError("peer closed connection without sending complete message body")
            )

    # -- llhttp's callbacks -------------------------------------------------------------------------

    def _current(self) -> Exchange | None:
        exchange = self._exchange
        if exchange is None or exchange._done:  # a second reply after the first: pipelined junk
            self._keep = False
            return None
        return exchange

    def on_status(self, reason: bytes) -> None:
        if (exchange := self._current()) is not None:
            exchange.reason += reason.decode("latin-1")

    def on_header(self, name: bytes, value: bytes) -> None:
        if (exchange := self._current()) is not None:
            exchange.headers.append((name, value))

    def on_headers_complete(self) -> None:
        exchange = self._current()
        if exchange is None:
            return
        status = self._parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            self._informational = True
            return
        self._framed = status in (204, 304) or status < 200
        for name, value in exchange.headers:
            lower = name.lower()
            if lower == b"content-length" or (lower == b"transfer-encoding" and b"chunked" in value.lower()):
                self._framed = True
        exchange.status = status
        exchange._wake()  # the head alone is news: a streamed body may come much later

    def on_body(self, body: bytes) -> None:
        exchange = self._current()
        if exchange is None:
            return
        exchange._body(body)
        if exchange.status >= 300 and exchange._size >= exchange._limit:
            self._keep = False  # the rest of a long error body is not read: not reusable
            exchange._end()

    def on_message_complete(self) -> None:
        exchange = self._current()
        if exchange is None:
            return
        if self._informational:  # its head is dropped, as httpcore drops it
            self._informational = False
            exchange.reason, exchange.headers = "", []
            return
        self._keep = self._parser.should_keep_alive()
        exchange._end()

    # -- the exchange -------------------------------------------------------------------------------

    def _fail(self, error: Exception) -> None:
        self._keep = False
        exchange = self._exchange
        if exchange is not None and not exchange._done:
            exchange._end(error)
        if self.transport is not None:
            self.transport.close()

    def start(self, payload: bytes, *, whole: bool, limit: int, read: float | None) -> Exchange:
        """Send ``payload`` (a whole request); its reply arrives on the returned exchange."""
        exchange = Exchange(self, whole=whole, limit=limit)
        self._exchange = exchange
        self._keep = False
        self._read = read
        loop = self._pool.loop
        self.last_read = loop.time()
        assert self.transport is not None
        self.transport.write(payload)
        return exchange

    def reading(self, waiting: bool) -> None:
        """The reader started (``True``) or stopped waiting for bytes. As httpx's read timeout
        bounds each socket read, it bounds each wait here, from when it starts or the last bytes
        came, whichever is later: one timer per exchange, re-armed only when it fires early."""
        self._waiting = waiting
        if waiting:
            loop = self._pool.loop
            self._wait_from = loop.time()
            if self._read is not None and self._timer is None:
                self._timer = loop.call_at(self._wait_from + self._read, self._check_read)

    def _check_read(self) -> None:
        self._timer = None
        exchange = self._exchange
        if exchange is None or exchange._done or not self._waiting or self._read is None:
            return  # not waiting now: the next wait arms it again
        loop = self._pool.loop
        due = max(self._wait_from, self.last_read) + self._read
        if loop.time() >= due:
            self._fail(httpx.ReadTimeout(f"no data from the server for {self._read:g} s"))
        else:
            self._timer = loop.call_at(due, self._check_read)  # bytes came since: wait on

    def drained(self) -> None:
        """The reader took the queued bytes: read the socket again if it was paused."""
        if self._paused and self.transport is not None and not self.transport.is_closing():
            self._paused = False
            self.transport.resume_reading()

    def release(self, exchange: Exchange) -> None:
        if self._exchange is exchange:
            self._exchange = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._waiting = False
        self._pool.release(self, reusable=self._keep and exchange.complete and not self._paused)


def reply_headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """Reply headers as httpx reads them: lower-case names, repeated ones joined by ``, ``."""
    out: dict[str, str] = {}
    for raw_name, raw_value in raw:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out
