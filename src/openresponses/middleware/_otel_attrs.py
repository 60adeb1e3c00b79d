"""Span and metric attributes shared by Tracing and Metrics: pure values in, attribute dicts out.

The two middleware read a call's provider, model, finish reasons, usage and error type from
here, so they always agree. Nothing here records content (prompts, outputs, tool arguments):
that goes through :class:`~openresponses.middleware._otel_content.Content` only. Nothing here
imports OpenTelemetry either; :func:`max_span_events` only reads a span handed to it.
"""

from __future__ import annotations

import asyncio
import functools
import os
from typing import Any
from urllib.parse import urlsplit

from .._accumulate import DELTA_TYPES  # the output deltas the accumulator counts
from .._errors import APIStatusError, APITimeoutError, ResponseFailedError
from .._pipeline import AttrValue, Request, Target
from ..exporters import semconv as sc
from ..types import LIFECYCLE_EVENT_TYPES as LIFECYCLE_TYPES
from ..types import TERMINAL_EVENT_TYPES as TERMINAL_TYPES
from ..types import CompactResponse, Response

__all__ = [
    "DELTA_TYPES",
    "LIFECYCLE_TYPES",
    "TERMINAL_TYPES",
    "error_type",
    "finish_reasons",
    "max_span_events",
    "operation_name",
    "request_attributes",
    "response_attributes",
    "server_attributes",
    "usage_attributes",
]

_UNLIMITED_EVENTS = 1 << 16  # "no limit" configured: still keep a sane bound per span
_DEFAULT_EVENTS = 128  # the SDK's default OTEL_SPAN_EVENT_COUNT_LIMIT


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
    """The SDK's per-span event limit for ``span`` (``OTEL_SPAN_EVENT_COUNT_LIMIT``, 128 by default).

    The SDK has no public way to read a span's limits: the ``SpanLimits`` given to
    ``TracerProvider(span_limits=...)`` reach a span only as its private ``_limits`` attribute.
    This is the one place that reads it; tests/middleware/test_otel_attrs.py fails, naming the
    attribute, if an SDK release renames or retypes it. Any other span (a non-recording span,
    another SDK) falls back to the limit the environment sets.
    """
    limits = getattr(span, "_limits", None)  # opentelemetry.sdk.trace.SpanLimits (see above)
    if limits is None:
        return _env_event_limit()
    value = getattr(limits, "max_events", None)
    if value is None:
        return _UNLIMITED_EVENTS  # the SDK's "unset": no limit
    if isinstance(value, int) and value >= 0:
        return value
    return _env_event_limit()


def _env_event_limit() -> int:
    try:
        return int(os.environ.get("OTEL_SPAN_EVENT_COUNT_LIMIT", str(_DEFAULT_EVENTS)))
    except ValueError:
        return _DEFAULT_EVENTS
