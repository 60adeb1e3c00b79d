"""An upstream that echoes the API key: through either backend it never surfaces.

As ``tests/test_secrets.py`` does for httpx, with the places aiohttp adds: its parser quotes the
bad status line or header it refused (so a key echoed there is in the message), its
``ClientResponseError`` repr carries the request headers (``Authorization`` included), and the
non-streamed path decodes error bodies itself. Checked: ``str``/``repr``/args/notes/fields of
the error and its whole cause chain, the printed traceback, and every log record at DEBUG.
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from openresponses import AsyncClient
from openresponses._sse import encode_event
from openresponses.testing import failed
from openresponses.transports.http import HTTPBackend, HTTPTransport

from .wire import BACKENDS, KEY, Reply, Seen, WireServer, chunked, head, whole

CALL_SECRET = "perCallTokenValue0123456789zyxw"


def _echo(seen: Seen) -> str:
    return seen.headers.get("authorization", "") + " " + seen.headers.get("x-custom-token", "")


def status_401(seen: Seen) -> Reply:
    body = json.dumps({"error": {"message": f"Incorrect API key provided: {_echo(seen)}", "type": "auth"}})
    return whole(f"401 Bad key {_echo(seen)}", body.encode(), headers=[("x-echo", _echo(seen))])


def gzip_401(seen: Seen) -> Reply:
    body = json.dumps({"error": {"message": f"bad key {_echo(seen)}", "type": "auth"}})
    return whole("401 Unauthorized", body.encode(), encoding="gzip")


def bad_status_line(seen: Seen) -> Reply:
    return Reply((f"HTTP/1.1 4o1 {_echo(seen)}\r\n\r\n".encode(),), "close")


def oversized_header(seen: Seen) -> Reply:
    """A header too long for aiohttp's parser, which quotes its start: the key."""
    value = _echo(seen) + " " + "x" * 9000
    return whole("401 Unauthorized", b"{}", headers=[("x-echo", value)])


def sse_error(seen: Seen) -> Reply:
    events = failed(f"upstream rejected {_echo(seen)}", code="invalid_api_key", after_text="Hi").events(
        json.loads(seen.body)
    )
    data = b"".join(encode_event(e) for e in events)
    names = [("content-type", "text/event-stream"), ("transfer-encoding", "chunked")]
    return Reply((head("200 OK", names) + chunked(data),))


def invalid_json(seen: Seen) -> Reply:
    return whole("200 OK", json.dumps({"object": "response", "id": 7, "status": _echo(seen)}).encode())


CASES = [
    pytest.param(status_401, False, "AuthenticationError", id="401-whole"),
    pytest.param(status_401, True, "AuthenticationError", id="401-stream"),
    pytest.param(gzip_401, False, "AuthenticationError", id="401-gzip-whole"),
    pytest.param(bad_status_line, False, "APIConnectionError", id="bad-status-line-whole"),
    pytest.param(bad_status_line, True, "APIConnectionError", id="bad-status-line-stream"),
    pytest.param(oversized_header, False, None, id="oversized-header-whole"),
    pytest.param(oversized_header, True, None, id="oversized-header-stream"),
    pytest.param(sse_error, True, "ResponseFailedError", id="sse-error-event"),
    pytest.param(invalid_json, False, "ProtocolError", id="invalid-json-whole"),
]


def _chain(exc: BaseException) -> Iterator[BaseException]:
    stack, seen = [exc], set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack.extend(e for e in (current.__cause__, current.__context__) if e is not None)


def _texts(value: Any, depth: int = 0) -> Iterator[str]:
    if depth > 8:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, bytes | bytearray):
        yield bytes(value).decode("utf-8", "replace")
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _texts(v, depth + 1)
    elif isinstance(value, list | tuple | set | frozenset):
        for v in value:
            yield from _texts(v, depth + 1)
    elif isinstance(value, BaseModel):
        yield value.model_dump_json()


def places(exc: BaseException) -> Iterator[str]:
    """Every text a caller can reach from ``exc`` without digging into private objects."""
    for link in _chain(exc):
        yield from (str(link), repr(link), *_texts(getattr(link, "__notes__", [])), *_texts(link.args))
        yield from _texts(list(getattr(link, "__dict__", {}).values()))
    yield "".join(traceback.format_exception(exc))


async def _fail(backend: HTTPBackend, reply: Any, stream: bool) -> tuple[BaseException, WireServer]:
    async with WireServer([reply]) as server:
        transport = HTTPTransport(server.base_url, api_key=KEY, http_backend=backend, timeout=2.0)
        async with AsyncClient(transport=transport) as client:
            try:
                if stream:
                    async with client.responses.stream(
                        model="m", input="x", extra_headers={"x-custom-token": CALL_SECRET}
                    ) as events:
                        async for _ in events:
                            pass
                else:
                    await client.responses.create(
                        model="m", input="x", extra_headers={"x-custom-token": CALL_SECRET}
                    )
            except Exception as exc:
                return exc, server
    raise AssertionError("the call succeeded")


@pytest.mark.parametrize(("reply", "stream", "expected"), CASES)
@pytest.mark.parametrize("backend", BACKENDS)
async def test_an_echoed_key_never_surfaces(
    backend: HTTPBackend, reply: Any, stream: bool, expected: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    error, server = await _fail(backend, reply, stream)
    assert KEY in _echo(server.requests[0]) and CALL_SECRET in _echo(server.requests[0])
    if expected is not None:  # the oversized header is a status error (httpx) or a parse error (aiohttp)
        assert type(error).__name__ == expected
    texts = list(places(error))
    assert any("[redacted]" in text for text in texts), "the echo never reached the error: vacuous"
    for text in texts:
        assert KEY not in text and CALL_SECRET not in text, text[:300]
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    for record in caplog.records:
        logged = formatter.format(record)
        assert KEY not in logged and CALL_SECRET not in logged, logged[:300]


async def test_the_aiohttp_request_headers_in_a_parse_error_are_redacted() -> None:
    """aiohttp's ``ClientResponseError`` repr shows ``request_info`` with ``Authorization``."""
    error, _ = await _fail("aiohttp", bad_status_line, False)
    reprs = [repr(link) for link in _chain(error)]
    assert any("ClientResponseError" in text for text in reprs)
    assert not any(KEY in text for text in reprs)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_password_in_the_base_url_never_surfaces(backend: HTTPBackend) -> None:
    password = "urlPassw0rdValue0123456789"
    async with WireServer([bad_status_line]) as server:
        url = server.base_url.replace("http://", f"http://user:{password}@")
        transport = HTTPTransport(url, http_backend=backend, timeout=2.0)
        async with AsyncClient(transport=transport) as client:
            with pytest.raises(Exception) as caught:
                await client.responses.create(model="m", input="x")
        assert password not in repr(transport)
    assert type(caught.value).__name__ == "APIConnectionError"
    assert all(password not in text for text in places(caught.value))
