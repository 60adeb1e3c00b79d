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

:func:`message_json` is the way back out: the JSON of such an instance, as ``model_dump_json``
writes it, from plain dicts (the served proxy's non-streamed reply).
"""

from __future__ import annotations

from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

from pydantic_core import to_json

from .types import CreateResponseBody, Message, OutputTextContent, Response, Usage
from .types.response import InputTokensDetails, OutputTokensDetails
from .types.text import TextField, TextResponseFormat

__all__ = ["message_dict", "message_json", "message_response"]

_new = object.__new__
_set = object.__setattr__
_RESPONSE_SET = frozenset(Response.model_fields)
_MESSAGE_SET = frozenset({"type", "id", "status", "role", "content"})
_TEXT_SET = frozenset({"type", "text", "annotations"})
_USAGE_SET = frozenset(Usage.model_fields)
_FORMAT_SET = frozenset({"format"})
_TYPE_SET = frozenset({"type"})
_CACHED_SET = frozenset({"cached_tokens"})
_REASONING_SET = frozenset({"reasoning_tokens"})
_SCALARS = frozenset({str, int, float, bool, type(None)})


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
        "input_tokens_details": _model(InputTokensDetails, dict(inputs), _CACHED_SET),
        "output_tokens_details": _model(OutputTokensDetails, dict(outputs), _REASONING_SET),
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
    text_format = _model(TextResponseFormat, {"type": "text"}, _TYPE_SET)
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
        "text": _model(TextField, {"format": text_format, "verbosity": None}, _FORMAT_SET),
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


class _NotPlain(Exception):
    """A value is not of the one-message shape: the caller serializes the model."""


def _rule(annotation: Any) -> tuple[frozenset[type], frozenset[str]] | None:
    """What a field may hold for :func:`message_json` to write it as the model would: these
    exact scalar types, or one of these literal strings; ``None``: not a scalar field.

    Why exact: the model's serializer writes a value by its field's type (``False`` in a float
    field as ``0.0``, ``True`` in an int field as ``1``); plain dicts write it by its own type.
    """
    if annotation in (str, int, float, bool):
        return frozenset({annotation}), frozenset()
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        return frozenset(), frozenset(args)
    if origin in (Union, UnionType):
        kinds: set[type] = set()
        values: set[str] = set()
        for arg in args:
            if arg is type(None):
                kinds.add(arg)
            elif (inner := _rule(arg)) is not None:
                kinds |= inner[0]
                values |= inner[1]
        # A model in the union (``tool_choice``'s objects, ``error``): only its scalar arms here.
        return (frozenset(kinds), frozenset(values)) if kinds or values else None
    return None


def _rules(cls: type[Any]) -> dict[str, tuple[frozenset[type], frozenset[str]]]:
    found = {name: _rule(field.annotation) for name, field in cls.model_fields.items()}
    return {name: rule for name, rule in found.items() if rule is not None}


_MODELS: tuple[type[Any], ...] = (
    Response,
    Message,
    OutputTextContent,
    TextField,
    TextResponseFormat,
    Usage,
    InputTokensDetails,
    OutputTokensDetails,
)
_RULES = {cls: _rules(cls) for cls in _MODELS}
for _nested in ("output", "tools", "text", "usage", "metadata"):  # read by message_json itself
    _RULES[Response].pop(_nested, None)


def _plain(model: Any, cls: type[Any], fields_set: frozenset[str]) -> dict[str, Any]:
    """``model``'s values, when it is a ``cls`` with exactly ``fields_set`` set, no extra fields and
    every scalar field holding what :func:`_rule` allows; else ``_NotPlain``."""
    if type(model) is not cls or model.__pydantic_extra__ or model.__pydantic_fields_set__ != fields_set:
        raise _NotPlain
    values: dict[str, Any] = model.__dict__
    for name, (kinds, literals) in _RULES[cls].items():
        if name in fields_set:
            value = values[name]
            if type(value) not in kinds and not (type(value) is str and value in literals):
                raise _NotPlain
    return values


def message_dict(item: Any) -> dict[str, Any] | None:
    """``item.to_dict()`` for the message :func:`message_response` builds (one text part, no
    annotations), whatever its values; ``None`` for any other item.

    Why: the response store keeps each output item as a dict; for this item, plain dicts cost
    a fraction of pydantic's serializer (see :func:`message_json`).
    """
    try:
        message = _plain(item, Message, _MESSAGE_SET)
        content = message["content"]
        if type(content) is not list or len(content) != 1:
            return None
        part = _plain(content[0], OutputTextContent, _TEXT_SET)
    except _NotPlain:
        return None
    if type(part["annotations"]) is not list or part["annotations"]:
        return None
    return {
        "type": message["type"],
        "id": message["id"],
        "status": message["status"],
        "role": message["role"],
        "content": [{"type": part["type"], "text": part["text"], "annotations": []}],
    }


def message_json(response: Response) -> bytes | None:
    """``response.model_dump_json(by_alias=True, exclude_unset=True).encode()`` for the shape
    :func:`message_response` builds (one message of one text part, no tools, the text format,
    plain usage, no error), whatever its values; ``None`` for any other shape or a value not
    of its field's type (serialize the model then).

    Why: on the proxy's non-streamed path the model's serializer was its largest single cost
    (about a tenth of a request's CPU in the served proxy, three times its cost when measured
    alone: it walks the whole ``Response`` schema). Plain dicts through the same pydantic-core
    writer, with the same float rule (``inf`` and ``nan`` as ``null``), give the same bytes;
    ``tests/test_built.py`` checks it over generated and altered instances.

    The values are read when called, so a change a layer made to the response is written.
    """
    try:
        data = dict(_plain(response, Response, _RESPONSE_SET))
        output, tools, metadata = data["output"], data["tools"], data["metadata"]
        if type(output) is not list or len(output) != 1 or type(tools) is not list or tools:
            return None
        if metadata is not None and (
            type(metadata) is not dict
            or any(type(key) is not str or type(value) not in _SCALARS for key, value in metadata.items())
        ):
            return None
        message = message_dict(output[0])
        if message is None:
            return None
        text_field = _plain(data["text"], TextField, _FORMAT_SET)
        text_format = _plain(text_field["format"], TextResponseFormat, _TYPE_SET)
        usage = data["usage"]
        if usage is not None:
            counts = _plain(usage, Usage, _USAGE_SET)
            cached = _plain(counts["input_tokens_details"], InputTokensDetails, _CACHED_SET)
            reasoning = _plain(counts["output_tokens_details"], OutputTokensDetails, _REASONING_SET)
            data["usage"] = {
                "input_tokens": counts["input_tokens"],
                "output_tokens": counts["output_tokens"],
                "total_tokens": counts["total_tokens"],
                "input_tokens_details": {"cached_tokens": cached["cached_tokens"]},
                "output_tokens_details": {"reasoning_tokens": reasoning["reasoning_tokens"]},
            }
    except _NotPlain:
        return None
    data["output"] = [message]
    data["text"] = {"format": {"type": text_format["type"]}}
    return to_json(data, inf_nan_mode="null")
