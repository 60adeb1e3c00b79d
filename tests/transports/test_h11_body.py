"""``_h11_body.buffered_body``: a streamed body read a socket read at a time, against a real
loopback server that writes chunked bodies exactly as told."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from openresponses import APIConnectionError, AsyncClient, StreamInterrupted
from openresponses.transports._h11_body import buffered_body
from openresponses.transports.chat_completions import ChatCompletionsDialect
from openresponses.transports.http import HTTPTransport

Writer = Callable[[asyncio.StreamWriter, asyncio.Event], Awaitable[None]]


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
END = b"0\r\n\r\n"


class Server:
    """Answers each request on a connection with ``write(writer, go)``; counts connections."""

    def __init__(self, write: Writer) -> None:
        self.write = write
        self.connections = 0
        self.tasks: set[asyncio.Task[None]] = set()
        self.go = asyncio.Event()
        self.url = ""

    async def __aenter__(self) -> Server:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        for task in self.tasks:  # connections still open (a stalled writer): end them quietly
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.lower().split(b"\r\n")
                length = next((int(line[15:]) for line in lines if line.startswith(b"content-length:")), 0)
                await reader.readexactly(length)
                await self.write(writer, self.go)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


PIECES = [f"data: piece {i}\n\n".encode() for i in range(50)]


async def all_at_once(writer: asyncio.StreamWriter, go: asyncio.Event) -> None:
    writer.write(HEAD + b"".join(chunk(p) for p in PIECES) + END)  # one write: one or few reads


async def collect(body: AsyncIterator[bytes]) -> list[bytes]:
    return [piece async for piece in body]


async def test_the_body_is_byte_identical_and_batched() -> None:
    async with Server(all_at_once) as server, httpx.AsyncClient() as http:
        async with http.stream("POST", server.url + "/x", content=b"{}") as response:
            body = buffered_body(response)
            assert body is not None  # httpx's own HTTP/1.1 pool: the fast path applies
            pieces = await collect(body)
        async with http.stream("POST", server.url + "/x", content=b"{}") as response:
            raw = [piece async for piece in response.aiter_raw()]
    assert b"".join(pieces) == b"".join(raw) == b"".join(PIECES)
    assert len(pieces) < len(PIECES) == len(raw)  # whole reads, not one piece per HTTP chunk
    assert server.connections == 1  # the connection went back to the pool after each stream


async def test_a_chunk_is_handed_over_before_the_next_arrives() -> None:
    async def first_then_wait(writer: asyncio.StreamWriter, go: asyncio.Event) -> None:
        writer.write(HEAD + chunk(b"data: first\n\n"))
        await writer.drain()
        await go.wait()  # the rest only once the client has seen the first chunk
        writer.write(chunk(b"data: second\n\n") + END)

    async with (
        Server(first_then_wait) as server,
        httpx.AsyncClient(timeout=5) as http,
        http.stream("POST", server.url + "/x", content=b"{}") as response,
    ):
        body = buffered_body(response)
        assert body is not None
        iterator = aiter(body)
        assert await asyncio.wait_for(anext(iterator), 5) == b"data: first\n\n"
        server.go.set()
        assert await collect(iterator) == [b"data: second\n\n"]


async def test_a_connection_cut_mid_body_is_httpx_remote_protocol_error() -> None:
    async def cut(writer: asyncio.StreamWriter, go: asyncio.Event) -> None:
        writer.write(HEAD + chunk(b"data: partial\n\n"))
        await writer.drain()
        writer.transport.abort()

    async with (
        Server(cut) as server,
        httpx.AsyncClient(timeout=5) as http,
        http.stream("POST", server.url + "/x", content=b"{}") as response,
    ):
        body = buffered_body(response)
        assert body is not None
        received: list[bytes] = []
        with pytest.raises(httpx.RemoteProtocolError):
            async for piece in body:
                received.append(piece)
    assert received == [b"data: partial\n\n"]  # what arrived before the cut is delivered


async def test_a_stalled_body_is_a_read_timeout_and_the_pool_recovers() -> None:
    async def stall(writer: asyncio.StreamWriter, go: asyncio.Event) -> None:
        writer.write(HEAD + chunk(b"data: one\n\n"))
        await writer.drain()
        await go.wait()

    async with Server(stall) as server, httpx.AsyncClient(timeout=httpx.Timeout(5, read=0.2)) as http:
        async with http.stream("POST", server.url + "/x", content=b"{}") as response:
            body = buffered_body(response)
            assert body is not None
            with pytest.raises(httpx.ReadTimeout):
                await collect(body)
        server.go.set()
        server.write = all_at_once
        async with http.stream("POST", server.url + "/x", content=b"{}") as response:
            assert b"".join(await collect(buffered_body(response) or response.aiter_raw())) == b"".join(
                PIECES
            )
    assert server.connections == 2  # the timed-out connection was discarded, not reused


async def test_closing_early_discards_the_connection() -> None:
    async def first_then_wait(writer: asyncio.StreamWriter, go: asyncio.Event) -> None:
        writer.write(HEAD + chunk(b"data: first\n\n"))
        await writer.drain()
        await go.wait()

    async with Server(first_then_wait) as server, httpx.AsyncClient(timeout=5) as http:
        async with http.stream("POST", server.url + "/x", content=b"{}") as response:
            body = buffered_body(response)
            assert body is not None
            assert await anext(aiter(body)) == b"data: first\n\n"
        server.go.set()
        server.write = all_at_once
        async with http.stream("POST", server.url + "/x", content=b"{}") as response:
            assert b"".join(await collect(buffered_body(response) or response.aiter_raw())) == b"".join(
                PIECES
            )
    assert server.connections == 2  # a half-read body's connection is not reused


async def test_anything_else_falls_back() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"data: x\n\n")

    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http,
        http.stream("POST", "http://test/x") as response,
    ):
        assert buffered_body(response) is None

    async def gzipped(writer: asyncio.StreamWriter, go: asyncio.Event) -> None:
        data = gzip.compress(b"data: x\n\n")
        writer.write(HEAD.replace(b"\r\n\r\n", b"\r\ncontent-encoding: gzip\r\n\r\n") + chunk(data) + END)

    async with (
        Server(gzipped) as server,
        httpx.AsyncClient() as http,
        http.stream("POST", server.url + "/x", content=b"{}") as response,
    ):
        assert buffered_body(response) is None  # aiter_bytes() decodes it
        assert await response.aread() == b"data: x\n\n"


def chat_client(server: Server) -> AsyncClient:
    transport = HTTPTransport(server.url + "/v1", provider="local", dialect=ChatCompletionsDialect())
    return AsyncClient(transport=transport, max_retries=0)


FINISH = (
    b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",'
    b'"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
)


def chat_chunk(content: str) -> bytes:
    return (
        b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",'
        b'"choices":[{"index":0,"delta":{"content":"%s"},"finish_reason":null}]}\n\n' % content.encode()
    )


async def test_transport_events_are_the_same_whatever_the_read_boundaries() -> None:
    wire = [chat_chunk(f"w{i} ") for i in range(20)]
    wire.append(FINISH)
    wire.append(b"data: [DONE]\n\n")

    async def at_once(writer: asyncio.StreamWriter, go: asyncio.Event) -> None:
        writer.write(HEAD + b"".join(chunk(p) for p in wire) + END)

    async def one_by_one(writer: asyncio.StreamWriter, go: asyncio.Event) -> None:
        writer.write(HEAD)
        for piece in wire:  # split mid-event too: the decoder carries partial lines over
            half = len(piece) // 2
            for part in (piece[:half], piece[half:]):
                writer.write(chunk(part))
                await writer.drain()
                await asyncio.sleep(0.001)
        writer.write(END)

    results = []
    for write in (at_once, one_by_one):
        async with Server(write) as server, chat_client(server) as c:
            stream = await c.responses.create(model="m", input="hi", stream=True)
            events = [event.model_dump(mode="json") async for event in stream]
        results.append(events)
    # The same events (ids aside: they are random per response) whatever the reads.
    shapes = [[(e["type"], e["sequence_number"], e.get("delta"), e.get("text")) for e in r] for r in results]
    assert shapes[0] == shapes[1] and len(shapes[0]) == 20 + 8
    assert results[0][-1]["type"] == "response.completed"
    assert results[0][-1]["response"]["output"][0]["content"][0]["text"] == "".join(
        f"w{i} " for i in range(20)
    )


async def test_transport_maps_a_cut_to_a_connection_error() -> None:
    async def cut(writer: asyncio.StreamWriter, go: asyncio.Event) -> None:
        writer.write(HEAD + chunk(chat_chunk("partial")))
        await writer.drain()
        writer.transport.abort()

    async with Server(cut) as server, chat_client(server) as c:
        stream = await c.responses.create(model="m", input="hi", stream=True)
        with pytest.raises(StreamInterrupted, match="Connection lost while streaming") as caught:
            async for _ in stream:
                pass
    assert isinstance(caught.value.__cause__, APIConnectionError)


async def test_a_stream_read_to_its_end_keeps_the_upstream_connection() -> None:
    # The stream ends at its terminal event and releases the connection at once; when the body's
    # end came in the same read (as it does from a fast upstream) the connection is reused, where
    # one HTTP chunk at a time left the end unread and discarded it.
    wire = [chat_chunk("a "), chat_chunk("b "), FINISH, b"data: [DONE]\n\n"]

    async def at_once(writer: asyncio.StreamWriter, go: asyncio.Event) -> None:
        writer.write(HEAD + b"".join(chunk(p) for p in wire) + END)

    async with Server(at_once) as server, chat_client(server) as c:
        for _ in range(3):
            stream = await c.responses.create(model="m", input="hi", stream=True)
            assert (await stream.get_final_response()).output_text == "a b "
    assert server.connections == 1
