"""What only the httptools backend's own connections (``transports/_h1.py``) can get wrong.

The side-by-side tests already play every wire script through it; these pin the pool's bounds
(``httpx.Limits``: open, idle, idle time), flow control on a reader slower than its server,
bytes after a reply, TLS (a throwaway CA from ``trustme``, trusted through ``SSL_CERT_FILE`` as
httpx reads it, for every backend), and a header that would inject another.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from pathlib import Path

import httpx
import pytest
import trustme

from openresponses import AsyncClient, ConfigError
from openresponses.transports._h1 import HIGH_WATER
from openresponses.transports._httptools import HttptoolsTransport
from openresponses.transports.http import HTTPBackend, HTTPTransport

from .wire import BACKENDS, EVENTS, KEY, RESPONSE, Reply, WireServer, head, settle, sse, whole

_TIMEOUT = {"connect": 2.0, "read": 5.0, "write": 5.0, "pool": 2.0}


def lean(server: WireServer, **limits: object) -> HTTPTransport:
    return HTTPTransport(
        server.base_url,
        api_key=KEY,
        http_backend="httptools",
        limits=httpx.Limits(**limits),  # type: ignore[arg-type]
    )


# -- the pool's bounds ------------------------------------------------------------------------------


async def test_a_connection_idle_past_keepalive_expiry_is_replaced() -> None:
    async with WireServer([whole("200 OK", RESPONSE)]) as server:
        async with AsyncClient(transport=lean(server, keepalive_expiry=0.1)) as client:
            await client.responses.create(model="m", input="x")
            await client.responses.create(model="m", input="x")  # at once: reused
            assert server.connections_opened == 1
            await asyncio.sleep(0.25)
            await client.responses.create(model="m", input="x")
        assert server.connections_opened == 2
        assert await server.wait_until_closed() == 0  # the expired one was closed, not leaked


async def test_idle_connections_beyond_max_keepalive_are_closed() -> None:
    slow = Reply(
        (
            0.1,
            head("200 OK", [("content-type", "application/json"), ("content-length", str(len(RESPONSE)))])
            + RESPONSE,
        )
    )
    async with (
        WireServer([slow]) as server,
        AsyncClient(transport=lean(server, max_keepalive_connections=1)) as client,
    ):
        await asyncio.gather(*(client.responses.create(model="m", input="x") for _ in range(3)))
        assert server.connections_opened == 3
        await settle(lambda: server.open_connections == 1)
        assert server.open_connections == 1  # one kept, two closed as they came back
        await client.responses.create(model="m", input="x")
        assert server.connections_opened == 3  # the kept one serves the next call


async def test_max_connections_bounds_concurrent_calls() -> None:
    slow = Reply(
        (
            0.05,
            head("200 OK", [("content-type", "application/json"), ("content-length", str(len(RESPONSE)))])
            + RESPONSE,
        )
    )
    async with WireServer([slow]) as server:
        peak = 0

        async def watch() -> None:
            nonlocal peak
            while True:
                peak = max(peak, server.open_connections)
                await asyncio.sleep(0.005)

        watcher = asyncio.create_task(watch())
        try:
            async with AsyncClient(transport=lean(server, max_connections=2)) as client:
                results = await asyncio.gather(
                    *(client.responses.create(model="m", input="x") for _ in range(8))
                )
        finally:
            watcher.cancel()
    assert all(r.output_text for r in results)
    assert server.connections_opened == 2 and peak == 2  # the other six waited for a free one


# -- flow control and stray bytes --------------------------------------------------------------------


async def test_a_slow_reader_stops_the_socket_being_read() -> None:
    body = b"x" * (16 * 1024 * 1024)
    async with WireServer([whole("200 OK", body, content_type="text/plain")]) as server:
        transport = HttptoolsTransport()
        try:
            request = httpx.Request(
                "POST", server.base_url + "/responses", content=b"{}", extensions={"timeout": _TIMEOUT}
            )
            response = await transport.handle_async_request(request)
            await asyncio.sleep(0.3)  # the server writes as fast as it can; nobody reads
            exchange = response.stream._exchange  # type: ignore[attr-defined]
            connection = exchange._connection
            assert connection._paused
            # At most the high-water mark plus one socket read are held in memory.
            assert HIGH_WATER < exchange._queued <= HIGH_WATER + 1024 * 1024
            total = 0
            async for chunk in response.aiter_raw():
                total += len(chunk)
            assert total == len(body)
            await response.aclose()
        finally:
            await transport.aclose()


async def test_bytes_after_a_reply_end_the_connection_not_the_reply() -> None:
    junk = Reply(
        (
            head("200 OK", [("content-type", "application/json"), ("content-length", str(len(RESPONSE)))])
            + RESPONSE
            + b"HTTP/1.1 garbage\r\n\r\n",
        )
    )
    async with (
        WireServer([junk, whole("200 OK", RESPONSE)]) as server,
        AsyncClient(transport=lean(server)) as client,
    ):
        first = await client.responses.create(model="m", input="x")
        second = await client.responses.create(model="m", input="x")
    assert first.output_text and second.output_text
    assert server.connections_opened == 2  # the first connection was not trusted again


# -- TLS --------------------------------------------------------------------------------------------


@pytest.fixture
def tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext:
    """A server context for 127.0.0.1 whose CA the clients trust (``SSL_CERT_FILE``)."""
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    monkeypatch.setenv("SSL_CERT_FILE", str(path))
    return server


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_https_through_every_backend(backend: HTTPBackend, stream: bool, tls: ssl.SSLContext) -> None:
    async with WireServer([sse() if stream else whole("200 OK", RESPONSE)], tls=tls) as server:
        assert server.base_url.startswith("https://")
        transport = HTTPTransport(server.base_url, api_key=KEY, http_backend=backend)
        async with AsyncClient(transport=transport) as client:
            if stream:
                async with client.responses.stream(model="m", input="x") as events:
                    response = await events.get_final_response()
            else:
                response = await client.responses.create(model="m", input="x")
    assert response.output_text
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize("backend", BACKENDS)
async def test_an_untrusted_certificate_is_a_connection_error(backend: HTTPBackend, tmp_path: Path) -> None:
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("127.0.0.1").configure_cert(server_context)  # a CA nobody trusts
    async with WireServer([whole("200 OK", RESPONSE)], tls=server_context) as server:
        transport = HTTPTransport(server.base_url, api_key=KEY, http_backend=backend)
        async with AsyncClient(transport=transport) as client:
            with pytest.raises(Exception) as caught:
                await client.responses.create(model="m", input="x")
    assert type(caught.value).__name__ == "APIConnectionError"
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value) or "certificate" in str(caught.value).lower()
    assert server.requests == []  # nothing was sent


# -- headers -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_header_with_a_line_break_is_a_config_error(backend: HTTPBackend) -> None:
    with pytest.raises(ConfigError) as caught:
        HTTPTransport("http://127.0.0.1:9/v1", http_backend=backend, headers={"x-team": "a\r\nx-evil: 1"})
    assert caught.value.key == "headers['x-team']"  # as Provider(headers=...) names its own
    assert "line breaks" in str(caught.value) and "evil" not in str(caught.value)


async def test_a_call_waiting_for_a_connection_fails_when_the_transport_closes() -> None:
    held = Reply(
        (head("200 OK", [("content-type", "text/event-stream"), ("transfer-encoding", "chunked")]),), "hold"
    )
    async with WireServer([held, whole("200 OK", RESPONSE)]) as server:
        transport = HttptoolsTransport(limits=httpx.Limits(max_connections=1))
        first = await transport.handle_async_request(
            httpx.Request(
                "POST", server.base_url + "/responses", content=b"{}", extensions={"timeout": _TIMEOUT}
            )
        )
        waiting = asyncio.create_task(
            transport.fetch(server.base_url + "/responses", {}, b"{}", _TIMEOUT, error_limit=1024)
        )
        await asyncio.sleep(0.05)
        assert not waiting.done()  # the one connection is taken
        await transport.aclose()
        with pytest.raises(RuntimeError, match="closed"):
            await waiting
        await first.aclose()
        await server.wait_until_closed()
    assert server.connections_opened == 1  # no connection was opened after aclose()


async def test_a_streamed_reply_is_handed_over_at_its_head() -> None:
    """A server sends the head at once and the first token later: the response (status, headers)
    is there as soon as the head is (found: it waited for the first body bytes)."""
    reply = sse()
    head_part, _, body = reply.pieces[0].partition(b"\r\n\r\n")  # type: ignore[union-attr]
    async with WireServer([Reply((head_part + b"\r\n\r\n", 0.5, body))]) as server:
        transport = HttptoolsTransport()
        try:
            started = time.monotonic()
            response = await transport.handle_async_request(
                httpx.Request(
                    "POST", server.base_url + "/responses", content=b"{}", extensions={"timeout": _TIMEOUT}
                )
            )
            assert time.monotonic() - started < 0.4  # the head, not the body 0.5 s later
            assert response.status_code == 200
            assert await response.aread() == EVENTS  # then the body, whole
            await response.aclose()
        finally:
            await transport.aclose()


async def test_plain_http_never_loads_the_certificate_store() -> None:
    """Building the TLS context costs ~30 ms: a pool that only talks plain HTTP never pays it."""
    async with WireServer([whole("200 OK", RESPONSE)]) as server:
        transport = HttptoolsTransport()
        try:
            reply = await transport.fetch(
                server.base_url + "/responses", {}, b"{}", _TIMEOUT, error_limit=1024
            )
            assert reply.status == 200
            assert transport._pool is not None and transport._pool._ssl is None
        finally:
            await transport.aclose()
