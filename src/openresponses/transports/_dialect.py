"""The wire-format seam: a :class:`Dialect` says how one API family is spoken, sans I/O.

A transport (HTTP today, WebSocket later) owns the connection, the credentials and the timeouts;
the dialect owns everything about the bytes: which path a request goes to, how the body is
encoded, how a streamed body becomes typed Open Responses events, how a success body becomes a
``Response`` and how an error body becomes the typed error. Open Responses itself is one dialect
(:class:`OpenResponsesDialect`); Chat Completions, Anthropic Messages, Gemini and Bedrock Converse
are others. Nothing here does I/O, so every dialect is tested with bytes in and events out.

:func:`event_batches` is the one loop that turns a body's chunks into event batches for every
transport: HTTP, the in-process scripted transport and the WebSocket transport to come.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from .._decode import decode_events
from .._errors import APIStatusError, ProtocolError
from .._sse import SSEDecoder
from ._reply import parse_reply_body, status_error_from_body

if TYPE_CHECKING:
    from .._pipeline import Request
    from ..types import CompactResponse, Response, StreamEvent

__all__ = [
    "Dialect",
    "OpenResponsesDialect",
    "OpenResponsesStreamDecoder",
    "StreamDecoder",
    "event_batches",
]


@runtime_checkable
class StreamDecoder(Protocol):
    """Bytes of one streamed body in (any chunking), typed Open Responses events out.

    ``feed`` returns the events a chunk completed. On malformed input it raises
    :class:`~openresponses.ProtocolError` whose ``events`` holds the good events decoded before
    the bad one (the loop delivers them first: nothing received is lost). ``close`` is called
    once at the end of the body: it returns any events held back (a translator that waits for
    trailing usage emits its terminal event here) or raises ``ProtocolError`` when the body
    ended inside an event.
    """

    def feed(self, chunk: bytes) -> list[StreamEvent]: ...

    def close(self) -> list[StreamEvent]: ...


@runtime_checkable
class Dialect(Protocol):
    """How to speak one API family. Every method is pure: no I/O, no clock, no credentials kept.

    ``name`` is the adapter name users pass (``Provider(adapter=...)``); ``path`` is relative to
    the transport's base URL; ``auth_headers`` turns the transport's key into this API's header
    (``Authorization: Bearer``, ``x-api-key``, ...); ``encode`` raises
    :class:`~openresponses.RequestValidationError` naming a field this API cannot carry, before
    anything is sent.
    """

    name: str

    def path(self, request: Request) -> str: ...

    def auth_headers(self, api_key: str) -> Mapping[str, str]: ...

    def headers(self, request: Request) -> Mapping[str, str]: ...

    def encode(self, request: Request) -> bytes: ...

    def decoder(self, request: Request, *, provider: str) -> StreamDecoder: ...

    def parse_body(self, body: bytes, request: Request, *, provider: str) -> Response | CompactResponse: ...

    def error(
        self,
        status: int,
        body: bytes,
        headers: Mapping[str, str],
        *,
        provider: str,
        reason: str | None = None,
    ) -> APIStatusError: ...


class OpenResponsesStreamDecoder:
    """SSE bytes to typed events: the WHATWG decoder, then one pydantic-core parse per chunk."""

    __slots__ = ("_sse",)

    def __init__(self) -> None:
        self._sse = SSEDecoder()

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        raw = self._sse.feed(chunk)
        return decode_events(raw) if raw else []

    def close(self) -> list[StreamEvent]:
        pending = self._sse.pending
        if pending.strip():
            raise ProtocolError("The stream ended inside an event (no blank line after it).", data=pending)
        return []


class OpenResponsesDialect:
    """The Open Responses wire format itself: ``POST /responses`` and ``/responses/compact``."""

    name = "open-responses"

    def path(self, request: Request) -> str:
        return "/responses/compact" if request.operation == "compact" else "/responses"

    def auth_headers(self, api_key: str) -> Mapping[str, str]:
        return {"authorization": f"Bearer {api_key}"}

    def headers(self, request: Request) -> Mapping[str, str]:
        return {}

    def encode(self, request: Request) -> bytes:
        return request.body.model_dump_json(exclude_unset=True, by_alias=True).encode()

    def decoder(self, request: Request, *, provider: str) -> StreamDecoder:
        return OpenResponsesStreamDecoder()

    def parse_body(self, body: bytes, request: Request, *, provider: str) -> Response | CompactResponse:
        return parse_reply_body(body, request.operation, provider)

    def error(
        self,
        status: int,
        body: bytes,
        headers: Mapping[str, str],
        *,
        provider: str,
        reason: str | None = None,
    ) -> APIStatusError:
        return status_error_from_body(status, body, headers, provider=provider, reason=reason)

    def __repr__(self) -> str:
        return "OpenResponsesDialect()"


async def event_batches(
    chunks: AsyncIterator[bytes],
    decoder: StreamDecoder,
    *,
    map_error: Callable[[Exception], Exception | None] | None = None,
    on_close: Callable[[], Awaitable[None]] | None = None,
) -> AsyncIterator[list[StreamEvent]]:
    """The one bytes-to-event-batches loop: a batch per chunk that completed events.

    ``map_error`` turns a transport's own exception (an httpx error, a closed socket) into the
    typed error to raise instead (chained as ``__cause__``); ``None`` from it re-raises as is.
    The good events before a malformed one are delivered before its ``ProtocolError``.
    ``on_close`` runs once however the loop ends (release the connection): passing it here
    rather than wrapping this generator in another saves a generator hop per chunk.
    """
    feed = decoder.feed
    try:
        try:
            async for chunk in chunks:
                try:
                    events = feed(chunk)
                except ProtocolError as exc:
                    if exc.events:
                        yield exc.events
                    raise
                if events:
                    yield events
        except ProtocolError:
            raise
        except Exception as exc:
            mapped = map_error(exc) if map_error is not None else None
            if mapped is None:
                raise
            raise mapped from exc
        tail = decoder.close()
        if tail:
            yield tail
    finally:
        if on_close is not None:
            await on_close()
