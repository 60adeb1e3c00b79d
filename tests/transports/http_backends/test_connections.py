"""Connections through both backends: reuse, early close, abandonment, cancellation, aclose, warnings.

Counted the way ``tests/faults/runner.py`` counts them: connections the loopback server still has
open (a connection the client let go of must be closed, not left half-read), asyncio tasks left
running, and anything reported to the loop's exception handler (aiohttp reports an unclosed
session or connector there). ``ResourceWarning`` is an error in this module.
"""

from __future__ import annotations

import asyncio
import gc
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from openresponses import AsyncClient, ClientClosedError
from openresponses._pipeline import Request
from openresponses.transports.http import HTTPBackend, HTTPTransport
from openresponses.types import CreateResponseBody

from .wire import BACKENDS, EVENTS, KEY, RESPONSE, Reply, WireServer, chunked, head, settle, sse, whole

pytestmark = pytest.mark.filterwarnings("error::ResourceWarning")

_SSE_HEAD = head("200 OK", [("content-type", "text/event-stream"), ("transfer-encoding", "chunked")])
_FIRST = EVENTS.index(b"\n\n") + 2  # the first event
#: A stream that sends one event, then waits 5 s before the rest: still going when the caller leaves.
_SLOW_STREAM = Reply((_SSE_HEAD + chunked(EVENTS[:_FIRST], terminated=False), 5.0, chunked(EVENTS[_FIRST:])))
_SLOW_BODY = Reply(
    (head("200 OK", [("content-length", str(len(RESPONSE)))]) + RESPONSE[:30], 5.0, RESPONSE[30:])
)


@dataclass
class Watch:
    """What a test leaves behind: loop errors, new tasks still running."""

    loop_errors: list[str] = field(default_factory=list)
    baseline: set[asyncio.Task[Any]] = field(default_factory=set)

    async def leftovers(self) -> list[str]:
        for _ in range(5):
            await asyncio.sleep(0)
        gc.collect()  # an unclosed aiohttp session or response reports itself now
        for _ in range(5):
            await asyncio.sleep(0)
        current = asyncio.current_task()
        tasks = [
            repr(t.get_coro())
            for t in asyncio.all_tasks() - self.baseline
            if t is not current and not t.done()
        ]
        return tasks + self.loop_errors


@pytest.fixture
async def watch() -> AsyncIterator[Watch]:
    loop = asyncio.get_running_loop()
    found = Watch(baseline=set(asyncio.all_tasks()))
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: found.loop_errors.append(str(context.get("message"))))
    yield found
    loop.set_exception_handler(previous)


def transport(server: WireServer, backend: HTTPBackend, **options: Any) -> HTTPTransport:
    return HTTPTransport(server.base_url, api_key=KEY, http_backend=backend, **options)


# -- reuse ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
async def test_sequential_calls_share_one_connection(backend: HTTPBackend, watch: Watch) -> None:
    replies = [whole("200 OK", RESPONSE), sse(), whole("200 OK", RESPONSE, encoding="gzip")]
    async with WireServer(replies * 3) as server:
        async with AsyncClient(transport=transport(server, backend)) as client:
            for _ in range(3):
                assert (await client.responses.create(model="m", input="x")).output_text
                async with client.responses.stream(model="m", input="x") as stream:
                    assert (await stream.get_final_response()).output_text
                assert (await client.responses.create(model="m", input="x")).output_text
        assert await server.wait_until_closed() == 0  # aclose() closed the idle connection
    assert len(server.requests) == 9
    assert server.connections_opened == 1
    assert await watch.leftovers() == []


@pytest.mark.parametrize(
    "backend",
    [
        pytest.param(
            "httpx",
            marks=pytest.mark.xfail(
                strict=True,
                reason="httpx backend: a gzip-encoded stream read to its terminal event is closed "
                "before the body's end was read (_http_io.body_chunks takes the aiter_bytes path, not "
                "_h11_body's batches), so httpcore drops the connection: one per stream",
            ),
        ),
        "aiohttp",
        "httptools",
    ],
)
async def test_gzip_streams_share_one_connection(backend: HTTPBackend) -> None:
    async with (
        WireServer([sse(encoding="gzip")]) as server,
        AsyncClient(transport=transport(server, backend)) as client,
    ):
        for _ in range(3):
            async with client.responses.stream(model="m", input="x") as stream:
                assert (await stream.get_final_response()).output_text
    assert len(server.requests) == 3
    assert server.connections_opened == 1


@pytest.mark.parametrize("backend", BACKENDS)
async def test_an_error_reply_read_to_its_end_keeps_the_connection(backend: HTTPBackend) -> None:
    error = whole("429 Slow", b'{"error": {"message": "later", "type": "rate_limit"}}')
    async with (
        WireServer([error, whole("200 OK", RESPONSE)]) as server,
        AsyncClient(transport=transport(server, backend)) as client,
    ):
        with pytest.raises(Exception, match="later"):
            await client.responses.create(model="m", input="x")
        assert (await client.responses.create(model="m", input="x")).output_text
    assert server.connections_opened == 1


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_connection_the_server_closed_while_idle_is_not_reused(backend: HTTPBackend) -> None:
    first = whole("200 OK", RESPONSE, headers=[("connection", "close")], end="close")
    async with (
        WireServer([first, whole("200 OK", RESPONSE)]) as server,
        AsyncClient(transport=transport(server, backend)) as client,
    ):
        await client.responses.create(model="m", input="x")
        await settle(lambda: server.open_connections == 0)
        assert (await client.responses.create(model="m", input="x")).output_text
    assert server.connections_opened == 2 and len(server.requests) == 2


# -- letting go of a reply early ----------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_stream_closed_early_closes_its_connection(backend: HTTPBackend, watch: Watch) -> None:
    async with (
        WireServer([_SLOW_STREAM, sse()]) as server,
        AsyncClient(transport=transport(server, backend)) as client,
    ):
        async with client.responses.stream(model="m", input="x") as stream:
            async for event in stream:
                assert event.type == "response.created"
                break
        # Half-read: the connection cannot serve another request, so it is closed now.
        assert await server.wait_until_closed() == 0
        async with client.responses.stream(model="m", input="x") as stream:
            assert (await stream.get_final_response()).output_text
    assert server.connections_opened == 2
    assert await watch.leftovers() == []


@pytest.mark.parametrize("backend", BACKENDS)
async def test_an_abandoned_stream_releases_its_connection(backend: HTTPBackend, watch: Watch) -> None:
    async with WireServer([_SLOW_STREAM]) as server:
        client = AsyncClient(transport=transport(server, backend))
        stream = await client.responses.create(model="m", input="x", stream=True)
        first = await stream.__anext__()
        assert first.type == "response.created"
        del stream, first  # never closed, never read to the end
        gc.collect()
        assert await server.wait_until_closed() == 0
        await client.aclose()
    assert await watch.leftovers() == []


@pytest.mark.parametrize("reply", [_SLOW_BODY, Reply((), "hold")], ids=["mid-body", "before-head"])
@pytest.mark.parametrize("backend", BACKENDS)
async def test_cancelling_a_whole_call_releases_its_connection(
    backend: HTTPBackend, reply: Reply, watch: Watch
) -> None:
    async with (
        WireServer([reply, whole("200 OK", RESPONSE)]) as server,
        AsyncClient(transport=transport(server, backend)) as client,
    ):
        task = asyncio.create_task(client.responses.create(model="m", input="x"))
        await settle(lambda: len(server.requests) == 1)
        await asyncio.sleep(0.05)  # the head (or nothing) is on its way; the body is not
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await server.wait_until_closed() == 0
        assert (await client.responses.create(model="m", input="x")).output_text  # a new connection
    assert server.connections_opened == 2
    assert await watch.leftovers() == []


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_timeout_mid_body_closes_the_connection(backend: HTTPBackend, watch: Watch) -> None:
    async with (
        WireServer([_SLOW_BODY, whole("200 OK", RESPONSE)]) as server,
        AsyncClient(transport=transport(server, backend, timeout=0.2)) as client,
    ):
        with pytest.raises(TimeoutError):
            await client.responses.create(model="m", input="x")
        assert await server.wait_until_closed() == 0
        assert (await client.responses.create(model="m", input="x")).output_text
    assert server.connections_opened == 2
    assert await watch.leftovers() == []


@pytest.mark.parametrize("how", ["create-then-close", "stream-context"])
@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_stream_closed_before_its_first_read_closes_its_connection(
    backend: HTTPBackend, how: str, watch: Watch
) -> None:
    async with (
        WireServer([_SLOW_STREAM]) as server,
        AsyncClient(transport=transport(server, backend)) as client,
    ):
        if how == "stream-context":
            async with client.responses.stream(model="m", input="x"):
                pass
        else:
            stream = await client.responses.create(model="m", input="x", stream=True)
            await stream.close()
        # Closed before its first read: the connection is given back (closed: it is mid-body).
        assert await server.wait_until_closed() == 0
    assert await watch.leftovers() == []


@pytest.mark.parametrize("backend", BACKENDS)
async def test_streams_closed_unread_do_not_exhaust_the_pool(backend: HTTPBackend) -> None:
    limits = httpx.Limits(max_connections=1)
    async with WireServer([_SLOW_STREAM]) as server:
        http = transport(server, backend, limits=limits, timeout=httpx.Timeout(5.0, pool=0.3, connect=0.3))
        async with AsyncClient(transport=http) as client:
            for _ in range(3):
                stream = await client.responses.create(model="m", input="x", stream=True)
                await stream.close()
    assert len(server.requests) == 3


# -- closing --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
async def test_aclose_closes_every_connection(backend: HTTPBackend, watch: Watch) -> None:
    async with WireServer([_SLOW_STREAM]) as server:
        client = AsyncClient(transport=transport(server, backend))
        streams = [await client.responses.create(model="m", input="x", stream=True) for _ in range(3)]
        for stream in streams:
            assert (await stream.__anext__()).type == "response.created"
        assert server.open_connections == 3
        await client.aclose()
        for stream in streams:
            await stream.close()
        assert await server.wait_until_closed() == 0
    assert await watch.leftovers() == []


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_transport_never_used_closes_cleanly(backend: HTTPBackend, watch: Watch) -> None:
    HTTPTransport("http://127.0.0.1:9/v1", http_backend=backend)  # dropped unused: nothing to warn about
    await HTTPTransport("http://127.0.0.1:9/v1", http_backend=backend).aclose()
    assert await watch.leftovers() == []


async def test_the_aiohttp_session_is_closed_by_aclose(watch: Watch) -> None:
    """No "Unclosed client session" / "Unclosed connector": the session is closed, not collected."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with WireServer([whole("200 OK", RESPONSE)]) as server:
            http = transport(server, "aiohttp")
            async with AsyncClient(transport=http) as client:
                await client.responses.create(model="m", input="x")
            del http, client
        errors = await watch.leftovers()
    assert [str(w.message) for w in caught if "nclosed" in str(w.message)] == []
    assert errors == []


async def test_the_unclosed_session_check_can_fail(watch: Watch) -> None:
    """The control for the test above: a session nobody closes is reported where we look."""
    import aiohttp

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        session = aiohttp.ClientSession()
        del session
        errors = await watch.leftovers()
    assert any("Unclosed client session" in str(w.message) for w in caught)
    assert any("Unclosed client session" in e for e in errors)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_call_after_aclose_fails_in_the_client(backend: HTTPBackend) -> None:
    async with WireServer([whole("200 OK", RESPONSE)]) as server:
        client = AsyncClient(transport=transport(server, backend))
        await client.aclose()
        with pytest.raises(ClientClosedError):
            await client.responses.create(model="m", input="x")
    assert server.requests == []


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_closed_transport_sends_nothing(backend: HTTPBackend, watch: Watch) -> None:
    """Used directly after ``aclose()`` (a proxy shutting down): refused, never a new session."""
    async with WireServer([whole("200 OK", RESPONSE)]) as server:
        http = transport(server, backend)
        await http.aclose()
        request = Request(body=CreateResponseBody(model="m", input="x"))
        with pytest.raises((RuntimeError, ClientClosedError)):
            await http(request)
        await http.aclose()
    assert server.requests == []
    assert await watch.leftovers() == []
