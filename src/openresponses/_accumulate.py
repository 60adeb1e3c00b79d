"""Sans-I/O accumulation: streaming events in, a ``Response`` snapshot out.

Shared by the sync and async streams, the semantic cache and the proxies. Per-delta work is an
append to a list; the snapshot (joining text, copying models) is built only when asked for.
Items are keyed by ``output_index``; a ``response.output_item.done`` item is authoritative and
replaces what the deltas built. A terminal event's ``response`` is authoritative for the whole
response; if a server sends a terminal response with an empty ``output`` the accumulated items
are used instead, so nothing streamed is lost.

It also counts the output deltas (in all, and per output item) and notes when the first one
arrived, so stream observers need no per-delta callback (``EventStream.tap(deltas=False)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

from pydantic import TypeAdapter

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


def _text_field(part_type: str) -> str:
    return "refusal" if part_type == "refusal" else "text"


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
        except ``openresponses:stream.restarted``, which starts the response over."""
        self.events += 1
        etype = event.type
        # Output deltas first: they are the overwhelming majority. Inlined: O(1), no call.
        if etype in DELTA_TYPES:
            self._deltas += 1
            if self._first_delta_at is None:
                self._first_delta_at = perf_counter()
            index = event.output_index  # type: ignore[union-attr]
            state = self._items.get(index)
            if state is None:
                state = self._items[index] = _Item()
            state.deltas += 1
            if etype == "response.function_call_arguments.delta":
                state.arguments.append(event.delta)  # type: ignore[union-attr]
            elif etype == "response.reasoning_summary_text.delta":
                state.summary.setdefault(event.summary_index, _Part()).chunks.append(event.delta)  # type: ignore[union-attr]
            else:
                # output_text, refusal and reasoning deltas all live in a content part.
                content = state.content
                part = content.get(event.content_index)  # type: ignore[union-attr]
                if part is None:  # not setdefault: no throwaway _Part per delta
                    part = content[event.content_index] = _Part()  # type: ignore[union-attr]
                part.chunks.append(event.delta)  # type: ignore[union-attr]
        elif etype in _RESPONSE_EVENTS:
            response: Response = event.response  # type: ignore[union-attr]
            if etype in _TERMINAL:
                self._final = response
            else:
                self._base = response
        elif etype == "response.output_item.added" or etype == "response.output_item.done":
            state = self._item(event.output_index)  # type: ignore[union-attr]
            item = event.item  # type: ignore[union-attr]
            if item is not None:
                state.item = item
            if etype == "response.output_item.done":
                state.done = True
        elif etype == "response.content_part.added" or etype == "response.content_part.done":
            part = self._item(event.output_index).content.setdefault(  # type: ignore[union-attr]
                event.content_index,  # type: ignore[union-attr]
                _Part(),
            )
            part.part = event.part  # type: ignore[union-attr]
            if etype == "response.content_part.done":
                part.done = True
                part.chunks.clear()
        elif etype in (
            "response.reasoning_summary_part.added",
            "response.reasoning_summary_part.done",
        ):
            part = self._item(event.output_index).summary.setdefault(  # type: ignore[union-attr]
                event.summary_index,  # type: ignore[union-attr]
                _Part(),
            )
            part.part = event.part  # type: ignore[union-attr]
            if etype.endswith(".done"):
                part.done = True
                part.chunks.clear()
        elif etype.endswith(".delta"):
            self._extension_delta(event)
        elif etype.endswith(".done"):
            self._done(event, etype)
        elif etype == "openresponses:stream.restarted":
            # Failover re-ran the request elsewhere: what was accumulated is void (docs/resilience.md).
            self._base = None
            self._final = None
            self._items = {}

    def _item(self, index: int) -> _Item:
        state = self._items.get(index)
        if state is None:
            state = self._items[index] = _Item()
        return state

    def _extension_delta(self, event: Any) -> None:
        """A ``*.delta`` event outside ``DELTA_TYPES``: its text joins its content part, if it
        names one (not counted as an output delta)."""
        index = getattr(event, "output_index", None)
        if not isinstance(index, int):
            return
        state = self._item(index)
        content_index = getattr(event, "content_index", None)
        delta = getattr(event, "delta", None)
        if isinstance(content_index, int) and isinstance(delta, str):
            part = state.content.get(content_index)
            if part is None:
                part = state.content[content_index] = _Part()
            part.chunks.append(delta)

    def _done(self, event: Any, etype: str) -> None:
        if not hasattr(event, "output_index"):
            return
        state = self._item(event.output_index)
        if etype == "response.function_call_arguments.done":
            state.arguments = [event.arguments]
        elif etype == "response.reasoning_summary_text.done":
            state.summary.setdefault(event.summary_index, _Part()).chunks = [event.text]
        elif etype in ("response.output_text.done", "response.reasoning.done"):
            state.content.setdefault(event.content_index, _Part()).chunks = [event.text]
        elif etype == "response.refusal.done":
            state.content.setdefault(event.content_index, _Part()).chunks = [event.refusal]

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
            update["content"] = self._parts(getattr(item, "content", None) or [], state.content, default)
        if state.summary and hasattr(item, "summary"):
            update["summary"] = self._parts(
                getattr(item, "summary", None) or [], state.summary, "summary_text"
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
            while len(result) <= index:
                result.append(part)
            result[index] = part
        return result
