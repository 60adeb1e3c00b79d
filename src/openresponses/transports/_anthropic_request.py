"""Open Responses request body -> Anthropic Messages request body, sans I/O.

:func:`anthropic_request_body` returns the JSON-ready dict the Anthropic dialect sends to
``POST /v1/messages``. Nothing is dropped silently: a field Anthropic cannot carry raises
:class:`~openresponses.RequestValidationError` naming it before anything is sent, except the
short list of fields that mean nothing upstream (:data:`HARMLESS_FIELDS`: accepted, not sent).
The conversation itself is reshaped in ``_anthropic_messages``; docs/anthropic.md has the table.

The two Anthropic rules that shape this module:

- ``max_tokens`` is required: it is ``max_output_tokens`` when set, else the dialect's
  ``max_tokens`` (8192 by default); with a thinking budget and no ``max_output_tokens``, the
  budget is added on top, so the answer keeps its room (Anthropic counts thinking in
  ``max_tokens`` and requires ``budget_tokens < max_tokens``).
- extended thinking forbids ``temperature`` (other than 1), ``top_k``, ``top_p`` below 0.95
  and a forced tool choice: such a request is rejected here, naming the conflict.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..types import CreateResponseBody
from ..types.text import JsonObjectResponseFormat, JsonSchemaResponseFormat, TextResponseFormat
from ..types.tools import AllowedToolsChoice, FunctionToolChoice
from ._anthropic_messages import anthropic_messages, reject
from ._fields import (
    CLIENT_BOOKKEEPING_FIELDS,
    CORE_FIELDS,
    SERVER_STATE_FIELDS,
    allowed_tool_names,
    function_tools,
    reject_nested_extras,
    reject_server_state,
    set_fields,
)

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_THINKING_BUDGETS",
    "HARMLESS_FIELDS",
    "MIN_THINKING_BUDGET",
    "AnthropicRequestOptions",
    "ThinkingMode",
    "anthropic_request_body",
]

ThinkingMode = Literal["budget", "adaptive"]

#: ``max_tokens`` when the request has no ``max_output_tokens`` (Anthropic requires one). Every
#: current Claude model accepts it; raise it per provider with ``AnthropicDialect(max_tokens=)``.
DEFAULT_MAX_TOKENS = 8192
#: ``reasoning.effort`` -> ``thinking.budget_tokens`` in ``thinking="budget"`` mode.
DEFAULT_THINKING_BUDGETS: Mapping[str, int] = {"low": 2048, "medium": 8192, "high": 16384, "xhigh": 32000}
#: The smallest thinking budget Anthropic accepts.
MIN_THINKING_BUDGET = 1024
# ``reasoning.effort`` -> ``output_config.effort`` in ``thinking="adaptive"`` mode.
_ADAPTIVE_EFFORT = {"low": "low", "medium": "medium", "high": "high", "xhigh": "max"}

#: Fields that mean nothing to Anthropic: accepted and not forwarded (forwarding ``store`` or
#: ``metadata`` would mean something else there; ``metadata.user_id`` comes from
#: ``safety_identifier``).
HARMLESS_FIELDS: frozenset[str] = CLIENT_BOOKKEEPING_FIELDS | {"service_tier"}
_TRANSLATED = (
    CORE_FIELDS
    | SERVER_STATE_FIELDS
    | {"presence_penalty", "frequency_penalty", "stream", "safety_identifier"}
)
_EXTENSIONS = frozenset({"stop", "top_k"})


@dataclass(frozen=True, slots=True)
class AnthropicRequestOptions:
    """How a provider wants its requests written; mirrors the dialect's constructor options."""

    max_tokens: int = DEFAULT_MAX_TOKENS
    thinking: ThinkingMode = "budget"
    thinking_budgets: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_THINKING_BUDGETS))
    extra_body: Mapping[str, Any] = field(default_factory=dict)


def anthropic_request_body(
    body: CreateResponseBody, *, stream: bool, options: AnthropicRequestOptions | None = None
) -> dict[str, Any]:
    """The Anthropic Messages body for an Open Responses ``body``; raises ``RequestValidationError``."""
    opts = options if options is not None else AnthropicRequestOptions()
    present, extras = set_fields(
        body, translated=_TRANSLATED, extensions=_EXTENSIONS, harmless=HARMLESS_FIELDS, reject=reject
    )
    reject_server_state(body, present, reject, logprobs="Anthropic returns no logprobs")
    for name in ("presence_penalty", "frequency_penalty"):
        if getattr(body, name):  # 0 is the default: nothing to carry
            reject(f"field {name!r}", "is not supported (Anthropic has no penalties)", loc=(name,))
    if not body.model:
        reject("a request without 'model'", "is not supported (Anthropic requires one)", loc=("model",))

    out: dict[str, Any] = {"model": body.model}
    system, messages = anthropic_messages(body.instructions, body.input)
    max_tokens = body.max_output_tokens if body.max_output_tokens is not None else opts.max_tokens
    out["max_tokens"] = max_tokens
    if system:
        out["system"] = system
    out["messages"] = messages
    thinking = _thinking(body, opts, out)
    _tools(body, out, thinking=thinking)
    if body.temperature is not None:
        if not 0 <= body.temperature <= 1:
            reject(
                f"temperature {body.temperature!r}",
                "is out of range (Anthropic takes 0 to 1)",
                loc=("temperature",),
            )
        if thinking and body.temperature != 1:
            reject(
                "temperature",
                "cannot be combined with extended thinking (only 1 is allowed)",
                loc=("temperature",),
            )
        out["temperature"] = body.temperature
    if body.top_p is not None:
        if thinking and body.top_p < 0.95:
            reject("top_p below 0.95", "cannot be combined with extended thinking", loc=("top_p",))
        out["top_p"] = body.top_p
    _extensions(extras, out, thinking=thinking)
    if body.safety_identifier:
        out["metadata"] = {"user_id": body.safety_identifier}
    if body.text is not None:
        _text(body, out)
    if stream:
        out["stream"] = True
    for key, value in opts.extra_body.items():
        out.setdefault(key, value)
    reject_nested_extras(body, present, reject)
    return out


# --------------------------------------------------------------------------- thinking


def _thinking(body: CreateResponseBody, opts: AnthropicRequestOptions, out: dict[str, Any]) -> bool:
    """Write ``thinking`` (and ``output_config.effort``); whether extended thinking is on."""
    reasoning = body.reasoning
    if reasoning is None:
        return False
    extra = dict(reasoning.model_extra or {})
    budget = extra.pop("budget_tokens", None)
    for key in sorted(extra):
        reject(f"field 'reasoning.{key}'", loc=("reasoning", key))
    # ``summary`` is accepted whatever its value: Claude 4 models always summarise their thinking.
    effort = reasoning.effort
    if budget is not None and (
        not isinstance(budget, int) or isinstance(budget, bool) or budget < MIN_THINKING_BUDGET
    ):
        reject(
            f"reasoning.budget_tokens {budget!r}",
            f"must be an integer of at least {MIN_THINKING_BUDGET}",
            loc=("reasoning", "budget_tokens"),
        )
    if effort == "none" or (effort is None and budget is None):
        return False
    if opts.thinking == "adaptive" and budget is None:
        out["thinking"] = {"type": "adaptive"}
        if effort is not None:
            out.setdefault("output_config", {})["effort"] = _ADAPTIVE_EFFORT[effort]
        return True
    if budget is None:
        assert effort is not None
        budget = opts.thinking_budgets[effort]
    if body.max_output_tokens is None:
        out["max_tokens"] = opts.max_tokens + budget  # the answer keeps its room
    else:
        budget = min(budget, out["max_tokens"] - 1)  # Anthropic: budget_tokens < max_tokens
        if budget < MIN_THINKING_BUDGET:
            reject(
                f"max_output_tokens {out['max_tokens']}",
                f"leaves no room for extended thinking (Anthropic's smallest budget is {MIN_THINKING_BUDGET} "
                "tokens and must be below max_tokens)",
                loc=("max_output_tokens",),
            )
    out["thinking"] = {"type": "enabled", "budget_tokens": budget}
    return True


# --------------------------------------------------------------------------- tools


def _tools(body: CreateResponseBody, out: dict[str, Any], *, thinking: bool) -> None:
    tools: list[dict[str, Any]] = []
    for tool in function_tools(body.tools, reject):
        entry: dict[str, Any] = {"name": tool.name}
        if tool.description:
            entry["description"] = tool.description
        entry["input_schema"] = (
            tool.parameters if tool.parameters is not None else {"type": "object", "properties": {}}
        )
        if tool.strict:
            entry["strict"] = True
        tools.append(entry)
    names = [tool["name"] for tool in tools]
    choice = body.tool_choice
    mode: dict[str, Any] | None = None
    if isinstance(choice, AllowedToolsChoice):
        allowed = allowed_tool_names(choice, names, reject)
        tools = [tool for tool in tools if tool["name"] in allowed]  # no "allowed but in context"
        choice = choice.mode or "auto"
    if choice is None or choice == "auto":
        mode = {"type": "auto"} if body.parallel_tool_calls is False else None
    elif choice == "required":
        if not tools:
            reject("tool_choice 'required'", "needs at least one function tool", loc=("tool_choice",))
        mode = {"type": "any"}
    elif choice == "none":
        mode = {"type": "none"} if tools else None
    elif isinstance(choice, FunctionToolChoice):
        if not choice.name or choice.name not in names:
            reject(f"tool_choice function {choice.name!r}", "is not among the tools", loc=("tool_choice",))
        mode = {"type": "tool", "name": choice.name}
    else:
        reject(f"tool_choice {getattr(choice, 'type', choice)!r}", loc=("tool_choice",))
    if thinking and mode is not None and mode["type"] in ("any", "tool"):
        reject(
            f"tool_choice {choice!r}" if isinstance(choice, str) else "a forced tool_choice",
            "cannot be combined with extended thinking (Anthropic allows only auto or none)",
            loc=("tool_choice",),
        )
    if not tools:
        return
    out["tools"] = tools
    if mode is not None:
        if body.parallel_tool_calls is False and mode["type"] != "none":
            mode["disable_parallel_tool_use"] = True
        out["tool_choice"] = mode


# --------------------------------------------------------------------------- other options


def _extensions(extras: dict[str, Any], out: dict[str, Any], *, thinking: bool) -> None:
    """``stop`` and ``top_k``: not Open Responses fields, accepted as extension fields."""
    if "stop" in extras:
        stop = extras["stop"]
        if isinstance(stop, str):
            stop = [stop]
        if not (isinstance(stop, list) and all(isinstance(s, str) and s for s in stop)):
            reject("field 'stop'", "must be a non-empty string or a list of them", loc=("stop",))
        out["stop_sequences"] = stop
    if "top_k" in extras:
        top_k = extras["top_k"]
        if not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1:
            reject("field 'top_k'", "must be a positive integer", loc=("top_k",))
        if thinking:
            reject("field 'top_k'", "cannot be combined with extended thinking", loc=("top_k",))
        out["top_k"] = top_k


def _text(body: CreateResponseBody, out: dict[str, Any]) -> None:
    text = body.text
    assert text is not None
    fmt = text.format
    if fmt is None or isinstance(fmt, TextResponseFormat):
        pass
    elif isinstance(fmt, JsonSchemaResponseFormat):
        if fmt.schema_ is None:
            reject("text.format json_schema without a schema", "is not supported", loc=("text", "format"))
        out.setdefault("output_config", {})["format"] = {"type": "json_schema", "schema": fmt.schema_}
    elif isinstance(fmt, JsonObjectResponseFormat):
        reject(
            "text.format type 'json_object'",
            "is not supported (Anthropic constrains output by JSON schema only: use json_schema)",
            loc=("text", "format"),
        )
    else:
        reject(f"text.format type {getattr(fmt, 'type', None)!r}", loc=("text", "format"))
    if text.verbosity not in (None, "medium"):
        reject(
            f"text.verbosity {text.verbosity!r}",
            "is not supported (Anthropic has no verbosity)",
            loc=("text", "verbosity"),
        )
    for key in sorted(text.model_extra or ()):
        reject(f"field 'text.{key}'", loc=("text", key))
