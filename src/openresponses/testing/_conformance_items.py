"""The conformance checker's per-item stream rules: output items, their parts and texts.

Split from ``_conformance_rules`` (bodies, the stream walk, framing and lifecycle), which calls
:func:`output_item` for ``response.output_item.added`` / ``done`` and :func:`inside_item` for
every event inside an item (parts, text and summary deltas, refusals, function-call
arguments). The state they share is :class:`StreamState`, typed per item (:class:`Item`) and
part (:class:`Part`). Rule numbers are the spec digest's (RULES.md): R26 incomplete items,
R35-R46 streaming order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Item", "Part", "StreamState", "compare_output", "inside_item", "obj", "output_item"]

#: Events inside a content part, and the field that carries their text (``None``: no text).
PART_EVENTS = {
    "response.output_text.delta": "delta",
    "response.output_text.done": "text",
    "response.refusal.delta": "delta",
    "response.refusal.done": "refusal",
    "response.reasoning.delta": "delta",
    "response.reasoning.done": "text",
    "response.output_text.annotation.added": None,
}
#: The same for a reasoning item's summary parts.
SUMMARY_EVENTS = {
    "response.reasoning_summary_text.delta": "delta",
    "response.reasoning_summary_text.done": "text",
}


@dataclass(slots=True)
class Part:
    """A content or summary part between its ``added`` and ``done``."""

    open: bool = True
    text: list[str] = field(default_factory=list)
    #: ``*.done`` (the text) seen: no more deltas may follow.
    text_done: bool = False


@dataclass(slots=True)
class Item:
    """An output item from ``output_item.added`` to ``output_item.done``."""

    id: Any
    type: Any
    open: bool = True
    parts: list[Part] = field(default_factory=list)
    summaries: list[Part] = field(default_factory=list)
    arguments: list[str] = field(default_factory=list)
    arguments_done: bool = False
    final: Any = None


@dataclass(slots=True)
class StreamState:
    """The rules' memory while walking one stream."""

    problems: list[str] = field(default_factory=list)
    last_seq: int | None = None
    created: bool = False
    in_progress: bool = False
    response_id: Any = None
    items: list[Item] = field(default_factory=list)
    incomplete_item: int | None = None
    terminal: int | None = None
    error_at: int | None = None
    done_at: int | None = None
    #: Rules that are reported at their first breach only (one missing event breaks every later one).
    reported: set[str] = field(default_factory=set)

    def once(self, rule: str, message: str) -> None:
        """Record ``message`` unless ``rule`` was already reported for this stream."""
        if rule not in self.reported:
            self.reported.add(rule)
            self.problems.append(message)


def compare_output(state: StreamState, where: str, output: Any) -> None:
    """A terminal response's ``output`` against the items the stream delivered (ids, types, texts)."""
    if not isinstance(output, list):
        return  # the schema check has reported it
    if len(output) != len(state.items):
        state.problems.append(
            f"{where}: response.output has {len(output)} item(s), the stream added {len(state.items)}"
        )
    for index, (item, final) in enumerate(zip(state.items, output, strict=False)):
        if item.final is not None and item.final != final:
            state.problems.append(
                f"{where}: response.output[{index}] differs from that item's output_item.done"
            )


def output_item(state: StreamState, where: str, etype: str, data: dict[str, Any]) -> None:
    """``response.output_item.added`` / ``done``: indexes in order, ids kept, the done item's text."""
    problems = state.problems
    index = data.get("output_index")
    item = obj(data.get("item"))
    if etype == "response.output_item.added":
        if index != len(state.items):
            problems.append(f"{where}: output_index {index!r}, expected {len(state.items)} (the next index)")
        if state.incomplete_item is not None:
            problems.append(f"{where}: item added after item {state.incomplete_item} ended incomplete (R26)")
        if item.get("status", "in_progress") != "in_progress":
            problems.append(f"{where}: a new item has status {item.get('status')!r}, not in_progress (R38)")
        if any(known.id == item.get("id") for known in state.items):
            problems.append(f"{where}: item id {item.get('id')!r} was already used (R29)")
        state.items.append(Item(id=item.get("id"), type=item.get("type")))
        return
    known = _item_at(state, where, index)
    if known is None:
        return
    if not known.open:
        problems.append(f"{where}: output_item.done sent twice for output_index {index}")
    if item.get("id") != known.id:
        problems.append(f"{where}: item id {item.get('id')!r} differs from the added {known.id!r}")
    if any(part.open for part in known.parts) or any(part.open for part in known.summaries):
        problems.append(f"{where}: a content or summary part of this item is still open (R39)")
    item_status = item.get("status")
    if item_status == "in_progress":
        problems.append(f"{where}: a done item has status in_progress (R25)")
    if item_status == "incomplete":
        state.incomplete_item = index
    _compare_item_text(state, where, known, item)
    known.open = False
    known.final = data.get("item")


def _compare_item_text(state: StreamState, where: str, known: Item, item: Mapping[str, Any]) -> None:
    content = item.get("content")
    if isinstance(content, list):
        for n, (part, final) in enumerate(zip(known.parts, content, strict=False)):
            text = _part_text(final)
            if part.text and text is not None and text != "".join(part.text):
                state.problems.append(f"{where}: content[{n}] text differs from its deltas")
    if known.arguments and item.get("arguments") != "".join(known.arguments):
        state.problems.append(f"{where}: arguments differ from the function_call_arguments deltas")


def inside_item(state: StreamState, where: str, etype: str, data: dict[str, Any]) -> None:
    """An event inside an open item: its part opened first, deltas before their ``done``."""
    problems = state.problems
    known = _item_at(state, where, data.get("output_index"))
    if known is None:
        return
    if not known.open:
        problems.append(f"{where}: the item at output_index {data.get('output_index')} is already done")
    if data.get("item_id") != known.id:
        problems.append(f"{where}: item_id {data.get('item_id')!r} is not that item's id {known.id!r}")
    if etype.startswith("response.function_call_arguments."):
        if known.type != "function_call":
            problems.append(f"{where}: arguments for a {known.type!r} item")
        if known.arguments_done:
            problems.append(f"{where}: after function_call_arguments.done")
        if etype.endswith(".delta"):
            known.arguments.append(str(data.get("delta", "")))
        else:
            known.arguments_done = True
            if known.arguments and data.get("arguments") != "".join(known.arguments):
                problems.append(f"{where}: arguments differ from the concatenated deltas")
        return
    summary = "summary" in etype
    parts = known.summaries if summary else known.parts
    index_key = "summary_index" if summary else "content_index"
    n = data.get(index_key)
    if etype.endswith("_part.added"):
        if n != len(parts):
            problems.append(f"{where}: {index_key} {n!r}, expected {len(parts)} (the next index)")
        if any(part.open for part in parts):
            problems.append(f"{where}: a part of this item is still open (parts come one after another, R40)")
        parts.append(Part())
        return
    if not isinstance(n, int) or not 0 <= n < len(parts):
        problems.append(f"{where}: {index_key} {n!r} was never added (R39)")
        return
    part = parts[n]
    if not part.open:
        problems.append(f"{where}: part {n} is already done (R39)")
    if etype.endswith("_part.done"):
        text = _part_text(data.get("part"))
        if part.text and text is not None and text != "".join(part.text):
            problems.append(f"{where}: the done part's text differs from its deltas")
        part.open = False
        return
    field_name = (SUMMARY_EVENTS if summary else PART_EVENTS).get(etype)
    if part.text_done and etype != "response.output_text.annotation.added":
        problems.append(f"{where}: after the part's text was done (R39)")
    if etype.endswith(".delta"):
        part.text.append(str(data.get("delta", "")))
    elif field_name is not None:
        part.text_done = True
        if part.text and data.get(field_name) != "".join(part.text):
            problems.append(f"{where}: {field_name} differs from the concatenated deltas")


def _item_at(state: StreamState, where: str, index: Any) -> Item | None:
    if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < len(state.items):
        return state.items[index]
    state.problems.append(f"{where}: output_index {index!r} was never added (R38)")
    return None


def obj(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a JSON object, else an empty one (the schema check reports the type)."""
    return value if isinstance(value, Mapping) else {}


def _part_text(part: Any) -> str | None:
    if not isinstance(part, Mapping):
        return None
    for key in ("text", "refusal"):
        if isinstance(part.get(key), str):
            return str(part[key])
    return None
