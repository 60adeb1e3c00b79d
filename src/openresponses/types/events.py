"""Streaming events (SSE ``data`` payloads and WebSocket messages) and the fast ``parse_event``.

The event classes are defined in ``_event_models`` and re-exported here; this module holds
what is built over them: the ``KnownStreamEvent`` / ``StreamEvent`` unions, the ``EVENT_TYPES``
registry, the terminal and lifecycle type sets, and the parsers.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Annotated, TypeAlias, TypeGuard, cast

from pydantic import Field, TypeAdapter, ValidationError

from ._base import OpenResponsesModel
from ._event_models import (
    ContentPartAddedEvent,
    ContentPartDoneEvent,
    ErrorEvent,
    FunctionCallArgumentsDeltaEvent,
    FunctionCallArgumentsDoneEvent,
    OutputItemAddedEvent,
    OutputItemDoneEvent,
    OutputTextAnnotationAddedEvent,
    OutputTextDeltaEvent,
    OutputTextDoneEvent,
    ReasoningDeltaEvent,
    ReasoningDoneEvent,
    ReasoningSummaryPartAddedEvent,
    ReasoningSummaryPartDoneEvent,
    ReasoningSummaryTextDeltaEvent,
    ReasoningSummaryTextDoneEvent,
    RefusalDeltaEvent,
    RefusalDoneEvent,
    ResponseCompletedEvent,
    ResponseCreatedEvent,
    ResponseFailedEvent,
    ResponseIncompleteEvent,
    ResponseInProgressEvent,
    ResponseQueuedEvent,
    UnknownEvent,
    WebSocketErrorEvent,
)

__all__ = [
    "EVENT_TYPES",
    "LIFECYCLE_EVENT_TYPES",
    "TERMINAL_EVENT_TYPES",
    "ContentPartAddedEvent",
    "ContentPartDoneEvent",
    "ErrorEvent",
    "FunctionCallArgumentsDeltaEvent",
    "FunctionCallArgumentsDoneEvent",
    "KnownStreamEvent",
    "OutputItemAddedEvent",
    "OutputItemDoneEvent",
    "OutputTextAnnotationAddedEvent",
    "OutputTextDeltaEvent",
    "OutputTextDoneEvent",
    "ReasoningDeltaEvent",
    "ReasoningDoneEvent",
    "ReasoningSummaryPartAddedEvent",
    "ReasoningSummaryPartDoneEvent",
    "ReasoningSummaryTextDeltaEvent",
    "ReasoningSummaryTextDoneEvent",
    "RefusalDeltaEvent",
    "RefusalDoneEvent",
    "ResponseCompletedEvent",
    "ResponseCreatedEvent",
    "ResponseFailedEvent",
    "ResponseInProgressEvent",
    "ResponseIncompleteEvent",
    "ResponseQueuedEvent",
    "StreamEvent",
    "UnknownEvent",
    "WebSocketErrorEvent",
    "is_unknown_event",
    "parse_event",
    "parse_events",
    "validate_event_json",
]


KnownStreamEvent: TypeAlias = (
    ResponseCreatedEvent
    | ResponseQueuedEvent
    | ResponseInProgressEvent
    | ResponseCompletedEvent
    | ResponseFailedEvent
    | ResponseIncompleteEvent
    | OutputItemAddedEvent
    | OutputItemDoneEvent
    | ContentPartAddedEvent
    | ContentPartDoneEvent
    | OutputTextDeltaEvent
    | OutputTextDoneEvent
    | OutputTextAnnotationAddedEvent
    | RefusalDeltaEvent
    | RefusalDoneEvent
    | FunctionCallArgumentsDeltaEvent
    | FunctionCallArgumentsDoneEvent
    | ReasoningDeltaEvent
    | ReasoningDoneEvent
    | ReasoningSummaryPartAddedEvent
    | ReasoningSummaryPartDoneEvent
    | ReasoningSummaryTextDeltaEvent
    | ReasoningSummaryTextDoneEvent
    | ErrorEvent
)
"""The 24 standard events of the spec."""

if TYPE_CHECKING:
    # Type checkers see only classes whose ``type`` is a Literal: mypy and pyright narrow such a union
    # on ``event.type == "response.output_text.delta"``, and one member typed ``type: str``
    # (UnknownEvent) stops the narrowing for every branch. Unknown events still arrive at run time;
    # ``is_unknown_event(event)`` is the typed way to pick them out (as openai-python, whose event
    # union also lists only the known events).
    StreamEvent: TypeAlias = KnownStreamEvent | WebSocketErrorEvent
else:
    StreamEvent: TypeAlias = KnownStreamEvent | WebSocketErrorEvent | UnknownEvent
"""Anything ``parse_event`` returns: a standard event, a WebSocket error or an unknown event.

Match on ``event.type == "..."`` (type checkers narrow it to the event's class) or on
``isinstance``; extension events (``UnknownEvent``) are picked out with :func:`is_unknown_event`.
"""


def is_unknown_event(event: object, type: str | None = None) -> TypeGuard[UnknownEvent]:
    """``True`` for an event of a type this client does not model (``acme:trace``, this library's
    ``openresponses:stream.restarted``), and of type ``type`` when given; narrows ``event`` to
    :class:`UnknownEvent`::

        for event in stream:
            if event.type == "response.output_text.delta":
                print(event.delta, end="")
            elif is_unknown_event(event, "openresponses:stream.restarted"):
                print("(restarted on", event.model_extra["to"], ")")

    Use it rather than ``isinstance(event, UnknownEvent)`` in type-checked code: the stream's
    static event type leaves ``UnknownEvent`` out so that ``event.type == "..."`` narrows, and a
    type checker would take the ``isinstance`` branch for unreachable. Pass the extension's name
    as ``type`` rather than comparing ``event.type`` after earlier ``event.type ==`` branches:
    mypy keeps its narrowing of ``event.type`` from those and would call the comparison
    non-overlapping.
    """
    return isinstance(event, UnknownEvent) and (type is None or event.type == type)


_KNOWN_EVENT_CLASSES: tuple[type[OpenResponsesModel], ...] = (
    ResponseCreatedEvent,
    ResponseQueuedEvent,
    ResponseInProgressEvent,
    ResponseCompletedEvent,
    ResponseFailedEvent,
    ResponseIncompleteEvent,
    OutputItemAddedEvent,
    OutputItemDoneEvent,
    ContentPartAddedEvent,
    ContentPartDoneEvent,
    OutputTextDeltaEvent,
    OutputTextDoneEvent,
    OutputTextAnnotationAddedEvent,
    RefusalDeltaEvent,
    RefusalDoneEvent,
    FunctionCallArgumentsDeltaEvent,
    FunctionCallArgumentsDoneEvent,
    ReasoningDeltaEvent,
    ReasoningDoneEvent,
    ReasoningSummaryPartAddedEvent,
    ReasoningSummaryPartDoneEvent,
    ReasoningSummaryTextDeltaEvent,
    ReasoningSummaryTextDoneEvent,
    ErrorEvent,
)

EVENT_TYPES: Mapping[str, type[OpenResponsesModel]] = MappingProxyType(
    {cls.model_fields["type"].default: cls for cls in _KNOWN_EVENT_CLASSES}
)
"""Event ``type`` string → event class, for the 24 standard events."""

TERMINAL_EVENT_TYPES = frozenset({"response.completed", "response.failed", "response.incomplete"})
LIFECYCLE_EVENT_TYPES = frozenset({"response.created", "response.queued", "response.in_progress"})

_EVENT_ADAPTER: TypeAdapter[KnownStreamEvent] = TypeAdapter(
    Annotated[KnownStreamEvent, Field(discriminator="type")]
)
_EVENT_LIST_ADAPTER: TypeAdapter[list[KnownStreamEvent]] = TypeAdapter(
    list[Annotated[KnownStreamEvent, Field(discriminator="type")]]
)
# The core validators, called directly on the hot path (``TypeAdapter.validate_json`` is a Python
# wrapper that only forwards its default options).
validate_event_json = _EVENT_ADAPTER.validator.validate_json
"""``validate_event_json(data)``: one JSON payload (``bytes`` or ``str``) as a *standard* event.

The strict first step of :func:`parse_event`, without its fallbacks: an unknown ``type`` or a
WebSocket ``error`` message raises ``ValidationError`` here instead of becoming ``UnknownEvent`` /
``WebSocketErrorEvent``. For decoders that try it first and fall back to ``parse_event`` only when
it fails (one pydantic-core call on the hot path).
"""
_validate_event = validate_event_json  # the former private name
_validate_event_list = _EVENT_LIST_ADAPTER.validator.validate_json


def _is_unknown_tag(exc: ValidationError) -> bool:
    errors = exc.errors(include_url=False, include_context=False, include_input=False)
    return len(errors) == 1 and errors[0]["type"] == "union_tag_invalid" and errors[0]["loc"] == ()


def _is_error_tag(exc: ValidationError) -> bool:
    errors = exc.errors(include_url=False, include_context=False, include_input=False)
    return bool(errors) and all(err["loc"][:1] == ("error",) for err in errors)


def parse_event(data: bytes | str) -> StreamEvent:
    """Decode one SSE ``data`` payload (or WebSocket message) into an event.

    Unknown ``type`` values become ``UnknownEvent``. Anything else that does not match the
    spec (bad JSON, a missing required field of a known event) raises ``ValidationError``.
    """
    try:
        return validate_event_json(data)  # type: ignore[no-any-return]
    except ValidationError as exc:
        if _is_unknown_tag(exc):
            return cast("StreamEvent", UnknownEvent.model_validate_json(data))  # see StreamEvent
        if _is_error_tag(exc):
            try:
                return WebSocketErrorEvent.model_validate_json(data)
            except ValidationError:
                pass
        raise


def parse_events(payloads: list[bytes]) -> list[StreamEvent]:
    """Decode a batch of payloads; one pydantic-core call when every event is standard."""
    if not payloads:
        return []
    try:
        events: list[StreamEvent] = list(_validate_event_list(b"[" + b",".join(payloads) + b"]"))
    except ValidationError:
        events = []
    if len(events) != len(payloads):
        # An unknown/odd event (or a payload that is not exactly one JSON value): go one by one.
        return [parse_event(payload) for payload in payloads]
    return events
