"""Raw HTTP exchanges for the conformance checker: status, headers and body bytes, untouched.

The typed transport (``http.py``) turns bytes into events and errors; a checker must instead see
what the server actually sent: the SSE framing, ``event:`` names, ``[DONE]``, the exact
``Content-Type``, and how far a broken body got before the connection died. So this module
returns the chunks as they arrived and never interprets them. It is the checker's only httpx
import (httpx stays confined to ``transports/``).

Failures before the status line raise the library's typed errors (``APIConnectionError``,
``APITimeoutError``); a body cut short after the headers is not an exception here, it is a
finding: the chunks received so far come back with ``error`` saying what ended the body.

The one thing changed on the way: a credential the request carried (an authorization-like
header, a URL password) is replaced by ``[redacted]`` wherever the server echoes it, in the body,
the headers and every error text, so a checker's report can be pasted into an issue. A URL that
is not an ``http(s)`` URL is a :class:`~openresponses.ConfigError`, before anything is sent.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from .._errors import APIConnectionError, APITimeoutError, OpenResponsesError
from .._redact import Redactor, url_basic_token, url_password
from .._version import __version__
from ._logs import protect_http_logs
from ._url import check_url

__all__ = ["DEFAULT_MAX_BYTES", "RawReply", "RawSession", "get_raw", "post_raw"]

#: Bodies are read up to this many bytes (a runaway stream must not exhaust memory).
DEFAULT_MAX_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class RawReply:
    """What the server sent for one request, as bytes.

    ``chunks`` keeps the network chunking (feed them one by one to an SSE decoder to test a
    parser the way a client meets them); ``body`` joins them. ``error`` is set when the body
    ended abnormally after the headers (a reset, a timeout, the ``max_bytes`` cap).
    """

    status: int
    #: Header names lowercased; repeated headers joined with ``", "``.
    headers: Mapping[str, str]
    chunks: tuple[bytes, ...] = ()
    #: Why the body ended early (``None`` when it ended normally).
    error: str | None = None
    #: Seconds from sending the request to the first body byte (``None`` for an empty body).
    first_byte_s: float | None = None
    #: Seconds from sending the request to the end of the body.
    elapsed_s: float = 0.0
    reason: str = field(default="")

    @property
    def body(self) -> bytes:
        """Every chunk joined."""
        return b"".join(self.chunks)

    @property
    def content_type(self) -> str:
        """The media type, lowercased, without parameters (``text/event-stream``)."""
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    def json(self) -> Any:
        """The body parsed as JSON; raises ``ValueError`` when it is not JSON."""
        return json.loads(self.body)


class RawSession:
    """A connection pool shared by several raw exchanges: one TLS set-up, keep-alive reuse.

    ``async with RawSession() as session: reply = await session.post(url, body, headers)``.
    ``timeout`` is the default bound of each exchange, streams included.
    """

    def __init__(self, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(timeout))

    def __repr__(self) -> str:
        return f"RawSession(timeout={self.timeout!r})"

    async def __aenter__(self) -> RawSession:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._client.aclose()

    async def post(
        self,
        url: str,
        json_body: Any,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> RawReply:
        """``POST url`` with ``json_body`` as JSON (see :func:`post_raw`)."""
        content = json.dumps(json_body, separators=(",", ":")).encode()
        sent = {"content-type": "application/json", **(dict(headers) if headers else {})}
        return await self._exchange("POST", url, content, sent, timeout, max_bytes)

    async def get(
        self,
        url: str,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> RawReply:
        """``GET url`` (see :func:`get_raw`)."""
        return await self._exchange("GET", url, None, dict(headers) if headers else {}, timeout, max_bytes)

    async def _exchange(
        self,
        method: str,
        url: str,
        content: bytes | None,
        headers: dict[str, str],
        timeout: float | None,
        max_bytes: int,
    ) -> RawReply:
        limit = self.timeout if timeout is None else timeout
        url = check_url(url, key="url", allow_query=True)
        headers.setdefault("user-agent", f"openresponses-python/{__version__} (check)")
        redactor = Redactor([url_password(url), url_basic_token(url)]).with_headers(headers)
        protect_http_logs(redactor)
        started = time.monotonic()
        request = self._client.build_request(
            method, url, content=content, headers=headers, timeout=httpx.Timeout(limit)
        )
        # Each phase is bounded by the timeout, and so is the whole exchange: a server that
        # trickles one byte a second must not hold the checker forever.
        failure: OpenResponsesError | None = None
        try:
            async with asyncio.timeout(limit):
                response = await self._client.send(request, stream=True)
        except TimeoutError as exc:
            failure = APITimeoutError("total", limit)
            failure.__cause__ = exc
        except httpx.TimeoutException as exc:
            failure = APITimeoutError("connect" if isinstance(exc, httpx.ConnectTimeout) else "read")
            failure.__cause__ = redactor.exception(exc)
        except httpx.HTTPError as exc:
            redactor.exception(exc)
            failure = APIConnectionError(f"Connection error: {type(exc).__name__}: {exc}")
            failure.__cause__ = exc
        if failure is not None:
            raise redactor.exception(failure)  # outside the except block: only the redacted chain
        try:
            reply = await _read_body(response, started, limit, max_bytes)
        finally:
            await response.aclose()
        return _redacted(reply, redactor)


async def post_raw(
    url: str,
    json_body: Any,
    headers: Mapping[str, str] | None = None,
    timeout: float = 60.0,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> RawReply:
    """``POST url`` with ``json_body`` serialised as JSON; the whole exchange is bounded by ``timeout``.

    ``headers`` are sent as given (put ``Authorization`` there); they are never logged or kept.
    One-off: use a :class:`RawSession` for several requests.
    """
    async with RawSession(timeout) as session:
        return await session.post(url, json_body, headers, max_bytes=max_bytes)


async def get_raw(
    url: str,
    headers: Mapping[str, str] | None = None,
    timeout: float = 60.0,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> RawReply:
    """``GET url``; the whole exchange is bounded by ``timeout``."""
    async with RawSession(timeout) as session:
        return await session.get(url, headers, max_bytes=max_bytes)


async def _read_body(response: httpx.Response, started: float, timeout: float, max_bytes: int) -> RawReply:
    chunks: list[bytes] = []
    size = 0
    error: str | None = None
    first_byte: float | None = None
    remaining = max(0.0, timeout - (time.monotonic() - started))
    try:
        async with asyncio.timeout(remaining):
            async for chunk in response.aiter_bytes():
                if first_byte is None:
                    first_byte = time.monotonic() - started
                chunks.append(chunk)
                size += len(chunk)
                if size > max_bytes:
                    error = f"body larger than {max_bytes} bytes; reading stopped"
                    break
    except TimeoutError:
        error = f"body not finished within the {timeout:g}s timeout"
    except httpx.TimeoutException:
        error = f"read timeout ({timeout:g}s without data)"
    except httpx.HTTPError as exc:
        error = f"connection lost while reading the body: {type(exc).__name__}: {exc}"
    headers: dict[str, str] = {}
    for name, value in response.headers.multi_items():
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return RawReply(
        status=response.status_code,
        headers=headers,
        chunks=tuple(chunks),
        error=error,
        first_byte_s=first_byte,
        elapsed_s=time.monotonic() - started,
        reason=response.reason_phrase,
    )


def _redacted(reply: RawReply, redactor: Redactor) -> RawReply:
    """``reply`` with the request's credentials replaced wherever the server echoed them.

    Chunks are cleaned one by one (their boundaries kept); a secret split across two chunks is
    caught on the joined body, and the chunks then collapse into one.
    """
    chunks = tuple(redactor.bytes(chunk) for chunk in reply.chunks)
    joined = b"".join(chunks)
    if redactor.bytes(joined) != joined:
        chunks = (redactor.bytes(joined),)
    headers = {name: redactor.text(value) for name, value in reply.headers.items()}
    error = redactor.message(reply.error) if reply.error is not None else None
    reason = redactor.message(reply.reason)
    return RawReply(
        status=reply.status,
        headers=headers,
        chunks=chunks,
        error=error,
        first_byte_s=reply.first_byte_s,
        elapsed_s=reply.elapsed_s,
        reason=reason,
    )
