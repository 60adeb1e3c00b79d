"""Sans-I/O translation facade: vendor stream pieces in, spec-ordered Open Responses events out.

Every provider adapter (Chat Completions, Anthropic Messages, Gemini, Bedrock) reduces to a small
pure function over its own chunks that calls :class:`StreamTranslator`: "text for this message",
"reasoning for this block", "arguments for tool call #2", "finished because of length". The
translator keys items by the *vendor's* ids, decides when items open and close, and delegates
numbering, part bookkeeping and the terminal response to :class:`~openresponses._emit.EventBuilder`.

Item rules (so adapters need no ``sent_*`` flags):

* At most one message or reasoning item is open: the *current* item. Opening another one (or a
  tool call) closes it first, so reasoning that arrives after a message starts a new reasoning
  item after that message, and a message closes the reasoning before it.
* Tool calls stay open until :meth:`~StreamTranslator.close` or the end, so several may stream
  at once with interleaved vendor indexes.
* :meth:`~StreamTranslator.finish` / :meth:`~StreamTranslator.fail` close everything and emit
  the one terminal event; after it, every call raises ``RuntimeError``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from ._emit import EventBuilder
from ._emit_state import full_usage
from .types import CreateResponseBody, Response, StreamEvent, Usage

__all__ = ["FinishReason", "StreamTranslator"]

FinishReason = Literal["stop", "length", "content_filter", "tool_calls", "refusal"]
"""Why the vendor stream ended, in Chat-Completions words (adapters map their own onto these)."""

_FINISH_REASONS = frozenset(get_args(FinishReason))
_Kind = Literal["message", "reasoning"]


@dataclass(slots=True)
class _Slot:
    """An open item as the translator sees it: what it is, its vendor key, its output index."""

    kind: str
    key: Hashable
    index: int
    #: Whether the item carries an ``encrypted_content`` already (tool calls: never overwritten).
    signed: bool = False


class StreamTranslator:
    """Build an Open Responses stream from vendor stream pieces; each call returns its events.

    ::

        t = StreamTranslator(body, model="gpt-x")
        events = t.text("Hel") + t.text("lo")              # created, in_progress, item, part, deltas
        events += t.tool_call(0, name="get_weather", call_id="call_1", arguments='{"city":')
        events += t.tool_call(0, arguments='"Paris"}')
        events += t.finish("tool_calls", usage={"input_tokens": 9, "output_tokens": 7})
        assert t.response is not None and t.finished

    ``key`` / ``vendor_id`` are whatever the vendor uses to tell items apart (a content-block
    index, a tool-call index, an id); ``None`` means "the current one".
    """

    __slots__ = ("_calls", "_current", "_started", "_status", "builder")

    def __init__(
        self,
        body: CreateResponseBody | None = None,
        *,
        response_id: str | None = None,
        model: str | None = None,
        created_at: int | None = None,
    ) -> None:
        #: The underlying builder: numbering, parts, the accumulator (public for adapters' edge cases).
        self.builder = EventBuilder(body, response_id=response_id, model=model, created_at=created_at)
        self._started = False
        self._status: str | None = None  # the terminal status, once emitted
        self._current: _Slot | None = None
        self._calls: dict[Hashable, _Slot] = {}

    # -- state ----------------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        """Whether the terminal event (completed, incomplete or failed) has been emitted."""
        return self._status is not None

    @property
    def response(self) -> Response | None:
        """The final ``Response`` once the terminal event was emitted, else ``None``."""
        return self.builder.accumulator.final if self._status is not None else None

    def snapshot(self) -> Response | None:
        """The response as streamed so far (``None`` before :meth:`start`)."""
        return self.builder.accumulator.snapshot()

    def _check(self) -> None:
        if self._status is not None:
            raise RuntimeError(
                f"the response already ended ({self._status}): no events can follow the terminal event"
            )

    def _begin(self) -> None:
        self._check()
        if not self._started:
            self._started = True
            self.builder.created()
            self.builder.in_progress()

    def start(self) -> list[StreamEvent]:
        """``response.created`` and ``response.in_progress``; once (later calls return ``[]``).

        Every other method calls it first, so adapters need not.
        """
        if self._started and self._status is None:
            return []  # every chunk calls it: no drain, no new list
        self._begin()
        return self.builder.drain()

    # -- message and reasoning content ----------------------------------------------------------

    def _content_item(self, kind: _Kind, key: Hashable) -> int:
        current = self._current
        if current is not None and current.kind == kind and (key is None or current.key == key):
            return current.index
        self._close_current()
        index = self.builder.start_message() if kind == "message" else self.builder.start_reasoning()
        self._current = _Slot(kind, key, index)
        return index

    def _close_current(self) -> None:
        if self._current is not None:
            self.builder.end_item(self._current.index)
            self._current = None

    def _message_delta(self, part_type: str, delta: str, key: Hashable) -> list[StreamEvent]:
        if type(delta) is not str:
            _require_str(delta, "delta")
        if not self._started or self._status is not None:
            self._begin()
        current = self._current
        if current is not None and current.kind == "message" and (key is None or current.key == key):
            index = current.index  # the open message (the per-delta case): _content_item inlined
        else:
            index = self._content_item("message", key)
        if delta:
            self.builder.delta(index, part_type, delta)
        elif self.builder.part_type(index) != part_type:
            # A vendor's empty first chunk: the part opens now (README §11 A), the text comes later.
            if part_type == "output_text":
                self.builder.start_text(index)
            else:
                self.builder.start_refusal(index)
        return self.builder.drain()

    def text(self, delta: str, *, key: Hashable = None) -> list[StreamEvent]:
        """Output text for the assistant message ``key`` (``None``: the current message).

        The first use opens the message and its ``output_text`` part, closing an open reasoning
        item (reasoning precedes the answer). An empty ``delta`` emits no delta event.
        """
        return self._message_delta("output_text", delta, key)

    def refusal(self, delta: str, *, key: Hashable = None) -> list[StreamEvent]:
        """Refusal text for the message ``key``, in a ``refusal`` part (after any text part)."""
        return self._message_delta("refusal", delta, key)

    def reasoning(self, delta: str, *, key: Hashable = None, summary: bool = False) -> list[StreamEvent]:
        """Raw reasoning (a ``reasoning_text`` part, ``response.reasoning.delta``) or, with
        ``summary=True``, summary text (``response.reasoning_summary_text.delta``).

        The first use opens a reasoning item; reasoning after a message starts a new reasoning
        item after it (closing the message). An empty ``delta`` may open the item, nothing more.
        """
        _require_str(delta, "delta")
        self._begin()
        index = self._content_item("reasoning", key)
        if delta:
            if summary:
                self.builder.summary(index, delta)
            else:
                self.builder.reasoning_text(index, delta)
        return self.builder.drain()

    def reasoning_signature(self, encrypted_content: str, *, key: Hashable = None) -> list[StreamEvent]:
        """Attach an opaque signature / encrypted blob to the reasoning item ``key``; it is sent
        as the item's ``encrypted_content`` when the item is done. Opens the item if needed (a
        redacted block carries nothing else)."""
        _require_str(encrypted_content, "encrypted_content")
        self._begin()
        index = self._content_item("reasoning", key)
        self.builder.set_encrypted_content(index, encrypted_content)
        return self.builder.drain()

    # -- tool calls -----------------------------------------------------------------------------

    def tool_call(
        self,
        vendor_id: Hashable,
        *,
        name: str | None = None,
        call_id: str | None = None,
        arguments: str = "",
        encrypted_content: str | None = None,
    ) -> list[StreamEvent]:
        """A piece of the tool call ``vendor_id`` (a Chat-Completions ``tool_calls[].index``,
        an Anthropic block index, ...).

        The first piece opens a ``function_call`` item and must carry ``name``; ``call_id`` is
        kept if given, else generated. Later pieces append ``arguments`` deltas; ``name`` and
        ``call_id`` on them never overwrite what the item already has. Opening a tool call
        closes the current message or reasoning item. ``encrypted_content`` (e.g. a Gemini
        thought signature) is kept on the item as an extension field.
        """
        _require_str(arguments, "arguments")
        slot = self._calls.get(vendor_id)
        if slot is None and not name:
            self._check()
            raise ValueError(
                f"tool call {vendor_id!r}: the first piece of a tool call needs its function name "
                "(name=None or empty)"
            )
        self._begin()
        if slot is None:
            self._close_current()
            assert name  # checked above, before anything was emitted
            index = self.builder.start_function_call(name, call_id=call_id or None)
            slot = self._calls[vendor_id] = _Slot("function_call", vendor_id, index)
        if encrypted_content and not slot.signed:
            self.builder.set_encrypted_content(slot.index, encrypted_content)
            slot.signed = True
        if arguments:
            self.builder.arguments(slot.index, arguments)
        return self.builder.drain()

    # -- closing --------------------------------------------------------------------------------

    def close(self, key: Hashable) -> list[StreamEvent]:
        """Close the item(s) opened under ``key`` now (an Anthropic ``content_block_stop``).

        An unknown or already closed key returns ``[]``.
        """
        self._check()
        indexes: list[int] = []
        if self._current is not None and self._current.key == key:
            indexes.append(self._current.index)
            self._current = None
        call = self._calls.pop(key, None)
        if call is not None:
            indexes.append(call.index)
        for index in sorted(indexes):
            self.builder.end_item(index)
        return self.builder.drain()

    def finish(
        self, reason: FinishReason = "stop", *, usage: Mapping[str, Any] | None = None
    ) -> list[StreamEvent]:
        """Close every open item and emit the terminal event.

        ``stop``, ``tool_calls`` and ``refusal`` → ``response.completed``; ``length`` →
        ``response.incomplete`` (reason ``max_output_tokens``, the last open item ends
        ``incomplete``); ``content_filter`` → ``response.incomplete`` (reason ``content_filter``).
        ``usage`` is an Open Responses usage mapping; ``total_tokens`` and the details are
        filled in when missing.
        """
        self._check()
        if reason not in _FINISH_REASONS:
            raise ValueError(f"finish reason must be one of {sorted(_FINISH_REASONS)}, got {reason!r}")
        filled = _checked_usage(usage)
        self._begin()
        if reason == "length":
            self.builder.incomplete("max_output_tokens", usage=filled)
            self._status = "incomplete"
        elif reason == "content_filter":
            self.builder.incomplete("content_filter", usage=filled)
            self._status = "incomplete"
        else:
            self.builder.complete(usage=filled)
            self._status = "completed"
        self._current = None
        self._calls.clear()
        return self.builder.drain()

    def fail(
        self,
        message: str,
        *,
        code: str | None = "server_error",
        type: str = "server_error",
        usage: Mapping[str, Any] | None = None,
    ) -> list[StreamEvent]:
        """Open items end ``incomplete``, then ``error`` and ``response.failed``."""
        self._check()
        _require_str(message, "message")
        filled = _checked_usage(usage)
        self._begin()
        self.builder.fail(message, code=code, type=type, usage=filled)
        self._status = "failed"
        self._current = None
        self._calls.clear()
        return self.builder.drain()


def _require_str(value: object, name: str) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")


def _checked_usage(usage: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The filled usage, validated before any event is emitted (a bad count fails here, named)."""
    if usage is None:
        return None
    if not isinstance(usage, Mapping):
        raise TypeError(f"usage must be a mapping, got {type(usage).__name__}")
    for name in ("input_tokens", "output_tokens", "total_tokens"):
        value = usage.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise ValueError(f"usage {name} must be a non-negative int, got {value!r}")
    filled = full_usage(usage)
    assert filled is not None
    try:
        Usage.model_validate(filled)
    except ValueError as exc:
        raise ValueError(f"invalid usage {dict(usage)!r}: {exc}") from None
    return filled
