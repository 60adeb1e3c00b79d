"""A minimal loopback HTTP/1.1 server for benchmarks, run in its own process.

It serves canned bytes only, so its own cost is a ``write`` per flush: raw asyncio, keep-alive,
``Transfer-Encoding: chunked`` for streams (one HTTP chunk, one ``write`` and one ``drain`` per
flush, as a real server flushing its SSE events), ``Content-Length`` for whole bodies.

Run it in a separate process so its CPU is not billed to the client being measured::

    from _server import Endpoint, serve_in_process

    routes = {"/v1/responses": Endpoint(body=b'{"id": "resp_1"}', stream=[b"data: {}\\n\\n"])}
    with serve_in_process(routes) as base:  # "http://127.0.0.1:PORT"
        ...  # POST base + "/v1/responses"

An endpoint with both ``body`` and ``stream`` streams when the request's JSON body has
``"stream": true`` (as the Responses API does) and answers with ``body`` otherwise. Any other
path or method gets a JSON 404. The server ignores request headers except ``Content-Length``,
``Transfer-Encoding: chunked`` and ``Connection: close``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import socket
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Endpoint", "serve", "serve_in_process"]


@dataclass(frozen=True)
class Endpoint:
    """What one path answers: a whole ``body``, a ``stream`` of flushes, or both.

    ``stream`` is a sequence of byte strings; each is sent as one HTTP chunk with one write
    (so choose the grouping: one event per flush, or several). ``interval`` sleeps between
    flushes (0: send as fast as the client reads).
    """

    body: bytes | None = None
    stream: Sequence[bytes] | None = None
    status: int = 200
    content_type: str = "application/json"
    stream_content_type: str = "text/event-stream; charset=utf-8"
    headers: Mapping[str, str] = field(default_factory=dict)
    interval: float = 0.0


_REASONS = {200: "OK", 201: "Created", 400: "Bad Request", 404: "Not Found", 429: "Too Many Requests"}
_NOT_FOUND = Endpoint(body=b'{"error": {"type": "not_found", "message": "no such route"}}', status=404)


@dataclass(frozen=True)
class _Prepared:
    """An endpoint with its bytes framed once, so serving costs only writes."""

    body_head: bytes | None
    body: bytes | None
    stream_head: bytes | None
    frames: tuple[bytes, ...]
    interval: float


def _head(status: int, headers: Mapping[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _prepare(endpoint: Endpoint) -> _Prepared:
    extra = dict(endpoint.headers)
    body_head = body = stream_head = None
    frames: tuple[bytes, ...] = ()
    if endpoint.body is not None:
        body = endpoint.body
        body_head = _head(
            endpoint.status,
            {"content-type": endpoint.content_type, "content-length": str(len(body)), **extra},
        )
    if endpoint.stream is not None:
        stream_head = _head(
            endpoint.status,
            {
                "content-type": endpoint.stream_content_type,
                "transfer-encoding": "chunked",
                "cache-control": "no-cache",
                **extra,
            },
        )
        frames = tuple(b"%x\r\n%b\r\n" % (len(chunk), chunk) for chunk in endpoint.stream if chunk)
    return _Prepared(body_head, body, stream_head, frames, endpoint.interval)


def _wants_stream(body: bytes) -> bool:
    if b'"stream"' not in body:
        return False
    try:
        data = json.loads(body)
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("stream") is True


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if headers.get("transfer-encoding", "").lower() == "chunked":
        parts = []
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            if size == 0:
                await reader.readline()
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readline()
    length = int(headers.get("content-length", "0") or 0)
    return await reader.readexactly(length) if length else b""


async def _handle(
    routes: Mapping[str, _Prepared], reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            method, target, _ = request_line.split(" ", 2)
            headers = {}
            for line in header_lines:
                if line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            body = await _read_body(reader, headers)
            path = target.split("?", 1)[0]
            endpoint = routes.get(path) if method in ("POST", "GET") else None
            if endpoint is None:
                endpoint = routes["\0not-found"]
            if endpoint.stream_head is not None and (endpoint.body is None or _wants_stream(body)):
                writer.write(endpoint.stream_head)
                for frame in endpoint.frames:
                    writer.write(frame)
                    await writer.drain()
                    if endpoint.interval:
                        await asyncio.sleep(endpoint.interval)
                writer.write(b"0\r\n\r\n")
            else:
                writer.write(endpoint.body_head or b"")
                writer.write(endpoint.body or b"")
            await writer.drain()
            if headers.get("connection", "").lower() == "close":
                return
    except (ConnectionError, asyncio.IncompleteReadError):
        return
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def _serve(routes: Mapping[str, Endpoint], sock: socket.socket, ready: Any = None) -> None:
    prepared = {path: _prepare(endpoint) for path, endpoint in routes.items()}
    prepared["\0not-found"] = _prepare(_NOT_FOUND)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = writer.get_extra_info("socket")
        if conn is not None:  # asyncio sets it only when the socket's proto is IPPROTO_TCP
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await _handle(prepared, reader, writer)

    server = await asyncio.start_server(handle, sock=sock, limit=1 << 20)
    if ready is not None:
        ready.send(sock.getsockname()[1])
        ready.close()
    async with server:
        await server.serve_forever()


def serve(routes: Mapping[str, Endpoint], host: str = "127.0.0.1", port: int = 0, ready: Any = None) -> None:
    """Serve ``routes`` forever in this process (``ready``: a pipe end told the bound port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(routes, sock, ready))


@contextlib.contextmanager
def serve_in_process(routes: Mapping[str, Endpoint], host: str = "127.0.0.1") -> Iterator[str]:
    """Start the server in a child process; yield ``http://host:port``; stop it on exit."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    process = ctx.Process(target=serve, args=(dict(routes), host, 0, child), daemon=True)
    process.start()
    child.close()
    try:
        if not parent.poll(30):
            raise RuntimeError("the benchmark server did not start")
        port = parent.recv()
        yield f"http://{host}:{port}"
    finally:
        process.terminate()
        process.join(5)
        if process.is_alive():  # pragma: no cover
            process.kill()
            process.join()
