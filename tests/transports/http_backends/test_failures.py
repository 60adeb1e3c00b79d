"""Every wire failure maps to the same typed error through every backend, each on a real socket.

The outcome compared (:class:`~wire.Outcome`) is the error class, the transport's own part of the
message (``Connection error`` before a reply, ``Connection lost reading the body`` /
``... while streaming`` after one), the httpx class of the cause and, for a timeout, which limit
fired (``APITimeoutError.which``). Differences found are ``xfail(strict=True)`` rows naming the fix.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from openresponses import AsyncClient
from openresponses.transports.http import HTTPBackend, HTTPTransport

from .wire import (
    BACKENDS,
    EVENTS,
    RESPONSE,
    Outcome,
    Reply,
    WireServer,
    both,
    call,
    chunked,
    head,
    sse,
)

_JSON_HEAD = head("200 OK", [("content-type", "application/json"), ("content-length", str(len(RESPONSE)))])
_SSE_CL_HEAD = head("200 OK", [("content-type", "text/event-stream"), ("content-length", str(len(EVENTS)))])
_CHUNKED = [("transfer-encoding", "chunked")]
_SSE_CHUNKED_HEAD = head("200 OK", [("content-type", "text/event-stream"), *_CHUNKED])
_JSON_CHUNKED_HEAD = head("200 OK", [("content-type", "application/json"), *_CHUNKED])
#: Two events' worth of the stream: the cut comes after events reached the caller.
_SOME_EVENTS = EVENTS[: EVENTS.index(b"\n\n", EVENTS.index(b"response.in_progress")) + 2]
_READ = httpx.Timeout(5.0, read=0.2)


def refused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def direct(backend: HTTPBackend, base_url: str, *, stream: bool, timeout: httpx.Timeout) -> Outcome:
    transport = HTTPTransport(
        base_url, api_key="sk-unused-0123456789abcdef", http_backend=backend, timeout=timeout
    )
    async with AsyncClient(transport=transport) as client:
        return await call(client, stream=stream)


# -- before any reply -----------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_connection_refused(stream: bool) -> None:
    url = f"http://127.0.0.1:{refused_port()}/v1"
    httpx_ = await direct("httpx", url, stream=stream, timeout=_READ)
    aiohttp_ = await direct("aiohttp", url, stream=stream, timeout=_READ)
    httptools_ = await direct("httptools", url, stream=stream, timeout=_READ)
    assert aiohttp_ == httpx_ == httptools_
    assert httpx_ == Outcome("APIConnectionError", ("Connection error", "ConnectError", "ConnectError"))


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_the_server_closes_before_replying(stream: bool) -> None:
    httpx_, aiohttp_ = await both([Reply((), "close")], stream=stream)
    assert aiohttp_ == httpx_
    assert httpx_ == Outcome(
        "APIConnectionError", ("Connection error", "RemoteProtocolError", "RemoteProtocolError")
    )


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_the_server_resets_before_replying(stream: bool) -> None:
    """httpx says ReadError (met reading the head); aiohttp's ClientOSError must too, not WriteError."""
    httpx_, aiohttp_ = await both([Reply((), "reset")], stream=stream)
    assert aiohttp_ == httpx_
    assert httpx_ == Outcome("APIConnectionError", ("Connection error", "ReadError", "ReadError"))


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize(
    "garbage",
    [b"HTTP/1.1 abc OK\r\n\r\n", b"hello world\r\n\r\n", b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n"],
    ids=["bad-status-code", "not-http", "bad-header-line"],
)
async def test_a_malformed_head(stream: bool, garbage: bytes) -> None:
    httpx_, aiohttp_ = await both([Reply((garbage,), "close")], stream=stream)
    assert aiohttp_ == httpx_
    assert httpx_ == Outcome(
        "APIConnectionError", ("Connection error", "RemoteProtocolError", "RemoteProtocolError")
    )


# -- a body cut short -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pieces",
    [
        (_JSON_HEAD + RESPONSE[:40],),
        (_JSON_CHUNKED_HEAD + chunked(RESPONSE, 30, terminated=False),),
        (_JSON_CHUNKED_HEAD + chunked(RESPONSE, 30)[:-9],),  # mid-chunk
    ],
    ids=["content-length-short", "chunked-no-terminator", "chunked-mid-chunk"],
)
async def test_a_whole_body_cut_short(pieces: tuple[bytes, ...]) -> None:
    httpx_, aiohttp_ = await both([Reply(pieces, "close")], stream=False)
    assert aiohttp_ == httpx_
    assert httpx_ == Outcome(
        "APIConnectionError",
        ("Connection lost reading the body", "RemoteProtocolError", "RemoteProtocolError"),
    )


@pytest.mark.parametrize(
    "pieces",
    [
        (_SSE_CL_HEAD + _SOME_EVENTS,),
        (_SSE_CHUNKED_HEAD + chunked(_SOME_EVENTS, 50, terminated=False),),
    ],
    ids=["content-length-short", "chunked-no-terminator"],
)
async def test_a_stream_cut_short(pieces: tuple[bytes, ...]) -> None:
    httpx_, aiohttp_ = await both([Reply((pieces[0][:-1], 0.05, pieces[0][-1:]), "close")], stream=True)
    assert aiohttp_ == httpx_
    assert httpx_.kind == "StreamInterrupted", httpx_
    lost = Outcome(
        "APIConnectionError",
        ("Connection lost while streaming", "RemoteProtocolError", "RemoteProtocolError"),
    )
    assert httpx_.detail[1] >= 2 and httpx_.detail[2] == lost


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_reset_mid_body(stream: bool) -> None:
    pieces = (
        (_SSE_CHUNKED_HEAD + chunked(_SOME_EVENTS, 50, terminated=False),)
        if stream
        else (_JSON_HEAD + RESPONSE[:40],)
    )
    httpx_, aiohttp_ = await both([Reply((*pieces, 0.05), "reset")], stream=stream)
    assert httpx_.kind in ("APIConnectionError", "StreamInterrupted")
    assert aiohttp_ == httpx_


# -- timeouts ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stream", "pieces"),
    [
        (False, ()),
        (False, (_JSON_HEAD,)),
        (False, (_JSON_HEAD + RESPONSE[:40],)),
        (True, ()),
        (True, (_SSE_CHUNKED_HEAD,)),
    ],
    ids=[
        "whole-before-head",
        "whole-after-head",
        "whole-mid-body",
        "stream-before-head",
        "stream-after-head",
    ],
)
async def test_a_read_timeout(stream: bool, pieces: tuple[bytes, ...]) -> None:
    before = asyncio.all_tasks()
    httpx_, aiohttp_ = await both([Reply(pieces, "hold")], stream=stream, timeout=_READ)
    assert aiohttp_ == httpx_
    assert httpx_ == Outcome("APITimeoutError", ("read", "ReadTimeout"))
    await asyncio.sleep(0)
    assert [t for t in asyncio.all_tasks() - before if not t.done()] == []  # no reader left behind


async def test_a_read_timeout_mid_stream() -> None:
    reply = Reply((_SSE_CHUNKED_HEAD + chunked(_SOME_EVENTS, 50, terminated=False),), "hold")
    httpx_, aiohttp_ = await both([reply], stream=True, timeout=_READ)
    assert aiohttp_ == httpx_
    assert httpx_.kind == "StreamInterrupted" and httpx_.detail[2] == Outcome(
        "APITimeoutError", ("read", "ReadTimeout")
    )


@pytest.fixture
def full_backlog() -> Iterator[int]:
    """A port whose accept queue is full: a new connect gets no SYN-ACK and hangs (Linux)."""
    if sys.platform != "linux":
        pytest.skip("a full accept queue drops SYNs on Linux; other kernels refuse or reset")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.05)
    probe = socket.socket()
    probe.settimeout(0.2)
    try:
        with pytest.raises(TimeoutError):  # the precondition: connecting hangs
            probe.connect(("127.0.0.1", port))
    finally:
        probe.close()
    yield port
    for filler in fillers:
        filler.close()
    listener.close()


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_connect_timeout(full_backlog: int, stream: bool) -> None:
    url = f"http://127.0.0.1:{full_backlog}/v1"
    timeout = httpx.Timeout(5.0, connect=0.3)
    httpx_ = await direct("httpx", url, stream=stream, timeout=timeout)
    aiohttp_ = await direct("aiohttp", url, stream=stream, timeout=timeout)
    httptools_ = await direct("httptools", url, stream=stream, timeout=timeout)
    assert aiohttp_ == httpx_ == httptools_
    assert httpx_ == Outcome("APITimeoutError", ("connect", "ConnectTimeout"))


@pytest.mark.parametrize(
    "backend",
    [
        "httpx",
        pytest.param(
            "aiohttp",
            marks=pytest.mark.xfail(
                strict=True,
                reason="waiting for a pooled connection: aiohttp's ClientTimeout.connect covers the "
                "wait and the connect, so the wait is bounded by pool+connect and reported as "
                "which='connect' (httpx: 'pool', after pool seconds); aiohttp tells the two apart "
                "only through TraceConfig.on_connection_queued_start/end",
            ),
        ),
        "httptools",
    ],
)
async def test_a_pool_timeout(backend: HTTPBackend) -> None:
    held = Reply((_SSE_CHUNKED_HEAD + chunked(_SOME_EVENTS, 50, terminated=False),), "hold")
    async with WireServer([held, sse()]) as server:
        transport = HTTPTransport(
            server.base_url,
            http_backend=backend,
            limits=httpx.Limits(max_connections=1),
            timeout=httpx.Timeout(1.0, pool=0.3),
        )
        async with AsyncClient(transport=transport) as client:
            first = await client.responses.create(model="m", input="x", stream=True)
            try:
                second = await call(client, stream=False)
            finally:
                await first.close()
    assert second == Outcome("APITimeoutError", ("pool", "PoolTimeout"))


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_timeout_per_call_overrides_the_transports(backend: HTTPBackend) -> None:
    async with WireServer([Reply((), "hold")]) as server:
        transport = HTTPTransport(server.base_url, http_backend=backend, timeout=30.0)
        async with AsyncClient(transport=transport) as client:
            started = time.monotonic()
            with pytest.raises(TimeoutError) as caught:
                await client.responses.create(model="m", input="x", timeout=0.2)
    assert time.monotonic() - started < 10.0  # the call's 0.2 s, not the transport's 30 s
    assert getattr(caught.value, "which", None) == "read"
