"""``LoopbackServer``: the HTTP/1.1 machinery shared by the scripted loopback servers.

Built on ``asyncio.start_server`` (stdlib only), so the core package needs no ASGI server. It
speaks just enough HTTP/1.1 for clients under test: keep-alive, ``Content-Length`` (and chunked)
request bodies, chunked replies (server-sent events), ``Content-Length`` replies, and real network
faults (an RST via ``SO_LINGER 0``, a stall, a truncated body). A subclass decides what to answer
(:meth:`LoopbackServer._respond`); everything it sends is a :class:`~openresponses.testing.Wire`, so
the bytes are plain data built without I/O.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Self

from .._emit import new_id
from ._script import Wire
from ._transport import RecordedRequest, reason_phrase

__all__ = ["Connection", "LoopbackServer", "RawRequest"]

_POLL = 0.005
# Frames due at once are written together up to this many bytes per write: a 500-delta stream
# then costs a handful of syscalls instead of one write and drain per delta.
_BATCH = 64 * 1024


class _Disconnected(Exception):
    """The client went away while we were replying."""


@dataclass(slots=True)
class Connection:
    """One accepted TCP connection, handed to :meth:`LoopbackServer._respond` per request."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    #: Whether the client allows another request on this connection after this one.
    keep_alive: bool = True


@dataclass(frozen=True, slots=True)
class RawRequest:
    """One request as read off the socket, before a server records it."""

    method: str
    #: The request target as sent (path and query string).
    target: str
    #: Header names lower-cased.
    headers: dict[str, str]
    #: The body's exact bytes (de-chunked).
    raw: bytes

    @property
    def path(self) -> str:
        """The target without its query string."""
        return self.target.split("?", 1)[0]

    @property
    def body(self) -> Any:
        """The body parsed as JSON; ``None`` when empty or not JSON."""
        try:
            return json.loads(self.raw) if self.raw else None
        except ValueError:
            return None


class LoopbackServer:
    """Base class: accept loop, request parsing, request recording, reply writing, faults, threads.

    Why a real socket: connection reuse, resets, stalls and early closes only show up on a real
    TCP connection through the real ``httpx`` stack. Subclasses implement :meth:`_respond`.
    """

    _thread_name = "loopback-server"

    def __init__(self, *, prefix: str = "/v1", host: str = "127.0.0.1", port: int = 0) -> None:
        self.prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
        self.host = host
        self._port = port
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        #: Every request received, in order (including rejected ones).
        self.requests: list[RecordedRequest] = []
        #: TCP connections accepted so far.
        self.connections_opened = 0
        #: TCP connections that have ended (closed by either side, or reset).
        self.connections_closed = 0
        #: Chunked (streaming) replies being written right now.
        self.active_streams = 0
        #: Replies cut short because the client closed its connection.
        self.client_disconnects = 0

    # -- addresses ------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port (after start)."""
        if self._server is None:
            raise RuntimeError("the server is not started")
        sockets = self._server.sockets
        return int(sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no prefix)."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``: what a client's ``base_url`` should be."""
        return self.url + self.prefix

    @property
    def open_connections(self) -> int:
        """Connections accepted and not yet ended."""
        return self.connections_opened - self.connections_closed

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> Self:
        """Bind and listen; returns once connections are accepted."""
        if self._server is None:
            self._server = await asyncio.start_server(self._on_connection, self.host, self._port)
        return self

    async def aclose(self) -> None:
        """Stop listening and drop every open connection."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        tasks = list(self._tasks)
        if tasks:
            # Aborted connections end their handlers promptly; cancel any that do not.
            _, pending = await asyncio.wait(tasks, timeout=1.0)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await server.wait_closed()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()

    @contextlib.contextmanager
    def run_in_thread(self) -> Iterator[Self]:
        """Serve from a daemon thread with its own event loop (for sync clients and demos)."""
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def main() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self.aclose())
                loop.close()

        thread = threading.Thread(target=main, name=self._thread_name, daemon=True)
        thread.start()
        if not ready.wait(10):
            raise RuntimeError(f"the {type(self).__name__} did not start within 10s")
        if failure:
            raise failure[0]
        try:
            yield self
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)

    async def wait_until(self, predicate: Callable[[Self], bool], timeout: float = 5.0) -> None:
        """Wait until ``predicate(server)`` holds (e.g. ``lambda s: s.open_connections == 0``)."""
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met within {timeout}s: {self!r}")
            await asyncio.sleep(_POLL)

    def __repr__(self) -> str:
        where = self.base_url if self._server is not None else "stopped"
        return (
            f"{type(self).__name__}({where}, requests={len(self.requests)}, open={self.open_connections}, "
            f"active_streams={self.active_streams}, disconnects={self.client_disconnects})"
        )

    # -- the subclass's part --------------------------------------------------------------------

    async def _respond(self, request: RecordedRequest, connection: Connection) -> bool:
        """Answer one request; ``True`` to keep the connection for another request."""
        raise NotImplementedError

    # -- connections ----------------------------------------------------------------------------

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._writers.add(writer)
        self.connections_opened += 1
        try:
            while True:
                connection = Connection(reader, writer)
                request = await self._read_request(connection)
                if request is None:
                    break
                if not await self._respond(request, connection):
                    break
        except (_Disconnected, ConnectionError, OSError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # Server shutdown. Swallowed on purpose: on 3.11 asyncio's stream callback calls
            # task.exception() on a finished connection task, which raises for a cancelled one.
            pass
        finally:
            self.connections_closed += 1
            self._writers.discard(writer)
            if task is not None:
                self._tasks.discard(task)
            if not writer.is_closing():
                writer.close()
            # CancelledError too: the same 3.11 callback would log it for a task cancelled here.
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await writer.wait_closed()

    async def _read_request(self, connection: Connection) -> RecordedRequest | None:
        """Read and record the next request; ``None`` when the connection is done.

        A subclass recording more (the exact bytes, its own record type) overrides this around
        :meth:`_read_raw`.
        """
        raw = await self._read_raw(connection)
        if raw is None:
            return None
        recorded = RecordedRequest(method=raw.method, path=raw.path, headers=raw.headers, body=raw.body)
        self.requests.append(recorded)
        return recorded

    async def _read_raw(self, connection: Connection) -> RawRequest | None:
        """The next request off ``connection`` (sets its ``keep_alive``); ``None`` when done.

        A malformed request line or an oversized head is answered here (400, 431) and closes.
        """
        reader = connection.reader
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None  # the client closed the connection between requests
        except asyncio.LimitOverrunError:
            await self._send_json(connection, 431, _plain_error("Request headers too large."), close=True)
            return None
        lines = head.decode("latin-1").split("\r\n")
        try:
            method, target, version = lines[0].split(" ", 2)
        except ValueError:
            await self._send_json(connection, 400, _plain_error("Malformed request line."), close=True)
            return None
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if not line:
                continue
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            raw = await _read_chunked(reader)
        else:
            raw = await reader.readexactly(int(headers.get("content-length", "0") or 0))
        connection.keep_alive = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
        return RawRequest(method, target, headers, raw)

    # -- writing replies ------------------------------------------------------------------------

    async def _send_wire(self, wire: Wire, connection: Connection) -> bool:
        """Play ``wire`` (delay, headers, paced frames, its ending); ``True`` if reusable after."""
        reader, writer = connection.reader, connection.writer
        await _pause(wire.delay, reader, writer)
        if wire.reset_before_headers:
            _reset(writer)
            return False
        headers = [*wire.headers, ("x-request-id", new_id("req"))]
        if wire.sse:
            headers.append(("transfer-encoding", "chunked"))
        else:
            headers.append(("content-length", str(wire.content_length)))
        wants_close = any(k.lower() == "connection" and v.lower() == "close" for k, v in wire.headers)
        keep_alive = connection.keep_alive and not wants_close
        if not wants_close and (not keep_alive or wire.end != "done"):
            headers.append(("connection", "close"))
        head = f"HTTP/1.1 {wire.status} {reason_phrase(wire.status)}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers) + "\r\n"
        if wire.sse:
            self.active_streams += 1
        batch = [head.encode("latin-1")]
        size = len(batch[0])
        try:
            for frame in wire.frames:
                if frame.pause is None or frame.pause > 0:
                    # Flush what is due before waiting, so the client sees exactly these bytes early.
                    await _write(writer, b"".join(batch))
                    batch, size = [], 0
                    if not await _pause(frame.pause, reader, writer):
                        raise _Disconnected
                elif _gone(reader, writer):
                    raise _Disconnected
                if frame.data:
                    data = frame.data
                    if wire.sse:
                        data = b"%x\r\n%b\r\n" % (len(data), data)
                    batch.append(data)
                    size += len(data)
                    if size >= _BATCH:
                        await _write(writer, b"".join(batch))
                        batch, size = [], 0
            if wire.end == "done" and wire.sse:
                batch.append(b"0\r\n\r\n")
            if batch:
                await _write(writer, b"".join(batch))
            if wire.end == "reset":
                _reset(writer)
                return False
            if wire.end == "close":
                writer.close()
                return False
        except (_Disconnected, ConnectionError, OSError):
            self.client_disconnects += 1
            writer.transport.abort()
            return False
        finally:
            if wire.sse:
                self.active_streams -= 1
        return keep_alive

    async def _send_json(
        self,
        connection: Connection,
        code: int,
        body: Any,
        *,
        headers: Mapping[str, str] | None = None,
        close: bool = False,
    ) -> bool:
        """Reply ``code`` with ``body`` as JSON (``Content-Length``); ``True`` if reusable after."""
        data = json.dumps(body).encode()
        keep_alive = connection.keep_alive and not close
        head = f"HTTP/1.1 {code} {reason_phrase(code)}\r\ncontent-type: application/json\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        head += f"content-length: {len(data)}\r\n" + ("" if keep_alive else "connection: close\r\n") + "\r\n"
        await _write(connection.writer, head.encode("latin-1") + data)
        return keep_alive


def _plain_error(message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request", "param": None, "code": None}}


def _gone(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    # The transport keeps reading while we write, so a client FIN shows up as reader EOF.
    return writer.is_closing() or reader.at_eof()


async def _pause(seconds: float | None, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    """Wait ``seconds`` (forever if ``None``); ``False`` as soon as the client goes away."""
    if seconds is not None and seconds <= 0:
        return not _gone(reader, writer)
    deadline = None if seconds is None else time.monotonic() + seconds
    while not _gone(reader, writer):
        remaining = _POLL if deadline is None else deadline - time.monotonic()
        if remaining <= 0:
            return True
        await asyncio.sleep(min(remaining, _POLL))
    return False


async def _write(writer: asyncio.StreamWriter, data: bytes) -> None:
    if writer.is_closing():
        raise _Disconnected
    writer.write(data)
    await writer.drain()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Abort with ``SO_LINGER 0`` so the peer sees an RST (connection reset), not a clean EOF."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            await reader.readuntil(b"\r\n")  # trailers are not supported: expect the empty line
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)
