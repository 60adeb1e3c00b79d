"""The streaming event models: the spec's 24 standard events, the WebSocket error, unknown events.

One pydantic class per event ``type``, grouped as the spec groups them (lifecycle, items and
parts, text and refusal, function calls, reasoning, errors). The union over them, the
``type`` registry and the fast parsers are in :mod:`openresponses.types.events`, the public
path (with ``openresponses.types``) for every name here.
"""

from __future__ import annotations

from typing import Literal

from ._base import OpenResponsesModel
from .content import Annotation, ContentPart, LogProb
from .items import OutputItem
from .response import ErrorDetail, ErrorPayload, Response

__all__ = [
    "ContentPartAddedEvent",
    "ContentPartDoneEvent",
    "ErrorEvent",
    "FunctionCallArgumentsDeltaEvent",
    "FunctionCallArgumentsDoneEvent",
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
    "UnknownEvent",
    "WebSocketErrorEvent",
]


# --------------------------------------------------------------------------- response lifecycle


class ResponseCreatedEvent(OpenResponsesModel):
    """``response.created``: the response was created (snapshot in ``response``)."""

    type: Literal["response.created"] = "response.created"
    sequence_number: int
    response: Response


class ResponseQueuedEvent(OpenResponsesModel):
    """``response.queued``: the response is waiting to be processed."""

    type: Literal["response.queued"] = "response.queued"
    sequence_number: int
    response: Response


class ResponseInProgressEvent(OpenResponsesModel):
    """``response.in_progress``: generation started."""

    type: Literal["response.in_progress"] = "response.in_progress"
    sequence_number: int
    response: Response


class ResponseCompletedEvent(OpenResponsesModel):
    """``response.completed`` (terminal): the final response with full output and usage."""

    type: Literal["response.completed"] = "response.completed"
    sequence_number: int
    response: Response


class ResponseFailedEvent(OpenResponsesModel):
    """``response.failed`` (terminal): the response failed; see ``response.error``."""

    type: Literal["response.failed"] = "response.failed"
    sequence_number: int
    response: Response


class ResponseIncompleteEvent(OpenResponsesModel):
    """``response.incomplete`` (terminal): stopped early; see ``response.incomplete_details``."""

    type: Literal["response.incomplete"] = "response.incomplete"
    sequence_number: int
    response: Response


# --------------------------------------------------------------------------- items and parts


class OutputItemAddedEvent(OpenResponsesModel):
    """``response.output_item.added``: a new output item started (first snapshot)."""

    type: Literal["response.output_item.added"] = "response.output_item.added"
    sequence_number: int
    output_index: int
    item: OutputItem | None


class OutputItemDoneEvent(OpenResponsesModel):
    """``response.output_item.done``: an output item finished (final item)."""

    type: Literal["response.output_item.done"] = "response.output_item.done"
    sequence_number: int
    output_index: int
    item: OutputItem | None


class ContentPartAddedEvent(OpenResponsesModel):
    """``response.content_part.added``: a content part of an item started."""

    type: Literal["response.content_part.added"] = "response.content_part.added"
    sequence_number: int
    item_id: str
    output_index: int
    content_index: int
    part: ContentPart


class ContentPartDoneEvent(OpenResponsesModel):
    """``response.content_part.done``: a content part finished (full part)."""

    type: Literal["response.content_part.done"] = "response.content_part.done"
    sequence_number: int
    item_id: str
    output_index: int
    content_index: int
    part: ContentPart


# --------------------------------------------------------------------------- output text / refusal


class OutputTextDeltaEvent(OpenResponsesModel):
    """``response.output_text.delta``: a chunk of output text."""

    type: Literal["response.output_text.delta"] = "response.output_text.delta"
    sequence_number: int
    item_id: str
    output_index: int
    content_index: int
    delta: str
    logprobs: list[LogProb] | None = None
    obfuscation: str | None = None
    """Random padding (``stream_options.include_obfuscation``); ignore it."""


class OutputTextDoneEvent(OpenResponsesModel):
    """``response.output_text.done``: the full text of an ``output_text`` part."""

    type: Literal["response.output_text.done"] = "response.output_text.done"
    sequence_number: int
    item_id: str
    output_index: int
    content_index: int
    text: str
    logprobs: list[LogProb] | None = None


class OutputTextAnnotationAddedEvent(OpenResponsesModel):
    """``response.output_text.annotation.added``: an annotation was attached to output text."""

    type: Literal["response.output_text.annotation.added"] = "response.output_text.annotation.added"
    sequence_number: int
    item_id: str
    output_index: int
    content_index: int
    annotation_index: int
    annotation: Annotation | None


class RefusalDeltaEvent(OpenResponsesModel):
    """``response.refusal.delta``: a chunk of refusal text."""

    type: Literal["response.refusal.delta"] = "response.refusal.delta"
    sequence_number: int
    item_id: str
    output_index: int
    content_index: int
    delta: str


class RefusalDoneEvent(OpenResponsesModel):
    """``response.refusal.done``: the full refusal text."""

    type: Literal["response.refusal.done"] = "response.refusal.done"
    sequence_number: int
    item_id: str
    output_index: int
    content_index: int
    refusal: str


# --------------------------------------------------------------------------- function calls


class FunctionCallArgumentsDeltaEvent(OpenResponsesModel):
    """``response.function_call_arguments.delta``: a chunk of JSON arguments."""

    type: Literal["response.function_call_arguments.delta"] = "response.function_call_arguments.delta"
    sequence_number: int
    item_id: str
    output_index: int
    delta: str
    obfuscation: str | None = None


class FunctionCallArgumentsDoneEvent(OpenResponsesModel):
    """``response.function_call_arguments.done``: the full JSON arguments."""

    type: Literal["response.function_call_arguments.done"] = "response.function_call_arguments.done"
    sequence_number: int
    item_id: str
    output_index: int
    arguments: str


# --------------------------------------------------------------------------- reasoning


class ReasoningDeltaEvent(OpenResponsesModel):
    """``response.reasoning.delta``: a chunk of raw reasoning text (OpenAI: ``reasoning_text.delta``)."""

    type: Literal["response.reasoning.delta"] = "response.reasoning.delta"
    sequence_number: int
    item_id: str
    output_index: int
    content_index: int
    delta: str
    obfuscation: str | None = None


class ReasoningDoneEvent(OpenResponsesModel):
    """``response.reasoning.done``: the full raw reasoning text of a part."""

    type: Literal["response.reasoning.done"] = "response.reasoning.done"
    sequence_number: int
    item_id: str
    output_index: int
    content_index: int
    text: str


class ReasoningSummaryPartAddedEvent(OpenResponsesModel):
    """``response.reasoning_summary_part.added``: a reasoning summary part started."""

    type: Literal["response.reasoning_summary_part.added"] = "response.reasoning_summary_part.added"
    sequence_number: int
    item_id: str
    output_index: int
    summary_index: int
    part: ContentPart


class ReasoningSummaryPartDoneEvent(OpenResponsesModel):
    """``response.reasoning_summary_part.done``: a reasoning summary part finished."""

    type: Literal["response.reasoning_summary_part.done"] = "response.reasoning_summary_part.done"
    sequence_number: int
    item_id: str
    output_index: int
    summary_index: int
    part: ContentPart


class ReasoningSummaryTextDeltaEvent(OpenResponsesModel):
    """``response.reasoning_summary_text.delta``: a chunk of reasoning summary text."""

    type: Literal["response.reasoning_summary_text.delta"] = "response.reasoning_summary_text.delta"
    sequence_number: int
    item_id: str
    output_index: int
    summary_index: int
    delta: str
    obfuscation: str | None = None


class ReasoningSummaryTextDoneEvent(OpenResponsesModel):
    """``response.reasoning_summary_text.done``: the full text of a reasoning summary part."""

    type: Literal["response.reasoning_summary_text.done"] = "response.reasoning_summary_text.done"
    sequence_number: int
    item_id: str
    output_index: int
    summary_index: int
    text: str


# --------------------------------------------------------------------------- errors / unknown


class ErrorEvent(OpenResponsesModel):
    """``error``: an error during streaming; a ``response.failed`` event follows."""

    type: Literal["error"] = "error"
    sequence_number: int
    error: ErrorPayload


class WebSocketErrorEvent(OpenResponsesModel):
    """A WebSocket failure envelope ``{type:"error", status, error:{code, message, type?, param?}}``.

    Shares the ``error`` tag with ``ErrorEvent``; ``parse_event`` falls back to it when an
    ``error`` payload does not fit ``ErrorEvent``.
    """

    type: Literal["error"] = "error"
    status: int
    """HTTP-like status code."""
    error: ErrorDetail
    """``code`` is e.g. ``previous_response_not_found`` or ``websocket_connection_limit_reached``."""
    sequence_number: int | None = None


class UnknownEvent(OpenResponsesModel):
    """An event of a type this client does not know (e.g. ``acme:trace``); all fields are kept.

    Delivered like any other event; select it with :func:`is_unknown_event` (see ``StreamEvent``).
    """

    type: str
    sequence_number: int | None = None
