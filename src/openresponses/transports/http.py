"""The HTTP transport: the only place outside tests that imports httpx.

It owns the connection pool, the credentials and the timeouts; a :class:`Dialect` owns the bytes
(path, body, stream decoding, error bodies), so one transport speaks Open Responses natively
(the default) or any other API family through a translating dialect (Chat Completions, ...).
httpx failures map to the typed errors where they are born; a streamed body goes through the
shared :func:`event_batches` loop, every event of a network chunk in one batch.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from .._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ProtocolError,
)
from .._pipeline import Reply, Request, Target
from .._streaming import EventStream
from .._version import __version__
from ..types import StreamEvent
from ._dialect import Dialect, OpenResponsesDialect, StreamDecoder, event_batches
from ._reply import parse_retry_after

__all__ = ["DEFAULT_TIMEOUT", "HTTPTransport", "parse_retry_after"]

#: Connect quickly, but let a long stream run: ``read`` bounds the gap between two chunks.
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=600.0, write=60.0, pool=30.0)
_MAX_ERROR_BODY = 64 * 1024


class HTTPTransport:
    """Talks Open Responses over HTTP to one upstream.

    ``base_url`` includes the version prefix (``http://host:8001/v1``). The API key is kept out
    of every repr, log and error message. Pass ``http_client`` to share a pool or add your own
    httpx transport (e.g. ``httpx.MockTransport`` in unit tests); it is then yours to close.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        provider: str = "default",
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        headers: Mapping[str, str] | None = None,
        http_client: httpx.AsyncClient | None = None,
        dialect: Dialect | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._dialect: Dialect = dialect if dialect is not None else OpenResponsesDialect()
        self._api_key = api_key
        self._target = Target(provider=provider, base_url=self._base_url)
        self._timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self._headers = {
            "user-agent": f"openresponses-python/{__version__}",
            **(dict(headers) if headers else {}),
        }
        self._owns_client = http_client is None
        self._client = http_client or httpx.AsyncClient(
            timeout=self._timeout,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=30.0),
        )

    @property
    def target(self) -> Target:
        """The provider name and base URL (no credentials)."""
        return self._target

    @property
    def dialect(self) -> Dialect:
        """The wire format this transport speaks."""
        return self._dialect

    def __repr__(self) -> str:
        return (
            f"HTTPTransport(provider={self._target.provider!r}, base_url={self._base_url!r}, "
            f"dialect={self._dialect.name!r})"
        )

    async def aclose(self) -> None:
        """Close the connection pool if this transport created it."""
        if self._owns_client:
            await self._client.aclose()

    async def __call__(self, request: Request, /) -> Reply:
        http_request = self._build(request)  # the dialect rejects what it cannot carry: nothing sent
        provider = self._target.provider
        try:
            response = await self._client.send(http_request, stream=True)
        except httpx.HTTPError as exc:
            raise _connection_error(exc, provider, f"Connection error: {type(exc).__name__}: {exc}") from exc

        if response.status_code >= 300:
            raise await self._status_error(response)
        content_type = response.headers.get("content-type", "")
        if request.stream:
            if not content_type.startswith("text/event-stream"):
                body = await _read_capped(response)
                raise ProtocolError(
                    f"Expected a text/event-stream reply to a streaming request, got {content_type!r}.",
                    data=body,
                )
            decoder = self._dialect.decoder(request, provider=provider)
            return EventStream(_stream_batches(response, decoder, provider), provider=provider)
        try:
            body = await response.aread()
        except httpx.HTTPError as exc:
            message = f"Connection lost reading the body: {type(exc).__name__}"
            raise _connection_error(exc, provider, message) from exc
        finally:
            await response.aclose()
        return self._dialect.parse_body(body, request, provider=provider)

    def _build(self, request: Request) -> httpx.Request:
        dialect = self._dialect
        content = dialect.encode(request)
        headers = dict(self._headers)
        headers["content-type"] = "application/json"
        headers["accept"] = "text/event-stream" if request.stream else "application/json"
        if self._api_key:
            headers.update(dialect.auth_headers(self._api_key))
        if request.options.idempotency_key:
            headers["idempotency-key"] = request.options.idempotency_key
        headers.update(dialect.headers(request))
        headers.update(request.headers)
        timeout = request.options.timeout
        if timeout is None:
            timeout = self._timeout
        elif not isinstance(timeout, httpx.Timeout):
            timeout = httpx.Timeout(timeout)
        return self._client.build_request(
            "POST",
            self._base_url + dialect.path(request),
            content=content,
            headers=headers,
            timeout=timeout,
        )

    async def _status_error(self, response: httpx.Response) -> APIStatusError:
        body = await _read_capped(response)
        return self._dialect.error(
            response.status_code,
            body,
            response.headers,
            provider=self._target.provider,
            reason=response.reason_phrase,
        )


def _connection_error(exc: httpx.HTTPError, provider: str, message: str) -> APIConnectionError:
    """The typed error for an httpx failure: a timeout names its kind, anything else is a
    connection error with ``message`` (the caller chains the httpx error as ``__cause__``)."""
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(_timeout_kind(exc), provider=provider)
    return APIConnectionError(message, provider=provider)


def _timeout_kind(exc: httpx.TimeoutException) -> Any:
    if isinstance(exc, httpx.ConnectTimeout):
        return "connect"
    if isinstance(exc, httpx.WriteTimeout):
        return "write"
    if isinstance(exc, httpx.PoolTimeout):
        return "pool"
    return "read"


async def _read_capped(response: httpx.Response, limit: int | None = _MAX_ERROR_BODY) -> bytes:
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in response.aiter_bytes():
            chunks.append(chunk)
            size += len(chunk)
            if limit is not None and size >= limit:
                break
    except httpx.HTTPError:
        pass  # a truncated error body still makes a useful error
    finally:
        await response.aclose()
    return b"".join(chunks)


def _body_chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    """The body as it arrives: ``aiter_raw()`` when there is nothing to decode (one generator
    layer less per network chunk), else ``aiter_bytes()`` (content-encoding, or a body already
    read, as ``httpx.MockTransport`` does with ``content=bytes``)."""
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if response.is_stream_consumed or encoding not in ("identity", ""):
        return response.aiter_bytes()
    return response.aiter_raw()


def _stream_batches(
    response: httpx.Response, decoder: StreamDecoder, provider: str
) -> AsyncIterator[list[StreamEvent]]:
    """The body's event batches through the shared loop; the response is closed at its end."""

    def map_error(exc: Exception) -> Exception | None:
        if isinstance(exc, httpx.HTTPError):
            message = f"Connection lost while streaming: {type(exc).__name__}: {exc}"
            return _connection_error(exc, provider, message)
        return None

    return event_batches(_body_chunks(response), decoder, map_error=map_error, on_close=response.aclose)
