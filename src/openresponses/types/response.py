"""Response objects: ``Response`` (spec ``ResponseResource``), ``CompactResponse`` and errors."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import PrivateAttr

from ._base import OpenResponsesModel
from .content import OutputTextContent
from .items import Message, OutputItem
from .text import TextField
from .tools import Tool, ToolChoice

__all__ = [
    "CompactResponse",
    "ErrorBody",
    "ErrorDetail",
    "ErrorPayload",
    "IncompleteDetails",
    "InputTokensDetails",
    "OutputTokensDetails",
    "ReasoningConfig",
    "Response",
    "ResponseError",
    "Usage",
]


class InputTokensDetails(OpenResponsesModel):
    """Breakdown of input tokens."""

    cached_tokens: int
    """Input tokens served from the prompt cache."""


class OutputTokensDetails(OpenResponsesModel):
    """Breakdown of output tokens."""

    reasoning_tokens: int
    """Output tokens spent on reasoning."""


class Usage(OpenResponsesModel):
    """Token usage of a response."""

    input_tokens: int
    output_tokens: int
    total_tokens: int
    input_tokens_details: InputTokensDetails
    output_tokens_details: OutputTokensDetails


class IncompleteDetails(OpenResponsesModel):
    """Why a response is incomplete (e.g. ``max_output_tokens``)."""

    reason: str


class ResponseError(OpenResponsesModel):
    """The ``error`` of a failed response (spec ``Error``)."""

    code: str
    message: str


class ReasoningConfig(OpenResponsesModel):
    """The reasoning configuration echoed in a response (spec ``Reasoning``)."""

    effort: str | None
    """Normally ``none``, ``low``, ``medium``, ``high`` or ``xhigh``."""
    summary: str | None
    """Normally ``concise``, ``detailed`` or ``auto``."""


class Response(OpenResponsesModel):
    """A response (spec ``ResponseResource``). All 31 keys are required; nullable ones may be ``None``.

    ``status`` is normally ``queued``, ``in_progress``, ``completed``, ``failed`` or
    ``incomplete``; non-standard values are kept.
    """

    id: str
    object: Literal["response"] = "response"
    created_at: int
    """Unix timestamp (seconds)."""
    completed_at: int | None
    status: str
    incomplete_details: IncompleteDetails | None
    model: str
    previous_response_id: str | None
    instructions: str | None
    output: list[OutputItem]
    error: ResponseError | None
    tools: list[Tool]
    tool_choice: ToolChoice
    truncation: str
    """Normally ``auto`` or ``disabled``."""
    parallel_tool_calls: bool
    text: TextField
    top_p: float
    presence_penalty: float
    frequency_penalty: float
    top_logprobs: int
    temperature: float
    reasoning: ReasoningConfig | None
    usage: Usage | None
    max_output_tokens: int | None
    max_tool_calls: int | None
    store: bool
    background: bool
    service_tier: str
    metadata: dict[str, Any] | None
    safety_identifier: str | None
    prompt_cache_key: str | None

    _provider: str | None = PrivateAttr(default=None)
    _request_id: str | None = PrivateAttr(default=None)

    @property
    def provider(self) -> str | None:
        """Name of the provider that served this response (set by the client; not part of the body)."""
        return self._provider

    @property
    def request_id(self) -> str | None:
        """The upstream's own request id (``x-request-id``, Anthropic's ``request-id``, ...), when
        its reply carried one: what a vendor's support asks for. Not part of the body."""
        return self._request_id

    @property
    def output_text(self) -> str:
        """Concatenated text of every ``output_text`` part of every ``message`` item, in order."""
        return "".join(
            part.text
            for item in self.output
            if isinstance(item, Message)
            for part in item.content
            if isinstance(part, OutputTextContent)
        )


class CompactResponse(OpenResponsesModel):
    """Result of ``POST /responses/compact`` (spec ``CompactResource``): a compacted input window."""

    id: str
    object: Literal["response.compaction"] = "response.compaction"
    output: list[OutputItem]
    """Items to use as the base ``input`` of a new chain (may contain ``compaction`` items)."""
    created_at: int
    usage: Usage


class ErrorPayload(OpenResponsesModel):
    """The ``error`` of a streaming ``error`` event.

    The spec requires ``code`` and ``param`` (nullable); they default to ``None`` here so that a
    provider omitting them still surfaces its real error message instead of a parse failure.
    """

    type: str
    """Error category, e.g. ``server_error``, ``invalid_request``, ``too_many_requests``."""
    code: str | None = None
    message: str
    param: str | None = None
    """The request parameter the error relates to, if any."""
    headers: dict[str, str] | None = None
    """Response headers emitted with the error, if any."""


class ErrorDetail(OpenResponsesModel):
    """The ``error`` object of an HTTP error body or WebSocket error; providers vary, so only a
    best effort ``message`` is expected."""

    message: str | None = None
    type: str | None = None
    param: str | None = None
    code: str | int | None = None


class ErrorBody(OpenResponsesModel):
    """An HTTP error body: ``{"error": {"message", "type", "param", "code"}}``."""

    error: ErrorDetail
