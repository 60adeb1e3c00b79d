"""Sans-I/O event emission: build spec-ordered streams, and replay a whole response as one.

:class:`EventBuilder` is the one state machine that owns ``sequence_number`` and output
indexes for anything that *produces* Open Responses streams: the scripted test server, the
Chat-Completions translators, cache replays, and failover's spliced continuations. It emits the
orders of README §11 (item added → content part added → deltas → done → part done → item
done → terminal) and feeds every event to an :class:`Accumulator`, so the terminal event
carries the full ``output`` without a second copy of the assembly logic.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterable
from typing import Any, cast

from ._accumulate import Accumulator
from .types import (
    CreateResponseBody,
    OutputTextDeltaEvent,
    Response,
    StreamEvent,
    parse_event,
)
from .types.events import EVENT_TYPES, FunctionCallArgumentsDeltaEvent, ReasoningSummaryTextDeltaEvent

__all__ = ["EventBuilder", "new_id", "replay", "response_skeleton"]

_counter = itertools.count(1)


def _event(data: dict[str, Any]) -> StreamEvent:
    """Validate an event of a known (spec) type from a dict."""
    return cast(StreamEvent, EVENT_TYPES[data["type"]].model_validate(data))


def new_id(prefix: str) -> str:
    """A unique opaque id such as ``msg_6f1c...``."""
    return f"{prefix}_{os.urandom(12).hex()}{next(_counter):x}"


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


def _usage(usage: Any) -> Any:
    if usage is None or not isinstance(usage, dict):
        return usage
    out = dict(usage)
    out.setdefault("total_tokens", out.get("input_tokens", 0) + out.get("output_tokens", 0))
    out.setdefault("input_tokens_details", {"cached_tokens": 0})
    out.setdefault("output_tokens_details", {"reasoning_tokens": 0})
    return out


class EventBuilder:
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
        self.accumulator = Accumulator()
        # output_index -> open item state: (item dict, open part index or None, part type)
        self._open: dict[int, dict[str, Any]] = {}
        self.finished = False

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
        return self._emit(_event(data))

    def _response(self, status: str, **changes: Any) -> dict[str, Any]:
        data = dict(self._base, status=status, **changes)
        return data

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

    # -- items ----------------------------------------------------------------------------------

    def _start_item(self, item: dict[str, Any]) -> int:
        index = self._next_index
        self._next_index += 1
        self._open[index] = {
            "item": item,
            "part": None,
            "part_type": None,
            "content_index": -1,
            "summary": -1,
        }
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

    def start_reasoning(self, *, id: str | None = None) -> int:
        """``output_item.added`` for a reasoning item (``summary`` starts empty)."""
        return self._start_item(
            {"type": "reasoning", "id": id or new_id("rs"), "summary": [], "status": "in_progress"}
        )

    def add_item(self, item: dict[str, Any]) -> int:
        """An item emitted whole (``added`` then ``done``), e.g. an extension or compaction item."""
        index = self._start_item(dict(item, status=item.get("status", "in_progress")))
        self._open[index]["item"] = dict(item)
        self.end_item(index, status=item.get("status", "completed"))
        return index

    def _state(self, index: int) -> dict[str, Any]:
        try:
            return self._open[index]
        except KeyError:
            raise ValueError(f"output item {index} is not open") from None

    def _item_id(self, index: int) -> str:
        return str(self._state(index)["item"]["id"])

    # -- content parts --------------------------------------------------------------------------

    def _start_part(self, index: int, part_type: str, empty: dict[str, Any]) -> None:
        state = self._state(index)
        self._end_part(index)
        self._end_summary(index)  # a summary part closes before raw reasoning starts (§11 C)
        state["content_index"] += 1
        state["part"] = []
        state["part_type"] = part_type
        self._make(
            "response.content_part.added",
            item_id=self._item_id(index),
            output_index=index,
            content_index=state["content_index"],
            part=empty,
        )

    def start_text(self, index: int) -> None:
        """``content_part.added`` with an empty ``output_text`` part."""
        self._start_part(index, "output_text", {"type": "output_text", "text": "", "annotations": []})

    def start_refusal(self, index: int) -> None:
        """``content_part.added`` with an empty ``refusal`` part."""
        self._start_part(index, "refusal", {"type": "refusal", "refusal": ""})

    def start_reasoning_text(self, index: int) -> None:
        """``content_part.added`` with an empty ``reasoning_text`` part (raw reasoning)."""
        self._start_part(index, "reasoning_text", {"type": "reasoning_text", "text": ""})

    def text(self, index: int, delta: str) -> StreamEvent:
        """An ``output_text.delta`` (opens a text part if none is open)."""
        state = self._state(index)
        if state["part_type"] != "output_text":
            self.start_text(index)
        state["part"].append(delta)
        event = OutputTextDeltaEvent.model_construct(
            type="response.output_text.delta",
            sequence_number=self._seq,
            item_id=state["item"]["id"],
            output_index=index,
            content_index=state["content_index"],
            delta=delta,
        )
        self._seq += 1
        return self._emit(event)

    def refusal(self, index: int, delta: str) -> StreamEvent:
        """A ``refusal.delta`` (opens a refusal part if none is open)."""
        state = self._state(index)
        if state["part_type"] != "refusal":
            self.start_refusal(index)
        state["part"].append(delta)
        return self._make(
            "response.refusal.delta",
            item_id=self._item_id(index),
            output_index=index,
            content_index=state["content_index"],
            delta=delta,
        )

    def reasoning_text(self, index: int, delta: str) -> StreamEvent:
        """A ``reasoning.delta`` of raw reasoning (opens a reasoning_text part if needed)."""
        state = self._state(index)
        if state["part_type"] != "reasoning_text":
            self.start_reasoning_text(index)
        state["part"].append(delta)
        return self._make(
            "response.reasoning.delta",
            item_id=self._item_id(index),
            output_index=index,
            content_index=state["content_index"],
            delta=delta,
        )

    def _end_part(self, index: int) -> None:
        state = self._state(index)
        part_type = state["part_type"]
        if part_type is None:
            return
        text = "".join(state["part"])
        common = {
            "item_id": self._item_id(index),
            "output_index": index,
            "content_index": state["content_index"],
        }
        if part_type == "output_text":
            self._make("response.output_text.done", text=text, **common)
            part: dict[str, Any] = {"type": "output_text", "text": text, "annotations": []}
        elif part_type == "refusal":
            self._make("response.refusal.done", refusal=text, **common)
            part = {"type": "refusal", "refusal": text}
        elif part_type == "reasoning_text":
            self._make("response.reasoning.done", text=text, **common)
            part = {"type": "reasoning_text", "text": text}
        else:  # summary parts are closed by _end_summary
            return
        self._make("response.content_part.done", part=part, **common)
        state["item"].setdefault("content", []).append(part)
        state["part"] = None
        state["part_type"] = None

    # -- reasoning summaries --------------------------------------------------------------------

    def start_summary(self, index: int) -> None:
        """``reasoning_summary_part.added`` with an empty ``summary_text`` part."""
        state = self._state(index)
        self._end_summary(index)
        state["summary"] += 1
        state["summary_chunks"] = []
        self._make(
            "response.reasoning_summary_part.added",
            item_id=self._item_id(index),
            output_index=index,
            summary_index=state["summary"],
            part={"type": "summary_text", "text": ""},
        )

    def summary(self, index: int, delta: str) -> StreamEvent:
        """A ``reasoning_summary_text.delta`` (opens a summary part if none is open)."""
        state = self._state(index)
        if state.get("summary_chunks") is None:
            self.start_summary(index)
        state["summary_chunks"].append(delta)
        event = ReasoningSummaryTextDeltaEvent.model_construct(
            type="response.reasoning_summary_text.delta",
            sequence_number=self._seq,
            item_id=state["item"]["id"],
            output_index=index,
            summary_index=state["summary"],
            delta=delta,
        )
        self._seq += 1
        return self._emit(event)

    def _end_summary(self, index: int) -> None:
        state = self._state(index)
        chunks = state.get("summary_chunks")
        if chunks is None:
            return
        text = "".join(chunks)
        common = {"item_id": self._item_id(index), "output_index": index, "summary_index": state["summary"]}
        self._make("response.reasoning_summary_text.done", text=text, **common)
        part = {"type": "summary_text", "text": text}
        self._make("response.reasoning_summary_part.done", part=part, **common)
        state["item"].setdefault("summary", []).append(part)
        state["summary_chunks"] = None

    # -- function calls -------------------------------------------------------------------------

    def arguments(self, index: int, delta: str) -> StreamEvent:
        """A ``function_call_arguments.delta``."""
        state = self._state(index)
        state.setdefault("args", []).append(delta)
        event = FunctionCallArgumentsDeltaEvent.model_construct(
            type="response.function_call_arguments.delta",
            sequence_number=self._seq,
            item_id=state["item"]["id"],
            output_index=index,
            delta=delta,
        )
        self._seq += 1
        return self._emit(event)

    # -- closing --------------------------------------------------------------------------------

    def end_item(self, index: int, *, status: str = "completed") -> None:
        """Close open parts (``*.done``, ``content_part.done``) and emit ``output_item.done``."""
        state = self._state(index)
        item = state["item"]
        self._end_part(index)
        self._end_summary(index)
        if item["type"] == "function_call" and "args" in state:
            item["arguments"] = "".join(state["args"])
            self._make(
                "response.function_call_arguments.done",
                item_id=item["id"],
                output_index=index,
                arguments=item["arguments"],
            )
        elif item["type"] == "function_call":
            self._make(
                "response.function_call_arguments.done",
                item_id=item["id"],
                output_index=index,
                arguments=item.get("arguments", ""),
            )
        item["status"] = status
        self._make("response.output_item.done", output_index=index, item=item)
        del self._open[index]

    def open_items(self) -> list[int]:
        """Output indexes of items not yet closed."""
        return sorted(self._open)

    def _close_all(self, status: str) -> None:
        for index in self.open_items():
            self.end_item(index, status=status)

    def _terminal(self, etype: str, status: str, **changes: Any) -> StreamEvent:
        output = [
            item.model_dump(mode="json", exclude_unset=True, by_alias=True)
            for item in self.accumulator.output()
        ]
        self.finished = True
        return self._make(etype, response=self._response(status, output=output, **changes))

    def complete(self, *, usage: dict[str, Any] | None = None) -> StreamEvent:
        """Close open items and emit ``response.completed``."""
        self._close_all("completed")
        return self._terminal(
            "response.completed", "completed", usage=_usage(usage), completed_at=int(time.time())
        )

    def incomplete(
        self, reason: str = "max_output_tokens", *, usage: dict[str, Any] | None = None
    ) -> StreamEvent:
        """Close the last open item as ``incomplete`` and emit ``response.incomplete``."""
        open_items = self.open_items()
        for index in open_items[:-1]:
            self.end_item(index, status="completed")
        if open_items:
            self.end_item(open_items[-1], status="incomplete")
        return self._terminal(
            "response.incomplete", "incomplete", usage=_usage(usage), incomplete_details={"reason": reason}
        )

    def fail(
        self,
        message: str,
        *,
        code: str | None = "server_error",
        type: str = "server_error",
        param: str | None = None,
        usage: dict[str, Any] | None = None,
    ) -> list[StreamEvent]:
        """Open items end ``incomplete``, then ``error`` and ``response.failed``."""
        self._close_all("incomplete")  # items end before the error: error → failed is adjacent
        error = self._make("error", error={"type": type, "code": code, "message": message, "param": param})
        failed = self._terminal(
            "response.failed", "failed", usage=_usage(usage), error={"code": code or type, "message": message}
        )
        return [error, failed]


def parse_event_dict(data: dict[str, Any]) -> StreamEvent:
    """Validate an event from a dict (unknown types become ``UnknownEvent``)."""
    import json

    return parse_event(json.dumps(data).encode())


def replay(response: Response, *, events: Iterable[str] = ()) -> list[StreamEvent]:
    """The spec event sequence that streams ``response`` (for cache hits and test servers).

    Text arrives as one delta per content part; the terminal event carries ``response`` itself.
    """
    del events
    data = response.model_dump(mode="json", exclude_unset=True, by_alias=True)
    start = dict(data, status="in_progress", output=[], usage=None, completed_at=None, error=None)
    start["incomplete_details"] = None
    seq = itertools.count()
    out: list[StreamEvent] = [
        _event({"type": "response.created", "sequence_number": next(seq), "response": start}),
        _event({"type": "response.in_progress", "sequence_number": next(seq), "response": start}),
    ]

    def make(etype: str, **fields: Any) -> None:
        out.append(_event({"type": etype, "sequence_number": next(seq), **fields}))

    for index, item in enumerate(data.get("output", [])):
        itype = item.get("type")
        item_id = item.get("id", "")
        added = dict(item, status="in_progress")
        if itype == "message":
            added["content"] = []
        elif itype == "function_call":
            added["arguments"] = ""
        elif itype == "reasoning":
            added["summary"] = []
            added.pop("content", None)
        if itype in ("message", "function_call", "reasoning"):
            make("response.output_item.added", output_index=index, item=added)
        else:
            out.append(
                parse_event_dict(
                    {
                        "type": "response.output_item.added",
                        "sequence_number": next(seq),
                        "output_index": index,
                        "item": item,
                    }
                )
            )
        if itype == "reasoning":
            for s_index, part in enumerate(item.get("summary", [])):
                common = {"item_id": item_id, "output_index": index, "summary_index": s_index}
                make(
                    "response.reasoning_summary_part.added",
                    part={"type": "summary_text", "text": ""},
                    **common,
                )
                make("response.reasoning_summary_text.delta", delta=part.get("text", ""), **common)
                make("response.reasoning_summary_text.done", text=part.get("text", ""), **common)
                make("response.reasoning_summary_part.done", part=part, **common)
        for c_index, part in enumerate(
            item.get("content") or [] if itype in ("message", "reasoning") else []
        ):
            common = {"item_id": item_id, "output_index": index, "content_index": c_index}
            ptype = part.get("type")
            if ptype == "output_text":
                make(
                    "response.content_part.added",
                    part={"type": "output_text", "text": "", "annotations": []},
                    **common,
                )
                make("response.output_text.delta", delta=part.get("text", ""), **common)
                make("response.output_text.done", text=part.get("text", ""), **common)
            elif ptype == "refusal":
                make("response.content_part.added", part={"type": "refusal", "refusal": ""}, **common)
                make("response.refusal.delta", delta=part.get("refusal", ""), **common)
                make("response.refusal.done", refusal=part.get("refusal", ""), **common)
            elif ptype == "reasoning_text":
                make("response.content_part.added", part={"type": "reasoning_text", "text": ""}, **common)
                make("response.reasoning.delta", delta=part.get("text", ""), **common)
                make("response.reasoning.done", text=part.get("text", ""), **common)
            else:
                make("response.content_part.added", part=part, **common)
            make("response.content_part.done", part=part, **common)
        if itype == "function_call":
            common = {"item_id": item_id, "output_index": index}
            make("response.function_call_arguments.delta", delta=item.get("arguments", ""), **common)
            make("response.function_call_arguments.done", arguments=item.get("arguments", ""), **common)
        if itype in ("message", "function_call", "reasoning"):
            make("response.output_item.done", output_index=index, item=item)
        else:
            out.append(
                parse_event_dict(
                    {
                        "type": "response.output_item.done",
                        "sequence_number": next(seq),
                        "output_index": index,
                        "item": item,
                    }
                )
            )
    status = data.get("status")
    terminal = {
        "completed": "response.completed",
        "incomplete": "response.incomplete",
        "failed": "response.failed",
    }
    make(terminal.get(str(status), "response.completed"), response=data)
    return out
