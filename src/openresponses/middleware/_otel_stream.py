"""Per-stream tracing: a child span per output item, lifecycle span events, delta bookkeeping.

A :class:`StreamTrace` is fed by ``EventStream.tap``: ``on_event`` for each delivered event and
``finish`` once at the end. It never attaches a context (spans are parented explicitly), so it is
safe whatever task or thread iterates the stream, and whenever the stream ends.

At levels ``none`` and ``items`` (the default) it costs nothing per delta: it taps with
``deltas=False`` and reads the delta counts (per item, in all) and the first delta's arrival time
from the stream's accumulator, which counts them anyway; the ``gen_ai.first_chunk`` span event
is added at the next parent-span event (the terminal event or an ``error``) or at the end,
stamped with that arrival time. An item's byte size is read from the item when it ends (or from
the stream's partial snapshot when the stream ends first). Levels (``Tracing(stream_events=...)``):

- ``none``: counts only, no item spans and no span events;
- ``items`` (default): item spans, lifecycle events, delta counts and sizes as attributes;
- ``deltas``: also a span event per delta, thinned geometrically so that an item span never
  exceeds the SDK's event limit; when thinning starts the span says so
  (``openresponses.deltas.sampled``) and each recorded event says how many deltas it stands for;
- ``spans``: also a tiny span per stream event (deep debugging; costs a span per event).
"""

from __future__ import annotations

import time
from typing import Literal

from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode, Tracer

from .._accumulate import Accumulator
from .._pipeline import AttrValue
from .._streaming import StreamEnd
from ..exporters import semconv as sc
from ..types import StreamEvent
from ._otel_attrs import DELTA_TYPES, LIFECYCLE_TYPES, TERMINAL_TYPES, error_type, max_span_events
from ._otel_content import Content, item_text

__all__ = ["LEVELS", "StreamEventsLevel", "StreamTrace"]

StreamEventsLevel = Literal["none", "items", "deltas", "spans"]
LEVELS: dict[str, int] = {"none": 0, "items": 1, "deltas": 2, "spans": 3}

_RESERVED_EVENTS = 8  # per item span: content part added/done etc. beside the deltas
_PART_EVENTS = frozenset(
    {
        "response.content_part.added",
        "response.content_part.done",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_part.done",
    }
)


def _item_bytes(item: object) -> int:
    """UTF-8 size of an output item's streamed text: message text and refusals, tool-call
    arguments, reasoning summaries and reasoning text (what the deltas carried)."""
    if item is None:
        return 0
    itype = getattr(item, "type", None)
    if itype == "function_call":
        texts = [getattr(item, "arguments", "") or ""]
    else:
        parts = list(getattr(item, "content", None) or [])
        if itype == "reasoning":
            parts += list(getattr(item, "summary", None) or [])
        texts = [getattr(p, "text", None) or getattr(p, "refusal", None) or "" for p in parts]
    return sum(len(t.encode("utf-8", "replace")) for t in texts if isinstance(t, str))


class _Item:
    """One output item's span and counters."""

    __slots__ = (
        "budget",
        "bytes",
        "deltas",
        "index",
        "last_recorded",
        "pending_bytes",
        "recorded",
        "sample",
        "seen",
        "span",
        "stride",
        "window",
    )

    def __init__(self, span: Span | None, budget: int, index: int) -> None:
        self.span = span
        self.index = index
        self.deltas = 0  # set from the accumulator when the item span ends
        self.seen = 0  # deltas delivered to the tap (levels "deltas" and "spans" only)
        self.bytes = 0
        # delta-event sampling state (level "deltas")
        self.budget = budget
        self.sample = budget > 0  # level "deltas": record delta events
        self.window = max(1, budget // 8)
        self.stride = 1
        self.recorded = 0
        self.last_recorded = 0
        self.pending_bytes = 0


class StreamTrace:
    """Spans and events for one event stream, under ``parent`` (an attempt or call span).

    ``accumulator`` is the stream's (``EventStream.accumulator``): the delta counts and the first
    delta's arrival time come from it. ``per_delta`` says whether ``on_event`` must see the deltas
    (tap with ``deltas=per_delta``).
    """

    __slots__ = (
        "_content",
        "_ctx",
        "_level",
        "_tracer",
        "acc",
        "ended",
        "first_chunk_recorded",
        "items",
        "items_seen",
        "last_event",
        "parent",
        "per_delta",
        "started",
    )

    def __init__(
        self,
        tracer: Tracer,
        parent: Span,
        level: int,
        content: Content,
        started: float,
        accumulator: Accumulator,
    ) -> None:
        self._tracer = tracer
        self.parent = parent
        self._ctx = trace.set_span_in_context(parent)
        self._level = level
        self._content = content
        self.started = started
        self.acc = accumulator
        self.per_delta = level >= 2
        self.items_seen = 0
        self.first_chunk_recorded = level == 0  # level "none": no span events
        self.last_event: str | None = None
        self.items: dict[int, _Item] = {}
        self.ended = False

    @property
    def first_delta(self) -> float | None:
        """``time.perf_counter()`` at the arrival of the first output delta, if one arrived."""
        return self.acc.first_delta_at

    # -- per event --------------------------------------------------------------------------------

    def on_event(self, event: StreamEvent) -> None:
        etype = event.type
        if etype in DELTA_TYPES:
            # Levels "deltas" and "spans" only (the others tap with deltas=False).
            if not self.first_chunk_recorded:
                self._first_chunk()
            item = self.items.get(event.output_index)  # type: ignore[union-attr]
            if item is not None:
                item.seen += 1
                if item.sample:
                    self._delta_event(item, event)
            return
        self.last_event = etype
        if self._level == 0:
            return
        if etype == "response.output_item.added":
            self._item_added(event)
        elif etype == "response.output_item.done":
            self._item_done(event)
        elif etype in _PART_EVENTS:
            item = self.items.get(event.output_index)  # type: ignore[union-attr]
            if item is not None and item.span is not None:
                index = getattr(event, "content_index", None)
                if index is None:
                    index = getattr(event, "summary_index", None)
                item.span.add_event(etype, {"openresponses.part.index": int(index or 0)})
        elif etype in LIFECYCLE_TYPES or etype in TERMINAL_TYPES:
            if etype in TERMINAL_TYPES and not self.first_chunk_recorded:
                self._first_chunk()
            self._lifecycle(event)
        elif etype == "error":
            if not self.first_chunk_recorded:
                self._first_chunk()
            error = getattr(event, "error", None)
            attrs: dict[str, AttrValue] = {}
            code = getattr(error, "code", None) or getattr(error, "type", None)
            if code:
                attrs[sc.OR_ERROR_CODE] = str(code)
            self.parent.add_event("error", attrs)
        if self._level >= 3:
            self._event_span(event)

    def _first_chunk(self) -> None:
        """The ``gen_ai.first_chunk`` span event, once a delta arrived, stamped with its arrival."""
        first = self.acc.first_delta_at
        if first is None:
            return
        self.first_chunk_recorded = True
        now_ns = time.time_ns()
        at_ns = now_ns - max(0, int((time.perf_counter() - first) * 1e9))
        self.parent.add_event(
            sc.EVENT_FIRST_CHUNK, {sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: first - self.started}, at_ns
        )

    def _lifecycle(self, event: StreamEvent) -> None:
        attrs: dict[str, AttrValue] = {sc.OR_SEQUENCE_NUMBER: int(getattr(event, "sequence_number", 0) or 0)}
        response = getattr(event, "response", None)
        if response is not None:
            if response.id:
                attrs[sc.GEN_AI_RESPONSE_ID] = response.id
            details = response.incomplete_details
            if details is not None:
                attrs[sc.OR_INCOMPLETE_REASON] = details.reason
            if response.error is not None and response.error.code:
                attrs[sc.OR_ERROR_CODE] = response.error.code
        self.parent.add_event(event.type, attrs)

    def _item_added(self, event: StreamEvent) -> None:
        item = getattr(event, "item", None)
        index = int(getattr(event, "output_index", -1))
        itype = str(getattr(item, "type", "unknown"))
        attrs: dict[str, AttrValue] = {sc.OR_ITEM_TYPE: itype, sc.OR_ITEM_OUTPUT_INDEX: index}
        item_id = getattr(item, "id", None)
        if item_id:
            attrs[sc.OR_ITEM_ID] = str(item_id)
        name = itype
        if itype == "function_call":
            tool = getattr(item, "name", None)
            if tool:
                attrs[sc.GEN_AI_TOOL_NAME] = str(tool)
                attrs[sc.GEN_AI_TOOL_TYPE] = "function"
                name = f"function_call {tool}"
            call_id = getattr(item, "call_id", None)
            if call_id:
                attrs[sc.GEN_AI_TOOL_CALL_ID] = str(call_id)
        span = self._tracer.start_span(name, context=self._ctx, attributes=attrs)
        self.items_seen += 1
        budget = max(0, max_span_events(span) - _RESERVED_EVENTS) if self._level >= 2 else 0
        self.items[index] = _Item(span, budget, index)

    def _item_done(self, event: StreamEvent) -> None:
        index = int(getattr(event, "output_index", -1))
        state = self.items.pop(index, None)
        if state is None or state.span is None:
            return
        item = getattr(event, "item", None)
        span = state.span
        status = getattr(item, "status", None)
        if status:
            span.set_attribute(sc.OR_ITEM_STATUS, str(status))
        if self._content.enabled and item is not None:
            itype = getattr(item, "type", None)
            field = {"function_call": "tool_arguments", "reasoning": "reasoning"}.get(str(itype), "output")
            text = self._content.text(field, item_text(item))
            if text is not None:
                key = sc.GEN_AI_TOOL_CALL_ARGUMENTS if itype == "function_call" else sc.OR_ITEM_CONTENT
                span.set_attribute(key, text)
        state.bytes = _item_bytes(item)
        self._end_item(state, None)

    def _end_item(self, state: _Item, ended_by: str | None, error: BaseException | None = None) -> None:
        span = state.span
        if span is None:
            return
        state.span = None
        state.deltas = self.acc.item_deltas(state.index)
        span.set_attribute(sc.OR_ITEM_DELTAS, state.deltas)
        span.set_attribute(sc.OR_ITEM_DELTA_BYTES, state.bytes)
        if self._level >= 2:
            span.set_attribute(sc.OR_DELTAS_RECORDED, state.recorded)
            span.set_attribute(sc.OR_DELTAS_SAMPLED, state.recorded < state.deltas)
        if ended_by is not None:
            span.set_attribute(sc.OR_ITEM_ENDED_BY, ended_by)
        if error is not None:
            span.set_status(Status(StatusCode.ERROR, error_type(error)))
        span.end()

    def _delta_event(self, item: _Item, event: StreamEvent) -> None:
        """Record this delta as a span event if the geometric sampler picks it.

        The first ``budget/8`` deltas are recorded one by one, the next ``budget/8`` one in two,
        then one in four, ...; nothing more once ``budget`` events are recorded. Each recorded
        event carries how many deltas (and bytes) it stands for, so totals stay exact.
        """
        delta: str = event.delta  # type: ignore[union-attr]
        item.pending_bytes += len(delta.encode("utf-8", "replace"))
        if item.span is None or item.recorded >= item.budget:
            return
        if (item.seen - item.last_recorded) < item.stride:
            return
        attrs: dict[str, AttrValue] = {
            sc.OR_DELTA_INDEX: item.seen,
            sc.OR_DELTA_REPRESENTS: item.seen - item.last_recorded,
            sc.OR_DELTA_BYTES: item.pending_bytes,
        }
        text = self._content.text("delta", delta)
        if text is not None:
            attrs[sc.OR_DELTA_TEXT] = text
        item.span.add_event(sc.EVENT_DELTA, attrs)
        item.recorded += 1
        item.last_recorded = item.seen
        item.pending_bytes = 0
        if item.recorded % item.window == 0:
            item.stride *= 2

    def _event_span(self, event: StreamEvent) -> None:
        index = getattr(event, "output_index", None)
        state = self.items.get(index) if isinstance(index, int) else None
        ctx = (
            trace.set_span_in_context(state.span)
            if state is not None and state.span is not None
            else self._ctx
        )
        span = self._tracer.start_span(
            event.type,
            context=ctx,
            attributes={sc.OR_SEQUENCE_NUMBER: int(getattr(event, "sequence_number", 0) or 0)},
        )
        span.end()

    # -- end ------------------------------------------------------------------------------------

    def finish(self, end: StreamEnd | None, error: BaseException | None = None) -> None:
        """End every open item span (abandoned or failed items are marked). Idempotent."""
        if self.ended:
            return
        self.ended = True
        if not self.first_chunk_recorded:
            self._first_chunk()
        if end is not None:
            error = end.error
        ended_by = (
            "error" if error is not None else ("abandoned" if end is not None and end.abandoned else "end")
        )
        partial = {} if end is None or end.response is None else dict(enumerate(end.response.output))
        for index, state in list(self.items.items()):
            # Bytes of what arrived, from the stream's partial snapshot (no per-delta work).
            state.bytes = _item_bytes(partial.get(index))
            self._end_item(state, ended_by, error)
        self.items.clear()

    @property
    def deltas(self) -> int:
        """Output deltas received so far (all items, and deltas outside any item)."""
        return self.acc.deltas

    def summary(self, end: StreamEnd | None = None) -> dict[str, AttrValue]:
        """Stream counters for the parent span (``end.events`` counts the delivered events)."""
        attrs: dict[str, AttrValue] = {sc.OR_STREAM_DELTAS: self.deltas, sc.OR_STREAM_ITEMS: self.items_seen}
        if end is not None:
            attrs[sc.OR_STREAM_EVENTS] = end.events
        if self.last_event is not None:
            attrs[sc.OR_STREAM_LAST_EVENT] = self.last_event
        return attrs

    def ttft(self) -> float | None:
        """Seconds from ``started`` to the first delta, if one arrived."""
        return None if self.first_delta is None else self.first_delta - self.started
