"""Sans-I/O replay of a cached answer: a fresh ``Response``, or a conformant event stream.

A cached answer is served as a *new* response: new response id, new item ids and ``call_id``s
(an old id reappearing would confuse a client that keys state on it), ``created_at`` and
``completed_at`` of now, and the ``openresponses:cache`` extension field
(``{"layer", "similarity", "key"}``).

A stream is produced by the library's one emitter (:func:`~openresponses._emit.emit_response`,
renumbered through :meth:`EventBuilder.relay`): the same kinds of events in the spec order,
fresh ``sequence_number`` values from 0, and each text, refusal, reasoning, summary or
arguments delta as long as the one the original stream carried (the entry's *plan*); an answer
that was stored from a non-streaming call streams word by word.

:class:`PlanRecorder` is the other half: it watches a live stream's deltas (O(1) each) and
keeps their lengths.
"""

from __future__ import annotations

import re
import time
from typing import Any

from .._emit import EventBuilder, emit_response
from .._emit_state import new_id
from ..types import Response, StreamEvent

__all__ = ["CACHE_FIELD", "PlanRecorder", "fresh_response", "replay_events", "stored_form"]

#: The extension field marking a response served from the cache.
CACHE_FIELD = "openresponses:cache"

_ID_PREFIX = {"message": "msg", "function_call": "fc", "reasoning": "rs", "function_call_output": "fco"}
_CONTENT_DELTAS = frozenset(
    {"response.output_text.delta", "response.refusal.delta", "response.reasoning.delta"}
)
_SUMMARY_DELTA = "response.reasoning_summary_text.delta"
_ARGUMENTS_DELTA = "response.function_call_arguments.delta"
_RESTARTED = "openresponses:stream.restarted"
_WORDS = re.compile(r"\S+\s*|\s+")


def stored_form(response: Response) -> dict[str, Any]:
    """``response`` as a cache keeps it: JSON, without our own extension fields on the top level
    (a cache or recovery marker describes the original call, not a replay)."""
    data = response.model_dump(mode="json", exclude_unset=True, by_alias=True)
    return {key: value for key, value in data.items() if not key.startswith("openresponses:")}


def fresh_response(
    stored: dict[str, Any], *, layer: str, similarity: float, key: str, now: float | None = None
) -> Response:
    """A new ``Response`` carrying the stored answer, with fresh ids and the cache marker."""
    stamp = int(time.time() if now is None else now)
    data = dict(stored)
    data["id"] = new_id("resp")
    data["created_at"] = stamp
    if data.get("completed_at") is not None:
        data["completed_at"] = stamp
    data["output"] = [_fresh_item(item) for item in stored.get("output") or []]
    data[CACHE_FIELD] = {"layer": layer, "similarity": round(float(similarity), 6), "key": key}
    response = Response.model_validate(data)
    response._provider = "cache"
    return response


def _fresh_item(item: Any) -> Any:
    if not isinstance(item, dict):
        return item
    out = dict(item)
    if "id" in out:
        out["id"] = new_id(_ID_PREFIX.get(str(out.get("type")), "item"))
    if out.get("type") == "function_call" and "call_id" in out:
        out["call_id"] = new_id("call")
    return out


def replay_events(response: Response, plan: dict[str, list[int]] | None) -> list[StreamEvent]:
    """The events streaming ``response``, deltas cut as ``plan`` says (word by word without one)."""
    builder = EventBuilder.for_response(response)
    events: list[StreamEvent] = []
    for event in emit_response(response):
        delta = getattr(event, "delta", None)
        slot = _slot(event)
        if slot is None or not isinstance(delta, str):
            events.append(builder.relay(event))
            continue
        for piece in _cut(delta, plan.get(slot) if plan else None):
            events.append(builder.relay(event.model_copy(update={"delta": piece})))
    return events


def _slot(event: StreamEvent) -> str | None:
    etype = event.type
    if etype in _CONTENT_DELTAS:
        return f"c:{getattr(event, 'output_index', 0)}:{getattr(event, 'content_index', 0)}"
    if etype == _SUMMARY_DELTA:
        return f"s:{getattr(event, 'output_index', 0)}:{getattr(event, 'summary_index', 0)}"
    if etype == _ARGUMENTS_DELTA:
        return f"a:{getattr(event, 'output_index', 0)}"
    return None


def _cut(text: str, lengths: list[int] | None) -> list[str]:
    if lengths and sum(lengths) == len(text) and all(n > 0 for n in lengths):
        pieces: list[str] = []
        start = 0
        for n in lengths:
            pieces.append(text[start : start + n])
            start += n
        return pieces
    return _WORDS.findall(text) or [text]


class PlanRecorder:
    """Keeps the length of every delta of a live stream, by slot (see :class:`CacheEntry.plan`).

    A failover restart (``openresponses:stream.restarted``) starts the plan over: what was
    shown before it is discarded by the caller too.
    """

    __slots__ = ("plan",)

    def __init__(self) -> None:
        self.plan: dict[str, list[int]] = {}

    def feed(self, event: StreamEvent) -> None:
        """Note one event (deltas only; anything else costs one lookup)."""
        slot = _slot(event)
        if slot is not None:
            delta = getattr(event, "delta", "")
            if isinstance(delta, str) and delta:
                self.plan.setdefault(slot, []).append(len(delta))
        elif event.type == _RESTARTED:
            self.plan.clear()
