"""Sans-I/O event emission: the one producer of spec-ordered Open Responses streams.

:class:`EventBuilder` is the only state machine that owns ``sequence_number`` and output
indexes for anything that *produces* streams: the scripted test server, the provider
translators (:class:`~openresponses._translate.StreamTranslator`), cache replays
(:func:`emit_response`) and failover's spliced continuations (:meth:`EventBuilder.relay`). It emits
the orders of README §11 (item added → content part added → deltas → done → part done → item
done → terminal) and feeds every event to an :class:`Accumulator`, so the terminal event carries
the full ``output`` without a second copy of the assembly logic.

The closing and terminal steps (``end_item``, ``complete``, ``incomplete``, ``fail``) are in
``_emit_close`` (a base class), the replay of a stored response (``emit_response``) in
``_emit_replay``, the per-item state and event constructors in ``_emit_state``.
"""

from __future__ import annotations

from typing import Any

from ._accumulate import Accumulator
from ._emit_close import _ClosingSteps
from ._emit_replay import emit_response
from ._emit_state import (
    ARGUMENTS_DELTA,
    DELTA,
    DONE,
    EMPTY_PART,
    SUMMARY_DELTA,
    OpenItem,
    new_id,
    parse_event_dict,
    response_skeleton,
    validated_event,
)
from .types import CreateResponseBody, Response, StreamEvent

__all__ = ["EventBuilder", "emit_response", "new_id", "parse_event_dict", "response_skeleton"]


class EventBuilder(_ClosingSteps):
    """Emit a spec-ordered event stream step by step; ``drain()`` returns what was emitted.

    ::

        b = EventBuilder(model="m")
        b.created(); b.in_progress()
        i = b.start_message(); b.start_text(i); b.text(i, "Hel"); b.text(i, "lo"); b.end_item(i)
        b.complete(usage={"input_tokens": 3, "output_tokens": 2})
        events = b.drain()
    """

    def __init__(
        self,
        body: CreateResponseBody | None = None,
        *,
        response_id: str | None = None,
        model: str | None = None,
        created_at: int | None = None,
        start_sequence: int = 0,
        start_output_index: int = 0,
    ) -> None:
        self._base = response_skeleton(body, id=response_id, model=model, created_at=created_at)
        self._seq = start_sequence
        self._next_index = start_output_index
        self._events: list[StreamEvent] = []
        #: Every emitted (or relayed) event is fed here: the response as streamed so far.
        self.accumulator = Accumulator()
        self._open: dict[int, OpenItem] = {}

    @classmethod
    def for_response(cls, response: Response, *, start_sequence: int = 0) -> EventBuilder:
        """A builder whose lifecycle events carry ``response``'s own id, model, settings, ...

        (status ``in_progress``, no output, usage or error yet): for replaying a stored response.
        """
        builder = cls(start_sequence=start_sequence)
        data = response.model_dump(mode="json", exclude_unset=True, by_alias=True)
        data.update(
            status="in_progress",
            output=[],
            usage=None,
            completed_at=None,
            error=None,
            incomplete_details=None,
        )
        builder._base = data
        return builder

    @property
    def response_id(self) -> str:
        """The id of the response being built."""
        return str(self._base["id"])

    @property
    def sequence_number(self) -> int:
        """The next sequence number to be used."""
        return self._seq

    def drain(self) -> list[StreamEvent]:
        """The events emitted since the last drain."""
        events, self._events = self._events, []
        return events

    def _emit(self, event: StreamEvent) -> StreamEvent:
        self.accumulator.feed(event)
        self._events.append(event)
        return event

    def _make(self, etype: str, **fields: Any) -> StreamEvent:
        data = {"type": etype, "sequence_number": self._seq, **fields}
        self._seq += 1
        return self._emit(validated_event(data))

    def _response(self, status: str, **changes: Any) -> dict[str, Any]:
        return dict(self._base, status=status, **changes)

    # -- response lifecycle ---------------------------------------------------------------------

    def created(self) -> StreamEvent:
        """``response.created`` (status ``in_progress``, empty output)."""
        return self._make("response.created", response=self._response("in_progress"))

    def queued(self) -> StreamEvent:
        """``response.queued``."""
        return self._make("response.queued", response=self._response("queued"))

    def in_progress(self) -> StreamEvent:
        """``response.in_progress``."""
        return self._make("response.in_progress", response=self._response("in_progress"))

    def extension(self, etype: str, **fields: Any) -> StreamEvent:
        """A slug-prefixed extension event (``acme:thing``), numbered in sequence."""
        data = {"type": etype, "sequence_number": self._seq, **fields}
        self._seq += 1
        return self._emit(parse_event_dict(data))

    def relay(self, event: StreamEvent, *, output_index: int | None = None) -> StreamEvent:
        """Re-emit an upstream ``event`` under this builder's numbering; returns the copy.

        The copy's ``sequence_number`` is this builder's next one and, when ``output_index`` is
        given, its ``output_index`` is replaced (a failover splice moving an item). The copy feeds
        the accumulator, and later ``start_*`` calls take indexes after any relayed item, so a
        splice or a cache replay keeps the spec order with strictly increasing numbers.
        """
        update: dict[str, Any] = {"sequence_number": self._seq}
        index = getattr(event, "output_index", None)
        if output_index is not None and isinstance(index, int):
            update["output_index"] = index = output_index
        if isinstance(index, int) and index >= self._next_index:
            self._next_index = index + 1
        self._seq += 1
        # Shallow: the copy shares the (immutable in practice) payload models with the original.
        return self._emit(event.model_copy(update=update))

    # -- items ----------------------------------------------------------------------------------

    def _start_item(self, item: dict[str, Any]) -> int:
        index = self._next_index
        self._next_index += 1
        self._open[index] = OpenItem(item=item, item_id=str(item.get("id", "")), kind=str(item.get("type")))
        self._make("response.output_item.added", output_index=index, item=item)
        return index

    def start_message(
        self, *, role: str = "assistant", phase: str | None = None, id: str | None = None
    ) -> int:
        """``output_item.added`` for a message; returns its output index."""
        item: dict[str, Any] = {
            "type": "message",
            "id": id or new_id("msg"),
            "status": "in_progress",
            "role": role,
            "content": [],
        }
        if phase is not None:
            item["phase"] = phase
        return self._start_item(item)

    def start_function_call(self, name: str, *, call_id: str | None = None, id: str | None = None) -> int:
        """``output_item.added`` for a function call (``arguments`` starts empty)."""
        return self._start_item(
            {
                "type": "function_call",
                "id": id or new_id("fc"),
                "call_id": call_id or new_id("call"),
                "name": name,
                "arguments": "",
                "status": "in_progress",
            }
        )

    def start_reasoning(self, *, id: str | None = None, encrypted_content: str | None = None) -> int:
        """``output_item.added`` for a reasoning item (``summary`` starts empty)."""
        item: dict[str, Any] = {
            "type": "reasoning",
            "id": id or new_id("rs"),
            "summary": [],
            "status": "in_progress",
        }
        if encrypted_content is not None:
            item["encrypted_content"] = encrypted_content
        return self._start_item(item)

    def add_item(self, item: dict[str, Any]) -> int:
        """An item emitted whole (``added`` then ``done``), e.g. an extension or compaction item."""
        added = dict(item, status=item.get("status", "in_progress"))
        return self._whole(added, dict(item, status=item.get("status", "completed")))

    def _whole(self, added: dict[str, Any], done: dict[str, Any]) -> int:
        index = self._next_index
        self._next_index += 1
        for etype, item in (("response.output_item.added", added), ("response.output_item.done", done)):
            # Whole items may be of unknown (extension) types: validated as a client would.
            data = {"type": etype, "sequence_number": self._seq, "output_index": index, "item": item}
            self._seq += 1
            self._emit(parse_event_dict(data))
        return index

    def set_encrypted_content(self, index: int, encrypted_content: str) -> None:
        """Attach an opaque provider blob (a reasoning signature) to the open item at ``index``;
        ``output_item.done`` carries it as ``encrypted_content``."""
        self._state(index).item["encrypted_content"] = encrypted_content

    def part_type(self, index: int) -> str | None:
        """The type of the content part open in item ``index`` (``output_text``, ...), or ``None``."""
        return self._state(index).part_type

    def summary_open(self, index: int) -> bool:
        """Whether a summary part of the reasoning item ``index`` is open."""
        return self._state(index).summary is not None

    def _state(self, index: int) -> OpenItem:
        try:
            return self._open[index]
        except KeyError:
            raise ValueError(f"output item {index} is not open") from None

    # -- content parts --------------------------------------------------------------------------

    def _start_part(self, index: int, part_type: str) -> OpenItem:
        state = self._state(index)
        self._end_part(state, index)
        self._end_summary(state, index)  # a summary part closes before raw reasoning starts (§11 C)
        state.content_index += 1
        state.part = []
        state.part_type = part_type
        self._make(
            "response.content_part.added",
            item_id=state.item_id,
            output_index=index,
            content_index=state.content_index,
            part=dict(EMPTY_PART[part_type]),
        )
        return state

    def start_text(self, index: int) -> None:
        """``content_part.added`` with an empty ``output_text`` part."""
        self._start_part(index, "output_text")

    def start_refusal(self, index: int) -> None:
        """``content_part.added`` with an empty ``refusal`` part."""
        self._start_part(index, "refusal")

    def start_reasoning_text(self, index: int) -> None:
        """``content_part.added`` with an empty ``reasoning_text`` part (raw reasoning)."""
        self._start_part(index, "reasoning_text")

    def delta(self, index: int, part_type: str, delta: str) -> StreamEvent:
        """A content delta into the open ``part_type`` part of item ``index`` (opening the part
        if another or none is open): ``text``, ``refusal`` and ``reasoning_text`` by part type."""
        # The hot path: no validation (every field is ours), no per-call default resolution
        # (``constructor``), the accumulator fed inline.
        state = self._open.get(index)
        if state is None or state.part_type != part_type:
            state = self._start_part(index, part_type)
        state.part.append(delta)
        make, etype = DELTA[part_type]
        event: StreamEvent = make(
            {
                "type": etype,
                "sequence_number": self._seq,
                "item_id": state.item_id,
                "output_index": index,
                "content_index": state.content_index,
                "delta": delta,
            }
        )
        self._seq += 1
        self.accumulator.feed(event)
        self._events.append(event)
        return event

    def text(self, index: int, delta: str) -> StreamEvent:
        """An ``output_text.delta`` (opens a text part if none is open)."""
        return self.delta(index, "output_text", delta)

    def refusal(self, index: int, delta: str) -> StreamEvent:
        """A ``refusal.delta`` (opens a refusal part if none is open)."""
        return self.delta(index, "refusal", delta)

    def reasoning_text(self, index: int, delta: str) -> StreamEvent:
        """A ``reasoning.delta`` of raw reasoning (opens a reasoning_text part if needed)."""
        return self.delta(index, "reasoning_text", delta)

    def _end_part(self, state: OpenItem, index: int, final: dict[str, Any] | None = None) -> None:
        part_type = state.part_type
        if part_type is None:
            return
        text = "".join(state.part)
        common = {"item_id": state.item_id, "output_index": index, "content_index": state.content_index}
        etype, name = DONE[part_type]
        self._make(etype, **{name: text}, **common)
        part = final if final is not None else dict(EMPTY_PART[part_type], **{name: text})
        self._make("response.content_part.done", part=part, **common)
        state.item.setdefault("content", []).append(part)
        state.part = []
        state.part_type = None

    # -- reasoning summaries --------------------------------------------------------------------

    def start_summary(self, index: int) -> None:
        """``reasoning_summary_part.added`` with an empty ``summary_text`` part."""
        state = self._state(index)
        self._end_part(state, index)  # one part open at a time: a raw trace closes first
        self._end_summary(state, index)
        state.summary_index += 1
        state.summary = []
        self._make(
            "response.reasoning_summary_part.added",
            item_id=state.item_id,
            output_index=index,
            summary_index=state.summary_index,
            part={"type": "summary_text", "text": ""},
        )

    def summary(self, index: int, delta: str) -> StreamEvent:
        """A ``reasoning_summary_text.delta`` (opens a summary part if none is open)."""
        state = self._state(index)
        if state.summary is None:
            self.start_summary(index)
        chunks = state.summary
        assert chunks is not None
        chunks.append(delta)
        event: StreamEvent = SUMMARY_DELTA(
            {
                "type": "response.reasoning_summary_text.delta",
                "sequence_number": self._seq,
                "item_id": state.item_id,
                "output_index": index,
                "summary_index": state.summary_index,
                "delta": delta,
            }
        )
        self._seq += 1
        return self._emit(event)

    def _end_summary(self, state: OpenItem, index: int) -> None:
        if state.summary is None:
            return
        text = "".join(state.summary)
        common = {"item_id": state.item_id, "output_index": index, "summary_index": state.summary_index}
        self._make("response.reasoning_summary_text.done", text=text, **common)
        part = {"type": "summary_text", "text": text}
        self._make("response.reasoning_summary_part.done", part=part, **common)
        state.item.setdefault("summary", []).append(part)
        state.summary = None

    # -- function calls -------------------------------------------------------------------------

    def arguments(self, index: int, delta: str) -> StreamEvent:
        """A ``function_call_arguments.delta``."""
        state = self._state(index)
        if state.args is None:
            state.args = []
        state.args.append(delta)
        event: StreamEvent = ARGUMENTS_DELTA(
            {
                "type": "response.function_call_arguments.delta",
                "sequence_number": self._seq,
                "item_id": state.item_id,
                "output_index": index,
                "delta": delta,
            }
        )
        self._seq += 1
        return self._emit(event)
