"""The WebSocket wire format of Open Responses, sans I/O: turn messages out, events in.

A turn starts with one ``response.create`` message (README §9, R54): the create body with
``type`` added and without ``stream``, ``stream_options`` or ``background`` (R55). The server
answers with the same event objects as SSE, one JSON message each (R57), or with an error
envelope ``{type:"error", status, error:{code, message, type?, param?}}`` (R69).

:class:`TurnDecoder` turns the messages of one turn into typed events, holds the stream to
R43 (``sequence_number`` strictly increases within a response), keeps unknown event types and
unknown fields as they are (``UnknownEvent``, extra fields: never fatal) and raises the typed
error of an envelope: :class:`WebSocketLimitReached` for ``websocket_connection_limit_reached``,
the :class:`~openresponses.APIStatusError` of its status otherwise. Routing by ``stream_id``
lanes is left to :meth:`TurnDecoder.lane_of`, the one place a future multiplexing server
would be dispatched from; today every message belongs to the turn in flight.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from .._decode import first_error
from .._errors import APIStatusError, ProtocolError, RequestValidationError, status_error_class
from ..types import CreateResponseBody, ErrorDetail, StreamEvent, WebSocketErrorEvent, parse_event
from ..types.events import TERMINAL_EVENT_TYPES, validate_event_json

__all__ = [
    "FORBIDDEN_FIELDS",
    "LIMIT_REACHED",
    "PREVIOUS_NOT_FOUND",
    "TurnDecoder",
    "WebSocketLimitReached",
    "encode_create",
    "envelope_error",
    "is_envelope",
]

#: Body fields a WebSocket ``response.create`` never carries (R55).
FORBIDDEN_FIELDS = ("stream", "stream_options", "background")
#: The two envelope codes a client must handle (R69).
LIMIT_REACHED = "websocket_connection_limit_reached"
PREVIOUS_NOT_FOUND = "previous_response_not_found"

_CREATE_PREFIX = b'{"type":"response.create"'


class WebSocketLimitReached(APIStatusError):
    """The server ended the connection's lifetime (``websocket_connection_limit_reached``, R67).

    The turn that met it was not processed. The transport opens a new connection; whether it
    sends the turn again is the connection's rule (only when the chain can continue: ``store``
    not false), never a silent replay otherwise.
    """


def encode_create(body: CreateResponseBody) -> bytes:
    """The ``response.create`` message for ``body``: its set fields plus ``type``, never ``stream``.

    ``stream: true`` is what a WebSocket turn means, so it is dropped silently; ``stream_options``
    and ``background`` cannot be carried and raise :class:`~openresponses.RequestValidationError`
    naming them, before anything is sent.
    """
    present = [name for name in FORBIDDEN_FIELDS[1:] if name in body.model_fields_set]
    if present:
        raise RequestValidationError(
            f"{', '.join(present)} cannot be sent over a WebSocket (the spec forbids them in "
            "response.create); drop them, or use HTTP streaming for background responses",
            [{"loc": (name,), "msg": "not allowed over WebSocket", "type": "websocket"} for name in present],
        )
    exclude = {"stream"} if "stream" in body.model_fields_set else None
    data = body.__pydantic_serializer__.to_json(body, by_alias=True, exclude_unset=True, exclude=exclude)
    if data == b"{}":
        return _CREATE_PREFIX + b"}"
    return _CREATE_PREFIX + b"," + data[1:]


def is_envelope(data: Mapping[str, Any]) -> bool:
    """Whether a decoded ``error`` message is a WebSocket envelope (it carries ``status``)."""
    return (
        data.get("type") == "error" and isinstance(data.get("status"), int) and "sequence_number" not in data
    )


def envelope_error(event: WebSocketErrorEvent, *, provider: str) -> APIStatusError:
    """The typed error for an envelope: the class of its status, the spec error attached.

    ``websocket_connection_limit_reached`` is a :class:`WebSocketLimitReached` whatever the
    status. The message names the status, the provider, the server's message and code.
    """
    status = event.status if 100 <= event.status <= 599 else 500
    detail: ErrorDetail = event.error
    text = detail.message or "error"
    code = None if detail.code is None else str(detail.code)
    if code:
        text += f" (code {code})"
    cls: type[APIStatusError] = WebSocketLimitReached if code == LIMIT_REACHED else status_error_class(status)
    kwargs: dict[str, Any] = {
        "status_code": status,
        "body": event.to_dict(),
        "error": detail,
        "headers": {},
        "provider": provider,
    }
    error = cls(f"WebSocket error {status} from {provider!r}: {text[:500]}", **kwargs)
    if cls is WebSocketLimitReached:
        error.retryable = False  # the transport reconnects itself; a blind retry would replay
    return error


class TurnDecoder:
    """The messages of one turn in (text or bytes), typed events out.

    ``feed`` returns the message's events (zero or one: an event, or nothing for a lane that
    is not this turn's); it raises :class:`~openresponses.ProtocolError` for a message that is
    not an event (invalid JSON, a known event with a missing field, a decreasing
    ``sequence_number``), and the typed error for an envelope. ``ended`` is true once the
    turn's terminal event went by.
    """

    __slots__ = ("_last", "_provider", "ended", "events")

    def __init__(self, *, provider: str) -> None:
        self._provider = provider
        self._last: int | None = None
        #: Events decoded so far in this turn.
        self.events = 0
        #: Whether the terminal event (completed / incomplete / failed) was decoded.
        self.ended = False

    def lane_of(self, event: StreamEvent) -> str | None:
        """The lane an event belongs to (``stream_id``), ``None`` for the turn in flight.

        Every event goes to the turn in flight today (R58: one response per connection); a
        server that multiplexes would be dispatched from here, by lane.
        """
        return None

    def feed(self, message: str | bytes) -> list[StreamEvent]:
        """Decode one message (see the class docstring)."""
        try:
            event: StreamEvent = validate_event_json(message)
        except ValidationError:
            event = self._slow(message)
        if event.type == "error" and isinstance(event, WebSocketErrorEvent):
            raise envelope_error(event, provider=self._provider)
        seq = event.sequence_number
        if seq is not None:
            if self._last is not None and seq <= self._last:
                raise ProtocolError(
                    f"Event {event.type!r} has sequence_number {seq}, not above the previous {self._last} "
                    "(the spec requires strictly increasing numbers).",
                    data=_bytes(message),
                )
            self._last = seq
        self.events += 1
        if event.type in TERMINAL_EVENT_TYPES:
            self.ended = True
        return [event]

    def _slow(self, message: str | bytes) -> StreamEvent:
        """An unknown event, an envelope, or a message that is not an event at all."""
        try:
            data = json.loads(message)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ProtocolError(
                f"Invalid WebSocket message: not JSON ({exc})", data=_bytes(message)
            ) from None
        if not isinstance(data, dict) or not isinstance(data.get("type"), str):
            raise ProtocolError(
                "Invalid WebSocket message: not an event object with a type", data=_bytes(message)
            )
        if is_envelope(data):
            try:
                return WebSocketErrorEvent.model_validate(data)
            except ValidationError as exc:
                raise ProtocolError(
                    f"Invalid WebSocket error envelope: {first_error(exc)}", data=_bytes(message)
                ) from None
        try:
            return parse_event(message)
        except ValidationError as exc:
            raise ProtocolError(f"Invalid event: {first_error(exc)}", data=_bytes(message)) from None


def _bytes(message: str | bytes) -> bytes:
    return message if isinstance(message, bytes) else message.encode("utf-8", "replace")
