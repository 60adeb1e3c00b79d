"""The wire-format seam: a :class:`Dialect` says how one API family is spoken, sans I/O.

A transport (HTTP today, WebSocket later) owns the connection, the credentials and the timeouts;
the dialect owns everything about the bytes: which path a request goes to, how the body is
encoded, how a streamed body becomes typed Open Responses events, how a success body becomes a
``Response`` and how an error body becomes the typed error. Open Responses itself is one dialect
(:class:`OpenResponsesDialect`); Chat Completions, Anthropic Messages, Gemini and Bedrock Converse
are others. Nothing here does I/O, so every dialect is tested with bytes in and events out.

:func:`event_batches` is the one loop that turns a body's chunks into event batches for every
byte-stream transport: HTTP and the in-process scripted transport (the WebSocket transport
receives whole messages and decodes them in ``_ws_codec``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from .._decode import decode_events
from .._errors import APIStatusError, ProtocolError
from .._sse import DEFAULT_MAX_EVENT_SIZE, SSEDecoder, check_max_event_size
from ..types.items import FunctionCallItemParam
from ._items import is_our_envelope
from ._reply import parse_reply_body, status_error_from_body

if TYPE_CHECKING:
    from .._pipeline import Request
    from ..types import CompactResponse, Response, StreamEvent

__all__ = [
    "Dialect",
    "HasDefaultBaseURL",
    "HasRequestIdHeaders",
    "HasStreamContentType",
    "SigningDialect",
    "VendorDialect",
    "OpenResponsesDialect",
    "OpenResponsesStreamDecoder",
    "SequencePolicy",
    "StreamDecoder",
    "event_batches",
]

logger = logging.getLogger("openresponses")


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


@runtime_checkable
class HasDefaultBaseURL(Protocol):
    """A dialect whose vendor has one public endpoint: ``Provider(adapter=...)`` without a
    ``base_url`` uses it (``https://api.anthropic.com/v1``, ...)."""

    default_base_url: str


@runtime_checkable
class VendorDialect(Protocol):
    """A dialect that speaks one vendor's API: ``gen_ai_provider_name`` is that vendor's GenAI
    conventions name (``"anthropic"``, ``"gcp.gemini"``, ``"gcp.vertex_ai"``, ``"aws.bedrock"``),
    which telemetry reports as ``gen_ai.provider.name`` (the provider's own label stays in
    ``openresponses.provider``)."""

    gen_ai_provider_name: str


@runtime_checkable
class HasRequestIdHeaders(Protocol):
    """A dialect whose vendor names its request id header differently (Anthropic ``request-id``,
    AWS ``x-amzn-requestid``): the transport reads the first present, else ``x-request-id``."""

    request_id_headers: tuple[str, ...]


@runtime_checkable
class SigningDialect(Protocol):
    """A dialect that authenticates each request from its exact bytes (AWS SigV4) or from a
    refreshed token (Google OAuth) instead of a static key.

    ``sign`` gets the final method, URL, headers and body and returns headers to add; the HTTP
    transport calls it last, after every other header is set. It may do I/O (a token refresh),
    so it is async; credentials it loads stay inside it and never reach a repr or an error.
    """

    async def sign(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> Mapping[str, str]: ...


@runtime_checkable
class HasStreamContentType(Protocol):
    """A dialect whose streamed replies are not ``text/event-stream`` (Bedrock's
    ``application/vnd.amazon.eventstream``): the transport accepts this content type instead."""

    stream_content_type: str


#: How a stream decoder treats a ``sequence_number`` not above the previous one: ``"strict"``
#: raises ``ProtocolError``; ``"lenient"`` drops the event and logs one warning per stream.
SequencePolicy = Literal["strict", "lenient"]


class OpenResponsesStreamDecoder:
    """SSE bytes to typed events: the WHATWG decoder, then one pydantic-core parse per chunk.

    It also holds the stream to R43 (``sequence_number`` strictly increases; gaps are allowed):
    a duplicate or decreasing number raises :class:`~openresponses.ProtocolError` naming both
    numbers (``sequence="strict"``, the default), or, with ``sequence="lenient"``, the event is
    dropped, counted in :attr:`dropped` and logged once per stream (a warning on the
    ``openresponses`` logger). Events without a number (extension events may omit it) pass.
    ``max_event_size`` bounds one SSE event (:data:`~openresponses._sse.DEFAULT_MAX_EVENT_SIZE`).
    """

    __slots__ = ("_last", "_lenient", "_provider", "_sse", "dropped")

    def __init__(
        self,
        *,
        max_event_size: int | None = DEFAULT_MAX_EVENT_SIZE,
        sequence: SequencePolicy = "strict",
        provider: str | None = None,
    ) -> None:
        self._sse = SSEDecoder(max_event_size=max_event_size)
        self._lenient = _sequence_policy(sequence, "OpenResponsesStreamDecoder") == "lenient"
        self._last: int | None = None
        self._provider = provider
        #: Events dropped for a duplicate or decreasing ``sequence_number`` (lenient mode).
        self.dropped = 0

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        raw = self._sse.feed(chunk)
        if not raw:
            return []
        try:
            events = decode_events(raw)
        except ProtocolError as exc:
            # The good events before the bad one are delivered first: they must be in order too.
            exc.events = self._in_order(exc.events)
            raise
        return self._in_order(events)

    def close(self) -> list[StreamEvent]:
        pending = self._sse.pending
        self._sse.flush()  # raises a deferred "event too large" error
        if pending.strip():
            raise ProtocolError("The stream ended inside an event (no blank line after it).", data=pending)
        return []

    def _in_order(self, events: list[StreamEvent]) -> list[StreamEvent]:
        """``events`` checked against R43; the same list unless lenient mode dropped some."""
        last = self._last
        kept: list[StreamEvent] | None = None
        for index, event in enumerate(events):
            seq = event.sequence_number
            if seq is None:
                pass
            elif last is None or seq > last:
                last = seq
            elif self._lenient:
                if kept is None:
                    kept = events[:index]
                self._drop(event, seq, last)
                continue
            else:
                self._last = last
                error = ProtocolError(
                    f"Event {event.type!r} has sequence_number {_number(seq)}, not above the previous "
                    f"{_number(last)} ({'a duplicate' if seq == last else 'out of order'}; the spec "
                    "requires strictly increasing numbers). OpenResponsesDialect(sequence='lenient') "
                    "drops such events instead."
                )
                error.events = events[:index] if kept is None else kept
                raise error
            if kept is not None:
                kept.append(event)
        self._last = last
        return events if kept is None else kept

    def _drop(self, event: StreamEvent, seq: int, last: int) -> None:
        self.dropped += 1
        if self.dropped == 1:
            logger.warning(
                "Dropped event %r with sequence_number %s, not above the previous %s (duplicate or "
                "out of order) from provider %r; later drops on this stream are counted, not logged.",
                event.type,
                _number(seq),
                _number(last),
                self._provider,
            )


def _number(value: int) -> str:
    # A hostile 5,000-digit number cannot be printed (int max str digits); nor need it be.
    return str(value) if -(10**18) < value < 10**18 else f"a {value.bit_length()}-bit number"


def _sequence_policy(value: object, owner: str) -> SequencePolicy:
    if value == "strict" or value == "lenient":
        return value
    raise ValueError(f"{owner}: sequence must be 'strict' or 'lenient', got {value!r}")


class OpenResponsesDialect:
    """The Open Responses wire format itself: ``POST /responses`` and ``/responses/compact``.

    ``max_event_size`` bounds one streamed SSE event in bytes (default 16 MiB; ``None``: no
    bound): past it the stream fails with :class:`~openresponses.ProtocolError`.
    ``sequence`` says what a duplicate or decreasing ``sequence_number`` does: ``"strict"``
    (default) fails the stream with ``ProtocolError``; ``"lenient"`` drops the event and logs
    one warning per stream (for servers known to repeat events). docs/architecture.md,
    "Protocol limits", has the rationale.
    """

    name = "open-responses"

    def __init__(
        self, *, max_event_size: int | None = DEFAULT_MAX_EVENT_SIZE, sequence: SequencePolicy = "strict"
    ) -> None:
        self.max_event_size = check_max_event_size(max_event_size, "OpenResponsesDialect")
        self.sequence: SequencePolicy = _sequence_policy(sequence, "OpenResponsesDialect")

    def path(self, request: Request) -> str:
        return "/responses/compact" if request.operation == "compact" else "/responses"

    def auth_headers(self, api_key: str) -> Mapping[str, str]:
        return {"authorization": f"Bearer {api_key}"}

    def headers(self, request: Request) -> Mapping[str, str]:
        return {}

    def encode(self, request: Request) -> bytes:
        body = request.body
        if _carries(getattr(body, "input", None)):
            return _without_carriers(body)
        return body.model_dump_json(exclude_unset=True, by_alias=True).encode()

    def decoder(self, request: Request, *, provider: str) -> StreamDecoder:
        return OpenResponsesStreamDecoder(
            max_event_size=self.max_event_size, sequence=self.sequence, provider=provider
        )

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
        args = []
        if self.max_event_size != DEFAULT_MAX_EVENT_SIZE:
            args.append(f"max_event_size={self.max_event_size!r}")
        if self.sequence != "strict":
            args.append(f"sequence={self.sequence!r}")
        return f"OpenResponsesDialect({', '.join(args)})"


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


def _carries(items: object) -> bool:
    """Whether an input list holds a function call with an ``encrypted_content`` key (an extra)."""
    return isinstance(items, list) and any(
        type(item) is FunctionCallItemParam and (item.__pydantic_extra__ or {}).get("encrypted_content")
        for item in items
    )


def _without_carriers(body: Any) -> bytes:
    """``body`` as JSON without this library's own carriers on function calls.

    Why: the Gemini and chat adapters keep a call's vendor state (a thought signature, a chat
    call's ``extra_content``) in the call's ``encrypted_content``, a key no Open Responses
    function call has; it survives a round trip (``output_to_input``) so the same adapter gets
    it back. A native upstream (a failover to OpenAI, say) would refuse the unknown key, so
    our envelopes (JSON tagged ``openresponses.*``) are left out; anything else is sent as given.
    """
    data = body.model_dump(mode="json", exclude_unset=True, by_alias=True)
    for item in data.get("input") or ():
        if (
            isinstance(item, dict)
            and item.get("type") == "function_call"
            and is_our_envelope(item.get("encrypted_content"))
        ):
            del item["encrypted_content"]
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
