"""Bedrock ConverseStream events -> Open Responses events: the state machine, sans I/O.

:class:`ConverseEventTranslator` takes one stream's decoded event-stream messages (the
``:event-type`` / ``:message-type`` headers and the JSON payload) and drives
:class:`~openresponses._translate.StreamTranslator`. The non-stream ``/converse`` body goes
through the very same machine (:func:`converse_response_events`), so both agree by construction.

The rules, each a test:

- Content blocks are keyed by ``contentBlockIndex``. Text and reasoning arrive as deltas with no
  ``contentBlockStart``; a tool call starts with ``contentBlockStart.start.toolUse`` (its id and
  name) and streams ``toolUse.input`` fragments (empty arguments mean ``{}``).
- ``contentBlockStop`` comes before ``messageStop``: the last stopped block is held open until
  the stop reason is known, so a ``max_tokens`` stop marks that item ``incomplete``.
- Reasoning text streams as summary text (``summary=True``, the default) or raw reasoning;
  its ``signature`` or ``redactedContent`` is kept, with the text, in the item's
  ``encrypted_content`` (:func:`~._bedrock_messages.reasoning_envelope`) to be sent back.
- ``metadata`` (usage) comes *after* ``messageStop``: the terminal event is emitted there, or at
  the end of the body when no metadata came. A body that ends before ``messageStop`` is a
  ``ProtocolError``, never a completed response.
- Usage: Bedrock's ``inputTokens`` excludes cache reads and writes, so ``input_tokens`` =
  inputTokens + cacheReadInputTokens + cacheWriteInputTokens and ``cached_tokens`` = cache reads.
- An exception message (``:message-type exception``) fails the response with the mapped error.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .._errors import ProtocolError
from .._translate import FinishReason, StreamTranslator
from ..types import CreateResponseBody, Response, StreamEvent
from ._bedrock_errors import BedrockError, classify, stream_exception
from ._bedrock_messages import reasoning_envelope

__all__ = ["STOP_REASONS", "ConverseEventTranslator", "bedrock_usage", "converse_response_events"]

logger = logging.getLogger("openresponses")

#: Bedrock ``stopReason`` -> how the response ends (a ``BedrockError`` fails it).
STOP_REASONS: Mapping[str, FinishReason | BedrockError] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
    "model_context_window_exceeded": BedrockError(
        "the conversation exceeded the model's context window (stopReason 'model_context_window_exceeded')",
        "invalid_request",
        "context_length_exceeded",
    ),
    "malformed_model_output": BedrockError(
        "the model produced malformed output (stopReason 'malformed_model_output')",
        "model_error",
        "malformed_model_output",
    ),
    "malformed_tool_use": BedrockError(
        "the model produced a malformed tool call (stopReason 'malformed_tool_use')",
        "model_error",
        "malformed_tool_use",
    ),
}


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return max(int(value), 0)


def bedrock_usage(raw: Any) -> dict[str, Any] | None:
    """A Bedrock ``TokenUsage`` as an Open Responses usage mapping (``None`` when absent)."""
    if not isinstance(raw, Mapping):
        return None
    cache_read = _int(raw.get("cacheReadInputTokens"))
    prompt = _int(raw.get("inputTokens")) + cache_read + _int(raw.get("cacheWriteInputTokens"))
    output = _int(raw.get("outputTokens"))
    return {
        "input_tokens": prompt,
        "output_tokens": output,
        "total_tokens": prompt + output,
        "input_tokens_details": {"cached_tokens": cache_read},
        "output_tokens_details": {"reasoning_tokens": 0},  # Converse does not break them out
    }


@dataclass(slots=True)
class _Reasoning:
    text: list[str] = field(default_factory=list)
    signature: str | None = None
    redacted: str | None = None


class ConverseEventTranslator:
    """One ConverseStream's messages in, Open Responses events out. Call :meth:`message` per
    event-stream message and :meth:`end` at the end of the body; after the terminal event
    everything is ignored."""

    def __init__(
        self, body: CreateResponseBody | None = None, *, model: str | None = None, summary: bool = True
    ) -> None:
        self.out = StreamTranslator(body, model=model or (body.model if body is not None else None))
        self._summary = summary
        self._tools: dict[int, bool] = {}  # tool block index -> whether input arrived
        self._reasoning: dict[int, _Reasoning] = {}
        self._held: int | None = None  # the last stopped block, closed once the next one starts
        self._stop: str | None = None
        self._usage: dict[str, Any] | None = None

    @property
    def finished(self) -> bool:
        """Whether the terminal event was emitted."""
        return self.out.finished

    @property
    def response(self) -> Response | None:
        """The final response once the terminal event was emitted."""
        return self.out.response

    def snapshot(self) -> Response | None:
        """The response as translated so far."""
        return self.out.snapshot()

    # -- messages -------------------------------------------------------------------------------

    def message(self, headers: Mapping[str, Any], payload: bytes) -> list[StreamEvent]:
        """The events one event-stream message produces."""
        if self.finished:
            return []
        kind = headers.get(":message-type", "event")
        if kind == "exception":
            return self._fail(stream_exception(headers.get(":exception-type"), payload))
        if kind == "error":
            code, text = headers.get(":error-code"), headers.get(":error-message")
            return self._fail(classify(code if isinstance(code, str) else None, str(text or "stream error")))
        name = headers.get(":event-type")
        try:
            data = json.loads(payload) if payload else {}
        except ValueError:
            raise ProtocolError(
                f"Invalid JSON in a Bedrock {name!r} event", data=payload, response=self.snapshot()
            ) from None
        if not isinstance(data, dict):
            raise ProtocolError(f"A Bedrock {name!r} event is not a JSON object", data=payload)
        return self.event(str(name), data)

    def event(self, name: str, data: Mapping[str, Any]) -> list[StreamEvent]:
        """The events one decoded Converse event (``contentBlockDelta``, ...) produces."""
        if self.finished:
            return []
        out = self.out
        events = out.start()
        if name == "contentBlockDelta":
            events += self._delta(_index(data), data.get("delta"))
        elif name == "contentBlockStart":
            events += self._start(_index(data), data.get("start"))
        elif name == "contentBlockStop":
            index = _index(data)
            events += self._release(except_index=index)
            events += self._seal(index) + self._no_input(index)
            self._held = index
        elif name == "messageStop":
            reason = data.get("stopReason")
            self._stop = reason if isinstance(reason, str) and reason else "end_turn"
        elif name == "metadata":
            self._usage = bedrock_usage(data.get("usage")) or self._usage
            if self._stop is not None:
                events += self._finish()
        # messageStart (the role is always assistant) and unknown events carry nothing to emit.
        return events

    def _start(self, index: int, start: Any) -> list[StreamEvent]:
        events = self._release(except_index=index)
        tool = start.get("toolUse") if isinstance(start, Mapping) else None
        if isinstance(tool, Mapping):
            name, call_id = tool.get("name"), tool.get("toolUseId")
            if not isinstance(name, str) or not name:
                raise ProtocolError(
                    "a Bedrock toolUse block started without a name", response=self.snapshot()
                )
            events += self._seal_all()
            self._tools[index] = False
            events += self.out.tool_call(
                index, name=name, call_id=call_id if isinstance(call_id, str) else None
            )
        return events

    def _delta(self, index: int, delta: Any) -> list[StreamEvent]:
        if not isinstance(delta, Mapping):
            return []
        events = self._release(except_index=index)
        out = self.out
        text = delta.get("text")
        if isinstance(text, str):
            events += self._seal_all() + out.text(text, key=index)
        tool = delta.get("toolUse")
        if isinstance(tool, Mapping):
            if index not in self._tools:
                raise ProtocolError(
                    f"a Bedrock toolUse delta for block {index} came before its contentBlockStart",
                    response=self.snapshot(),
                )
            fragment = tool.get("input")
            if isinstance(fragment, str) and fragment:
                self._tools[index] = True
                events += out.tool_call(index, arguments=fragment)
        reasoning = delta.get("reasoningContent")
        if isinstance(reasoning, Mapping):
            state = self._reasoning.setdefault(index, _Reasoning())
            piece = reasoning.get("text")
            if isinstance(piece, str):
                state.text.append(piece)
                events += out.reasoning(piece, key=index, summary=self._summary)
            if isinstance(reasoning.get("signature"), str):
                state.signature = (state.signature or "") + reasoning["signature"]
            if isinstance(reasoning.get("redactedContent"), str):
                state.redacted = (state.redacted or "") + reasoning["redactedContent"]
            if piece is None and not state.text:
                events += out.reasoning("", key=index)  # a redacted block: its item opens now
        return events

    # -- closing --------------------------------------------------------------------------------

    def _seal(self, index: int) -> list[StreamEvent]:
        """Give the reasoning block ``index`` its envelope (before its item can close)."""
        state = self._reasoning.pop(index, None)
        if state is None or (state.signature is None and state.redacted is None):
            return []
        envelope = reasoning_envelope(
            text="".join(state.text), signature=state.signature, redacted=state.redacted
        )
        return self.out.reasoning_signature(envelope, key=index)

    def _no_input(self, index: int) -> list[StreamEvent]:
        """A tool call that streamed no input takes no arguments: ``{}``, not ``""``."""
        if self._tools.get(index) is False:
            self._tools[index] = True
            return self.out.tool_call(index, arguments="{}")
        return []

    def _seal_all(self) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        for index in list(self._reasoning):
            events += self._seal(index)
        return events

    def _release(self, *, except_index: int | None = None) -> list[StreamEvent]:
        """Close the held block, unless the next event is about that very block."""
        held = self._held
        if held is None or held == except_index:
            return []
        self._held = None
        return self.out.close(held)

    def _fail(self, error: BedrockError) -> list[StreamEvent]:
        events = self._seal_all()
        return events + self.out.fail(error.message, code=error.code, type=error.type, usage=self._usage)

    def _finish(self) -> list[StreamEvent]:
        events = self._seal_all()
        for index in list(self._tools):
            events += self._no_input(index)
        stop = self._stop or "end_turn"
        outcome = STOP_REASONS.get(stop)
        if isinstance(outcome, BedrockError):
            return events + self._fail(outcome)
        if outcome is None:
            logger.warning("bedrock-converse: unknown stopReason %r treated as end_turn", stop[:64])
            outcome = "stop"
        if outcome != "length":
            events += self._release()  # a length stop leaves the held block open: it ends incomplete
        return events + self.out.finish(outcome, usage=self._usage)

    def end(self) -> list[StreamEvent]:
        """The end of the body: the terminal event if not yet sent, or ``ProtocolError``."""
        if self.finished:
            return []
        if self._stop is None:
            raise ProtocolError(
                "the Bedrock stream ended before messageStop (the response was cut short)",
                response=self.snapshot(),
            )
        return self._finish()


def _index(data: Mapping[str, Any]) -> int:
    value = data.get("contentBlockIndex")
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return 0
    return value


def converse_response_events(
    data: Mapping[str, Any], body: CreateResponseBody | None = None, *, summary: bool = True
) -> tuple[ConverseEventTranslator, list[StreamEvent]]:
    """A whole ``/converse`` body replayed through the stream machine: the translator and events."""
    machine = ConverseEventTranslator(body, summary=summary)
    events = machine.event("messageStart", {"role": "assistant"})
    output = data.get("output")
    message = output.get("message") if isinstance(output, Mapping) else None
    content = message.get("content") if isinstance(message, Mapping) else None
    for index, block in enumerate(content if isinstance(content, list) else ()):
        if not isinstance(block, Mapping):
            continue
        if isinstance(block.get("text"), str):
            events += machine.event(
                "contentBlockDelta", {"contentBlockIndex": index, "delta": {"text": block["text"]}}
            )
        elif isinstance(block.get("toolUse"), Mapping):
            tool = block["toolUse"]
            start = {"toolUse": {"toolUseId": tool.get("toolUseId"), "name": tool.get("name")}}
            events += machine.event("contentBlockStart", {"contentBlockIndex": index, "start": start})
            arguments = json.dumps(tool.get("input") or {}, ensure_ascii=False, separators=(",", ":"))
            delta = {"toolUse": {"input": arguments}}
            events += machine.event("contentBlockDelta", {"contentBlockIndex": index, "delta": delta})
        elif isinstance(block.get("reasoningContent"), Mapping):
            reasoning = block["reasoningContent"]
            text_block = reasoning.get("reasoningText")
            piece: dict[str, Any] = {}
            if isinstance(text_block, Mapping):
                piece = {"text": text_block.get("text") or ""}
                if isinstance(text_block.get("signature"), str):
                    piece["signature"] = text_block["signature"]
            elif isinstance(reasoning.get("redactedContent"), str):
                piece = {"redactedContent": reasoning["redactedContent"]}
            if piece:
                delta = {"reasoningContent": piece}
                events += machine.event("contentBlockDelta", {"contentBlockIndex": index, "delta": delta})
        else:
            continue
        events += machine.event("contentBlockStop", {"contentBlockIndex": index})
    reason = data.get("stopReason")
    events += machine.event("messageStop", {"stopReason": reason if isinstance(reason, str) else "end_turn"})
    events += machine.event("metadata", {"usage": data.get("usage")})
    events += machine.end()
    return machine, events
