"""Open Responses request body -> Gemini ``GenerateContentRequest`` body, sans I/O.

:func:`gemini_request_body` returns the camelCase JSON-ready dict both Gemini APIs (AI Studio
and Vertex AI) accept; the model goes in the URL, not the body. Nothing is dropped silently: a
field Gemini cannot carry raises :class:`~openresponses.RequestValidationError` naming it
(``gemini adapter: field 'background' is not supported``) before anything is sent, except the
short list of harmless fields a Codex-style client always sends (accepted, not forwarded).
docs/gemini.md has the field-by-field table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ..types import CreateResponseBody
from ..types.text import JsonObjectResponseFormat, JsonSchemaResponseFormat, TextResponseFormat
from ..types.tools import AllowedToolsChoice, FunctionToolChoice
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
from ._gemini_contents import SKIP_SIGNATURE, gemini_contents, reject

__all__ = [
    "THINKING_BUDGETS",
    "THINKING_LEVELS",
    "GeminiRequestOptions",
    "SchemaField",
    "ThinkingStyle",
    "gemini_request_body",
]

ThinkingStyle = Literal["auto", "level", "budget"]
SchemaField = Literal["json_schema", "openapi"]

#: ``reasoning.effort`` -> ``thinkingConfig.thinkingLevel`` (Gemini 3 and later).
THINKING_LEVELS: dict[str, str] = {
    "none": "minimal",
    "minimal": "minimal",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "high",
}
#: ``reasoning.effort`` -> ``thinkingConfig.thinkingBudget`` in tokens (Gemini 2.5).
THINKING_BUDGETS: dict[str, int] = {
    "none": 0,
    "minimal": 512,
    "low": 1024,
    "medium": 8192,
    "high": 24576,
    "xhigh": 32768,
}

#: Fields a Codex-style client sends on every call that mean nothing to Gemini: accepted, not sent.
HARMLESS_FIELDS: frozenset[str] = CLIENT_BOOKKEEPING_FIELDS | {"safety_identifier", "service_tier"}
# Top-level body fields translated below; anything else set on the body is unsupported.
_TRANSLATED = CORE_FIELDS | SERVER_STATE_FIELDS | {"presence_penalty", "frequency_penalty", "stream"}
_EXTENSIONS = frozenset({"stop", "seed", "top_k"})


@dataclass(frozen=True, slots=True)
class GeminiRequestOptions:
    """How the request is written; mirrors the dialect's constructor options."""

    thinking_style: ThinkingStyle = "auto"
    schema_field: SchemaField = "json_schema"
    foreign_signature: str | None = SKIP_SIGNATURE


def gemini_request_body(
    body: CreateResponseBody, options: GeminiRequestOptions | None = None
) -> dict[str, Any]:
    """The Gemini body for an Open Responses ``body``; raises ``RequestValidationError``."""
    opts = options if options is not None else GeminiRequestOptions()
    present, extras = set_fields(
        body, translated=_TRANSLATED, extensions=_EXTENSIONS, harmless=HARMLESS_FIELDS, reject=reject
    )
    reject_server_state(body, present, reject)

    contents, system = gemini_contents(
        body.instructions, body.input, foreign_signature=opts.foreign_signature
    )
    out: dict[str, Any] = {"contents": contents}
    if system is not None:
        out["systemInstruction"] = system
    declarations = _declarations(body, opts)
    tool_config = _tool_config(body, declarations)
    if declarations:
        out["tools"] = [{"functionDeclarations": declarations}]
    if tool_config is not None:
        out["toolConfig"] = {"functionCallingConfig": tool_config}
    config = _generation_config(body, extras, opts)
    if config:
        out["generationConfig"] = config
    reject_nested_extras(body, present, reject)
    return out


def model_name(body: CreateResponseBody) -> str:
    """The model the URL names; ``RequestValidationError`` when the request has none."""
    if not body.model:
        reject("field 'model'", "is required (it is part of the URL)", loc=("model",))
    return body.model


# --------------------------------------------------------------------------- tools


def _declarations(body: CreateResponseBody, opts: GeminiRequestOptions) -> list[dict[str, Any]]:
    declarations: list[dict[str, Any]] = []
    for tool in function_tools(body.tools, reject):
        declaration: dict[str, Any] = {"name": tool.name}
        if tool.description is not None:
            declaration["description"] = tool.description
        if tool.parameters is not None:
            # ``parametersJsonSchema`` takes JSON Schema as is; ``parameters`` an OpenAPI subset.
            key = "parametersJsonSchema" if opts.schema_field == "json_schema" else "parameters"
            declaration[key] = tool.parameters
        declarations.append(declaration)
    return declarations


def _tool_config(body: CreateResponseBody, declarations: list[dict[str, Any]]) -> dict[str, Any] | None:
    choice = body.tool_choice
    names = [declaration["name"] for declaration in declarations]
    if choice is None or choice == "auto":
        return None
    if choice == "none":
        return {"mode": "NONE"} if declarations else None
    if choice == "required":
        if not declarations:
            reject("tool_choice 'required'", "needs at least one function tool", loc=("tool_choice",))
        return {"mode": "ANY"}
    if isinstance(choice, FunctionToolChoice):
        if choice.name not in names:
            reject(f"tool_choice function {choice.name!r}", "is not among the tools", loc=("tool_choice",))
        return {"mode": "ANY", "allowedFunctionNames": [choice.name]}
    if isinstance(choice, AllowedToolsChoice):
        allowed = allowed_tool_names(choice, names, reject)
        mode = choice.mode or "auto"
        if mode == "none":
            return {"mode": "NONE"}
        if mode == "required":
            return {"mode": "ANY", "allowedFunctionNames": allowed}
        # allowedFunctionNames is only read in ANY mode: keep the others out of the request.
        declarations[:] = [d for d in declarations if d["name"] in allowed]
        return None
    return reject(f"tool_choice type {getattr(choice, 'type', None)!r}", loc=("tool_choice",))


# --------------------------------------------------------------------------- generation config


def _generation_config(
    body: CreateResponseBody, extras: dict[str, Any], opts: GeminiRequestOptions
) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for name, key in (
        ("temperature", "temperature"),
        ("top_p", "topP"),
        ("presence_penalty", "presencePenalty"),
        ("frequency_penalty", "frequencyPenalty"),
        ("max_output_tokens", "maxOutputTokens"),
    ):
        value = getattr(body, name)
        if value is not None:
            config[key] = value
    if "stop" in extras:
        stop = extras["stop"]
        if isinstance(stop, str):
            stop = [stop]
        if not (isinstance(stop, list) and all(isinstance(s, str) for s in stop)) or len(stop) > 5:
            reject.invalid("stop", "must be a string or a list of at most 5 strings")
        config["stopSequences"] = stop
    for name, key in (("seed", "seed"), ("top_k", "topK")):
        if name in extras:
            value = extras[name]
            if not isinstance(value, int) or isinstance(value, bool):
                reject.invalid(name, "must be an integer")
            config[key] = value
    _text_format(body, config, opts)
    _thinking(body, config, opts)
    return config


def _text_format(body: CreateResponseBody, config: dict[str, Any], opts: GeminiRequestOptions) -> None:
    text = body.text
    if text is None:
        return
    fmt = text.format
    if fmt is None or isinstance(fmt, TextResponseFormat):
        pass
    elif isinstance(fmt, JsonSchemaResponseFormat):
        config["responseMimeType"] = "application/json"
        if fmt.schema_ is not None:
            key = "responseJsonSchema" if opts.schema_field == "json_schema" else "responseSchema"
            config[key] = fmt.schema_
    elif isinstance(fmt, JsonObjectResponseFormat):
        config["responseMimeType"] = "application/json"
    else:
        reject(f"text.format type {getattr(fmt, 'type', None)!r}", loc=("text", "format"))
    if text.verbosity is not None:
        reject("field 'text.verbosity'", loc=("text", "verbosity"))
    for key in sorted(text.model_extra or ()):
        reject(f"field 'text.{key}'", loc=("text", key))


def _thinking(body: CreateResponseBody, config: dict[str, Any], opts: GeminiRequestOptions) -> None:
    reasoning = body.reasoning
    if reasoning is None:
        return
    for key in sorted(reasoning.model_extra or ()):
        reject(f"field 'reasoning.{key}'", loc=("reasoning", key))
    thinking: dict[str, Any] = {}
    effort = reasoning.effort
    if effort is not None:
        style = opts.thinking_style
        if style == "auto":
            # Gemini 2.x models take a token budget; Gemini 3 and later a level.
            model = (body.model or "").rsplit("/", 1)[-1]
            style = "budget" if model.startswith(("gemini-2", "gemini-1")) else "level"
        if style == "budget":
            thinking["thinkingBudget"] = THINKING_BUDGETS[effort]
        else:
            thinking["thinkingLevel"] = THINKING_LEVELS[effort]
    if reasoning.summary is not None:
        # Gemini returns thought summaries only when asked; any summary style asks for them.
        thinking["includeThoughts"] = True
    if thinking:
        config["thinkingConfig"] = thinking
