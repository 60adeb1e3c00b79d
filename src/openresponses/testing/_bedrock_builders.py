"""Builders of Bedrock Converse scenarios: the event sequences Bedrock really sends.

Each returns a frozen :class:`~._bedrock_scenario.BedrockScenario` and checks its arguments
before anything is sent. The sequences follow the ConverseStream order: ``messageStart``;
per content block deltas (text and reasoning without a ``contentBlockStart``, tool calls after
one) and a ``contentBlockStop``; ``messageStop`` with the stop reason; then ``metadata`` with the
usage and metrics.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence

from ._bedrock_scenario import (
    EXCEPTION_STATUS,
    BedrockEvent,
    BedrockFault,
    BedrockHTTPError,
    BedrockScenario,
    BedrockUsage,
    event,
)

__all__ = [
    "STOP_REASONS",
    "bedrock_cut",
    "bedrock_events",
    "bedrock_exception",
    "bedrock_stall",
    "bedrock_status",
    "bedrock_text",
    "bedrock_tool_calls",
]

#: Every ``stopReason`` of the service model.
STOP_REASONS = (
    "end_turn",
    "tool_use",
    "max_tokens",
    "stop_sequence",
    "guardrail_intervened",
    "content_filtered",
    "malformed_model_output",
    "malformed_tool_use",
    "model_context_window_exceeded",
)

Chunks = int | Sequence[str] | None
#: The usage the builders report unless told otherwise.
DEFAULT_USAGE = BedrockUsage()


def _split(text: str, chunks: Chunks) -> list[str]:
    if chunks is None:
        words = text.split(" ")
        return [word + (" " if position < len(words) - 1 else "") for position, word in enumerate(words)]
    if isinstance(chunks, int):
        if chunks < 1:
            raise ValueError("chunks must be >= 1")
        size = max(1, -(-len(text) // chunks))
        return [text[i : i + size] for i in range(0, len(text), size)] or [""]
    if "".join(chunks) != text:
        raise ValueError("the chunks must join to the text")
    return list(chunks)


def _reasoning(
    index: int, reasoning: str | None, signature: str | None, redacted: bytes | None
) -> list[BedrockEvent]:
    events: list[BedrockEvent] = []
    if redacted is not None:
        blob = base64.b64encode(redacted).decode()
        events.append(
            event(
                "contentBlockDelta",
                contentBlockIndex=index,
                delta={"reasoningContent": {"redactedContent": blob}},
            )
        )
    elif reasoning is not None:
        for piece in _split(reasoning, None):
            events.append(
                event(
                    "contentBlockDelta", contentBlockIndex=index, delta={"reasoningContent": {"text": piece}}
                )
            )
        if signature is not None:
            events.append(
                event(
                    "contentBlockDelta",
                    contentBlockIndex=index,
                    delta={"reasoningContent": {"signature": signature}},
                )
            )
    else:
        return []
    events.append(event("contentBlockStop", contentBlockIndex=index))
    return events


def _tail(stop_reason: str, usage: BedrockUsage | None) -> list[BedrockEvent]:
    if stop_reason not in STOP_REASONS:
        raise ValueError(f"stop_reason must be one of {STOP_REASONS}, got {stop_reason!r}")
    events = [event("messageStop", stopReason=stop_reason)]
    if usage is not None:
        events.append(event("metadata", usage=usage.wire(), metrics={"latencyMs": 42}))
    return events


def bedrock_text(
    text: str = "Hello",
    *,
    chunks: Chunks = None,
    reasoning: str | None = None,
    signature: str | None = "EqQBCkYIARgCIkDsig==",
    redacted: bytes | None = None,
    stop_reason: str = "end_turn",
    usage: BedrockUsage | None = DEFAULT_USAGE,
) -> BedrockScenario:
    """An answer: optional reasoning (with its ``signature``, or ``redacted`` bytes instead),
    the text in ``chunks`` (``None``: by words), the stop reason and usage (``None``: no
    ``metadata`` event)."""
    events = [event("messageStart", role="assistant")]
    events += _reasoning(0, reasoning, signature, redacted)
    index = 1 if len(events) > 1 else 0
    for piece in _split(text, chunks):
        events.append(event("contentBlockDelta", contentBlockIndex=index, delta={"text": piece}))
    events.append(event("contentBlockStop", contentBlockIndex=index))
    return BedrockScenario(tuple(events + _tail(stop_reason, usage)))


def bedrock_tool_calls(
    calls: Sequence[tuple[str, str] | tuple[str, str, str]],
    *,
    text: str | None = None,
    reasoning: str | None = None,
    signature: str | None = "EqQBCkYIARgCIkDsig==",
    fragments: int = 3,
    stop_reason: str = "tool_use",
    usage: BedrockUsage | None = DEFAULT_USAGE,
) -> BedrockScenario:
    """Tool calls ``(name, arguments JSON[, toolUseId])``, their input in ``fragments`` pieces,
    after optional reasoning and text."""
    events = [event("messageStart", role="assistant")]
    events += _reasoning(0, reasoning, signature, None)
    index = 1 if len(events) > 1 else 0
    if text:
        events += [
            event("contentBlockDelta", contentBlockIndex=index, delta={"text": text}),
            event("contentBlockStop", contentBlockIndex=index),
        ]
        index += 1
    for position, call in enumerate(calls):
        name, arguments = call[0], call[1]
        json.loads(arguments or "{}")  # a scenario with invalid arguments is a bug in the test
        tool_id = call[2] if len(call) > 2 else f"tooluse_{position}abcDEF0123"
        start = {"toolUse": {"toolUseId": tool_id, "name": name}}
        events.append(event("contentBlockStart", contentBlockIndex=index, start=start))
        size = max(1, -(-len(arguments) // max(1, fragments)))
        for offset in range(0, len(arguments), size):
            piece = arguments[offset : offset + size]
            events.append(
                event("contentBlockDelta", contentBlockIndex=index, delta={"toolUse": {"input": piece}})
            )
        events.append(event("contentBlockStop", contentBlockIndex=index))
        index += 1
    return BedrockScenario(tuple(events + _tail(stop_reason, usage)))


def bedrock_events(*events: BedrockEvent) -> BedrockScenario:
    """Exactly these messages (build them with ``event(...)`` or ``BedrockEvent``)."""
    return BedrockScenario(tuple(events))


def bedrock_exception(
    exception_type: str,
    message: str = "Too many requests, please wait before trying again.",
    *,
    after: BedrockScenario | None = None,
    after_events: int = 1,
) -> BedrockScenario:
    """An in-stream exception (``throttlingException``, ``modelStreamErrorException``,
    ``validationException``, ``serviceUnavailableException``, ``internalServerException``)
    after the first ``after_events`` messages of ``after`` (default ``bedrock_text()``)."""
    if exception_type not in EXCEPTION_STATUS:
        raise ValueError(f"exception_type must be one of {sorted(EXCEPTION_STATUS)}, got {exception_type!r}")
    base = after if after is not None else bedrock_text()
    if isinstance(base.reply, BedrockHTTPError):
        raise ValueError("after must be a streamed scenario")
    head = base.reply[: max(0, after_events)]
    return base.with_(reply=(*head, BedrockEvent("exception", exception_type, message=message)))


def bedrock_status(
    status: int, error_type: str, message: str = "error", *, retry_after: float | None = None
) -> BedrockScenario:
    """An HTTP error before the stream (``429, "ThrottlingException"``; ``400, "ValidationException",
    "Input is too long for requested model."``); ``retry_after`` adds a ``Retry-After`` header."""
    if not 400 <= status < 600:
        raise ValueError(f"status must be a 4xx or 5xx, got {status}")
    headers = (("retry-after", f"{retry_after:g}"),) if retry_after is not None else ()
    return BedrockScenario(BedrockHTTPError(status, error_type, message, headers))


def bedrock_cut(scenario: BedrockScenario | None = None, *, after_events: int = 3) -> BedrockScenario:
    """The body ends cleanly after ``after_events`` messages (no ``messageStop``)."""
    return (scenario or bedrock_text("Hello there friend")).with_(fault=BedrockFault("cut", after_events))


def bedrock_stall(
    scenario: BedrockScenario | None = None, *, after_events: int = 2, seconds: float | None = None
) -> BedrockScenario:
    """Silence after ``after_events`` messages for ``seconds`` (``None``: until the client leaves)."""
    return (scenario or bedrock_text("Hello there friend")).with_(
        fault=BedrockFault("stall", after_events, seconds)
    )
