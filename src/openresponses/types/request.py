"""Request bodies: ``POST /responses`` (``CreateResponseBody``) and ``POST /responses/compact``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints, field_validator, model_validator

from ._base import OpenResponsesModel
from .enums import IncludeValue, ReasoningEffort, ReasoningSummary, ServiceTier, Truncation
from .items import InputItem, ReasoningItem
from .text import TextParam
from .tools import ToolChoice, ToolParam

__all__ = [
    "CompactResponseBody",
    "CreateResponseBody",
    "Metadata",
    "ReasoningParam",
    "StreamOptions",
    "WebSocketResponseCreateEvent",
]

Metadata = Annotated[
    dict[
        Annotated[str, StringConstraints(strict=True, max_length=64)],
        Annotated[str, StringConstraints(strict=True, max_length=512)],
    ],
    Field(max_length=16),
]
"""Spec ``MetadataParam``: at most 16 string pairs, keys at most 64 characters, values 512."""

# Scalars are strict: ``temperature="0.5"``, ``store=1`` or ``max_output_tokens=True`` are
# mistakes to name, not values to coerce; an int is still a valid number. Floats must be finite:
# JSON has no NaN (a serializer would send ``null``, changing the meaning silently).
_Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
_Str = Annotated[str, Field(strict=True)]
_Flag = Annotated[bool, Field(strict=True)]
_MAX_INPUT_CHARS = 10_485_760  # the spec's maxLength of a string input


class ReasoningParam(OpenResponsesModel):
    """The ``reasoning`` request option."""

    effort: ReasoningEffort | None = None
    """How much effort the model spends reasoning (``none`` … ``xhigh``)."""
    summary: ReasoningSummary | None = None
    """Whether and how to summarise reasoning (``concise``, ``detailed``, ``auto``)."""


class StreamOptions(OpenResponsesModel):
    """The ``stream_options`` request option."""

    include_obfuscation: _Flag | None = None
    """Add random ``obfuscation`` padding to delta events (mitigates side channels)."""


def _coerce_input_item(item: Any) -> Any:
    if not isinstance(item, BaseModel):
        return item
    data = item.model_dump(mode="json", exclude_unset=True, by_alias=True)
    if isinstance(item, ReasoningItem) and data.get("content") is not None:
        # Raw reasoning content may only be null on input; the summary and the
        # encrypted content are what round-trips.
        del data["content"]
    return data


def coerce_input(value: Any) -> Any:
    """Turn model instances in an ``input`` list (including output items) into wire dicts."""
    if isinstance(value, list | tuple):
        return [_coerce_input_item(item) for item in value]
    return value


class CreateResponseBody(OpenResponsesModel):
    """Body of ``POST /responses``. Every field is optional; only the fields you set are sent.

    ``input`` accepts a string (one user message) or a list mixing dicts, input item models
    and output items taken from a previous ``Response`` (``Message``, ``FunctionCall``, ...).
    """

    model: _Str | None = None
    input: (
        Annotated[str, StringConstraints(strict=True, max_length=_MAX_INPUT_CHARS)] | list[InputItem] | None
    ) = None
    """A string (one user message) or a list of input items."""
    previous_response_id: _Str | None = None
    """Continue from this response: its input and output become context."""
    include: list[IncludeValue] | None = None
    tools: list[ToolParam] | None = None
    tool_choice: ToolChoice | None = None
    metadata: Metadata | None = None
    text: TextParam | None = None
    temperature: _Number | None = None
    top_p: _Number | None = None
    presence_penalty: _Number | None = None
    frequency_penalty: _Number | None = None
    parallel_tool_calls: _Flag | None = None
    stream: _Flag | None = None
    stream_options: StreamOptions | None = None
    background: _Flag | None = None
    max_output_tokens: Annotated[int, Field(strict=True, ge=16)] | None = None
    """Upper bound on generated tokens (at least 16)."""
    max_tool_calls: Annotated[int, Field(strict=True, ge=1)] | None = None
    reasoning: ReasoningParam | None = None
    safety_identifier: Annotated[str, StringConstraints(strict=True, max_length=64)] | None = None
    """A stable, hashed identifier of the end user (at most 64 characters)."""
    prompt_cache_key: Annotated[str, StringConstraints(strict=True, max_length=64)] | None = None
    """Key used to improve prompt-cache hit rates (at most 64 characters)."""
    truncation: Truncation | None = None
    instructions: _Str | None = None
    store: _Flag | None = None
    service_tier: ServiceTier | None = None
    top_logprobs: Annotated[int, Field(strict=True, ge=0, le=20)] | None = None

    @field_validator("input", mode="before")
    @classmethod
    def _coerce_input(cls, value: Any) -> Any:
        return coerce_input(value)


class CompactResponseBody(OpenResponsesModel):
    """Body of ``POST /responses/compact`` (spec ``CompactResponseMethodPublicBody``)."""

    model: _Str
    input: (
        Annotated[str, StringConstraints(strict=True, max_length=_MAX_INPUT_CHARS)] | list[InputItem] | None
    ) = None
    previous_response_id: _Str | None = None
    instructions: _Str | None = None
    prompt_cache_key: Annotated[str, StringConstraints(strict=True, max_length=64)] | None = None

    @field_validator("input", mode="before")
    @classmethod
    def _coerce_input(cls, value: Any) -> Any:
        return coerce_input(value)


_WS_FORBIDDEN = ("stream", "stream_options", "background")


class WebSocketResponseCreateEvent(CreateResponseBody):
    """Client message starting a turn over WebSocket: a create body with ``type: "response.create"``.

    ``stream``, ``stream_options`` and ``background`` must not be sent over WebSocket.
    """

    type: Literal["response.create"] = "response.create"

    @model_validator(mode="after")
    def _no_stream_fields(self) -> WebSocketResponseCreateEvent:
        present = [name for name in _WS_FORBIDDEN if name in self.model_fields_set]
        if present:
            raise ValueError(f"{', '.join(present)} must not be sent over WebSocket")
        return self
