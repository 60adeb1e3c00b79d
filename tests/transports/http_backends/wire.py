"""Raw loopback HTTP/1.1, scripted byte by byte, and the side-by-side runner for both backends.

:class:`WireServer` answers request ``n`` with ``replies[n]`` (the last one repeats): exact bytes,
pauses, and an ending (keep the connection, close it, reset it, or hold it silent until the
client leaves). Every backend gets a fresh server with the same script, so both read the very
same bytes; :func:`both` plays a call through ``HTTPTransport(http_backend=...)`` for each and
returns what the caller saw, reduced to what must be equal (:class:`Outcome`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import json
import socket
import ssl
import struct
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from openresponses import APIConnectionError, APIStatusError, APITimeoutError, AsyncClient, StreamError
from openresponses._sse import DONE, encode_event
from openresponses.testing import text
from openresponses.transports.http import HTTPBackend, HTTPTransport

__all__ = [
    "BACKENDS",
    "EVENTS",
    "KEY",
    "RESPONSE",
    "Outcome",
    "Reply",
    "Seen",
    "WireServer",
    "both",
    "chunked",
    "encoded",
    "error_json",
    "head",
    "outcome",
    "settle",
    "sse",
    "whole",
]

BACKENDS: tuple[HTTPBackend, ...] = ("httpx", "aiohttp", "httptools")
#: The backends compared against httpx's (the reference) by :func:`both`.
ALTERNATIVES: tuple[HTTPBackend, ...] = ("aiohttp", "httptools")
KEY = "sk-wire-backend-0123456789abcdefABCDEF"
_REQUEST = {"model": "m", "input": "x"}
#: One fixed answer, so both backends parse byte-identical replies.
_ANSWER = text("Hello there, general Kenobi", chunks=4)
RESPONSE = _ANSWER.response(_REQUEST).model_dump_json(exclude_unset=True).encode()
EVENTS = b"".join(encode_event(e) for e in _ANSWER.events(_REQUEST)) + DONE

End = Literal["keep", "close", "reset", "hold"]


@dataclass(frozen=True)
class Reply:
    """Bytes to write (a ``float`` piece pauses that many seconds), then the ending: ``keep``
    the connection for the next request, ``close`` it, ``reset`` it (RST) or ``hold`` it silent
    until the client leaves."""

    pieces: tuple[bytes | float, ...]
    end: End = "keep"


@dataclass
class Seen:
    """One request as the server read it."""

    line: str
    headers: dict[str, str]
    body: bytes


def head(status: str, headers: Iterable[tuple[str, str]] = ()) -> bytes:
    """A response head: ``HTTP/1.1 {status}`` and ``headers``, blank line included."""
    lines = [f"HTTP/1.1 {status}", *(f"{name}: {value}" for name, value in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def encoded(data: bytes, encoding: str) -> bytes:
    """``data`` in ``gzip``, ``deflate`` (zlib-wrapped), ``raw-deflate`` or ``identity``."""
    if encoding == "gzip":
        return gzip.compress(data)
    if encoding == "deflate":
        return zlib.compress(data)
    if encoding == "raw-deflate":
        packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        return packer.compress(data) + packer.flush()
    return data


def chunked(data: bytes, size: int = 64, *, terminated: bool = True) -> bytes:
    """``data`` as HTTP/1.1 chunks of ``size`` bytes, with the ``0`` terminator unless told not to."""
    parts = [
        b"%x\r\n%b\r\n" % (len(data[i : i + size]), data[i : i + size]) for i in range(0, len(data), size)
    ]
    return b"".join(parts) + (b"0\r\n\r\n" if terminated else b"")


def whole(
    status: str,
    body: bytes,
    *,
    content_type: str = "application/json",
    headers: Sequence[tuple[str, str]] = (),
    encoding: str = "identity",
    end: End = "keep",
) -> Reply:
    """A ``Content-Length`` reply (the body encoded as ``encoding`` says)."""
    data = encoded(body, encoding)
    names = [("content-type", content_type), *headers]
    if encoding != "identity":
        names.append(("content-encoding", "deflate" if encoding == "raw-deflate" else encoding))
    names.append(("content-length", str(len(data))))
    return Reply((head(status, names) + data,), end)


def sse(
    body: bytes = EVENTS, *, encoding: str = "identity", headers: Sequence[tuple[str, str]] = ()
) -> Reply:
    """A chunked ``text/event-stream`` reply."""
    names = [("content-type", "text/event-stream"), *headers, ("transfer-encoding", "chunked")]
    if encoding != "identity":
        names.append(("content-encoding", "deflate" if encoding == "raw-deflate" else encoding))
    return Reply((head("200 OK", names) + chunked(encoded(body, encoding)),))


@dataclass
class WireServer:
    """A loopback server answering request ``n`` with ``replies[n]`` (the last repeats)."""

    replies: Sequence[Reply | Callable[[Seen], Reply]]
    requests: list[Seen] = field(default_factory=list)
    connections_opened: int = 0
    open_connections: int = 0
    base_url: str = ""
    tls: ssl.SSLContext | None = None  # serve HTTPS with this context (base_url says https)
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    async def __aenter__(self) -> WireServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.tls)
        scheme = "https" if self.tls is not None else "http"
        self.base_url = f"{scheme}://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/v1"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def wait_until_closed(self, timeout: float = 5.0) -> int:
        """Wait (up to ``timeout`` s) for every connection to close; the number still open."""
        await settle(lambda: self.open_connections == 0, timeout)
        return self.open_connections

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections_opened += 1
        self.open_connections += 1
        self._writers.add(writer)
        try:
            while await self._serve_one(reader, writer):
                pass
        except (ConnectionError, OSError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # the client left, or the server is shutting down
        finally:
            self.open_connections -= 1
            self._writers.discard(writer)
            if not writer.is_closing():
                writer.close()

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        try:
            raw = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False  # closed between requests
        lines = raw.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
        seen = Seen(lines[0], headers, await reader.readexactly(int(headers.get("content-length", "0"))))
        self.requests.append(seen)
        script = self.replies[min(len(self.requests), len(self.replies)) - 1]
        reply = script(seen) if callable(script) else script
        for piece in reply.pieces:
            if isinstance(piece, float):
                if not await _pause(piece, reader):
                    return False
            else:
                writer.write(piece)
                await writer.drain()
        if reply.end == "reset":
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return False
        if reply.end == "hold":
            await _pause(None, reader)
            return False
        return reply.end == "keep"


async def _pause(seconds: float | None, reader: asyncio.StreamReader) -> bool:
    """Wait ``seconds`` (``None``: until the client leaves); ``False`` if the client left."""
    deadline = None if seconds is None else time.monotonic() + seconds
    # Polled: a client's FIN shows only as reader EOF.
    while not reader.at_eof():
        if deadline is not None and time.monotonic() >= deadline:
            return True
        await asyncio.sleep(0.005)
    return False


async def settle(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll ``predicate`` until true or ``timeout`` s passed (the servers signal nothing)."""
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.005)


# -- the same call through each backend -------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What a caller saw, reduced to what both backends must agree on.

    ``kind`` is ``ok`` or the error class; ``detail`` is the result (response, events, request
    id) or the error's fields: for a status error its message, status, body, headers,
    ``retry_after``, request id and ``retryable``; for a connection error the part of the
    message the transport writes (``Connection error``, ``Connection lost reading the body``,
    ...), the httpx class of the cause and, for a timeout, which one fired.
    """

    kind: str
    detail: Any = None
    backend: str = field(default="", compare=False)  # shown in a failed comparison, not compared


def describe(exc: BaseException) -> Outcome:
    """The comparable part of an error."""
    if isinstance(exc, APITimeoutError):
        return Outcome(type(exc).__name__, (exc.which, type(exc.__cause__).__name__))
    if isinstance(exc, APIConnectionError):
        what, _, rest = str(exc).partition(": ")
        return Outcome(type(exc).__name__, (what, rest.partition(":")[0], type(exc.__cause__).__name__))
    if isinstance(exc, StreamError):
        cause = describe(exc.__cause__) if exc.__cause__ is not None else None
        return Outcome(type(exc).__name__, (str(exc).partition(":")[0], exc.events_delivered, cause))
    if isinstance(exc, APIStatusError):
        headers = {k: v for k, v in exc.headers.items() if k not in ("date", "content-length")}
        retry_after = getattr(exc, "retry_after", None)
        body = exc.body
        fields = (str(exc), exc.status_code, body, headers, retry_after, exc.request_id, exc.retryable)
        return Outcome(type(exc).__name__, fields)
    return Outcome(type(exc).__name__, str(exc))


async def call(client: AsyncClient, *, stream: bool) -> Outcome:
    """One call (``stream``: every event read); its :class:`Outcome`."""
    try:
        if stream:
            async with client.responses.stream(model="m", input="x") as events:
                seen = [e.model_dump(mode="json") async for e in events]
                final = await events.get_final_response()
            return Outcome("ok", (seen, final.model_dump(mode="json"), final.request_id))
        response = await client.responses.create(model="m", input="x")
        return Outcome("ok", (response.model_dump(mode="json"), response.request_id))
    except Exception as exc:
        return describe(exc)


async def outcome(
    backend: HTTPBackend,
    replies: Sequence[Reply | Callable[[Seen], Reply]],
    *,
    stream: bool,
    timeout: float | httpx.Timeout = 2.0,
    **options: Any,
) -> tuple[Outcome, WireServer]:
    """Play one call through ``backend`` against a fresh :class:`WireServer`."""
    async with WireServer(replies) as server:
        transport = HTTPTransport(
            server.base_url, api_key=KEY, http_backend=backend, timeout=timeout, **options
        )
        async with AsyncClient(transport=transport) as client:
            result = await call(client, stream=stream)
        await server.wait_until_closed()
    return result, server


async def both(
    replies: Sequence[Reply | Callable[[Seen], Reply]], *, stream: bool, **options: Any
) -> tuple[Outcome, Outcome]:
    """``(httpx's outcome, the alternatives' outcome)`` for the same script: every backend in
    :data:`ALTERNATIVES` plays it; the first whose outcome differs from httpx's is returned (its
    ``backend`` named in the comparison's diff), else aiohttp's."""
    first, _ = await outcome("httpx", replies, stream=stream, **options)
    others = []
    for backend in ALTERNATIVES:
        result, _ = await outcome(backend, replies, stream=stream, **options)
        others.append(dataclasses.replace(result, backend=backend))
    differing = [other for other in others if other != first]
    return first, (differing[0] if differing else others[0])


def error_json(message: str, code: str | None = None) -> bytes:
    """A spec error body."""
    return json.dumps(
        {"error": {"message": message, "type": "server_error", "param": None, "code": code}}
    ).encode()
