"""Shared, OpenTelemetry-free helpers for Tracing and Metrics: attributes from requests and responses.

Everything here is pure (values in, attribute dicts out) so the two middleware agree on what a
call's provider, model, finish reasons, usage and error type are. Nothing here records content:
the ``_Content`` helper is the one door content passes through, and only when capture is on.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from .._accumulate import DELTA_TYPES  # the output deltas the accumulator counts
from .._errors import APIStatusError, APITimeoutError, ResponseFailedError
from .._pipeline import AttrValue, Request, Target
from ..exporters import semconv as sc
from ..types import CompactResponse, Response

__all__ = [
    "DELTA_TYPES",
    "Content",
    "Redactor",
    "error_type",
    "finish_reasons",
    "max_span_events",
    "request_attributes",
    "response_attributes",
    "scrub",
    "server_attributes",
]

logger = logging.getLogger("openresponses.telemetry")

Redactor = Callable[[str, str], "str | None"]
"""``redact(field, text)`` → the text to record, or ``None`` to record nothing for that field.

``field`` is one of ``input``, ``instructions``, ``output``, ``reasoning``, ``tool_arguments``,
``delta``. It runs before anything is recorded; if it raises, the content is dropped.
"""

LIFECYCLE_TYPES = frozenset({"response.created", "response.queued", "response.in_progress"})
TERMINAL_TYPES = frozenset({"response.completed", "response.failed", "response.incomplete"})

# Bearer tokens and API-key-shaped strings: masked in any free text we record (exception messages).
_SECRET = re.compile(
    r"(?i)(bearer\s+)[^\s'\"]+|\b(sk|rk|pk|key|api[_-]?key)[-_][A-Za-z0-9_\-]{6,}|\b[A-Za-z0-9_\-]{32,}\b"
)


def scrub(text: str, limit: int = 500) -> str:
    """Mask credential-shaped substrings and truncate: for exception messages we record."""
    cleaned = _SECRET.sub(lambda m: (m.group(1) or "") + "[REDACTED]", text)
    return cleaned if len(cleaned) <= limit else cleaned[:limit] + "…"


def server_attributes(target: Target | None) -> dict[str, AttrValue]:
    """``server.address`` / ``server.port`` from a target's base URL (no path, no credentials)."""
    if target is None or not target.base_url:
        return {}
    return dict(_server(target.base_url))


@functools.lru_cache(maxsize=256)
def _server(base_url: str) -> tuple[tuple[str, AttrValue], ...]:
    try:
        parts = urlsplit(base_url)
        host = parts.hostname
        port = parts.port or {"https": 443, "http": 80}.get(parts.scheme)
    except ValueError:
        return ()
    if not host:
        return ()
    out: list[tuple[str, AttrValue]] = [(sc.SERVER_ADDRESS, host)]
    if port:
        out.append((sc.SERVER_PORT, port))
    return tuple(out)


def operation_name(request: Request) -> str:
    """``chat`` for ``POST /responses``; ``compact`` (a custom value) for compaction."""
    return sc.OPERATION_CHAT if request.operation == "create" else request.operation


def request_attributes(request: Request, conv: sc.Conventions) -> dict[str, AttrValue]:
    """The request-side GenAI attributes of a call (never content)."""
    body = request.body
    attrs: dict[str, AttrValue] = {sc.GEN_AI_OPERATION_NAME: operation_name(request)}
    if body.model:
        attrs[sc.GEN_AI_REQUEST_MODEL] = body.model
    if request.operation == "create":
        attrs[sc.GEN_AI_REQUEST_STREAM] = bool(request.stream)
        for name, value in (
            (sc.GEN_AI_REQUEST_TEMPERATURE, getattr(body, "temperature", None)),
            (sc.GEN_AI_REQUEST_TOP_P, getattr(body, "top_p", None)),
            (sc.GEN_AI_REQUEST_PRESENCE_PENALTY, getattr(body, "presence_penalty", None)),
            (sc.GEN_AI_REQUEST_FREQUENCY_PENALTY, getattr(body, "frequency_penalty", None)),
        ):
            if value is not None:
                attrs[name] = float(value)
        max_tokens = getattr(body, "max_output_tokens", None)
        if max_tokens is not None:
            attrs[sc.GEN_AI_REQUEST_MAX_TOKENS] = int(max_tokens)
        text = getattr(body, "text", None)
        fmt = getattr(getattr(text, "format", None), "type", None)
        if fmt is not None:
            attrs[sc.GEN_AI_OUTPUT_TYPE] = "json" if fmt in ("json_schema", "json_object") else "text"
        reasoning = getattr(body, "reasoning", None)
        effort = getattr(reasoning, "effort", None)
        if conv.request_reasoning_level and effort is not None:
            attrs[conv.request_reasoning_level] = str(effort)
        previous = getattr(body, "previous_response_id", None)
        if conv.request_previous_response_id and previous:
            attrs[conv.request_previous_response_id] = str(previous)
    if request.target is not None:
        attrs.update(server_attributes(request.target))
    return attrs


def finish_reasons(response: Response | None, error: BaseException | None, abandoned: bool) -> list[str]:
    """The conventions' finish reasons from a Responses status (one generation per response).

    ``completed`` → ``tool_calls`` when the output has a function call, else ``stop``;
    ``incomplete`` → ``length`` (``max_output_tokens``) or ``content_filter``; ``failed``, an error,
    a stream without its terminal event or one the caller abandoned → ``error`` (the latest
    conventions: "if a finish reason was expected but not received ... report error").
    """
    if error is not None or abandoned or response is None:
        return [sc.FINISH_ERROR]
    status = response.status
    if status == "completed":
        if any(getattr(item, "type", None) == "function_call" for item in response.output):
            return [sc.FINISH_TOOL_CALLS]
        return [sc.FINISH_STOP]
    if status == "incomplete":
        reason = response.incomplete_details.reason if response.incomplete_details else None
        if reason == "content_filter":
            return [sc.FINISH_CONTENT_FILTER]
        return [sc.FINISH_LENGTH]
    if status in ("failed", "cancelled"):
        return [sc.FINISH_ERROR]
    return [sc.FINISH_ERROR]  # in_progress / queued at the end: no terminal event arrived


def usage_attributes(response: Response | CompactResponse | None) -> dict[str, AttrValue]:
    """Token counts: input, output, cached input, reasoning output."""
    usage = getattr(response, "usage", None)
    if usage is None:
        return {}
    attrs: dict[str, AttrValue] = {
        sc.GEN_AI_USAGE_INPUT_TOKENS: int(usage.input_tokens),
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: int(usage.output_tokens),
    }
    cached = getattr(getattr(usage, "input_tokens_details", None), "cached_tokens", None)
    if cached is not None:
        attrs[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = int(cached)
    reasoning = getattr(getattr(usage, "output_tokens_details", None), "reasoning_tokens", None)
    if reasoning is not None:
        attrs[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = int(reasoning)
    return attrs


def response_attributes(
    response: Response | CompactResponse | None, error: BaseException | None, abandoned: bool
) -> dict[str, AttrValue]:
    """Response id/model, status, finish reasons (``Response`` only) and usage."""
    attrs: dict[str, AttrValue] = {}
    if response is not None:
        if response.id:
            attrs[sc.GEN_AI_RESPONSE_ID] = response.id
        model = getattr(response, "model", None)
        if model:
            attrs[sc.GEN_AI_RESPONSE_MODEL] = model
        attrs.update(usage_attributes(response))
    if isinstance(response, CompactResponse):
        return attrs
    if response is not None:
        attrs[sc.OR_RESPONSE_STATUS] = response.status
        if response.incomplete_details is not None:
            attrs[sc.OR_INCOMPLETE_REASON] = response.incomplete_details.reason
    attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] = finish_reasons(response, error, abandoned)  # type: ignore[assignment]
    return attrs


def error_type(error: BaseException) -> str:
    """A low-cardinality ``error.type``: HTTP status, ``timeout``, the spec error code, or the class."""
    if isinstance(error, APIStatusError):
        return str(error.status_code)
    if isinstance(error, APITimeoutError | TimeoutError):
        return "timeout"
    if isinstance(error, asyncio.CancelledError):
        return "cancelled"
    if isinstance(error, ResponseFailedError):
        code = getattr(error.error, "code", None) if error.error is not None else None
        if code is None and error.response is not None and error.response.error is not None:
            code = error.response.error.code
        if code:
            return str(code)
    return type(error).__qualname__


def max_span_events(span: Any) -> int:
    """The SDK's per-span event limit for ``span`` (``OTEL_SPAN_EVENT_COUNT_LIMIT``, 128 by default)."""
    limits = getattr(span, "_limits", None)
    value = getattr(limits, "max_events", None)
    if isinstance(value, int) and value >= 0:
        return value
    if limits is not None and value is None:
        return 1 << 16  # explicitly unlimited: still keep a sane bound
    try:
        return int(os.environ.get("OTEL_SPAN_EVENT_COUNT_LIMIT", "128"))
    except ValueError:
        return 128


class Content:
    """The one path by which content (prompts, outputs, tool arguments) reaches telemetry.

    Disabled unless capture was asked for; every string goes through ``redact`` first.
    """

    __slots__ = ("enabled", "redact")

    def __init__(self, enabled: bool, redact: Redactor | None) -> None:
        self.enabled = enabled
        self.redact = redact

    def text(self, field: str, value: str | None) -> str | None:
        """``value`` after redaction, or ``None`` when capture is off or redaction dropped it."""
        if not self.enabled or value is None:
            return None
        if self.redact is None:
            return value
        try:
            return self.redact(field, value)
        except Exception:
            logger.exception("the redaction hook failed; the %s content is dropped", field)
            return None

    def input_messages(self, request: Request) -> str | None:
        """``gen_ai.input.messages`` as JSON (the conventions' message/parts shape), redacted."""
        if not self.enabled:
            return None
        raw = request.body.input
        items: list[Any] = [raw] if isinstance(raw, str) else list(raw or [])
        messages: list[dict[str, Any]] = []
        for item in items:
            if isinstance(item, str):
                text = self.text("input", item)
                if text is not None:
                    messages.append({"role": "user", "parts": [{"type": "text", "content": text}]})
                continue
            data = item.model_dump(mode="json", exclude_none=True) if hasattr(item, "model_dump") else item
            if not isinstance(data, Mapping):
                continue
            message = self._input_item(data)
            if message is not None:
                messages.append(message)
        return json.dumps(messages, ensure_ascii=False) if messages else None

    def _input_item(self, data: Mapping[str, Any]) -> dict[str, Any] | None:
        itype = data.get("type")
        if itype == "function_call_output":
            output = data.get("output")
            text = self.text("input", output if isinstance(output, str) else json.dumps(output))
            part: dict[str, Any] = {"type": "tool_call_response", "id": data.get("call_id")}
            if text is not None:
                part["response"] = text
            return {"role": "tool", "parts": [part]}
        if itype == "function_call":
            part = {"type": "tool_call", "id": data.get("call_id"), "name": data.get("name")}
            args = self.text("tool_arguments", data.get("arguments"))
            if args is not None:
                part["arguments"] = args
            return {"role": "assistant", "parts": [part]}
        role = data.get("role")
        if role is None:
            return None
        content = data.get("content")
        parts: list[dict[str, Any]] = []
        if isinstance(content, str):
            content = [{"type": "input_text", "text": content}]
        for piece in content or []:
            if not isinstance(piece, Mapping):
                continue
            text = piece.get("text")
            if isinstance(text, str):
                redacted = self.text("input", text)
                if redacted is not None:
                    parts.append({"type": "text", "content": redacted})
            else:
                parts.append({"type": str(piece.get("type", "unknown"))})
        return {"role": role, "parts": parts}

    def instructions(self, request: Request) -> str | None:
        """``gen_ai.system_instructions`` as JSON, redacted."""
        text = self.text("instructions", getattr(request.body, "instructions", None))
        if text is None:
            return None
        return json.dumps([{"type": "text", "content": text}], ensure_ascii=False)

    def output_messages(self, response: Response | None, reasons: list[str]) -> str | None:
        """``gen_ai.output.messages`` as JSON: text, reasoning and tool-call parts, redacted."""
        if not self.enabled or response is None:
            return None
        parts: list[dict[str, Any]] = []
        for item in response.output:
            itype = getattr(item, "type", None)
            if itype == "message":
                text = self.text("output", getattr(item, "text", None))
                if text is not None:
                    parts.append({"type": "text", "content": text})
            elif itype == "function_call":
                part: dict[str, Any] = {"type": "tool_call", "id": item.call_id, "name": item.name}  # type: ignore[union-attr]
                args = self.text("tool_arguments", item.arguments)  # type: ignore[union-attr]
                if args is not None:
                    part["arguments"] = args
                parts.append(part)
            elif itype == "reasoning":
                text = self.text("reasoning", item_text(item))
                if text is not None:
                    parts.append({"type": "reasoning", "content": text})
        message = {"role": "assistant", "parts": parts, "finish_reason": reasons[0] if reasons else "error"}
        return json.dumps([message], ensure_ascii=False)


def item_text(item: Any) -> str | None:
    """The text of an output item: message text, function arguments, reasoning summary + text."""
    itype = getattr(item, "type", None)
    if itype == "message":
        text = getattr(item, "text", None)
        return text if isinstance(text, str) else None
    if itype == "function_call":
        args = getattr(item, "arguments", None)
        return args if isinstance(args, str) else None
    if itype == "reasoning":
        pieces = [getattr(p, "text", "") for p in getattr(item, "summary", None) or []]
        pieces += [getattr(p, "text", "") for p in getattr(item, "content", None) or []]
        return "\n".join(p for p in pieces if p) or None
    return None
