"""The HTTP backends read the same bytes into the same result: successes, status errors, encodings.

Each test plays one script through ``http_backend="httpx"``, ``"aiohttp"`` and ``"httptools"`` (a
fresh loopback server each) and asserts their :class:`~wire.Outcome` are equal, plus what the
outcome must be (so two identical wrong answers fail too). Each difference found between the
backends while writing these stays as a test here (the docstring says what differed).
"""

from __future__ import annotations

import gzip
import json
import random
from typing import Any

import httpx
import pytest

from openresponses import AsyncClient
from openresponses.transports.http import HTTPBackend, HTTPTransport

from .wire import (
    ALTERNATIVES,
    BACKENDS,
    EVENTS,
    KEY,
    RESPONSE,
    Reply,
    WireServer,
    both,
    call,
    chunked,
    encoded,
    error_json,
    head,
    outcome,
    sse,
    whole,
)

ENCODINGS = ["identity", "gzip", "deflate", "raw-deflate"]
_MAX_ERROR_BODY = 64 * 1024


def framed(body: bytes, content_type: str, framing: str, encoding: str) -> Reply:
    """``body`` (encoded) framed by Content-Length, chunks, or the connection's close."""
    data = encoded(body, encoding)
    names = [("content-type", content_type), ("x-request-id", "req_wire_1")]
    if encoding != "identity":
        names.append(("content-encoding", "deflate" if encoding == "raw-deflate" else encoding))
    if framing == "content-length":
        return Reply((head("200 OK", [*names, ("content-length", str(len(data)))]) + data,))
    if framing == "chunked":
        return Reply((head("200 OK", [*names, ("transfer-encoding", "chunked")]) + chunked(data, 37),))
    return Reply((head("200 OK", [*names, ("connection", "close")]) + data,), "close")


# -- success ----------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("framing", ["content-length", "chunked", "close-delimited"])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_success_is_the_same(stream: bool, framing: str, encoding: str) -> None:
    body, content_type = (EVENTS, "text/event-stream") if stream else (RESPONSE, "application/json")
    httpx_, aiohttp_ = await both([framed(body, content_type, framing, encoding)], stream=stream)
    assert aiohttp_ == httpx_
    assert httpx_.kind == "ok", httpx_
    final = httpx_.detail[-2]
    assert final["output"][0]["content"][0]["text"] == "Hello there, general Kenobi"
    if not stream:
        assert httpx_.detail[-1] == "req_wire_1"  # the request id header, read by both


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_an_informational_head_before_the_reply_is_skipped(stream: bool) -> None:
    """A ``103 Early Hints`` head (links to preload) comes before the real reply: skipped."""
    early = head("103 Early Hints", [("link", "</style.css>; rel=preload")])
    reply = sse() if stream else whole("200 OK", RESPONSE, headers=[("x-request-id", "req_after_103")])
    httpx_, other = await both([Reply((early + reply.pieces[0],))], stream=stream)  # type: ignore[operator]
    assert other == httpx_
    assert httpx_.kind == "ok", httpx_
    if not stream:
        assert httpx_.detail[-1] == "req_after_103"  # the real reply's headers, not the hint's


@pytest.mark.parametrize("read", [1.0, 0.3], ids=["body-in-time", "body-too-late"])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_head_sent_before_its_body_is_read_as_it_comes(stream: bool, read: float) -> None:
    """Real servers send the head at once and the body (a model's tokens) later: the head is a
    reply of its own (found: httptools woke its reader only when body bytes came, so a body later
    than the read timeout failed the call before its head, "Connection error", where httpx
    reports the body's read timing out)."""
    reply = sse() if stream else whole("200 OK", RESPONSE)
    head_part, _, body = reply.pieces[0].partition(b"\r\n\r\n")  # type: ignore[union-attr]
    paused = Reply((head_part + b"\r\n\r\n", 0.6, body))
    httpx_, other = await both([paused], stream=stream, timeout=httpx.Timeout(5.0, read=read))
    assert other == httpx_
    if read > 0.6:
        assert httpx_.kind == "ok", httpx_
    else:
        assert httpx_.kind in ("APITimeoutError", "StreamError"), httpx_


async def test_every_event_arrives_in_order_from_both() -> None:
    httpx_, aiohttp_ = await both([sse()], stream=True)
    assert httpx_.kind == aiohttp_.kind == "ok"
    types = [event["type"] for event in aiohttp_.detail[0]]
    assert types[0] == "response.created" and types[-1] == "response.completed"
    assert [e["sequence_number"] for e in aiohttp_.detail[0]] == list(range(len(types)))


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_the_request_on_the_wire_is_the_same(stream: bool) -> None:
    reply = sse() if stream else whole("200 OK", RESPONSE)
    sent = {}
    for backend in BACKENDS:
        result, server = await outcome(backend, [reply], stream=stream)
        assert result.kind == "ok"
        sent[backend] = server.requests[0]
    for other in ALTERNATIVES:
        _same_request(sent["httpx"], sent[other], stream)


def _same_request(a: Any, b: Any, stream: bool) -> None:
    assert a.line == b.line == "POST /v1/responses HTTP/1.1"
    assert a.body == b.body and json.loads(b.body)["input"] == "x"
    for name in ("authorization", "content-type", "accept", "user-agent", "content-length", "host"):
        assert a.headers[name].split(":")[0] == b.headers[name].split(":")[0], name  # host: own port
    assert b.headers["authorization"] == f"Bearer {KEY}"
    assert b.headers["accept"] == ("text/event-stream" if stream else "application/json")
    # aiohttp asks only for what it decodes itself; httpx also for zstd when zstandard is installed.
    offered = {v.strip() for v in a.headers["accept-encoding"].split(",")}
    assert {v.strip() for v in b.headers["accept-encoding"].split(",")} <= offered
    assert b.headers["accept-encoding"] == "gzip, deflate"
    assert "cookie" not in b.headers and "transfer-encoding" not in b.headers


@pytest.mark.parametrize("backend", BACKENDS)
async def test_an_upstream_cookie_is_not_replayed(backend: HTTPBackend) -> None:
    """Neither keeps a cookie jar (in the proxy, one would replay a cookie for every user)."""
    first = whole("200 OK", RESPONSE, headers=[("set-cookie", "session=abc; Path=/")])
    async with WireServer([first]) as server:
        transport = HTTPTransport(server.base_url, api_key=KEY, http_backend=backend)
        async with AsyncClient(transport=transport) as client:
            await client.responses.create(model="m", input="x")
            await client.responses.create(model="m", input="x")
    assert len(server.requests) == 2
    assert "cookie" not in server.requests[1].headers


@pytest.mark.parametrize("backend", BACKENDS)
async def test_an_upstream_cookie_is_not_replayed_through_a_proxy(
    backend: HTTPBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same through an environment proxy (httptools hands those requests to httpx)."""
    _only_http_proxy(monkeypatch)
    first = whole("200 OK", RESPONSE, headers=[("set-cookie", "session=abc; Path=/")])
    async with WireServer([first]) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.base_url.removesuffix("/v1"))
        transport = HTTPTransport("http://upstream.invalid:8080/v1", api_key=KEY, http_backend=backend)
        async with AsyncClient(transport=transport) as client:
            await client.responses.create(model="m", input="x")
            await client.responses.create(model="m", input="x")
    assert len(proxy.requests) == 2
    assert "cookie" not in proxy.requests[1].headers


# -- status errors ------------------------------------------------------------------------------

STATUSES = [
    ("400 Bad Request", "BadRequestError"),
    ("401 Unauthorized", "AuthenticationError"),
    ("403 Forbidden", "PermissionDeniedError"),
    ("404 Not Found", "NotFoundError"),
    ("409 Conflict", "ConflictError"),
    ("422 Unprocessable Entity", "UnprocessableEntityError"),
    ("429 Too Many Requests", "RateLimitError"),
    ("500 Internal Server Error", "InternalServerError"),
    ("502 Bad Gateway", "InternalServerError"),
    ("503 Service Unavailable", "InternalServerError"),
    ("529 Overloaded", "InternalServerError"),
]


@pytest.mark.parametrize(("status", "expected"), STATUSES, ids=[s for s, _ in STATUSES])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_status_error_is_the_same(stream: bool, status: str, expected: str) -> None:
    headers = [("x-request-id", "req_err_7"), ("retry-after", "3"), ("x-ratelimit-remaining", "0")]
    reply = whole(status, error_json("The upstream says no.", code="nope"), headers=headers)
    httpx_, aiohttp_ = await both([reply], stream=stream)
    assert aiohttp_ == httpx_
    assert httpx_.kind == expected
    message, code, body, seen_headers, retry_after, request_id, _ = httpx_.detail
    assert code == int(status.split()[0]) and request_id == "req_err_7"
    assert "The upstream says no. (code nope)" in message
    assert body["error"]["code"] == "nope" and seen_headers["x-ratelimit-remaining"] == "0"
    assert retry_after == (3.0 if expected in ("RateLimitError", "InternalServerError") else None)


@pytest.mark.parametrize(
    "reply",
    [
        whole("429 Slow Down", b"", headers=[("retry-after-ms", "250")]),
        whole("429 Slow Down", b"", headers=[("retry-after", "soon")]),
        whole("503", error_json("x"), headers=[("retry-after", "99999999999")]),  # no reason phrase
        whole("502 Bad Gateway", b"<html><h1>502</h1></html>", content_type="text/html"),
        whole("500 Oops", b"plain words", content_type="text/plain"),
        whole("500 Oops", error_json("retry me not"), headers=[("x-should-retry", "false")]),
        whole("400 Bad", b'{"error": "a bare string"}'),
        whole("401 Unauthorized", error_json("gz"), encoding="gzip"),
        whole("401 Unauthorized", error_json("zz"), encoding="deflate"),
        Reply((head("500 Chunky", [("transfer-encoding", "chunked")]) + chunked(error_json("c"), 5),)),
        Reply((head("500 Closing", [("connection", "close")]) + error_json("eof"),), "close"),
    ],
    ids=[
        "retry-after-ms",
        "retry-after-garbage",
        "retry-after-huge-no-reason",
        "html",
        "plain-text",
        "x-should-retry",
        "bare-string-error",
        "gzip-body",
        "deflate-body",
        "chunked-body",
        "close-delimited-body",
    ],
)
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_error_bodies_and_hints_are_the_same(stream: bool, reply: Reply) -> None:
    httpx_, aiohttp_ = await both([reply], stream=stream)
    assert aiohttp_ == httpx_
    assert httpx_.kind.endswith("Error") and isinstance(httpx_.detail[1], int)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_long_error_body_is_capped_by_both(stream: bool) -> None:
    reply = whole("500 Huge", b"x" * 1_000_000, content_type="text/plain")
    for backend in BACKENDS:
        result, _ = await outcome(backend, [reply], stream=stream)
        assert result.kind == "InternalServerError"
        body = result.detail[2]
        # Read until the cap is reached: at most one socket read past it.
        assert isinstance(body, str) and _MAX_ERROR_BODY <= len(body) <= 4 * _MAX_ERROR_BODY, backend


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_compressed_error_body_is_capped_after_decoding(stream: bool, backend: HTTPBackend) -> None:
    """A 2 KB gzip error body that inflates to 2 MB: the cap applies to the decoded bytes."""
    bomb = gzip.compress(b"0" * 2_000_000)
    assert len(bomb) < _MAX_ERROR_BODY
    reply = whole("500 Bomb", bomb, content_type="text/plain", headers=[("content-encoding", "gzip")])
    result, _ = await outcome(backend, [reply], stream=stream)
    assert result.kind == "InternalServerError"
    size = len(result.detail[2])
    assert size <= 4 * _MAX_ERROR_BODY, f"a {size}-character error body"


# -- a status error whose body is broken: still the status error, with what could be read ---------

_CUT_ERROR = Reply(
    (
        head("500 Cut", [("content-type", "application/json"), ("content-length", "200")])
        + error_json("cut")[:20],
    ),
    "close",
)
_BAD_GZIP_ERROR = whole("500 Bad Gzip", b"not gzip at all", headers=[("content-encoding", "gzip")])
_BIG_GZIP_ERROR = whole(
    "500 Big", random.Random(7).randbytes(200_000), content_type="text/plain", encoding="gzip"
)


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(_CUT_ERROR, id="cut-error-body"),
        pytest.param(_BAD_GZIP_ERROR, id="undecodable-error-body"),
        pytest.param(_BIG_GZIP_ERROR, id="gzip-error-body-over-the-cap"),
    ],
)
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_broken_error_body_keeps_the_status_error(stream: bool, reply: Reply) -> None:
    httpx_, aiohttp_ = await both([reply], stream=stream)
    assert httpx_.kind == "InternalServerError"
    assert aiohttp_ == httpx_


async def test_a_repeated_retry_after_is_read_the_same() -> None:
    """httpx joins a repeated header's values ("5, 7": no usable hint); so must the other path."""
    reply = whole("429 Twice", error_json("slow"), headers=[("retry-after", "5"), ("Retry-After", "7")])
    httpx_, aiohttp_ = await both([reply], stream=False)
    assert httpx_.kind == "RateLimitError"
    assert aiohttp_ == httpx_


@pytest.mark.parametrize(
    "extra",
    [[("x-debug", "a" * 12_000)], [(f"x-h{i}", "v") for i in range(150)]],
    ids=["12KB-header", "150-headers"],
)
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_large_head_is_read_by_both(stream: bool, extra: list[tuple[str, str]]) -> None:
    """h11 (httpx) reads a head up to 100 KiB; aiohttp's parser defaults are 8190 bytes a line and
    128 headers, which the transport must raise to match."""
    reply = whole("401 Unauthorized", error_json("big head"), headers=extra)
    httpx_, aiohttp_ = await both([reply], stream=stream)
    assert httpx_.kind == "AuthenticationError"
    assert aiohttp_ == httpx_


async def test_url_credentials_with_an_api_key_send_the_same_request() -> None:
    """httpx sends the URL's Basic credentials over the key's header; aiohttp raised a bare
    ValueError ("Cannot combine AUTHORIZATION header with ... credentials encoded in URL")."""
    sent = {}
    for backend in BACKENDS:
        async with WireServer([whole("200 OK", RESPONSE)]) as server:
            url = server.base_url.replace("http://", "http://user:urlPassw0rd0123456789@")
            transport = HTTPTransport(url, api_key=KEY, http_backend=backend)
            async with AsyncClient(transport=transport) as client:
                await client.responses.create(model="m", input="x")
        sent[backend] = server.requests[0].headers.get("authorization")
    assert sent["aiohttp"] == sent["httpx"] == sent["httptools"]


# -- proxies from the environment -----------------------------------------------------------------------


def _only_http_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy", "HTTP_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_an_environment_proxy_is_used_by_both(stream: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    _only_http_proxy(monkeypatch)
    reply = sse() if stream else whole("200 OK", RESPONSE)
    seen = {}
    for backend in BACKENDS:
        async with WireServer([reply]) as proxy:
            proxy_url = proxy.base_url.removesuffix("/v1").replace("http://", "http://pu:proxyPassw0rd0123@")
            monkeypatch.setenv("HTTP_PROXY", proxy_url)
            # The upstream's name never resolves: only the proxy can have answered.
            transport = HTTPTransport("http://upstream.invalid:8080/v1", api_key=KEY, http_backend=backend)
            async with AsyncClient(transport=transport) as client:
                result = await call(client, stream=stream)
            assert result.kind == "ok", result
            assert "proxyPassw0rd" not in repr(transport)
        request = proxy.requests[-1]
        seen[backend] = (
            request.line,
            request.headers.get("host"),
            request.headers.get("proxy-authorization"),
        )
    assert seen["aiohttp"] == seen["httpx"] == seen["httptools"]
    assert seen["httpx"][0] == "POST http://upstream.invalid:8080/v1/responses HTTP/1.1"
    assert seen["httpx"][2] is not None and seen["httpx"][2].startswith("Basic ")


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_an_error_through_an_environment_proxy_is_the_same(
    stream: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    _only_http_proxy(monkeypatch)
    reply = whole("500 Internal Server Error", error_json("upstream broke", "server_error"))
    seen = {}
    for backend in BACKENDS:
        async with WireServer([reply]) as proxy:
            monkeypatch.setenv("HTTP_PROXY", proxy.base_url.removesuffix("/v1"))
            transport = HTTPTransport("http://upstream.invalid:8080/v1", api_key=KEY, http_backend=backend)
            async with AsyncClient(transport=transport) as client:
                seen[backend] = await call(client, stream=stream)
    assert seen["httpx"].kind == "InternalServerError", seen["httpx"]
    assert seen["aiohttp"] == seen["httpx"] == seen["httptools"]


@pytest.mark.filterwarnings("error::DeprecationWarning")
async def test_an_authenticated_proxy_raises_no_deprecation_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    """aiohttp 3.14 deprecates ``proxy_auth=``: a warning per call (an error under ``-W error``)."""
    _only_http_proxy(monkeypatch)
    async with WireServer([whole("200 OK", RESPONSE)]) as proxy:
        monkeypatch.setenv(
            "HTTP_PROXY", proxy.base_url.removesuffix("/v1").replace("http://", "http://pu:pw@")
        )
        transport = HTTPTransport("http://upstream.invalid:8080/v1", http_backend="aiohttp")
        async with AsyncClient(transport=transport) as client:
            result = await call(client, stream=False)
    assert result.kind == "ok", result
