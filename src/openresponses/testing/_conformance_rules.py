"""What the conformance checker judges: bodies against the schema, streams against the order rules.

Every function returns a list of problems (empty means conforming) instead of raising at the
first one: a report that lists the five things wrong with a stream is worth more than one that
stops at the first. Rule numbers refer to the spec digest (RULES.md): R6-R9 SSE framing, R18
the response object, R26 incomplete items, R35-R46 streaming order, R48 error bodies.

The stream rules are a small state machine over typed per-item state (``_conformance_items``:
its ``Item`` and ``Part``, and the rules inside an item), one function per event family, so
each rule lives in one place.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from .._sse import ServerSentEvent
from ..types import LIFECYCLE_EVENT_TYPES, TERMINAL_EVENT_TYPES
from ._conformance_items import StreamState, compare_output, inside_item, obj, output_item
from ._spec_schema import spec_schemas

__all__ = [
    "DONE",
    "validate_compaction",
    "validate_error_body",
    "validate_response",
    "validate_stream",
]

#: The R7 end-of-stream sentinel, as it appears in an SSE ``data:`` field.
DONE = b"[DONE]"
_MAX_PROBLEMS = 25
_TERMINAL_STATUS = {
    "response.completed": "completed",
    "response.failed": "failed",
    "response.incomplete": "incomplete",
    "response.in_progress": "in_progress",
    "response.queued": "queued",
}


def validate_response(data: Any) -> list[str]:
    """Problems with a ``ResponseResource`` body (R18: all 31 keys, types, items, usage)."""
    if not isinstance(data, Mapping):
        return [f"(root): expected a JSON object, got {type(data).__name__}"]
    return spec_schemas().problems("ResponseResource", dict(data))


def validate_compaction(data: Any) -> list[str]:
    """Problems with a ``CompactResource`` (the ``POST /responses/compact`` reply, R70)."""
    if not isinstance(data, Mapping):
        return [f"(root): expected a JSON object, got {type(data).__name__}"]
    return spec_schemas().problems("CompactResource", dict(data))


def validate_error_body(data: Any) -> list[str]:
    """Problems with an HTTP error body: R48 ``{"error": {"message", "type", "param", "code"}}``.

    The OpenAPI document defines no error schema (R10), so this follows the spec page: the four
    keys are present, ``message`` and ``type`` are strings, ``param`` and ``code`` strings or null.
    """
    if not isinstance(data, Mapping):
        return [f"(root): expected a JSON object, got {type(data).__name__}"]
    error = data.get("error")
    if not isinstance(error, Mapping):
        return ['error: missing or not an object (expected {"error": {message, type, param, code}})']
    problems = [f"error/{key}: missing" for key in ("message", "type", "param", "code") if key not in error]
    for key in ("message", "type"):
        if key in error and not isinstance(error[key], str):
            problems.append(f"error/{key}: {error[key]!r} is not a string")
    for key in ("param", "code"):
        if key in error and error[key] is not None and not isinstance(error[key], str):
            problems.append(f"error/{key}: {error[key]!r} is not a string or null")
    return problems


# -- streams ------------------------------------------------------------------------------------


def validate_stream(events: Iterable[Any], *, require_done: bool = False) -> list[str]:
    """Problems with one SSE response stream, in order of appearance (empty: it conforms).

    ``events`` are raw :class:`~openresponses._sse.ServerSentEvent` s (then the framing is checked
    too: JSON ``data``, R8 ``event:`` equal to ``type``, ``[DONE]`` only at the end), event dicts,
    or typed events. Checked: schema of every standard event; unknown unprefixed types;
    ``sequence_number`` strictly increasing (R43); ``response.created`` first and
    ``in_progress`` before content (R41, R46); each ``*.added`` closed by its ``done``; deltas
    only inside their open part or item and never after its ``*.done``; ``output_index`` /
    ``content_index`` / ``summary_index`` / ``item_id`` consistent; done texts equal the
    deltas; one terminal event, last, with ``status`` to match; ``error`` then
    ``response.failed`` (R44); an ``incomplete`` item last (R26); and every
    ``output_item.done`` item equal to the terminal response's ``output`` at that index.
    ``require_done=True`` also requires the R7 ``[DONE]`` sentinel (raw events only).
    """
    state = StreamState()
    schemas = spec_schemas()
    dicts: list[tuple[int, dict[str, Any]]] = []
    raw = False
    for i, event in enumerate(events):
        data = _as_dict(i, event, state)
        raw = raw or isinstance(event, ServerSentEvent)
        if data is not None:
            dicts.append((i, data))
    if not dicts:
        state.problems.append("the stream has no events")
    for position, (i, data) in enumerate(dicts):
        following = _next_core_type(dicts, position) if data.get("type") == "error" else None
        _check_event(state, schemas, i, data, following)
    if dicts and state.terminal is None:
        state.problems.append("the stream ended without a terminal event (completed, incomplete or failed)")
    if require_done and state.done_at is None:
        state.problems.append(
            "no data: [DONE] at the end of the stream (R7)" if raw else "no raw SSE events to find [DONE] in"
        )
    if len(state.problems) > _MAX_PROBLEMS:
        extra = len(state.problems) - _MAX_PROBLEMS
        state.problems[_MAX_PROBLEMS:] = [f"... and {extra} more problem(s)"]
    return state.problems


def _as_dict(i: int, event: Any, state: StreamState) -> dict[str, Any] | None:
    """Normalise one input; framing problems of raw SSE events are recorded on the way."""
    if isinstance(event, ServerSentEvent):
        if state.done_at is not None:
            state.problems.append(f"event #{i}: sent after data: [DONE] (R7: [DONE] ends the stream)")
        if event.data.strip() == DONE:
            state.done_at = i
            return None
        try:
            data = json.loads(event.data)
        except ValueError:
            state.problems.append(f"event #{i}: data is not JSON (R6): {event.data[:80]!r}")
            return None
        if not isinstance(data, dict):
            state.problems.append(f"event #{i}: data is {type(data).__name__}, not a JSON object (R6)")
            return None
        if event.event is None:
            state.problems.append(f"event #{i} ({data.get('type')!r}): no event: line (R8 requires one)")
        elif event.event != data.get("type"):
            state.problems.append(
                f"event #{i}: event: name {event.event!r} does not match its type {data.get('type')!r} (R8)"
            )
        return data
    if isinstance(event, Mapping):
        return dict(event)
    dump = getattr(event, "model_dump", None)
    if callable(dump):
        return dict(dump(mode="json", exclude_unset=True, by_alias=True))
    state.problems.append(f"event #{i}: not an event ({type(event).__name__})")
    return None


def _next_core_type(dicts: list[tuple[int, dict[str, Any]]], position: int) -> Any:
    """The ``type`` of the next non-extension event after ``position`` (``None`` at the end)."""
    for _, data in dicts[position + 1 :]:
        if ":" not in str(data.get("type")):
            return data.get("type")
    return None


def _check_event(state: StreamState, schemas: Any, i: int, data: dict[str, Any], following: Any) -> None:
    etype = data.get("type")
    seq = data.get("sequence_number")
    where = f"event #{i} ({etype!r}, seq {seq})"
    problems = state.problems
    if not isinstance(etype, str):
        problems.append(f"event #{i}: no string type")
        return
    if not isinstance(seq, int) or isinstance(seq, bool):
        problems.append(f"{where}: sequence_number is not an integer")
    elif state.last_seq is not None and seq <= state.last_seq:
        problems.append(f"{where}: sequence_number does not increase (previous {state.last_seq}) (R43)")
    if isinstance(seq, int) and not isinstance(seq, bool):
        state.last_seq = seq
    if state.terminal is not None:
        problems.append(f"{where}: after the terminal event #{state.terminal}")
    if ":" in etype:
        return  # a slug-prefixed extension event: only type and sequence_number are ruled (R102)
    schema = schemas.event_schema(etype)
    if schema is None:
        problems.append(f"{where}: unknown event type (extensions must be slug-prefixed, R100)")
        return
    problems.extend(f"{where}: {p}" for p in schemas.problems(schema, data, limit=5))
    if etype in LIFECYCLE_EVENT_TYPES or etype in TERMINAL_EVENT_TYPES:
        _lifecycle(state, where, i, etype, data)
    elif etype == "error":
        if following != "response.failed":
            problems.append(f"{where}: not followed by response.failed (R44; next: {following!r})")
        state.error_at = i
    else:
        if not state.created and state.error_at is None:
            state.once("created", f"{where}: before response.created (R41)")
        elif not state.in_progress:
            state.once("in_progress", f"{where}: content before response.in_progress (R41, R46)")
        if etype.startswith("response.output_item."):
            output_item(state, where, etype, data)
        else:
            inside_item(state, where, etype, data)


def _lifecycle(state: StreamState, where: str, i: int, etype: str, data: dict[str, Any]) -> None:
    problems = state.problems
    response = obj(data.get("response"))
    status = response.get("status")
    if state.response_id is None:
        state.response_id = response.get("id")
    elif response.get("id") != state.response_id:
        problems.append(f"{where}: response.id {response.get('id')!r} differs from {state.response_id!r}")
    if etype == "response.created":
        if state.created or i != 0:
            problems.append(f"{where}: response.created must be the first event, once")
        state.created = True
        if status not in ("in_progress", "queued"):
            problems.append(f"{where}: response.status is {status!r}, expected in_progress or queued")
        return
    expected = _TERMINAL_STATUS[etype]
    if status != expected:
        problems.append(f"{where}: response.status is {status!r}, expected {expected!r}")
    if not state.created and not (etype == "response.failed" and state.error_at is not None):
        state.once("created", f"{where}: before response.created (R41)")
    if etype == "response.queued":
        if state.in_progress:
            problems.append(f"{where}: response.queued after response.in_progress (R46)")
        return
    if etype == "response.in_progress":
        if state.in_progress:
            problems.append(f"{where}: response.in_progress sent twice")
        state.in_progress = True
        return
    state.terminal = i
    if etype != "response.failed":
        if not state.in_progress:
            state.once("in_progress", f"{where}: {etype} without a prior response.in_progress (R46)")
        still_open = [n for n, item in enumerate(state.items) if item.open]
        if still_open:
            problems.append(f"{where}: output items {still_open} were never done (R36)")
        # A failed response may drop or keep partial output; a finished one holds every item.
        compare_output(state, where, response.get("output"))
    if state.incomplete_item is not None and etype == "response.completed":
        problems.append(f"{where}: item {state.incomplete_item} ended incomplete, so must the response (R26)")
