"""A one-message ``Response`` built without pydantic's validation, for the plain chat reply.

Why: on the proxy's non-streamed path, ``Response.model_validate`` of the reply was its largest
single cost after the HTTP client (31 fields, three discriminated unions, the private
attributes' hook): about a tenth of a request's CPU. When the request set none of the settings
whose echo needs validating (tools, a text format, a tool choice object, reasoning) and every
other echoed value already has the exact type validation would give it, :func:`message_response`
builds the instance directly; otherwise it answers ``None`` and the caller validates.

The instance is the one validation gives: the same ``__dict__`` (field order), fields set,
extra and private slots, nested models included, so it compares, prints and serializes
identically (``tests/test_built.py`` checks it against ``Response.model_validate`` over
generated bodies, and ``tests/transports/test_chat_plain.py`` against the full translator).
"""

from __future__ import annotations

from typing import Any

from .types import CreateResponseBody, Message, OutputTextContent, Response, Usage
from .types.response import InputTokensDetails, OutputTokensDetails
from .types.text import TextField, TextResponseFormat

__all__ = ["message_response"]

_new = object.__new__
_set = object.__setattr__
_RESPONSE_SET = frozenset(Response.model_fields)
_MESSAGE_SET = frozenset({"type", "id", "status", "role", "content"})
_TEXT_SET = frozenset({"type", "text", "annotations"})
_USAGE_SET = frozenset(Usage.model_fields)


def _model(cls: Any, values: dict[str, Any], fields_set: frozenset[str], private: Any = None) -> Any:
    model = _new(cls)
    _set(model, "__dict__", values)
    _set(model, "__pydantic_fields_set__", set(fields_set))
    _set(model, "__pydantic_extra__", {})
    _set(model, "__pydantic_private__", private)
    return model


def _opt(value: Any, kind: type) -> bool:
    return value is None or type(value) is kind


def _usage(usage: dict[str, Any] | None) -> Any:
    """``usage`` (``full_usage``'s shape) as a ``Usage``; ``False`` if it is not plain counts."""
    if usage is None:
        return None
    if usage.keys() != _USAGE_SET:
        return False
    inputs, outputs = usage["input_tokens_details"], usage["output_tokens_details"]
    counts = (usage["input_tokens"], usage["output_tokens"], usage["total_tokens"])
    if (
        type(inputs) is not dict
        or type(outputs) is not dict
        or inputs.keys() != {"cached_tokens"}
        or outputs.keys() != {"reasoning_tokens"}
        or type(inputs["cached_tokens"]) is not int
        or type(outputs["reasoning_tokens"]) is not int
        or any(type(count) is not int for count in counts)
    ):
        return False
    values = {
        "input_tokens": counts[0],
        "output_tokens": counts[1],
        "total_tokens": counts[2],
        "input_tokens_details": _model(InputTokensDetails, dict(inputs), frozenset({"cached_tokens"})),
        "output_tokens_details": _model(OutputTokensDetails, dict(outputs), frozenset({"reasoning_tokens"})),
    }
    return _model(Usage, values, _USAGE_SET)


def message_response(
    body: CreateResponseBody | None,
    *,
    response_id: str,
    message_id: str,
    text: str,
    model: str | None,
    created_at: int,
    completed_at: int,
    usage: dict[str, Any] | None,
) -> Response | None:
    """The completed ``Response`` holding one assistant message with ``text``, exactly as
    ``Response.model_validate(dict(response_skeleton(body, ...), status="completed", output=[the
    message], usage=usage, completed_at=completed_at))`` gives it; ``None`` when that needs
    validating (see the module's docstring)."""
    b = body if body is not None else _EMPTY
    if b.tools or b.text is not None or b.tool_choice is not None or b.reasoning is not None:
        return None
    built_usage = _usage(usage)
    if built_usage is False:
        return None
    name = model if model is not None else (b.model or "")
    top_p = 1.0 if b.top_p is None else b.top_p
    temperature = 1.0 if b.temperature is None else b.temperature
    presence, frequency = b.presence_penalty or 0.0, b.frequency_penalty or 0.0
    truncation, tier = b.truncation or "disabled", b.service_tier or "default"
    parallel = True if b.parallel_tool_calls is None else b.parallel_tool_calls
    store = False if b.store is None else b.store
    metadata = b.metadata or {}
    if not (
        type(name) is str
        and type(created_at) is int
        and type(completed_at) is int
        and type(top_p) is float
        and type(temperature) is float
        and type(presence) is float
        and type(frequency) is float
        and type(truncation) is str
        and type(tier) is str
        and type(parallel) is bool
        and type(store) is bool
        and type(b.top_logprobs or 0) is int
        and _opt(b.previous_response_id, str)
        and _opt(b.instructions, str)
        and _opt(b.max_output_tokens, int)
        and _opt(b.max_tool_calls, int)
        and _opt(b.safety_identifier, str)
        and _opt(b.prompt_cache_key, str)
        and type(metadata) is dict
        and all(type(key) is str for key in metadata)
    ):
        return None
    part = _model(
        OutputTextContent,
        {"type": "output_text", "text": text, "annotations": [], "logprobs": None},
        _TEXT_SET,
    )
    message = _model(
        Message,
        {
            "type": "message",
            "id": message_id,
            "status": "completed",
            "role": "assistant",
            "content": [part],
            "phase": None,
        },
        _MESSAGE_SET,
    )
    text_format = _model(TextResponseFormat, {"type": "text"}, frozenset({"type"}))
    values = {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "completed_at": completed_at,
        "status": "completed",
        "incomplete_details": None,
        "model": name,
        "previous_response_id": b.previous_response_id,
        "instructions": b.instructions,
        "output": [message],
        "error": None,
        "tools": [],
        "tool_choice": "auto",
        "truncation": truncation,
        "parallel_tool_calls": parallel,
        "text": _model(TextField, {"format": text_format, "verbosity": None}, frozenset({"format"})),
        "top_p": top_p,
        "presence_penalty": presence,
        "frequency_penalty": frequency,
        "top_logprobs": b.top_logprobs or 0,
        "temperature": temperature,
        "reasoning": None,
        "usage": built_usage,
        "max_output_tokens": b.max_output_tokens,
        "max_tool_calls": b.max_tool_calls,
        "store": store,
        "background": bool(b.background),
        "service_tier": tier,
        "metadata": dict(metadata),
        "safety_identifier": b.safety_identifier,
        "prompt_cache_key": b.prompt_cache_key,
    }
    built: Response = _model(Response, values, _RESPONSE_SET, {"_provider": None, "_request_id": None})
    return built


_EMPTY = CreateResponseBody()
