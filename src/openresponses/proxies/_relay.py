"""Relaying an upstream ``EventStream`` to a client as SSE bytes, and ending it honestly.

The relay passes events on as they come, a network batch per write. It owns two guarantees:

- ``sequence_number`` strictly increases on the wire, even behind an upstream that repeats or
  omits it (llama.cpp sends none); a well-numbered upstream is passed on untouched.
- A stream that fails after its first event is never reported as completed. Open parts and
  items are closed (``*.done``, item status ``incomplete``), then ``error`` and
  ``response.failed`` follow, numbered after the last event sent, built by ``EventBuilder``.

Unprefixed event types the spec does not define (vLLM's ``response.reasoning_text.delta``) are
dropped rather than forwarded: the proxy promises spec events; slug-prefixed extension events
(``acme:thing``) pass.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from .._emit import EventBuilder
from .._sse import DONE, encode_event
from .._streaming import EventStream
from ..types import CreateResponseBody, Response, StreamEvent
from ..types.events import EVENT_TYPES, OutputItemDoneEvent
from ._errors import ErrorReply, Redactor, describe

__all__ = ["OpenItems", "failure_events", "relay"]

logger = logging.getLogger("openresponses.proxy")

_STRUCTURAL = frozenset(
    {
        "response.output_item.added",
        "response.output_item.done",
        "response.content_part.added",
        "response.content_part.done",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_part.done",
    }
)
_PART_DONE = {
    "output_text": ("response.output_text.done", "text"),
    "refusal": ("response.refusal.done", "refusal"),
    "reasoning_text": ("response.reasoning.done", "text"),
}


class OpenItems:
    """Which output items, content parts and summary parts are open, fed the relayed events.

    O(1) per event, and only structural events (not deltas) change it. At most one content part
    and one summary part are open per item (README §11), so one slot each.
    """

    __slots__ = ("items", "parts", "summaries")

    def __init__(self) -> None:
        #: output_index -> item id
        self.items: dict[int, str] = {}
        #: output_index -> (content_index, part type)
        self.parts: dict[int, tuple[int, str]] = {}
        #: output_index -> summary_index
        self.summaries: dict[int, int] = {}

    def feed(self, event: Any) -> None:
        """Note what ``event`` opens or closes."""
        etype = event.type
        if etype not in _STRUCTURAL:
            return
        index = event.output_index
        if etype == "response.output_item.added":
            self.items[index] = str(getattr(event.item, "id", None) or "")
        elif etype == "response.output_item.done":
            self.items.pop(index, None)
            self.parts.pop(index, None)
            self.summaries.pop(index, None)
        elif etype == "response.content_part.added":
            self.parts[index] = (event.content_index, str(getattr(event.part, "type", "output_text")))
        elif etype == "response.content_part.done":
            self.parts.pop(index, None)
        elif etype == "response.reasoning_summary_part.added":
            self.summaries[index] = event.summary_index
        else:
            self.summaries.pop(index, None)


def failure_events(
    reply: ErrorReply,
    *,
    partial: Response | None,
    open_items: OpenItems,
    next_sequence: int,
    body: CreateResponseBody | None = None,
) -> list[StreamEvent]:
    """Close what is open, then ``error`` and ``response.failed``, numbered from ``next_sequence``.

    The failed response is the partial one (its id, model and settings, the output so far with
    the open items ``incomplete``); without one (no ``response.created`` came), the request's.
    """
    if partial is not None:
        builder = EventBuilder.for_response(partial, start_sequence=next_sequence)
    else:
        builder = EventBuilder(body, start_sequence=next_sequence)
    output = list(partial.output) if partial is not None else []
    by_id = {getattr(item, "id", None): position for position, item in enumerate(output)}
    open_positions: dict[int, int] = {}
    for index, item_id in open_items.items.items():
        position = by_id.get(item_id) if item_id else None
        if position is None and index < len(output):
            position = index
        if position is not None:
            open_positions[position] = index
    # The closed items go into the builder's accumulator as they are (nothing is re-sent), so
    # response.failed carries the whole partial output; the open ones are closed on the wire.
    for position, item in enumerate(output):
        if position not in open_positions:
            builder.accumulator.feed(
                OutputItemDoneEvent.model_construct(
                    type="response.output_item.done", sequence_number=0, output_index=position, item=item
                )
            )
    closing: list[StreamEvent] = []
    for position, index in sorted(open_positions.items(), key=lambda pair: pair[1]):
        for event in _closing(output[position], index, open_items):
            closing.append(builder.relay(event))
    usage = partial.usage.to_dict() if partial is not None and partial.usage is not None else None
    return closing + builder.fail(
        reply.message, code=reply.code, type=reply.type, param=reply.param, usage=usage
    )


def _closing(item: Any, index: int, open_items: OpenItems) -> list[StreamEvent]:
    """The ``*.done`` events that end the open parts of ``item``, then its ``output_item.done``."""
    data = item.to_dict()
    item_id = str(data.get("id") or open_items.items.get(index) or "")
    events: list[dict[str, Any]] = []
    summary_index = open_items.summaries.get(index)
    if summary_index is not None:
        summary = data.get("summary") or []
        text = summary[summary_index].get("text", "") if summary_index < len(summary) else ""
        common = {"item_id": item_id, "output_index": index, "summary_index": summary_index}
        events.append({"type": "response.reasoning_summary_text.done", "text": text, **common})
        events.append(
            {
                "type": "response.reasoning_summary_part.done",
                "part": {"type": "summary_text", "text": text},
                **common,
            }
        )
    part_slot = open_items.parts.get(index)
    if part_slot is not None:
        content_index, part_type = part_slot
        content = data.get("content") or []
        part = content[content_index] if content_index < len(content) else {"type": part_type, "text": ""}
        common = {"item_id": item_id, "output_index": index, "content_index": content_index}
        done = _PART_DONE.get(part_type)
        if done is not None:
            etype, key = done
            events.append({"type": etype, key: part.get(key, ""), **common})
        events.append({"type": "response.content_part.done", "part": part, **common})
    if data.get("type") == "function_call":
        events.append(
            {
                "type": "response.function_call_arguments.done",
                "item_id": item_id,
                "output_index": index,
                "arguments": data.get("arguments", ""),
            }
        )
    data["status"] = "incomplete"
    events.append({"type": "response.output_item.done", "output_index": index, "item": data})
    return [EVENT_TYPES[e["type"]].model_validate({"sequence_number": 0, **e}) for e in events]  # type: ignore[misc]


def _encoder() -> Callable[[Any], list[bytes]]:
    """``encode(event)``: the three byte strings of ``encode_event(event)``, joined by the caller.

    Why not ``encode_event``: this is the proxy's per-event hot path. The JSON comes straight
    from the model's pydantic-core serializer as ``bytes`` (what ``model_dump_json`` wraps, with
    the same options, without the ``str`` round trip), and the ``event:`` line is built once per
    type. Compact JSON never holds a raw CR or LF, so ``encode_sse``'s multi-line split never
    applies. The bytes are identical to ``encode_event``'s (the proxy tests compare them).
    """
    heads: dict[str, bytes] = {}

    def encode(event: Any) -> list[bytes]:
        etype = event.type
        head = heads.get(etype)
        if head is None:
            head = heads[etype] = b"event: " + etype.encode() + b"\ndata: "
        data = event.__pydantic_serializer__.to_json(event, by_alias=True, exclude_unset=True)
        return [head, data, b"\n\n"]

    return encode


async def relay(
    stream: EventStream,
    *,
    redactor: Redactor,
    body: CreateResponseBody | None = None,
    on_error: Callable[[BaseException], None] | None = None,
) -> AsyncIterator[bytes]:
    """SSE bytes for ``stream``: its events, a failure tail if it breaks, then ``[DONE]``.

    One ``bytes`` per upstream batch (the caller may coalesce several into one write). The
    caller closes ``stream`` (in ``finally``, shielded); this generator only reads it.
    """
    last = -1
    open_items = OpenItems()
    feed = open_items.feed
    encode = _encoder()
    structural = _STRUCTURAL
    known = EVENT_TYPES
    dropped: set[str] = set()
    scrub = redactor.bytes
    try:
        while True:
            batch = await stream.next_batch()
            if not batch:
                break
            parts: list[bytes] = []
            for event in batch:
                etype = event.type
                if etype not in known and ":" not in etype:
                    if etype not in dropped:
                        dropped.add(etype)
                        logger.debug("dropping non-spec upstream event type %r", etype)
                    continue
                seq = event.sequence_number
                if seq is None or seq <= last:
                    seq = last + 1
                    event = event.model_copy(update={"sequence_number": seq})
                last = seq
                if etype in structural:  # deltas (the bulk) skip the call
                    feed(event)
                parts += encode(event)
            if parts:
                yield scrub(b"".join(parts))
    except Exception as exc:
        if on_error is not None:
            on_error(exc)
        reply = redactor.reply(describe(exc))
        tail = failure_events(
            reply, partial=stream.snapshot(), open_items=open_items, next_sequence=last + 1, body=body
        )
        yield scrub(b"".join(encode_event(event) for event in tail))
    yield DONE
