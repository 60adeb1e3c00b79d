"""Anthropic stream events -> Open Responses events: the state machine, sans I/O.

:class:`AnthropicEventTranslator` takes one message's stream events (parsed dicts) and calls
:class:`~openresponses._translate.StreamTranslator`, which owns numbering, item order and the
terminal response. ``_anthropic_stream`` drives it from SSE bytes and from whole bodies, so both
agree by construction.

The rules that are easy to get wrong, each a test:

- ``ping`` may come anywhere and unknown event types are ignored (Anthropic's versioning policy
  allows new ones); ``event: error`` after HTTP 200 fails the response with the mapped error
  (``overloaded_error`` is a retryable server error).
- Block stops arrive before the stop reason: the last block's ``output_item.done`` is held
  until ``message_delta`` says why the turn ended, so a ``max_tokens`` stop marks that item
  ``incomplete``. Earlier blocks close when the next one starts.
- ``message_delta.usage`` is cumulative: the last value of each count wins. Open Responses
  ``input_tokens`` = ``input_tokens`` + ``cache_read_input_tokens`` +
  ``cache_creation_input_tokens`` (Anthropic's excludes both); ``cached_tokens`` = cache reads.
- The terminal event waits for ``message_stop``: a body that ends before it is a
  ``ProtocolError`` (a failed stream), never a completed response.
- ``thinking`` blocks become reasoning items (summary text for Claude 4's summarised thinking);
  the block itself, signature included, and ``redacted_thinking`` blocks are kept in the item's
  ``encrypted_content`` (our envelope) and sent back unchanged on the next turn.
- ``tool_use`` becomes ``function_call``: ``input_json_delta`` fragments are argument deltas,
  and a call that received none has arguments ``{}``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .._errors import ProtocolError
from .._translate import FinishReason, StreamTranslator
from ..types import CreateResponseBody, Response, StreamEvent
from ._anthropic_errors import anthropic_error, parse_error_payload
from ._anthropic_messages import thinking_envelope

__all__ = [
    "REFUSAL_TEXT",
    "STOP_REASONS",
    "AnthropicEventTranslator",
    "ThinkingText",
    "anthropic_usage",
    "text_of",
]

logger = logging.getLogger("openresponses")

ThinkingText = Literal["summary", "raw"]

#: Anthropic ``stop_reason`` -> how the response ends. ``model_context_window_exceeded`` is not
#: here: it fails the response with ``context_length_exceeded`` (Failover moves on).
STOP_REASONS: Mapping[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "pause_turn": "stop",
    "max_tokens": "length",
    "refusal": "refusal",
}
#: The refusal text of a response Claude's classifiers stopped (``stop_reason: refusal``):
#: Anthropic sends no text of its own for it.
REFUSAL_TEXT = "The model declined to continue this response (Anthropic stop_reason 'refusal')."
_CONTEXT_MESSAGE = (
    "the model's context window filled up while generating (Anthropic stop_reason "
    "'model_context_window_exceeded')"
)
_USAGE_KEYS = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


@dataclass(slots=True)
class _Block:
    """One content block as the translator tracks it."""

    kind: str
    thinking: list[str]
    signature: str = ""
    has_arguments: bool = False
    #: Started and not yet stopped.
    open: bool = True


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return max(int(value), 0)


def anthropic_usage(raw: Mapping[str, Any]) -> dict[str, Any] | None:
    """Anthropic usage counts (merged ``message_start`` and ``message_delta`` values) as an
    Open Responses usage mapping; ``None`` when there are no counts."""
    counts = {key: _count(raw.get(key)) for key in _USAGE_KEYS}
    if all(value is None for value in counts.values()):
        return None
    fresh = counts["input_tokens"] or 0
    cache_read = counts["cache_read_input_tokens"] or 0
    cache_write = counts["cache_creation_input_tokens"] or 0
    output = counts["output_tokens"] or 0
    prompt = fresh + cache_read + cache_write
    return {
        "input_tokens": prompt,
        "output_tokens": output,
        "total_tokens": prompt + output,
        "input_tokens_details": {"cached_tokens": cache_read},
        "output_tokens_details": {"reasoning_tokens": 0},  # Anthropic does not count them apart
    }


class AnthropicEventTranslator:
    """One Anthropic message's stream events in (parsed dicts), Open Responses events out.

    Call :meth:`feed` per event and :meth:`end` at the end of the body. After the terminal
    event everything is ignored. ``thinking_text`` says how thinking text is emitted: as
    reasoning summary text (``summary``, the default: Claude 4 models return summarised
    thinking) or as raw reasoning text (``raw``: Claude 3.7's full thinking).
    """

    def __init__(self, body: CreateResponseBody | None = None, *, thinking_text: ThinkingText = "summary"):
        self._body = body
        self._summary = thinking_text == "summary"
        self._out: StreamTranslator | None = None
        self._blocks: dict[int, _Block] = {}
        self._held: int | None = None  # a stopped block whose done waits for the next block or the end
        self._usage: dict[str, Any] = {}
        self._stop_reason: str | None = None
        self._stop_sequence: str | None = None
        self._ignored: set[str] = set()
        self._skipped: set[int] = set()  # blocks of types this adapter does not translate

    # -- state ----------------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        """Whether the terminal event was emitted."""
        return self._out is not None and self._out.finished

    @property
    def response(self) -> Response | None:
        """The final response, once the terminal event was emitted."""
        return self._out.response if self._out is not None else None

    def snapshot(self) -> Response | None:
        """The response as translated so far."""
        return self._out.snapshot() if self._out is not None else None

    @property
    def stop_reason(self) -> str | None:
        """Anthropic's ``stop_reason``, once ``message_delta`` brought it."""
        return self._stop_reason

    def _translator(self, message: Mapping[str, Any] | None = None) -> StreamTranslator:
        if self._out is None:
            model = message.get("model") if message is not None else None
            self._out = StreamTranslator(
                self._body, model=model if isinstance(model, str) and model else None
            )
        return self._out

    # -- events ---------------------------------------------------------------------------------

    def feed(self, event: Mapping[str, Any]) -> list[StreamEvent]:
        """The events one Anthropic stream event produces."""
        if self.finished:
            return []
        kind = event.get("type")
        if kind == "ping":
            return []
        if kind == "message_start":
            message = event.get("message")
            message = message if isinstance(message, Mapping) else {}
            out = self._translator(message)
            self._merge_usage(message.get("usage"))
            return out.start()
        out = self._translator()
        events = out.start()
        if kind == "content_block_start":
            return events + self._block_start(out, event)
        if kind == "content_block_delta":
            return events + self._block_delta(out, event)
        if kind == "content_block_stop":
            return events + self._block_stop(out, _index(event))
        if kind == "message_delta":
            delta = event.get("delta")
            if isinstance(delta, Mapping):
                reason = delta.get("stop_reason")
                if isinstance(reason, str) and reason:
                    self._stop_reason = reason
                sequence = delta.get("stop_sequence")
                if isinstance(sequence, str):
                    self._stop_sequence = sequence
            self._merge_usage(event.get("usage"))
            return events
        if kind == "message_stop":
            return events + self._finish(out)
        if kind == "error":
            raw, request_id = parse_error_payload(event)
            error = anthropic_error(raw, request_id=request_id)
            return events + out.fail(error.message, code=error.code, type=error.type, usage=self._usage_now())
        self._ignore(f"event {kind!r}")
        return events

    def _merge_usage(self, raw: Any) -> None:
        if isinstance(raw, Mapping):
            for key in _USAGE_KEYS:
                value = raw.get(key)
                if value is not None:
                    self._usage[key] = value  # cumulative: the last value wins

    def _usage_now(self) -> dict[str, Any] | None:
        return anthropic_usage(self._usage)

    def _ignore(self, what: str) -> None:
        if what not in self._ignored:
            self._ignored.add(what)
            logger.debug("anthropic: ignored %s", what[:80])

    def _release(self, out: StreamTranslator) -> list[StreamEvent]:
        """Close the held block: something else comes after it, so it ended normally."""
        held, self._held = self._held, None
        return out.close(held) if held is not None else []

    def _block_start(self, out: StreamTranslator, event: Mapping[str, Any]) -> list[StreamEvent]:
        index = _index(event)
        block = event.get("content_block")
        if not isinstance(block, Mapping):
            raise ProtocolError("content_block_start without a content_block", response=self.snapshot())
        events: list[StreamEvent] = []
        for other, state in self._blocks.items():  # a block never stopped (not Anthropic's way)
            if state.open:
                state.open = False
                events += self._seal(out, other, state)
        events += self._release(out)
        kind = block.get("type")
        if kind == "text":
            self._blocks[index] = _Block("text", [])
            return events + out.text(text_of(block.get("text")), key=index)
        if kind == "thinking":
            self._blocks[index] = _Block("thinking", [], signature=text_of(block.get("signature")))
            return events + self._thinking(out, index, text_of(block.get("thinking")))
        if kind == "redacted_thinking":
            self._blocks[index] = _Block("redacted_thinking", [])
            return events + out.reasoning_signature(thinking_envelope(block), key=index)
        if kind == "tool_use":
            name, call_id = block.get("name"), block.get("id")
            if not isinstance(name, str) or not name:
                raise ProtocolError("a tool_use block without a name", response=self.snapshot())
            self._blocks[index] = _Block("tool_use", [])
            return events + out.tool_call(
                index, name=name, call_id=call_id if isinstance(call_id, str) else None
            )
        # Server tools (web search, code execution) and future block types: not requested by
        # this adapter, so not expected; skipped rather than failing the whole answer.
        self._skipped.add(index)
        self._ignore(f"content block type {kind!r}")
        return events

    def _thinking(self, out: StreamTranslator, index: int, text: str) -> list[StreamEvent]:
        self._blocks[index].thinking.append(text)
        return out.reasoning(text, key=index, summary=self._summary)

    def _block_delta(self, out: StreamTranslator, event: Mapping[str, Any]) -> list[StreamEvent]:
        index = _index(event)
        delta = event.get("delta")
        block = self._blocks.get(index)
        if not isinstance(delta, Mapping):
            raise ProtocolError("content_block_delta without a delta", response=self.snapshot())
        kind = delta.get("type")
        if block is None:
            if index in self._skipped:
                return []
            raise ProtocolError(
                f"content_block_delta for block {index}, which was not started", response=self.snapshot()
            )
        if kind == "text_delta" and block.kind == "text":
            return out.text(text_of(delta.get("text")), key=index)
        if kind == "thinking_delta" and block.kind == "thinking":
            return self._thinking(out, index, text_of(delta.get("thinking")))
        if kind == "signature_delta" and block.kind == "thinking":
            block.signature += text_of(delta.get("signature"))
            return []
        if kind == "input_json_delta" and block.kind == "tool_use":
            fragment = text_of(delta.get("partial_json"))
            if not fragment:
                return []
            block.has_arguments = True
            return out.tool_call(index, arguments=fragment)
        # citations_delta (no annotation mapping yet) and future delta types.
        self._ignore(f"delta type {kind!r}")
        return []

    def _block_stop(self, out: StreamTranslator, index: int) -> list[StreamEvent]:
        block = self._blocks.get(index)
        if block is None or not block.open:
            return []
        block.open = False
        events = self._seal(out, index, block)
        # Held: if the stop reason turns out to be max_tokens, this item ends incomplete.
        events += self._release(out)
        self._held = index
        return events

    def _seal(self, out: StreamTranslator, index: int, block: _Block) -> list[StreamEvent]:
        """What a finished block still owes its item: the thinking envelope, ``{}`` arguments."""
        if block.kind == "thinking" and block.signature:
            envelope = {"type": "thinking", "thinking": "".join(block.thinking), "signature": block.signature}
            block.signature = ""  # sealed once
            return out.reasoning_signature(thinking_envelope(envelope), key=index)
        if block.kind == "tool_use" and not block.has_arguments:
            block.has_arguments = True
            return out.tool_call(index, arguments="{}")
        return []

    def _finish(self, out: StreamTranslator) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        for index, block in self._blocks.items():  # a block cut before its stop
            if block.open:
                block.open = False
                events += self._seal(out, index, block)
        reason = self._stop_reason
        usage = self._usage_now()
        self._held = None
        if reason == "model_context_window_exceeded":
            events += out.fail(
                _CONTEXT_MESSAGE, code="context_length_exceeded", type="invalid_request", usage=usage
            )
            return self._stamp(events)
        finish = STOP_REASONS.get(reason or "")
        if finish is None:
            logger.warning("anthropic: unknown stop_reason %r treated as end_turn", (reason or "")[:64])
            finish = "stop"
        if finish == "refusal":
            events += out.refusal(REFUSAL_TEXT)
        return self._stamp(events + out.finish(finish, usage=usage))

    def _stamp(self, events: list[StreamEvent]) -> list[StreamEvent]:
        """Put Anthropic's stop reason on the terminal response: an optional extension field
        (R104, docs/anthropic.md), so a ``pause_turn`` (completed; continue it by sending the
        output back) is told from an ``end_turn``."""
        final = self.response
        targets = [getattr(event, "response", None) for event in events[-1:]]
        for response in {id(r): r for r in [final, *targets] if isinstance(r, Response)}.values():
            response.anthropic_stop_reason = self._stop_reason  # type: ignore[attr-defined]
            if self._stop_sequence is not None:
                response.anthropic_stop_sequence = self._stop_sequence  # type: ignore[attr-defined]
        return events

    def end(self) -> list[StreamEvent]:
        """The end of the body: ``ProtocolError`` unless ``message_stop`` (or an error) came."""
        if self.finished:
            return []
        raise ProtocolError(
            "the Anthropic stream ended before message_stop (cut short)", response=self.snapshot()
        )


def _index(event: Mapping[str, Any]) -> int:
    index = event.get("index")
    if isinstance(index, bool) or not isinstance(index, int):
        raise ProtocolError(f"{event.get('type')} without an integer index")
    return index


def text_of(value: Any) -> str:
    """``value`` if it is a string, else ``""`` (fields a malformed event lacks)."""
    return value if isinstance(value, str) else ""
