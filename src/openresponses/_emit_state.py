"""What :class:`~openresponses._emit.EventBuilder` keeps between events, and its small helpers.

The response skeleton (every ``ResponseResource`` key, echoing the request), id generation,
usage completion, and :class:`OpenItem`, the typed state of one output item still being streamed.
Split from ``_emit.py`` so the builder module holds only the event order.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from .types import CreateResponseBody, StreamEvent, parse_event
from .types.events import (
    EVENT_TYPES,
    FunctionCallArgumentsDeltaEvent,
    OutputTextDeltaEvent,
    ReasoningDeltaEvent,
    ReasoningSummaryTextDeltaEvent,
    RefusalDeltaEvent,
)

__all__ = [
    "ARGUMENTS_DELTA",
    "DELTA",
    "DONE",
    "EMPTY_PART",
    "SUMMARY_DELTA",
    "OpenItem",
    "constructor",
    "full_usage",
    "new_id",
    "parse_event_dict",
    "response_skeleton",
    "validated_event",
]

_counter = itertools.count(1)
#: Ids drawn per read of the OS's randomness: 12 random bytes (24 hex digits) each, one slot per
#: value of the counter, so no two ids share random bits.
_IDS_PER_DRAW = 256
_pool: tuple[int, str] = (-1, "")  # (block of the counter, its 24 * _IDS_PER_DRAW hex digits)


def _forget_pool() -> None:
    global _pool
    _pool = (-1, "")  # a forked child must not hand out its parent's next ids


os.register_at_fork(after_in_child=_forget_pool)

#: The streamable content parts: what each starts as (``content_part.added``) ...
EMPTY_PART: Mapping[str, Mapping[str, Any]] = {
    "output_text": {"type": "output_text", "text": "", "annotations": []},
    "refusal": {"type": "refusal", "refusal": ""},
    "reasoning_text": {"type": "reasoning_text", "text": ""},
}
_CONSTANTS = (str, int, float, bool, type(None))


def constructor(cls: Any, given: tuple[str, ...]) -> Callable[[dict[str, Any]], Any]:
    """``make(data)``: the same instance as ``cls.model_construct(**data)``, about 6x cheaper.

    ``data`` must hold exactly the fields ``given``, in that order (the caller writes it as a
    literal). Why: ``model_construct`` resolves every unset field's default on each call
    (about 4.5 µs for a delta event), and builders make one model per streamed delta. Here the
    defaults are read once; the instance gets the same ``__dict__`` (same key order), fields set,
    extra and private slots as ``model_construct`` gives it, so it compares, prints and
    serializes identically (``tests/test_emitter.py`` pins it). A model this cannot reproduce
    exactly (a default factory or mutable default, private attributes, a post-init hook, fields
    not in ``given`` order) gets ``model_construct`` itself.
    """
    fields = cls.model_fields
    names = tuple(fields)
    tail: dict[str, Any] = {}
    exact = names[: len(given)] == given and not cls.__private_attributes__
    exact = exact and cls.__pydantic_post_init__ is None
    for name in names[len(given) :]:
        info = fields[name]
        if info.is_required() or info.default_factory is not None or not isinstance(info.default, _CONSTANTS):
            exact = False
            break
        tail[name] = info.default
    if not exact:
        return lambda data: cls.model_construct(**data)
    extra = cls.model_config.get("extra") == "allow"
    new = object.__new__
    assign = object.__setattr__

    def make(data: dict[str, Any]) -> Any:
        fields_set = set(data)
        data.update(tail)
        model = new(cls)
        assign(model, "__dict__", data)
        assign(model, "__pydantic_fields_set__", fields_set)
        assign(model, "__pydantic_extra__", {} if extra else None)
        assign(model, "__pydantic_private__", None)
        return model

    return make


_CONTENT = ("type", "sequence_number", "item_id", "output_index", "content_index", "delta")
#: ... the constructor and type of its delta events ...
DELTA: Mapping[str, tuple[Callable[[dict[str, Any]], Any], str]] = {
    "output_text": (constructor(OutputTextDeltaEvent, _CONTENT), "response.output_text.delta"),
    "refusal": (constructor(RefusalDeltaEvent, _CONTENT), "response.refusal.delta"),
    "reasoning_text": (constructor(ReasoningDeltaEvent, _CONTENT), "response.reasoning.delta"),
}
#: Constructors of the other two delta events (summary text, function-call arguments).
SUMMARY_DELTA = constructor(
    ReasoningSummaryTextDeltaEvent,
    ("type", "sequence_number", "item_id", "output_index", "summary_index", "delta"),
)
ARGUMENTS_DELTA = constructor(
    FunctionCallArgumentsDeltaEvent, ("type", "sequence_number", "item_id", "output_index", "delta")
)
#: ... and its ``*.done`` event with the field that names the full text.
DONE: Mapping[str, tuple[str, str]] = {
    "output_text": ("response.output_text.done", "text"),
    "refusal": ("response.refusal.done", "refusal"),
    "reasoning_text": ("response.reasoning.done", "text"),
}


def new_id(prefix: str) -> str:
    """A unique opaque id such as ``msg_6f1c...``: 96 random bits (from ``os.urandom``), then a
    process-wide counter.

    Why the pool: one ``os.urandom`` call per id was two system calls per proxied request. The
    bits come from one read per 256 ids, each id its own slice; the counter, taken first, picks
    the slice, so threads never share one (a race only draws a fresh block).
    """
    global _pool
    number = next(_counter)
    block, slot = divmod(number, _IDS_PER_DRAW)
    pool = _pool
    if pool[0] != block:
        pool = _pool = (block, os.urandom(12 * _IDS_PER_DRAW).hex())
    start = 24 * slot
    return f"{prefix}_{pool[1][start : start + 24]}{number:x}"


def validated_event(data: dict[str, Any]) -> StreamEvent:
    """Validate an event of a known (spec) type from a dict."""
    return cast(StreamEvent, EVENT_TYPES[data["type"]].model_validate(data))


def parse_event_dict(data: Mapping[str, Any]) -> StreamEvent:
    """Validate an event from a dict, exactly as if it came off the wire.

    Unknown types become ``UnknownEvent`` and an ``error`` that does not fit ``ErrorEvent`` a
    ``WebSocketErrorEvent``: going through JSON reuses :func:`~openresponses.types.parse_event`'s
    fallbacks rather than restating them (only extension events and whole unknown items take this
    path, never a delta).
    """
    return parse_event(json.dumps(data))


def full_usage(usage: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """An Open Responses ``usage`` with every required key: totals and details filled with zeros."""
    if usage is None:
        return None
    out = dict(usage)
    out.setdefault("input_tokens", 0)
    out.setdefault("output_tokens", 0)
    if out.get("total_tokens") is None:
        out["total_tokens"] = out["input_tokens"] + out["output_tokens"]
    inputs = dict(out.get("input_tokens_details") or {})
    inputs.setdefault("cached_tokens", 0)
    outputs = dict(out.get("output_tokens_details") or {})
    outputs.setdefault("reasoning_tokens", 0)
    out["input_tokens_details"] = inputs
    out["output_tokens_details"] = outputs
    return out


@dataclass(slots=True)
class OpenItem:
    """One output item between ``output_item.added`` and ``output_item.done``.

    ``item`` is the wire dict that ``output_item.done`` will carry; closed parts are appended to
    its ``content`` / ``summary`` as they end. At most one content part and one summary part are
    open at a time (README §11), so each is a list of chunks or ``None``.
    """

    item: dict[str, Any]
    item_id: str
    kind: str
    #: The type of the open content part (``output_text``, ``refusal``, ``reasoning_text``).
    part_type: str | None = None
    part: list[str] = field(default_factory=list)
    content_index: int = -1
    #: Chunks of the open summary part; ``None`` when no summary part is open.
    summary: list[str] | None = None
    summary_index: int = -1
    #: Argument chunks of a function call; ``None`` until the first delta.
    args: list[str] | None = None


def response_skeleton(
    body: CreateResponseBody | None = None,
    *,
    id: str | None = None,
    model: str | None = None,
    created_at: int | None = None,
    status: str = "in_progress",
) -> dict[str, Any]:
    """All 31 keys of a ``ResponseResource``, echoing the request's settings (README §13)."""
    b = body if body is not None else CreateResponseBody()
    tools = [
        {
            "type": "function",
            "name": getattr(t, "name", None),
            "description": getattr(t, "description", None),
            "parameters": getattr(t, "parameters", None),
            "strict": getattr(t, "strict", None),
        }
        if getattr(t, "type", None) == "function"
        else t.model_dump(mode="json", exclude_unset=True, by_alias=True)
        for t in (b.tools or [])
    ]
    text: dict[str, Any] = {"format": {"type": "text"}}
    if b.text is not None:
        text = b.text.model_dump(mode="json", exclude_unset=True, by_alias=True)
        text.setdefault("format", {"type": "text"})
        if text["format"].get("type") == "json_schema":
            # The 2026-04-24 schema allows only null for an echoed schema (RULES ambiguity 6).
            text["format"]["schema"] = None
    tool_choice: Any = "auto"
    if b.tool_choice is not None:
        tool_choice = (
            b.tool_choice
            if isinstance(b.tool_choice, str)
            else b.tool_choice.model_dump(mode="json", exclude_unset=True, by_alias=True)
        )
        if isinstance(tool_choice, dict) and tool_choice.get("type") == "allowed_tools":
            tool_choice.setdefault("mode", "auto")
    reasoning = None
    if b.reasoning is not None:
        reasoning = {"effort": b.reasoning.effort, "summary": b.reasoning.summary}
    return {
        "id": id or new_id("resp"),
        "object": "response",
        "created_at": created_at if created_at is not None else int(time.time()),
        "completed_at": None,
        "status": status,
        "incomplete_details": None,
        "model": model if model is not None else (b.model or ""),
        "previous_response_id": b.previous_response_id,
        "instructions": b.instructions,
        "output": [],
        "error": None,
        "tools": tools,
        "tool_choice": tool_choice,
        "truncation": b.truncation or "disabled",
        "parallel_tool_calls": True if b.parallel_tool_calls is None else b.parallel_tool_calls,
        "text": text,
        "top_p": 1.0 if b.top_p is None else b.top_p,
        "presence_penalty": b.presence_penalty or 0.0,
        "frequency_penalty": b.frequency_penalty or 0.0,
        "temperature": 1.0 if b.temperature is None else b.temperature,
        "top_logprobs": b.top_logprobs or 0,
        "reasoning": reasoning,
        "usage": None,
        "max_output_tokens": b.max_output_tokens,
        "max_tool_calls": b.max_tool_calls,
        "store": False if b.store is None else b.store,
        "background": bool(b.background),
        "service_tier": b.service_tier or "default",
        "metadata": dict(b.metadata or {}),
        "safety_identifier": b.safety_identifier,
        "prompt_cache_key": b.prompt_cache_key,
    }
