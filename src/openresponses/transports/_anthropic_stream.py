"""Anthropic Messages replies -> Open Responses events, sans I/O: SSE streams and whole bodies.

:class:`AnthropicStreamDecoder` feeds the state machine of ``_anthropic_events`` from SSE bytes
(the shared WHATWG decoder, never a line splitter that breaks on U+2028), and
:func:`translate_message` feeds it a whole non-stream ``message`` body as the events that would
have streamed it, so both paths agree by construction.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from .._errors import ProtocolError
from .._sse import DEFAULT_MAX_EVENT_SIZE, SSEDecoder
from ..types import CreateResponseBody, Response, StreamEvent
from ._anthropic_events import (
    REFUSAL_TEXT,
    STOP_REASONS,
    AnthropicEventTranslator,
    ThinkingText,
    anthropic_usage,
    text_of,
)

__all__ = [
    "REFUSAL_TEXT",
    "STOP_REASONS",
    "AnthropicEventTranslator",
    "AnthropicStreamDecoder",
    "ThinkingText",
    "anthropic_usage",
    "message_events",
    "translate_message",
]

_BOM = b"\xef\xbb\xbf"


class AnthropicStreamDecoder:
    """The Anthropic dialect's ``StreamDecoder``: SSE bytes -> stream events -> Open Responses events.

    Each SSE event's JSON ``data`` carries its own ``type`` (the ``event:`` name repeats it); a
    data line that is not a JSON object raises ``ProtocolError`` whose ``events`` are the good
    events before it.
    """

    __slots__ = ("_machine", "_sse")

    def __init__(
        self,
        body: CreateResponseBody | None = None,
        *,
        thinking_text: ThinkingText = "summary",
        max_event_size: int | None = DEFAULT_MAX_EVENT_SIZE,
    ) -> None:
        self._sse = SSEDecoder(max_event_size=max_event_size)
        self._machine = AnthropicEventTranslator(body, thinking_text=thinking_text)

    @property
    def translator(self) -> AnthropicEventTranslator:
        """The state machine (its ``stop_reason``, ``response``)."""
        return self._machine

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        """The events the bytes ``chunk`` completed."""
        events: list[StreamEvent] = []
        for sse in self._sse.feed(chunk):
            data = sse.data.strip()
            if not data:
                continue
            try:
                parsed = self._parse(data, sse.event)
                events += self._machine.feed(parsed)
            except ProtocolError as exc:
                exc.events = events + exc.events
                if exc.response is None:
                    exc.response = self._machine.snapshot()
                raise
        return events

    def _parse(self, data: bytes, name: str | None) -> Mapping[str, Any]:
        try:
            parsed = json.loads(data if data[:3] == _BOM else data.decode("utf-8", "surrogatepass"))
        except ValueError as exc:
            raise ProtocolError(
                f"Invalid JSON in an Anthropic stream event: {exc}",
                data=data,
                response=self._machine.snapshot(),
            ) from None
        if not isinstance(parsed, dict):
            raise ProtocolError(
                "An Anthropic stream event is not a JSON object", data=data, response=self._machine.snapshot()
            )
        if "type" not in parsed and name:
            parsed["type"] = name
        return parsed

    def close(self) -> list[StreamEvent]:
        """The end of the body: ``ProtocolError`` if the stream was cut before ``message_stop``."""
        events: list[StreamEvent] = []
        if self._sse.pending.strip():
            events = self.feed(b"\n\n")  # a last event without its blank line
        try:
            return events + self._machine.end()
        except ProtocolError as exc:
            exc.events = events + exc.events
            raise


def message_events(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The stream events that would have streamed a whole ``message`` body (for
    :func:`translate_message`, and the fake upstream's non-stream replies)."""
    start = {
        key: value for key, value in message.items() if key not in ("content", "stop_reason", "stop_sequence")
    }
    start["content"] = []
    usage = message.get("usage")
    events: list[dict[str, Any]] = [{"type": "message_start", "message": start}]
    content = message.get("content")
    for index, block in enumerate(content if isinstance(content, list) else []):
        if not isinstance(block, Mapping):
            continue
        kind = block.get("type")
        deltas: list[dict[str, Any]] = []
        first = dict(block)
        if kind == "text":
            first["text"] = ""
            deltas.append({"type": "text_delta", "text": text_of(block.get("text"))})
        elif kind == "thinking":
            first["thinking"], first["signature"] = "", ""
            deltas.append({"type": "thinking_delta", "thinking": text_of(block.get("thinking"))})
            deltas.append({"type": "signature_delta", "signature": text_of(block.get("signature"))})
        elif kind == "tool_use":
            first["input"] = {}
            arguments = block.get("input")
            if isinstance(arguments, Mapping) and arguments:
                text = json.dumps(arguments, ensure_ascii=False, separators=(",", ":"))
                deltas.append({"type": "input_json_delta", "partial_json": text})
        events.append({"type": "content_block_start", "index": index, "content_block": first})
        events += [{"type": "content_block_delta", "index": index, "delta": delta} for delta in deltas]
        events.append({"type": "content_block_stop", "index": index})
    delta = {"stop_reason": message.get("stop_reason"), "stop_sequence": message.get("stop_sequence")}
    events.append(
        {"type": "message_delta", "delta": delta, "usage": usage if isinstance(usage, Mapping) else {}}
    )
    events.append({"type": "message_stop"})
    return events


def translate_message(
    data: bytes | Mapping[str, Any],
    body: CreateResponseBody | None = None,
    *,
    thinking_text: ThinkingText = "summary",
) -> tuple[Response, list[StreamEvent]]:
    """A whole Anthropic ``message`` body (or error envelope) as a ``Response`` and the events it
    amounts to, through the stream's own machine."""
    raw = bytes(data) if isinstance(data, bytes | bytearray) else b""
    if isinstance(data, bytes | bytearray):
        try:
            parsed = json.loads(raw.strip() or b"null")
        except ValueError as exc:
            raise ProtocolError(f"Invalid Anthropic message body: {exc}", data=raw) from None
    else:
        parsed = data
    if not isinstance(parsed, Mapping):
        raise ProtocolError("The Anthropic message body is not a JSON object", data=raw)
    machine = AnthropicEventTranslator(body, thinking_text=thinking_text)
    stream: Sequence[Mapping[str, Any]]
    if parsed.get("type") == "error":
        stream = [parsed]
    elif parsed.get("type") == "message" or isinstance(parsed.get("content"), list):
        stream = message_events(parsed)
    else:
        raise ProtocolError("The body is neither an Anthropic message nor an error", data=raw)
    events: list[StreamEvent] = []
    for event in stream:
        events += machine.feed(event)
    events += machine.end()
    response = machine.response
    assert response is not None
    return response, events
