"""Open Responses results → LangChain messages: a whole ``Response``, or a stream of events.

Content is a list of LangChain's standard blocks, so ``message.content_blocks`` and
``output_version="v1"`` need no translator:

- ``{"type": "text", "text", "id"}`` per ``output_text`` part (with ``annotations`` as citations);
- ``{"type": "reasoning", "reasoning", "id", "extras": {"kind": "summary" | "text", ...}}``: one
  block per summary part and one for the raw reasoning text (``kind: "text"``), all carrying
  the item's ``id``; the first block of the item carries ``extras.encrypted_content``, which
  the message converter gives back so the provider can continue its chain of thought;
- tool calls in ``tool_calls`` (``invalid_tool_calls`` when the arguments are not a JSON object).

While streaming, every block has an ``index`` so LangChain's chunk addition merges deltas into
one block, and ``extras`` / ``id`` ride only on a block's first delta (``merge_dicts`` would
concatenate repeated strings). The last chunk (``chunk_position="last"``) carries the usage and
``response_metadata``, each set exactly once across the stream.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk, InvalidToolCall, ToolCall, ToolCallChunk
from langchain_core.messages.ai import UsageMetadata

from ..types import (
    FunctionCall,
    Message,
    OutputTextContent,
    ReasoningItem,
    RefusalContent,
    Response,
    StreamEvent,
)

__all__ = ["ChunkBuilder", "PROVIDER_TAG", "to_message", "usage_metadata"]

PROVIDER_TAG = "openresponses"
"""``ls_provider`` and ``response_metadata["model_provider"]``: no LangChain translator claims it."""


def to_message(response: Response, *, attempts: int | None = None) -> AIMessage:
    """The ``AIMessage`` for a whole response."""
    content: list[dict[str, Any]] = []
    tool_calls: list[ToolCall] = []
    invalid: list[InvalidToolCall] = []
    refusal: list[str] = []
    for item in response.output:
        if isinstance(item, ReasoningItem):
            content.extend(_reasoning_blocks(item))
        elif isinstance(item, Message):
            for part in item.content:
                if isinstance(part, OutputTextContent):
                    block: dict[str, Any] = {"type": "text", "text": part.text, "id": item.id}
                    citations = _citations(part)
                    if citations:
                        block["annotations"] = citations
                    content.append(block)
                elif isinstance(part, RefusalContent):
                    refusal.append(part.refusal)
        elif isinstance(item, FunctionCall):
            call = parse_call(item.name, item.arguments, item.call_id)
            if call["type"] == "tool_call":
                tool_calls.append(call)  # type: ignore[arg-type]
            else:
                invalid.append(call)  # type: ignore[arg-type]
    return AIMessage(
        content=content,  # type: ignore[arg-type]
        id=response.id,
        tool_calls=tool_calls,
        invalid_tool_calls=invalid,
        additional_kwargs={"refusal": "".join(refusal)} if refusal else {},
        usage_metadata=usage_metadata(response),
        response_metadata=response_metadata(response, attempts),
    )


def _reasoning_blocks(item: ReasoningItem) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for part in item.summary:
        text = getattr(part, "text", None)
        if isinstance(text, str):
            blocks.append(
                {"type": "reasoning", "id": item.id, "reasoning": text, "extras": {"kind": "summary"}}
            )
    raw = "".join(getattr(part, "text", "") or "" for part in item.content or ())
    if raw:
        blocks.append({"type": "reasoning", "id": item.id, "reasoning": raw, "extras": {"kind": "text"}})
    if item.encrypted_content:
        if not blocks:
            blocks.append({"type": "reasoning", "id": item.id, "extras": {"kind": "summary"}})
        blocks[0]["extras"]["encrypted_content"] = item.encrypted_content
    return blocks


def _citations(part: OutputTextContent) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for annotation in part.annotations or ():
        data = annotation.to_dict() if hasattr(annotation, "to_dict") else dict(annotation)
        if data.get("type") == "url_citation":
            citation = {"type": "citation", "url": data.get("url"), "title": data.get("title")}
            if "start_index" in data:
                citation["start_index"] = data["start_index"]
                citation["end_index"] = data.get("end_index")
            out.append(citation)
        else:
            out.append({"type": "non_standard_annotation", "value": data})
    return out


def parse_call(name: str, arguments: str, call_id: str) -> dict[str, Any]:
    """A ``tool_call`` dict, or an ``invalid_tool_call`` when ``arguments`` is not a JSON object."""
    try:
        args = json.loads(arguments) if arguments.strip() else {}
    except ValueError as exc:
        error = f"arguments are not valid JSON: {exc}"
    else:
        if isinstance(args, dict):
            return {"type": "tool_call", "name": name, "args": args, "id": call_id}
        error = f"arguments are JSON {type(args).__name__}, not an object"
    return {"type": "invalid_tool_call", "name": name, "args": arguments, "id": call_id, "error": error}


def usage_metadata(response: Response) -> UsageMetadata | None:
    """LangChain's usage dict (``cache_read`` and ``reasoning`` details included)."""
    usage = response.usage
    if usage is None:
        return None
    return UsageMetadata(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        total_tokens=usage.total_tokens,
        input_token_details={"cache_read": usage.input_tokens_details.cached_tokens},
        output_token_details={"reasoning": usage.output_tokens_details.reasoning_tokens},
    )


def response_metadata(response: Response, attempts: int | None) -> dict[str, Any]:
    """What served the call: id, model, status, incomplete details, provider, attempts."""
    details = response.incomplete_details
    return {
        "id": response.id,
        "model_name": response.model,
        "model_provider": PROVIDER_TAG,
        "status": response.status,
        "incomplete_details": details.to_dict() if details is not None else None,
        "provider": response.provider,
        "attempts": attempts,
        "finish_reason": _finish_reason(response),
    }


def _finish_reason(response: Response) -> str:
    if response.status == "incomplete":
        reason = response.incomplete_details.reason if response.incomplete_details else None
        return "length" if reason == "max_output_tokens" else (reason or "incomplete")
    if any(isinstance(item, FunctionCall) for item in response.output):
        return "tool_calls"
    return "stop"


class ChunkBuilder:
    """Turns typed stream events into ``AIMessageChunk``\\ s (sans-I/O: feed events, get chunks).

    ``feed`` returns the chunks an event yields (often one, sometimes none); ``finish`` builds
    the last chunk from the final response. Failures are not handled here: the stream itself
    raises the typed error (``ResponseFailedError``, ``RateLimitError``, ...) where it arrives.
    """

    def __init__(self) -> None:
        self.response_id: str | None = None
        self._blocks: dict[tuple[Any, ...], int] = {}  # (output_index, part kind, part index) → block index
        self._first_block: dict[int, int] = {}  # output_index → its first reasoning block
        self._arguments: dict[int, str] = {}  # output_index → arguments streamed so far

    def feed(self, event: StreamEvent) -> list[AIMessageChunk]:
        """The chunks for one event."""
        kind = event.type
        data: Any = event
        if kind == "response.created":
            self.response_id = data.response.id
            return []
        if kind == "response.output_text.delta":
            return [
                self._content(
                    self._block("text", data.output_index, data.content_index, data.item_id), data.delta
                )
            ]
        if kind == "response.reasoning_summary_text.delta":
            key = ("summary", data.output_index, data.summary_index)
            return [self._reasoning(key, data.output_index, data.item_id, "summary", data.delta)]
        if kind == "response.reasoning.delta":
            key = ("text", data.output_index, data.content_index)
            return [self._reasoning(key, data.output_index, data.item_id, "text", data.delta)]
        if kind == "response.refusal.delta":
            return [self._chunk(additional_kwargs={"refusal": data.delta})]
        if kind == "response.output_item.added" and isinstance(data.item, FunctionCall):
            self._arguments[data.output_index] = ""
            item = data.item
            return [self._call_chunk(data.output_index, item.arguments, name=item.name, call_id=item.call_id)]
        if kind == "response.function_call_arguments.delta":
            self._arguments[data.output_index] = self._arguments.get(data.output_index, "") + data.delta
            return [self._call_chunk(data.output_index, data.delta)]
        if kind == "response.output_item.done":
            return self._item_done(data.output_index, data.item)
        if kind == "response.output_text.annotation.added" and data.annotation is not None:
            block = self._blocks.get(("text", data.output_index, data.content_index))
            if block is not None:
                fake = OutputTextContent(type="output_text", text="", annotations=[data.annotation])
                return [
                    self._chunk(content=[{"type": "text", "index": block, "annotations": _citations(fake)}])
                ]
        return []

    def finish(self, response: Response, *, attempts: int | None = None) -> AIMessageChunk:
        """The last chunk: usage and metadata, set once for the whole stream."""
        return AIMessageChunk(
            content=[],
            id=self.response_id or response.id,
            usage_metadata=usage_metadata(response),
            response_metadata=response_metadata(response, attempts),
            chunk_position="last",
        )

    # -- pieces ---------------------------------------------------------------------------------

    def _block(self, kind: str, output_index: int, part: int, item_id: str) -> tuple[int, bool, str]:
        key = (kind, output_index, part)
        new = key not in self._blocks
        if new:
            self._blocks[key] = len(self._blocks)
        return self._blocks[key], new, item_id

    def _content(self, block: tuple[int, bool, str], delta: str) -> AIMessageChunk:
        index, new, item_id = block
        data: dict[str, Any] = {"type": "text", "text": delta, "index": index}
        if new:
            data["id"] = item_id
        return self._chunk(content=[data])

    def _reasoning(
        self, key: tuple[Any, ...], output_index: int, item_id: str, kind: str, delta: str
    ) -> AIMessageChunk:
        new = key not in self._blocks
        if new:
            self._blocks[key] = len(self._blocks)
            self._first_block.setdefault(output_index, self._blocks[key])
        data: dict[str, Any] = {"type": "reasoning", "reasoning": delta, "index": self._blocks[key]}
        if new:
            data["id"] = item_id
            data["extras"] = {"kind": kind}
        return self._chunk(content=[data])

    def _item_done(self, output_index: int, item: Any) -> list[AIMessageChunk]:
        if isinstance(item, ReasoningItem) and item.encrypted_content:
            first = self._first_block.get(output_index)
            if first is None:  # no summary or text streamed: the blob is the whole item
                index = self._blocks[("encrypted", output_index, 0)] = len(self._blocks)
                extras = {"kind": "summary", "encrypted_content": item.encrypted_content}
                block: dict[str, Any] = {"type": "reasoning", "index": index, "id": item.id, "extras": extras}
            else:
                block = {
                    "type": "reasoning",
                    "index": first,
                    "extras": {"encrypted_content": item.encrypted_content},
                }
            return [self._chunk(content=[block])]
        if isinstance(item, FunctionCall):
            streamed = self._arguments.get(output_index, "")
            if item.arguments != streamed and item.arguments.startswith(streamed):
                # A server that sends the arguments only whole, at the end: give the rest.
                return [self._call_chunk(output_index, item.arguments[len(streamed) :])]
        return []

    def _call_chunk(
        self, output_index: int, args: str, *, name: str | None = None, call_id: str | None = None
    ) -> AIMessageChunk:
        chunk = ToolCallChunk(name=name, args=args, id=call_id, index=output_index, type="tool_call_chunk")
        return self._chunk(tool_call_chunks=[chunk])

    def _chunk(self, **fields: Any) -> AIMessageChunk:
        fields.setdefault("content", [])
        return AIMessageChunk(id=self.response_id, **fields)


def text_of(chunk: AIMessageChunk) -> str:
    """The text a chunk adds (for ``on_llm_new_token``)."""
    content = chunk.content
    if isinstance(content, str):
        return content
    return "".join(
        str(block.get("text", ""))
        for block in content
        if isinstance(block, Mapping) and block.get("type") == "text"
    )
