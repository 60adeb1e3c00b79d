"""Sans-I/O accumulation: streaming events in, a ``Response`` snapshot out.

Shared by the sync and async streams, the semantic cache and the proxies. Per-delta work is an
append to a list; the snapshot (joining text, copying models) is built only when asked for.
Items are keyed by ``output_index``; a ``response.output_item.done`` item is authoritative and
replaces what the deltas built. A terminal event's ``response`` is authoritative for the whole
response; if a server sends a terminal response with an empty ``output`` the accumulated items
are used instead, so nothing streamed is lost.

It also counts the output deltas (in all, and per output item) and notes when the first one
arrived, so stream observers need no per-delta callback (``EventStream.tap(deltas=False)``).

Indexes are checked against what the stream announced: a ``content_index`` / ``summary_index``
must name a part already seen (or listed by the item as announced) or the next new one; an
``output_index`` must be an integer from 0 (items are keyed, so a gap costs nothing, and a
resumed stream legitimately starts past 0). Anything else (a negative index, a part index past
the next one) raises :class:`~openresponses.ProtocolError` with the partial response, and the
event is not applied: state grows with the events received, never with an index's value.
Extension events never fail a stream; one naming an index that does not exist is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

from pydantic import TypeAdapter

from ._errors import ProtocolError
from .types import ContentPart, OutputItem, Response, StreamEvent
from .types.events import TERMINAL_EVENT_TYPES as _TERMINAL

__all__ = ["DELTA_TYPES", "Accumulator"]

_RESPONSE_EVENTS = frozenset(
    {
        "response.created",
        "response.queued",
        "response.in_progress",
        "response.completed",
        "response.failed",
        "response.incomplete",
    }
)
#: The output deltas: what ``deltas``, ``first_delta_at`` and ``item_deltas`` count.
DELTA_TYPES = frozenset(
    {
        "response.output_text.delta",
        "response.refusal.delta",
        "response.function_call_arguments.delta",
        "response.reasoning.delta",
        "response.reasoning_summary_text.delta",
    }
)
#: The standard ``*.done`` events carrying a part's (or the arguments') final text.
_TEXT_DONE = frozenset(
    {
        "response.function_call_arguments.done",
        "response.reasoning_summary_text.done",
        "response.output_text.done",
        "response.reasoning.done",
        "response.refusal.done",
    }
)
_PART: TypeAdapter[ContentPart] = TypeAdapter(ContentPart)


@dataclass(slots=True)
class _Part:
    part: ContentPart | None = None
    chunks: list[str] = field(default_factory=list)
    done: bool = False


@dataclass(slots=True)
class _Item:
    item: OutputItem | None = None
    done: bool = False
    content: dict[int, _Part] = field(default_factory=dict)
    summary: dict[int, _Part] = field(default_factory=dict)
    arguments: list[str] = field(default_factory=list)
    deltas: int = 0
    # One past the highest content / summary index seen: with the parts the item itself lists,
    # the next index a new part may take.
    content_next: int = 0
    summary_next: int = 0


def _text_field(part_type: str) -> str:
    return "refusal" if part_type == "refusal" else "text"


def _listed(value: Any) -> list[Any]:
    """An item's ``content`` / ``summary`` if it is a list (an unknown item may hold anything)."""
    return value if isinstance(value, list) else []


def _shown(value: Any) -> str:
    """An index for a message: a hostile 5,000-digit int cannot even be printed."""
    if isinstance(value, int) and not -(10**18) < value < 10**18:
        return f"a {value.bit_length()}-bit number"
    return repr(value)[:40] if not isinstance(value, int) else str(value)


class Accumulator:
    """Builds the response from its events. ``feed`` every event; ``snapshot()`` any time."""

    __slots__ = ("_base", "_deltas", "_final", "_first_delta_at", "_items", "events")

    def __init__(self) -> None:
        self._base: Response | None = None
        self._final: Response | None = None
        self._items: dict[int, _Item] = {}
        self._deltas = 0
        self._first_delta_at: float | None = None
        #: Number of events fed.
        self.events = 0

    @property
    def final(self) -> Response | None:
        """The terminal event's response, once it arrived."""
        return self._final

    @property
    def deltas(self) -> int:
        """Output deltas fed (see ``DELTA_TYPES``), all items together; a restart does not reset it."""
        return self._deltas

    @property
    def first_delta_at(self) -> float | None:
        """``time.perf_counter()`` when the first output delta was fed (arrived), or ``None``."""
        return self._first_delta_at

    def item_deltas(self, output_index: int) -> int:
        """Output deltas fed for the item at ``output_index`` (since the last restart)."""
        state = self._items.get(output_index)
        return 0 if state is None else state.deltas

    def reopen(self) -> None:
        """Forget the terminal response: the stream goes on elsewhere (a failover continuation
        of a response whose ``response.failed`` was received but not passed on)."""
        self._final = None

    def feed(self, event: StreamEvent) -> None:
        """Apply one event. Unknown and extension events are counted and otherwise ignored,
        except ``openresponses:stream.restarted``, which starts the response over.

        Raises :class:`~openresponses.ProtocolError` (with the partial response; the event is
        not applied) when an index names no announced item or part nor the next new one.
        """
        self.events += 1
        etype: str = event.type
        # Output deltas first: they are the overwhelming majority. Inlined: O(1), no call; the
        # index checks run only when a delta opens a new item or part.
        if etype in DELTA_TYPES:
            index = event.output_index  # type: ignore[union-attr]
            state = self._items.get(index)
            if state is None:
                state = self._new_item(index, event)
            if etype == "response.function_call_arguments.delta":
                state.arguments.append(event.delta)  # type: ignore[union-attr]
            elif etype == "response.reasoning_summary_text.delta":
                part = state.summary.get(event.summary_index)  # type: ignore[union-attr]
                if part is None:
                    part = self._new_part(state, "summary_index", event.summary_index, event)  # type: ignore[union-attr]
                part.chunks.append(event.delta)  # type: ignore[union-attr]
            else:
                # output_text, refusal and reasoning deltas all live in a content part.
                part = state.content.get(event.content_index)  # type: ignore[union-attr]
                if part is None:  # not setdefault: no throwaway _Part per delta
                    part = self._new_part(state, "content_index", event.content_index, event)  # type: ignore[union-attr]
                part.chunks.append(event.delta)  # type: ignore[union-attr]
            state.deltas += 1
            self._deltas += 1
            if self._first_delta_at is None:
                self._first_delta_at = perf_counter()
        elif etype in _RESPONSE_EVENTS:
            response: Response = event.response  # type: ignore[union-attr]
            if etype in _TERMINAL:
                self._final = response
            else:
                self._base = response
        elif etype == "response.output_item.added" or etype == "response.output_item.done":
            state = self._item(event.output_index, event)  # type: ignore[union-attr]
            item = event.item  # type: ignore[union-attr]
            if item is not None:
                state.item = item
            if etype == "response.output_item.done":
                state.done = True
        elif etype == "response.content_part.added" or etype == "response.content_part.done":
            state = self._item(event.output_index, event)  # type: ignore[union-attr]
            part = self._part(state, "content_index", event.content_index, event)  # type: ignore[union-attr]
            part.part = event.part  # type: ignore[union-attr]
            if etype == "response.content_part.done":
                part.done = True
                part.chunks.clear()
        elif etype in (
            "response.reasoning_summary_part.added",
            "response.reasoning_summary_part.done",
        ):
            state = self._item(event.output_index, event)  # type: ignore[union-attr]
            part = self._part(state, "summary_index", event.summary_index, event)  # type: ignore[union-attr]
            part.part = event.part  # type: ignore[union-attr]
            if etype.endswith(".done"):
                part.done = True
                part.chunks.clear()
        elif etype == "openresponses:stream.restarted":
            # Failover re-ran the request elsewhere: what was accumulated is void (docs/resilience.md).
            self._base = None
            self._final = None
            self._items = {}
        elif etype in _TEXT_DONE:
            self._done(event, etype)
        elif etype.endswith(".delta"):
            self._extension_delta(event)

    # -- index checks --------------------------------------------------------------------------

    def _item(self, index: Any, event: Any) -> _Item:
        state = self._items.get(index)
        return state if state is not None else self._new_item(index, event)

    def _new_item(self, index: Any, event: Any) -> _Item:
        """A new item at ``index``: any index not below zero.

        Items are keyed, never listed by index, so a gap costs nothing; and a stream may start
        past 0 (resumed mid-response, ``EventBuilder(start_output_index=...)``, a relayed splice).
        """
        if type(index) is not int or index < 0:
            raise self._bad_index(event, "output_index", index, "it must be an integer from 0")
        state = self._items[index] = _Item()
        return state

    def _part(self, state: _Item, field_name: str, index: Any, event: Any) -> _Part:
        parts = state.summary if field_name == "summary_index" else state.content
        part = parts.get(index)
        return part if part is not None else self._new_part(state, field_name, index, event)

    def _new_part(self, state: _Item, field_name: str, index: Any, event: Any) -> _Part:
        """A part not seen yet: one the item lists, or the next new one."""
        summary = field_name == "summary_index"
        listed = len(_listed(getattr(state.item, "summary" if summary else "content", None)))
        seen = state.summary_next if summary else state.content_next
        count = max(listed, seen)
        if type(index) is not int or not 0 <= index <= count:
            item = _shown(getattr(event, "output_index", None))
            raise self._bad_index(
                event,
                field_name,
                index,
                f"output item {item} has {count} parts: it must name one of them or the next new "
                f"one (0..{count})",
            )
        part = _Part()
        if summary:
            state.summary[index] = part
            state.summary_next = max(seen, index + 1)
        else:
            state.content[index] = part
            state.content_next = max(seen, index + 1)
        return part

    def _bad_index(self, event: Any, field_name: str, index: Any, rule: str) -> ProtocolError:
        seq = getattr(event, "sequence_number", None)
        where = f" (sequence_number {_shown(seq)})" if seq is not None else ""
        return ProtocolError(
            f"The stream sent {event.type!r}{where} with {field_name} {_shown(index)}, but {rule}.",
            response=self.snapshot(),
        )

    def _extension_delta(self, event: Any) -> None:
        """A ``*.delta`` event outside ``DELTA_TYPES``: its text joins its content part, if it
        names one that exists or the next new one (not counted as an output delta)."""
        index = getattr(event, "output_index", None)
        content_index = getattr(event, "content_index", None)
        delta = getattr(event, "delta", None)
        if type(index) is not int or type(content_index) is not int or not isinstance(delta, str):
            return
        try:
            state = self._item(index, event)
            part = self._part(state, "content_index", content_index, event)
        except ProtocolError:
            return  # an extension event never fails the stream
        part.chunks.append(delta)

    def _done(self, event: Any, etype: str) -> None:
        """The text ``*.done`` events: the final text of an argument string or a part."""
        state = self._item(event.output_index, event)
        if etype == "response.function_call_arguments.done":
            state.arguments = [event.arguments]
        elif etype == "response.reasoning_summary_text.done":
            self._part(state, "summary_index", event.summary_index, event).chunks = [event.text]
        elif etype == "response.refusal.done":
            self._part(state, "content_index", event.content_index, event).chunks = [event.refusal]
        else:  # output_text.done, reasoning.done
            self._part(state, "content_index", event.content_index, event).chunks = [event.text]

    # -- snapshots ---------------------------------------------------------------------------

    def output(self) -> list[OutputItem]:
        """The output items so far, in ``output_index`` order, deltas applied."""
        items: list[OutputItem] = []
        for index in sorted(self._items):
            built = self._build(self._items[index])
            if built is not None:
                items.append(built)
        return items

    def snapshot(self) -> Response | None:
        """The response as far as it is known: final if a terminal event came, else partial.

        ``None`` before any ``response.*`` event carried a response object.
        """
        if self._final is not None:
            if self._final.output or not self._items:
                return self._final
            return self._final.model_copy(update={"output": self.output()})
        if self._base is None:
            return None
        return self._base.model_copy(update={"output": self.output()})

    def _build(self, state: _Item) -> OutputItem | None:
        item = state.item
        if item is None or state.done:
            return item
        update: dict[str, Any] = {}
        if state.arguments and hasattr(item, "arguments"):
            update["arguments"] = "".join(state.arguments)
        if state.content and hasattr(item, "content"):
            default = "reasoning_text" if item.type == "reasoning" else "output_text"
            update["content"] = self._parts(_listed(getattr(item, "content", None)), state.content, default)
        if state.summary and hasattr(item, "summary"):
            update["summary"] = self._parts(
                _listed(getattr(item, "summary", None)), state.summary, "summary_text"
            )
        return item.model_copy(update=update) if update else item

    @staticmethod
    def _parts(existing: list[ContentPart], parts: dict[int, _Part], default_type: str) -> list[ContentPart]:
        result = list(existing)
        for index in sorted(parts):
            state = parts[index]
            part = state.part
            if part is None:
                part = _PART.validate_python({"type": default_type, "text": "", "annotations": []})
            if state.chunks and not state.done:
                name = _text_field(part.type)
                part = part.model_copy(update={name: "".join(state.chunks)})
            # Indexes were checked on arrival (at most one past the parts known then), so this
            # only replaces or appends: never padding proportional to an index.
            if index < len(result):
                result[index] = part
            else:
                result.append(part)
        return result
