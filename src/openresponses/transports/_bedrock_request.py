"""Open Responses request body -> Bedrock Converse request body, sans I/O.

:func:`converse_request_body` returns the JSON-ready dict for ``POST /model/{modelId}/converse``
and ``/converse-stream`` (the model id travels in the path, not the body). Nothing is dropped
silently: a field Converse cannot carry raises :class:`~openresponses.RequestValidationError`
naming it, before anything is sent, unless it is on the short list of harmless fields a
Codex-style client always sends (accepted, not forwarded). docs/bedrock.md has the table.

Reasoning has no Converse field: it goes in ``additionalModelRequestFields`` in the shape the
model family reads (:func:`reasoning_fields`): Claude's ``thinking`` budget, Nova 2's
``reasoningConfig``, the ``reasoning_effort`` of OpenAI's open-weight models.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ..types import CreateResponseBody
from ..types.text import JsonSchemaResponseFormat, TextResponseFormat
from ..types.tools import AllowedToolsChoice, FunctionToolChoice
from ._bedrock_messages import converse_messages, reject
from ._fields import (
    CLIENT_BOOKKEEPING_FIELDS,
    CORE_FIELDS,
    allowed_tool_names,
    function_tools,
    reject_nested_extras,
    set_fields,
)

__all__ = [
    "DEFAULT_REASONING_BUDGETS",
    "HARMLESS_FIELDS",
    "ConverseRequestOptions",
    "converse_request_body",
    "reasoning_fields",
]

#: Fields a Codex-style client sends on every call that mean nothing to Converse: accepted, not sent.
HARMLESS_FIELDS: frozenset[str] = CLIENT_BOOKKEEPING_FIELDS | {"safety_identifier", "stream"}
_TRANSLATED = CORE_FIELDS | {"service_tier"}
_EXTENSIONS = frozenset({"stop"})

#: ``reasoning.effort`` -> Claude's ``thinking.budget_tokens`` (Anthropic's minimum is 1,024).
DEFAULT_REASONING_BUDGETS: Mapping[str, int] = MappingProxyType(
    {"low": 2048, "medium": 8192, "high": 16384, "xhigh": 24576}
)
# With thinking on and no max_output_tokens: room for the answer on top of the budget
# (Claude needs maxTokens > budget_tokens).
_ANSWER_TOKENS = 4096


@dataclass(frozen=True, slots=True)
class ConverseRequestOptions:
    """How the dialect writes requests; mirrors its constructor options."""

    reasoning_budgets: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_REASONING_BUDGETS))
    additional_model_request_fields: Mapping[str, Any] = field(default_factory=dict)
    guardrail_config: Mapping[str, Any] | None = None
    drop_unsupported: frozenset[str] = frozenset()


def converse_request_body(body: CreateResponseBody, *, options: ConverseRequestOptions) -> dict[str, Any]:
    """The Converse body for ``body``; raises ``RequestValidationError`` naming what cannot be sent."""
    drop = options.drop_unsupported
    present, extras = set_fields(
        body,
        translated=_TRANSLATED,
        extensions=_EXTENSIONS,
        harmless=HARMLESS_FIELDS,
        reject=reject,
        drop=drop,
        why=_why,
    )

    def wanted(name: str) -> bool:
        return name in present and name not in drop

    if not body.model:
        reject("field 'model'", "is required (the Bedrock model id or inference profile goes in the path)")
    system, messages = converse_messages(
        body.instructions if wanted("instructions") else None, body.input if wanted("input") else None
    )
    out: dict[str, Any] = {"messages": messages}
    if system:
        out["system"] = system
    inference: dict[str, Any] = {}
    if wanted("max_output_tokens"):
        inference["maxTokens"] = body.max_output_tokens
    if wanted("temperature"):
        inference["temperature"] = body.temperature
    if wanted("top_p"):
        inference["topP"] = body.top_p
    if "stop" in extras and "stop" not in drop:
        inference["stopSequences"] = _stop(extras["stop"])
    tool_config = _tool_config(body if wanted("tools") or wanted("tool_choice") else None, messages)
    if tool_config is not None:
        out["toolConfig"] = tool_config
    if wanted("parallel_tool_calls") and body.parallel_tool_calls is False:
        reject("parallel_tool_calls=false", "is not supported (Converse has no such setting)")
    if wanted("text"):
        _text(body, out)
    model_fields: dict[str, Any] = {}
    if wanted("reasoning") and body.reasoning is not None:
        for key in sorted(body.reasoning.model_extra or ()):
            reject(f"field 'reasoning.{key}'", loc=("reasoning", key))
        if body.reasoning.effort is not None and "reasoning.effort" not in drop:
            model_fields = reasoning_fields(
                str(body.model), body.reasoning.effort, inference, options.reasoning_budgets
            )
    if wanted("service_tier") and body.service_tier not in ("auto", None):
        out["serviceTier"] = {"type": body.service_tier}
    for key, value in options.additional_model_request_fields.items():
        model_fields.setdefault(key, value)
    if inference:
        out["inferenceConfig"] = inference
    if model_fields:
        out["additionalModelRequestFields"] = model_fields
    if options.guardrail_config:
        out["guardrailConfig"] = dict(options.guardrail_config)
    reject_nested_extras(body, present - drop, reject)
    return out


def _why(name: str) -> str:
    if name == "previous_response_id":
        return "needs a response store: add the Stateful middleware, which expands the history into input"
    if name in ("presence_penalty", "frequency_penalty", "top_logprobs"):
        return "is not supported (Converse has no such inference parameter)"
    return "is not supported"


def _stop(stop: Any) -> list[str]:
    if isinstance(stop, str):
        return [stop]
    if isinstance(stop, list) and all(isinstance(s, str) and s for s in stop):
        return list(stop)
    reject.invalid(
        "stop", "must be a string or a list of non-empty strings", msg="must be a string or a list of strings"
    )


# --------------------------------------------------------------------------- tools


def _tool_config(body: CreateResponseBody | None, messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    tools: list[dict[str, Any]] = []
    for tool in function_tools(body.tools if body is not None else None, reject):
        spec: dict[str, Any] = {
            "name": tool.name,
            "inputSchema": {"json": tool.parameters or {"type": "object", "properties": {}}},
        }
        if tool.description:
            spec["description"] = tool.description
        if tool.strict is not None:
            spec["strict"] = tool.strict
        tools.append({"toolSpec": spec})
    names = [tool["toolSpec"]["name"] for tool in tools]
    choice = body.tool_choice if body is not None else None
    # Converse rejects toolUse / toolResult history without a toolConfig.
    history = any("toolUse" in b or "toolResult" in b for m in messages for b in m["content"])
    if choice is None or choice == "auto":
        return _config(tools, {"auto": {}} if tools and choice == "auto" else None)
    if choice == "required":
        if not tools:
            reject("tool_choice 'required'", "needs at least one function tool", loc=("tool_choice",))
        return _config(tools, {"any": {}})
    if choice == "none":
        if history:
            reject(
                "tool_choice 'none'",
                "is not supported with tool calls in the input (Converse has no 'none')",
                loc=("tool_choice",),
            )
        return None  # no tools offered: the model cannot call one
    if isinstance(choice, FunctionToolChoice):
        if choice.name not in names:
            reject(f"tool_choice function {choice.name!r}", "is not among the tools", loc=("tool_choice",))
        return _config(tools, {"tool": {"name": choice.name}})
    if isinstance(choice, AllowedToolsChoice):
        allowed = allowed_tool_names(choice, names, reject)
        kept = [tool for tool in tools if tool["toolSpec"]["name"] in allowed]
        mode = choice.mode or "auto"
        if mode == "required" and not kept:
            reject("tool_choice 'required'", "needs at least one allowed tool", loc=("tool_choice",))
        return _config(kept, {"any": {}} if mode == "required" else {"auto": {}})
    reject(f"tool_choice type {getattr(choice, 'type', None)!r}", loc=("tool_choice",))


def _config(tools: list[dict[str, Any]], choice: dict[str, Any] | None) -> dict[str, Any] | None:
    if not tools:
        return None
    config: dict[str, Any] = {"tools": tools}
    if choice is not None:
        config["toolChoice"] = choice
    return config


# --------------------------------------------------------------------------- text and reasoning


def _text(body: CreateResponseBody, out: dict[str, Any]) -> None:
    text = body.text
    if text is None:
        return
    fmt = text.format
    if isinstance(fmt, JsonSchemaResponseFormat):
        schema: dict[str, Any] = {"schema": json.dumps(fmt.schema_ or {}, separators=(",", ":"))}
        if fmt.name:
            schema["name"] = fmt.name
        if fmt.description:
            schema["description"] = fmt.description
        out["outputConfig"] = {"textFormat": {"type": "json_schema", "structure": {"jsonSchema": schema}}}
    elif fmt is not None and not isinstance(fmt, TextResponseFormat):
        reject(
            f"text.format type {getattr(fmt, 'type', None)!r}",
            "is not supported (Converse has json_schema output only)",
            loc=("text", "format"),
        )
    if text.verbosity is not None:
        reject("field 'text.verbosity'", loc=("text", "verbosity"))
    for key in sorted(text.model_extra or ()):
        reject(f"field 'text.{key}'", loc=("text", key))


def reasoning_fields(
    model: str, effort: str, inference: dict[str, Any], budgets: Mapping[str, int]
) -> dict[str, Any]:
    """``additionalModelRequestFields`` for ``reasoning.effort`` on ``model`` (may set maxTokens).

    Claude (``anthropic.`` / ``claude`` in the id): ``thinking: {type: enabled, budget_tokens}``
    from ``budgets``; ``maxTokens`` is raised to budget + 4,096 when not given, and a given
    ``max_output_tokens`` caps the budget below it. Amazon Nova 2 (``nova-2``):
    ``reasoningConfig: {type: enabled, maxReasoningEffort}``. OpenAI open-weight models
    (``openai.``): ``reasoning_effort``. Effort ``none`` sends nothing; other models raise.
    """
    lowered = model.lower()
    if effort == "none":
        return {}
    if "anthropic." in lowered or "claude" in lowered:
        budget = budgets.get(effort)
        if budget is None:
            reject(f"reasoning.effort {effort!r}", "has no thinking budget", loc=("reasoning", "effort"))
        given = inference.get("maxTokens")
        if given is None:
            inference["maxTokens"] = budget + _ANSWER_TOKENS
        elif given <= budget:
            budget = given - 1
        if budget < 1024:
            reject(
                f"max_output_tokens {given}",
                "leaves no room for a thinking budget (Claude needs at least 1024 below max tokens)",
                loc=("max_output_tokens",),
            )
        return {"thinking": {"type": "enabled", "budget_tokens": budget}}
    if "nova-2" in lowered:
        level = "high" if effort == "xhigh" else effort
        return {"reasoningConfig": {"type": "enabled", "maxReasoningEffort": level}}
    if "openai." in lowered:
        return {"reasoning_effort": "high" if effort == "xhigh" else effort}
    reject(
        "field 'reasoning.effort'",
        f"has no known Converse mapping for model {model!r} (set the model's own fields with "
        "BedrockConverseDialect(additional_model_request_fields=...))",
        loc=("reasoning", "effort"),
    )
