"""The proxy's uvicorn protocol: a reply's head goes out with its body, never later than one loop
iteration on its own; everything else as uvicorn does it (over real loopback sockets)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn

from openresponses.proxies import _protocol, http_protocol
from openresponses.proxies._protocol import HeldHead


class Recorder:
    """A transport that records writes."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


async def test_a_whole_reply_is_one_write() -> None:
    raw = Recorder()
    held = HeldHead(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
    held.write(b"HTTP/1.1 200 OK\r\n\r\n")
    held.write(b"{}")
    held.write(b"more")
    assert raw.writes == [b"HTTP/1.1 200 OK\r\n\r\n{}", b"more"]
    await asyncio.sleep(0)
    assert raw.writes == [b"HTTP/1.1 200 OK\r\n\r\n{}", b"more"]  # nothing left to flush twice
    assert held.is_closing() is False  # everything else goes to the transport


async def test_a_lone_head_goes_out_at_the_next_loop_iteration() -> None:
    raw = Recorder()
    held = HeldHead(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
    held.write(b"HTTP/1.1 200 OK\r\n\r\n")
    assert raw.writes == []
    await asyncio.sleep(0)
    assert raw.writes == [b"HTTP/1.1 200 OK\r\n\r\n"]
    held.write(b"data: 1\n\n")
    assert raw.writes == [b"HTTP/1.1 200 OK\r\n\r\n", b"data: 1\n\n"]


async def test_close_flushes_first() -> None:
    raw = Recorder()
    held = HeldHead(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
    held.write(b"HTTP/1.1 204 No Content\r\n\r\n")
    held.close()
    assert raw.writes == [b"HTTP/1.1 204 No Content\r\n\r\n"] and raw.closed


def test_without_httptools_uvicorn_chooses(monkeypatch: pytest.MonkeyPatch) -> None:
    assert http_protocol() is _protocol.HeldHeadProtocol
    monkeypatch.setattr(_protocol, "_impl", None)
    assert http_protocol() == "auto"


# -- served ----------------------------------------------------------------------------------------


async def app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    path = scope["path"]
    if path == "/slow":  # a stream whose first event is late: its head must not wait for it
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}
        )
        await asyncio.sleep(0.5)
        await send({"type": "http.response.body", "body": b"late", "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    if path == "/empty":
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    reply = b"echo:" + body
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(reply)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": reply})


@contextlib.asynccontextmanager
async def served() -> AsyncIterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, http=http_protocol(), log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(1000):
            if server.started:
                break
            await asyncio.sleep(0.01)
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()


async def read_reply(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return head, await asyncio.wait_for(reader.readexactly(length), 5)


async def test_keep_alive_pipelining_and_100_continue_work_as_uvicorns() -> None:
    async with served() as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        # Two pipelined requests, then one that waits for "100 Continue" before its body.
        writer.write(
            b"POST /a HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n\r\none"
            b"POST /b HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n\r\ntwo"
        )
        first, second = await read_reply(reader), await read_reply(reader)
        assert first[0].startswith(b"HTTP/1.1 200 OK") and first[1] == b"echo:one"
        assert second[1] == b"echo:two"
        writer.write(b"POST /c HTTP/1.1\r\nhost: x\r\nexpect: 100-continue\r\ncontent-length: 5\r\n\r\n")
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        writer.write(b"three")
        assert (await read_reply(reader))[1] == b"echo:three"
        writer.write(b"GET /empty HTTP/1.1\r\nhost: x\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 204 No Content")
        writer.close()


async def test_a_streams_head_is_not_held_for_its_first_event() -> None:
    async with served() as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /slow HTTP/1.1\r\nhost: x\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 0.4)  # the body comes at 0.5 s
        assert head.startswith(b"HTTP/1.1 200 OK") and b"transfer-encoding: chunked" in head
        rest = await asyncio.wait_for(reader.readuntil(b"0\r\n\r\n"), 5)
        assert b"late" in rest
        writer.close()


async def test_without_keep_alive_the_reply_is_whole_before_the_close() -> None:
    async with served() as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /a HTTP/1.0\r\ncontent-length: 2\r\n\r\nhi")
        data = await asyncio.wait_for(reader.read(), 5)  # to EOF: the server closed
        assert data.startswith(b"HTTP/1.1 200 OK") and data.endswith(b"\r\n\r\necho:hi")
        writer.close()
