"""``ScriptedServer``: a real HTTP/1.1 server on loopback that plays scenarios.

Built on ``asyncio.start_server`` (stdlib only), so the core package needs no ASGI server. It
speaks just enough HTTP/1.1 for clients under test: keep-alive, ``Content-Length`` (and chunked)
request bodies, chunked ``text/event-stream`` replies, JSON replies with ``Content-Length``, and
real network faults (an RST via ``SO_LINGER 0``, a stall, a truncated body).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from pydantic import ValidationError

from .._emit import new_id
from ..types import CompactResponseBody, CreateResponseBody
from ._script import Scenario, ScenarioQueue, Wire, text
from ._transport import RecordedRequest, reason_phrase

__all__ = ["ScriptedServer"]

_MAX_HEAD = 64 * 1024
_POLL = 0.005


class _Disconnected(Exception):
    """The client went away while we were replying."""


class ScriptedServer:
    """A loopback Open Responses server that answers each request with the next scenario.

    Why a real socket: connection reuse, resets, stalls and early closes only show up on a real
    TCP connection through the real ``httpx`` stack. Use it async or from a thread::

        async with ScriptedServer([text("Hi", reasoning="Greet")]) as server:
            async with AsyncClient(base_url=server.base_url) as client:
                response = await client.responses.create(model="m", input="Hello")
        assert server.requests[0].body["input"] == "Hello"

        with ScriptedServer(default=text("Hi")).run_in_thread() as server:
            print(Client(base_url=server.base_url).responses.create(model="m", input="x").output_text)
    """

    def __init__(
        self,
        scenarios: Iterable[Scenario] = (),
        *,
        default: Scenario | None = None,
        prefix: str = "/v1",
        api_key: str | None = None,
        send_done: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._queue = ScenarioQueue(scenarios, default if default is not None else text("Hello"))
        self.prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
        self.api_key = api_key
        self.send_done = send_done
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
        #: SSE replies being written right now.
        self.active_streams = 0
        #: Replies cut short because the client closed its connection.
        self.client_disconnects = 0

    # -- configuration --------------------------------------------------------------------------

    def push(self, *scenarios: Scenario) -> None:
        """Queue scenarios, consumed one per request in order (then ``default`` serves)."""
        self._queue.push(*scenarios)

    @property
    def pending(self) -> int:
        """Scenarios queued and not yet consumed."""
        return len(self._queue)

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
        """``http://127.0.0.1:PORT/v1``: pass it to ``AsyncClient(base_url=...)``."""
        return self.url + self.prefix

    @property
    def open_connections(self) -> int:
        """Connections accepted and not yet ended."""
        return self.connections_opened - self.connections_closed

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> ScriptedServer:
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

    async def __aenter__(self) -> ScriptedServer:
        return await self.start()

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()

    @contextlib.contextmanager
    def run_in_thread(self) -> Iterator[ScriptedServer]:
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

        thread = threading.Thread(target=main, name="scripted-server", daemon=True)
        thread.start()
        if not ready.wait(10):
            raise RuntimeError("the scripted server did not start within 10s")
        if failure:
            raise failure[0]
        try:
            yield self
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)

    async def wait_until(self, predicate: Callable[[ScriptedServer], bool], timeout: float = 5.0) -> None:
        """Wait until ``predicate(server)`` holds (e.g. ``lambda s: s.open_connections == 0``)."""
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met within {timeout}s: {self!r}")
            await asyncio.sleep(_POLL)

    def __repr__(self) -> str:
        where = self.base_url if self._server is not None else "stopped"
        return (
            f"ScriptedServer({where}, requests={len(self.requests)}, open={self.open_connections}, "
            f"active_streams={self.active_streams}, disconnects={self.client_disconnects})"
        )

    # -- connections ----------------------------------------------------------------------------

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._writers.add(writer)
        self.connections_opened += 1
        try:
            while True:
                request = await self._read_request(reader, writer)
                if request is None:
                    break
                if not await self._respond(request, reader, writer):
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
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _read_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> tuple[RecordedRequest, bool] | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None  # the client closed the connection between requests
        except asyncio.LimitOverrunError:
            await self._send_error(writer, 431, "Request headers too large.", keep_alive=False)
            return None
        lines = head.decode("latin-1").split("\r\n")
        try:
            method, target, version = lines[0].split(" ", 2)
        except ValueError:
            await self._send_error(writer, 400, "Malformed request line.", keep_alive=False)
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
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        keep_alive = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
        path = target.split("?", 1)[0]
        recorded = RecordedRequest(method=method, path=path, headers=headers, body=body)
        self.requests.append(recorded)
        return recorded, keep_alive

    async def _respond(
        self,
        received: tuple[RecordedRequest, bool],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> bool:
        request, keep_alive = received
        create_path = self.prefix + "/responses"
        if request.path not in (create_path, create_path + "/compact"):
            return await self._send_error(
                writer, 404, f"No route for {request.path}.", keep_alive, "not_found"
            )
        if request.method != "POST":
            return await self._send_error(writer, 405, "Use POST.", keep_alive)
        if self.api_key is not None and request.headers.get("authorization") != f"Bearer {self.api_key}":
            return await self._send_error(
                writer,
                401,
                "Missing or invalid API key.",
                keep_alive,
                "authentication_error",
                "invalid_api_key",
            )
        operation = "compact" if request.path.endswith("/compact") else "create"
        model = CompactResponseBody if operation == "compact" else CreateResponseBody
        try:
            body = model.model_validate(request.body if isinstance(request.body, dict) else None)
        except ValidationError as exc:
            message = f"Invalid request body: {exc.error_count()} problem(s)."
            return await self._send_error(writer, 400, message, keep_alive, "invalid_request")
        wire = self._queue.next().wire(body, operation=operation, send_done=self.send_done)  # type: ignore[arg-type]
        return await self._send_wire(wire, reader, writer, keep_alive)

    async def _send_wire(
        self, wire: Wire, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, keep_alive: bool
    ) -> bool:
        await _pause(wire.delay, reader, writer)
        if wire.reset_before_headers:
            _reset(writer)
            return False
        headers = [*wire.headers, ("x-request-id", new_id("req"))]
        if wire.sse:
            headers.append(("transfer-encoding", "chunked"))
        else:
            headers.append(("content-length", str(wire.content_length)))
        if not keep_alive or wire.end != "done":
            headers.append(("connection", "close"))
        head = f"HTTP/1.1 {wire.status} {reason_phrase(wire.status)}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers) + "\r\n"
        await _write(writer, head.encode("latin-1"))
        if wire.sse:
            self.active_streams += 1
        try:
            for frame in wire.frames:
                if not await _pause(frame.pause, reader, writer):
                    raise _Disconnected
                if frame.data:
                    data = frame.data
                    if wire.sse:
                        data = f"{len(data):x}\r\n".encode() + data + b"\r\n"
                    await _write(writer, data)
            if wire.end == "reset":
                _reset(writer)
                return False
            if wire.end == "close":
                writer.close()
                return False
            if wire.sse:
                await _write(writer, b"0\r\n\r\n")
        except (_Disconnected, ConnectionError, OSError):
            self.client_disconnects += 1
            writer.transport.abort()
            return False
        finally:
            if wire.sse:
                self.active_streams -= 1
        return keep_alive

    async def _send_error(
        self,
        writer: asyncio.StreamWriter,
        code: int,
        message: str,
        keep_alive: bool,
        error_type: str = "invalid_request",
        error_code: str | None = None,
    ) -> bool:
        body = json.dumps(
            {"error": {"message": message, "type": error_type, "param": None, "code": error_code}}
        ).encode()
        head = (
            f"HTTP/1.1 {code} {reason_phrase(code)}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n" + ("" if keep_alive else "connection: close\r\n") + "\r\n"
        )
        await _write(writer, head.encode("latin-1") + body)
        return keep_alive


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
