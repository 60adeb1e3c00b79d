"""Replaying a stored response through an :class:`~openresponses._emit.EventBuilder`.

:func:`emit_response` streams a whole ``Response`` (a cache hit, a scripted ``json_response``, a
middleware that answered a stream with a response; ``openresponses._emit`` re-exports it). The
replay lives here so the builder module holds only the event order; it drives the builder's
package-internal steps because a replay must reproduce the stored parts exactly (annotations,
extension parts, item fields the builder would not invent), not rebuild them from deltas.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._emit_state import DONE
from .types import Response, StreamEvent

if TYPE_CHECKING:
    from ._emit import EventBuilder

__all__ = ["emit_item", "emit_response", "emit_terminal", "pieces"]

_TERMINALS = {
    "completed": "response.completed",
    "incomplete": "response.incomplete",
    "failed": "response.failed",
}


def pieces(text: str, chunking: int | None) -> list[str]:
    """``text`` as deltas: one (``chunking=None``) or of at most ``chunking`` characters; none if empty."""
    if not text:
        return []
    if chunking is None:
        return [text]
    return [text[i : i + chunking] for i in range(0, len(text), chunking)]


def emit_item(builder: EventBuilder, item: dict[str, Any], chunking: int | None) -> None:
    """Stream one stored output item (a wire dict): added, parts and deltas, done with ``item``."""
    itype = item.get("type")
    if itype == "message":
        index = builder.start_message(
            role=str(item.get("role", "assistant")), phase=item.get("phase"), id=item.get("id")
        )
    elif itype == "function_call":
        index = builder.start_function_call(
            str(item.get("name", "")), call_id=item.get("call_id"), id=item.get("id")
        )
        for piece in pieces(str(item.get("arguments", "")), chunking):
            builder.arguments(index, piece)
    elif itype == "reasoning":
        index = builder.start_reasoning(id=item.get("id"))
        for part in item.get("summary") or []:
            builder.start_summary(index)
            for piece in pieces(str(part.get("text", "")), chunking):
                builder.summary(index, piece)
    else:  # function_call_output, compaction, extension items: nothing to stream
        builder._whole(dict(item, status="in_progress") if "status" in item else item, item)
        return
    if itype != "function_call":
        _emit_content(builder, index, item.get("content") or [], chunking)
    builder._end_item(index, status=str(item.get("status", "completed")), final=item)


def _emit_content(
    builder: EventBuilder, index: int, parts: list[dict[str, Any]], chunking: int | None
) -> None:
    state = builder._state(index)
    for part in parts:
        ptype = str(part.get("type"))
        if ptype not in DONE:  # e.g. an extension part: added and done whole, nothing to stream
            builder._end_part(state, index)
            builder._end_summary(state, index)
            state.content_index += 1
            common = {"item_id": state.item_id, "output_index": index, "content_index": state.content_index}
            builder._make("response.content_part.added", part=part, **common)
            builder._make("response.content_part.done", part=part, **common)
            state.item.setdefault("content", []).append(part)
            continue
        name = DONE[ptype][1]
        text = str(part.get(name, ""))
        builder._start_part(index, ptype)
        for piece in pieces(text, chunking):
            builder.delta(index, ptype, piece)
        for position, annotation in enumerate(part.get("annotations") or []):
            builder._make(
                "response.output_text.annotation.added",
                item_id=state.item_id,
                output_index=index,
                content_index=state.content_index,
                annotation_index=position,
                annotation=annotation,
            )
        builder._end_part(state, index, final=part)


def emit_terminal(builder: EventBuilder, response: Response) -> list[StreamEvent]:
    """The terminal event for ``response`` exactly as stored (``error`` first when it failed):
    nothing is closed or recomputed, the stored response is authoritative."""
    data = response.model_dump(mode="json", exclude_unset=True, by_alias=True)
    status = str(data.get("status"))
    events: list[StreamEvent] = []
    if status == "failed":
        error = data.get("error") or {}
        code = error.get("code")
        payload = {
            "type": str(error.get("type") or code or "server_error"),
            "code": code,
            "message": str(error.get("message", "")),
            "param": error.get("param"),
        }
        events.append(builder._make("error", error=payload))
    # Any other status (a stored in_progress background response) replays as completed's event.
    events.append(builder._make(_TERMINALS.get(status, "response.completed"), response=data))
    return events


def emit_response(response: Response, *, chunking: int | None = None) -> list[StreamEvent]:
    """The full spec event sequence that streams ``response`` (cache hits, test servers, a
    short-circuited stream), numbered from 0 by an :class:`EventBuilder`.

    ``chunking=None`` sends each part's text as one delta; ``chunking=N`` in deltas of at most
    ``N`` characters. Items of other types (``function_call_output``, ``compaction``, extension
    items) are emitted whole. Every ``*.done`` carries the stored part or item, and the terminal
    event carries ``response`` itself, so accumulating the stream gives back ``response``.
    """
    if chunking is not None and chunking < 1:
        raise ValueError(f"chunking must be a positive number of characters, got {chunking!r}")
    from ._emit import EventBuilder  # here: _emit imports this module (it re-exports emit_response)

    builder = EventBuilder.for_response(response)
    builder.created()
    builder.in_progress()
    for item in response.model_dump(mode="json", exclude_unset=True, by_alias=True).get("output", []):
        emit_item(builder, item, chunking)
    emit_terminal(builder, response)
    return builder.drain()
