"""pydantic-ai messages to an Open Responses body, and a ``Response`` back to a ``ModelResponse``.

Sans-I/O: no client, no network; :mod:`openresponses.integrations.pydantic_ai` sends what this
builds. pydantic-ai has already run ``Model.prepare_messages`` on the history (retries rendered
as tool returns or user prompts, instruction deltas projected), so the parts seen here are the
sendable ones. Reasoning round-trips: a ``ThinkingPart`` from this adapter keeps the reasoning
item's id and ``encrypted_content`` (as its ``signature``) and goes back as a reasoning item.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from pydantic_ai.messages import (
    BinaryContent,
    DocumentUrl,
    FinishReason,
    ImageUrl,
    ModelMessage,
    ModelRequest,
    ModelResponse,
    ModelResponsePart,
    SystemPromptPart,
    TextContent,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models import ModelRequestParameters
from pydantic_ai.settings import ModelSettings
from pydantic_ai.tools import ToolDefinition
from pydantic_ai.usage import RequestUsage

from ..types import Response
from ._normalize import normalize_body

__all__ = ["PROVIDER_NAME", "build_body", "finish_reason", "map_response", "map_usage"]

PROVIDER_NAME = "openresponses"
"""``provider_name`` stamped on the parts this adapter makes (so it knows which reasoning is its own)."""

# pydantic-ai ModelSettings key -> Open Responses body field.
_SETTINGS = {
    "temperature": "temperature",
    "top_p": "top_p",
    "max_tokens": "max_output_tokens",
    "parallel_tool_calls": "parallel_tool_calls",
    "presence_penalty": "presence_penalty",
    "frequency_penalty": "frequency_penalty",
}


def build_body(
    model: str,
    messages: list[ModelMessage],
    settings: ModelSettings | None,
    params: ModelRequestParameters,
    *,
    instructions: str | None,
    extra_body: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The whole ``POST /responses`` body for one pydantic-ai request (normalised to the spec)."""
    body: dict[str, Any] = {"model": model, "input": _input(messages)}
    if instructions:
        body["instructions"] = instructions
    tools = [_tool(t) for t in [*params.function_tools, *params.output_tools]]
    if tools:
        body["tools"] = tools
        if not params.allow_text_output:
            body["tool_choice"] = "required"  # the run can only end with an output tool
    if params.output_mode == "native" and params.output_object is not None:
        out = params.output_object
        fmt: dict[str, Any] = {"type": "json_schema", "name": out.name or "output", "schema": out.json_schema}
        if out.description:
            fmt["description"] = out.description
        if out.strict is not None:
            fmt["strict"] = out.strict
        body["text"] = {"format": fmt}
    for key, field in _SETTINGS.items():
        value = (settings or {}).get(key)
        if value is not None:
            body[field] = value
    merged = dict(body)
    per_run = (settings or {}).get("extra_body")
    if isinstance(per_run, Mapping):
        merged.update(per_run)
    merged.update(extra_body or {})
    return normalize_body(merged)


def _tool(tool: ToolDefinition) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "function", "name": tool.name, "parameters": tool.parameters_json_schema}
    if tool.description:
        out["description"] = tool.description
    if tool.strict is not None:
        out["strict"] = bool(tool.strict)
    return out


def _input(messages: list[ModelMessage]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for message in messages:
        if isinstance(message, ModelRequest):
            for part in message.parts:
                items.extend(_request_part(part))
        elif isinstance(message, ModelResponse):
            for rpart in message.parts:
                items.extend(_response_part(rpart))
    return items


def _request_part(part: Any) -> list[dict[str, Any]]:
    if isinstance(part, SystemPromptPart):
        return [{"type": "message", "role": "system", "content": part.content}]
    if isinstance(part, UserPromptPart):
        return [{"type": "message", "role": "user", "content": _user_content(part.content)}]
    if isinstance(part, ToolReturnPart):
        return [
            {
                "type": "function_call_output",
                "call_id": part.tool_call_id,
                "output": part.model_response_str(),
            }
        ]
    # Bookkeeping parts (settings / availability deltas) carry nothing this API renders.
    return []


def _user_content(content: Any) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    parts: list[dict[str, Any]] = []
    for piece in content:
        if isinstance(piece, str):
            parts.append({"type": "input_text", "text": piece})
        elif isinstance(piece, TextContent):
            parts.append({"type": "input_text", "text": piece.content})
        elif isinstance(piece, ImageUrl):
            parts.append({"type": "input_image", "image_url": piece.url, "detail": "auto"})
        elif isinstance(piece, DocumentUrl):
            parts.append({"type": "input_file", "file_url": piece.url})
        elif isinstance(piece, BinaryContent):
            data = base64.b64encode(piece.data).decode("ascii")
            url = f"data:{piece.media_type};base64,{data}"
            if piece.is_image:
                parts.append({"type": "input_image", "image_url": url, "detail": "auto"})
            else:
                parts.append({"type": "input_file", "file_data": url, "filename": "file"})
        else:
            raise TypeError(f"openresponses cannot send user content of type {type(piece).__name__}")
    return parts


def _response_part(part: ModelResponsePart) -> list[dict[str, Any]]:
    if isinstance(part, TextPart):
        text = {"type": "output_text", "text": part.content, "annotations": []}
        return [{"type": "message", "role": "assistant", "content": [text]}]
    if isinstance(part, ToolCallPart):
        return [
            {
                "type": "function_call",
                "call_id": part.tool_call_id,
                "name": part.tool_name,
                "arguments": part.args_as_json_str(),
            }
        ]
    if isinstance(part, ThinkingPart):
        if part.provider_name != PROVIDER_NAME:
            return []  # another provider's thinking: its signature means nothing here
        summary = [{"type": "summary_text", "text": part.content}] if part.content else []
        item: dict[str, Any] = {"type": "reasoning", "summary": summary, "content": None}
        if part.id:
            item["id"] = part.id
        if part.signature:
            item["encrypted_content"] = part.signature
        return [item]
    return []


def map_response(response: Response, model_name: str) -> ModelResponse:
    """A finished ``Response`` as pydantic-ai's ``ModelResponse``."""
    parts: list[ModelResponsePart] = []
    for item in response.output:
        data = item.to_dict()
        kind = data.get("type")
        if kind == "message":
            for piece in data.get("content") or []:
                if piece.get("type") == "output_text":
                    parts.append(TextPart(piece.get("text", ""), id=data.get("id")))
                elif piece.get("type") == "refusal":
                    parts.append(TextPart(piece.get("refusal", ""), id=data.get("id")))
        elif kind == "function_call":
            parts.append(
                ToolCallPart(
                    data["name"],
                    data.get("arguments") or "{}",
                    tool_call_id=data["call_id"],
                    id=data.get("id"),
                )
            )
        elif kind == "reasoning":
            parts.append(
                ThinkingPart(
                    _reasoning_text(data),
                    id=data.get("id"),
                    signature=data.get("encrypted_content"),
                    provider_name=PROVIDER_NAME,
                )
            )
    return ModelResponse(
        parts=parts,
        usage=map_usage(response),
        model_name=response.model or model_name,
        provider_name=PROVIDER_NAME,
        provider_response_id=response.id,
        finish_reason=finish_reason(response),
        provider_details=_details(response),
    )


def _reasoning_text(data: Mapping[str, Any]) -> str:
    pieces = [p.get("text", "") for p in data.get("summary") or []]
    if not any(pieces):
        pieces = [p.get("text", "") for p in data.get("content") or []]
    return "\n\n".join(p for p in pieces if p)


def map_usage(response: Response | None) -> RequestUsage:
    """The response's token usage (cache reads and reasoning tokens included)."""
    usage = response.usage if response is not None else None
    if usage is None:
        return RequestUsage()
    data = usage.to_dict()
    return RequestUsage(
        input_tokens=data.get("input_tokens") or 0,
        output_tokens=data.get("output_tokens") or 0,
        cache_read_tokens=(data.get("input_tokens_details") or {}).get("cached_tokens") or 0,
        output_reasoning_tokens=(data.get("output_tokens_details") or {}).get("reasoning_tokens") or 0,
    )


def finish_reason(response: Response) -> FinishReason | None:
    """pydantic-ai's finish reason for a finished response."""
    if response.status == "incomplete":
        reason = (response.to_dict().get("incomplete_details") or {}).get("reason")
        return "content_filter" if reason == "content_filter" else "length"
    if response.status == "failed":
        return "error"
    if any(item.to_dict().get("type") == "function_call" for item in response.output):
        return "tool_call"
    return "stop"


def _details(response: Response) -> dict[str, Any]:
    details: dict[str, Any] = {"status": response.status}
    if response.provider:
        details["provider"] = response.provider
    return details
