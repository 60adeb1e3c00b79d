"""The HTTP transport's I/O helpers: httpx failures as typed errors, bodies, stream batches.

Split from ``http.py`` so that module holds the transport itself: what is sent and how a reply
becomes a result. Everything here leaves through the transport's
:class:`~openresponses._redact.Redactor`: a failure event's server text, an httpx error's
message and its cause chain.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import AsyncIterator, Mapping
from typing import Any, NamedTuple
from urllib.parse import SplitResult, unquote

import httpx

from .._errors import APIConnectionError, APITimeoutError, ProtocolError
from .._redact import Redactor
from ..types import Response, StreamEvent
from ._dialect import StreamDecoder, event_batches
from ._h11_body import buffered_body

__all__ = [
    "MAX_ERROR_BODY",
    "RedactingDecoder",
    "WholeReply",
    "decoded_body",
    "error_reply",
    "streamed_response",
    "url_basic",
    "with_basic",
    "body_chunks",
    "connection_error",
    "read_capped",
    "stream_batches",
]

#: The most of an error body kept (decoded bytes).
MAX_ERROR_BODY = 64 * 1024
# The events that carry server error text: they go through the redactor before anyone sees them.
_FAILURE_EVENTS = frozenset({"error", "response.failed", "response.incomplete"})


class RedactingDecoder:
    """A dialect's decoder whose failure events and ``ProtocolError`` pass through the redactor.

    Only ``error`` / ``response.failed`` / ``response.incomplete`` events are looked at: the
    deltas of a healthy stream cost one set lookup each.
    """

    __slots__ = ("_decoder", "_redactor")

    def __init__(self, decoder: StreamDecoder, redactor: Redactor) -> None:
        self._decoder = decoder
        self._redactor = redactor

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        try:
            events = self._decoder.feed(chunk)
        except ProtocolError as exc:
            self._redactor.exception(exc)
            raise
        return self._clean(events) if events else events

    def close(self) -> list[StreamEvent]:
        try:
            events = self._decoder.close()
        except ProtocolError as exc:
            self._redactor.exception(exc)
            raise
        return self._clean(events) if events else events

    def _clean(self, events: list[StreamEvent]) -> list[StreamEvent]:
        for index, event in enumerate(events):
            if event.type in _FAILURE_EVENTS:
                events[index] = _clean_failure(event, self._redactor)
        return events


def _clean_failure(event: StreamEvent, redactor: Redactor) -> StreamEvent:
    """An ``error`` event is server text: fully redacted. A terminal event carries the partial
    answer too: only known secrets are replaced in it, and its ``response.error`` fully."""
    response = getattr(event, "response", None)
    if not isinstance(response, Response):
        cleaned: StreamEvent = redactor.value(event)
        return cleaned
    cleaned = redactor.exact(event)
    response = getattr(cleaned, "response", None)
    if isinstance(response, Response) and response.error is not None:
        error = redactor.value(response.error)
        if error is not response.error:
            cleaned = cleaned.model_copy(update={"response": response.model_copy(update={"error": error})})
    return cleaned


def connection_error(
    exc: httpx.HTTPError, provider: str, what: str, redactor: Redactor
) -> APIConnectionError:
    """The typed, redacted error for an httpx failure, with ``exc`` (redacted in place) as
    ``__cause__``: a timeout names its kind, anything else is ``what`` plus the httpx error."""
    redactor.exception(exc)  # its text and its own chain (httpcore's error)
    error: APIConnectionError
    if isinstance(exc, httpx.TimeoutException):
        error = APITimeoutError(_timeout_kind(exc), provider=provider)
    else:
        error = APIConnectionError(f"{what}: {type(exc).__name__}: {exc}", provider=provider)
    error.__cause__ = exc
    return redactor.exception(error)


def _timeout_kind(exc: httpx.TimeoutException) -> Any:
    if isinstance(exc, httpx.ConnectTimeout):
        return "connect"
    if isinstance(exc, httpx.WriteTimeout):
        return "write"
    if isinstance(exc, httpx.PoolTimeout):
        return "pool"
    return "read"


async def read_capped(response: httpx.Response, limit: int | None = MAX_ERROR_BODY) -> bytes:
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
    body = b"".join(chunks)
    # One decoded chunk can be far past the cap (a small gzip body inflates a thousandfold).
    return body if limit is None else body[:limit]


def body_chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    """The body as it arrives: from httpx's HTTP/1.1 pool, every chunk already received in one
    piece (``_h11_body``: one decode per socket read, not one per HTTP chunk); else
    ``aiter_raw()`` when there is nothing to decode (one generator layer less per network chunk),
    else ``aiter_bytes()`` (content-encoding, or a body already read, as ``httpx.MockTransport``
    does with ``content=bytes``)."""
    batches = buffered_body(response)
    if batches is not None:
        return batches
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if response.is_stream_consumed or encoding not in ("identity", ""):
        return response.aiter_bytes()
    return response.aiter_raw()


def stream_batches(
    response: httpx.Response, decoder: StreamDecoder, provider: str, redactor: Redactor
) -> AsyncIterator[list[StreamEvent]]:
    """The body's event batches through the shared loop; the response is closed at its end."""

    def map_error(exc: Exception) -> Exception | None:
        if isinstance(exc, httpx.HTTPError):
            error = connection_error(exc, provider, "Connection lost while streaming", redactor)
            error.__cause__ = None  # the loop chains ``exc`` (already redacted) itself
            return error
        return None

    return event_batches(body_chunks(response), decoder, map_error=map_error, on_close=response.aclose)


class WholeReply(NamedTuple):
    """A reply read whole (a backend's ``fetch``: aiohttp, httptools): status, reason, headers, body."""

    status: int
    reason: str
    headers: Mapping[str, str]  # looked up by lower-case names
    body: bytes


def decoded_body(body: bytes, encoding: str | None, limit: int | None = None) -> bytes:
    """``body`` without its ``Content-Encoding`` (only gzip and deflate are asked for), at most
    ``limit`` decoded bytes (an error body: a small compressed body can inflate a thousandfold)."""
    encoding = (encoding or "").strip().lower()
    if encoding in ("", "identity") or not body:
        return body if limit is None else body[:limit]
    cap = 0 if limit is None else limit
    try:
        if encoding in ("gzip", "x-gzip"):
            return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(body, cap)
        if encoding == "deflate":
            try:
                return zlib.decompressobj().decompress(body, cap)
            except zlib.error:  # raw deflate, as some servers send it (httpx accepts both too)
                return zlib.decompressobj(-zlib.MAX_WBITS).decompress(body, cap)
    except zlib.error as exc:
        raise httpx.DecodingError(f"cannot decode a {encoding} body: {exc}") from None
    return body if limit is None else body[:limit]  # an encoding we did not ask for: as it came


def error_reply(status: int, reason: str, headers: Mapping[str, str], raw: bytes, limit: int) -> WholeReply:
    """An error status's reply: at most ``limit`` decoded bytes of its body, none if it cannot
    be decoded (as httpx's path gets no bytes out of an undecodable body)."""
    try:
        body = decoded_body(raw, headers.get("content-encoding"), limit)
    except httpx.DecodingError:
        body = b""
    return WholeReply(status, reason, headers, body)


def url_basic(parts: SplitResult) -> str | None:
    """The ``Authorization`` a URL's user info stands for (httpx sends Basic credentials from the
    URL, overriding the header), or ``None`` when it has none."""
    if parts.username is None and parts.password is None:
        return None
    pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
    return "Basic " + base64.b64encode(pair.encode()).decode("ascii")


def with_basic(headers: Mapping[str, str], basic: str | None) -> Mapping[str, str]:
    """``headers`` with ``basic`` as the ``Authorization`` (whatever case the caller's had)."""
    if basic is None:
        return headers
    return {**{k: v for k, v in headers.items() if k.lower() != "authorization"}, "authorization": basic}


def streamed_response(
    request: httpx.Request, status: int, reason: str, headers: Any, stream: httpx.AsyncByteStream
) -> httpx.Response:
    """A streamed reply as the ``httpx.Response`` httpx's own transport would return."""
    extensions: dict[str, Any] = {"http_version": b"HTTP/1.1"}
    if reason:
        extensions["reason_phrase"] = reason.encode("latin-1", "replace")
    return httpx.Response(
        status_code=status, headers=headers, stream=stream, request=request, extensions=extensions
    )
