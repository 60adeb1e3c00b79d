"""Open Responses request body -> Chat Completions request body, sans I/O.

One pure function, :func:`chat_request_body`, returns the JSON-ready dict the chat dialect sends
to ``POST /chat/completions``. Nothing is dropped silently: a field Chat Completions cannot carry
raises :class:`~openresponses.RequestValidationError` naming it (``chat-completions adapter:
field 'background' is not supported``) before anything is sent, unless it is on the short list of
harmless fields a Codex-style client always sends (accepted, not forwarded) or the preset lists it
in ``drop_unsupported``. The conversation itself is reshaped in ``_chat_messages``.
docs/chat-completions.md has the field-by-field table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from .._errors import RequestValidationError
from ..types import CreateResponseBody
from ..types.items import DeveloperMessageItemParam, SystemMessageItemParam, UserMessageItemParam
from ..types.text import JsonObjectResponseFormat, JsonSchemaResponseFormat, TextResponseFormat
from ..types.tools import AllowedToolsChoice, FunctionToolChoice, FunctionToolParam
from ._chat_ids import mistral_call_ids
from ._chat_messages import PREFIX, SendReasoning, chat_messages, reject, with_user_turn
from ._fields import CORE_FIELDS, SERVER_STATE_FIELDS, reject_nested_extras, reject_server_state, set_fields

__all__ = [
    "HARMLESS_FIELDS",
    "ChatRequestOptions",
    "JsonSchemaStyle",
    "MaxTokensField",
    "SendReasoning",
    "chat_request_body",
]

MaxTokensField = Literal["max_tokens", "max_completion_tokens"]
JsonSchemaStyle = Literal["openai", "tgi"]
CallIds = Literal["as_is", "mistral"]

#: Fields a Codex-style client sends on every call that mean nothing to a chat upstream:
#: accepted and not forwarded (forwarding ``store`` or ``metadata`` would change upstream state).
HARMLESS_FIELDS: frozenset[str] = frozenset(
    {
        "include",
        "prompt_cache_key",
        "client_metadata",
        "store",
        "metadata",
        "safety_identifier",
        "service_tier",
        "truncation",
        "stream_options",
    }
)

# Top-level body fields translated below; anything else set on the body is unsupported.
_TRANSLATED = CORE_FIELDS | SERVER_STATE_FIELDS | {"presence_penalty", "frequency_penalty", "stream"}
_EXTENSIONS = frozenset({"stop", "seed"})


@dataclass(frozen=True, slots=True)
class ChatRequestOptions:
    """How a preset wants the request written; mirrors the dialect's constructor options."""

    send_reasoning: SendReasoning = "drop"
    drop_unsupported: frozenset[str] = frozenset()
    skip_hosted_tools: bool = False
    max_tokens_field: MaxTokensField = "max_tokens"
    stream_usage: bool = True
    reasoning_effort: bool = True
    json_schema_style: JsonSchemaStyle = "openai"
    extra_body: dict[str, Any] = field(default_factory=dict)
    #: The upstream ignores ``tool_choice`` (Ollama): only what can be honoured without it passes.
    tool_choice_ignored: bool = False
    #: The upstream refuses ``tools`` and ``response_format`` together (TGI): a 400 here instead.
    tools_or_format: bool = False
    #: How call ids are sent: as given, or in Mistral's ``[A-Za-z0-9]{9}`` (``_chat_ids``).
    call_ids: CallIds = "as_is"
    #: Each tool call's carried ``extra_content`` goes back on it (Gemini's OpenAI endpoint).
    call_extra_content: bool = False


def chat_request_body(
    body: CreateResponseBody, *, stream: bool, options: ChatRequestOptions | None = None
) -> dict[str, Any]:
    """The Chat Completions body for an Open Responses ``body``; raises ``RequestValidationError``.

    ``stream`` is the call's streaming flag (``Request.stream``): it decides ``stream`` and
    ``stream_options.include_usage`` (sent only with ``stream: true``; OpenAI rejects it otherwise).
    """
    opts = options if options is not None else ChatRequestOptions()
    drop = opts.drop_unsupported
    present, extras = set_fields(
        body,
        translated=_TRANSLATED,
        extensions=_EXTENSIONS,
        harmless=HARMLESS_FIELDS,
        reject=reject,
        drop=drop,
    )

    def wanted(name: str) -> bool:
        return name in present and name not in drop

    reject_server_state(body, present, reject, drop=drop)

    out: dict[str, Any] = {}
    if wanted("model"):
        out["model"] = body.model
    out["messages"] = chat_messages(
        body.instructions if wanted("instructions") else None,
        body.input if wanted("input") else None,
        opts.send_reasoning,
        call_extra_content=opts.call_extra_content,
    )
    tools = _tools(body, opts) if wanted("tools") else []
    _tool_choice(body if wanted("tool_choice") else None, tools, out)
    if opts.tool_choice_ignored:
        _without_tool_choice(out)
    if wanted("parallel_tool_calls") and "tools" in out:
        # OpenAI rejects parallel_tool_calls without tools; without tools it means nothing.
        out["parallel_tool_calls"] = body.parallel_tool_calls
    for name in ("temperature", "top_p", "presence_penalty", "frequency_penalty"):
        if wanted(name):
            out[name] = getattr(body, name)
    if wanted("max_output_tokens"):
        out[opts.max_tokens_field] = body.max_output_tokens
    if wanted("text"):
        _text(body, opts, out)
        if opts.tools_or_format and "tools" in out and "response_format" in out:
            reject(
                "text.format with tools", "this upstream takes one or the other (TGI)", loc=("text", "format")
            )
    if wanted("reasoning"):
        _reasoning(body, opts, out)
    _extensions(extras, drop, out)
    _stream_and_extra_body(stream, opts, out)
    reject_nested_extras(body, present - drop, reject)
    if opts.call_ids == "mistral":
        mistral_call_ids(out["messages"])
    return out


#: What a plain body sets (:func:`plain_chat_request`), and each of its text messages.
_PLAIN_FIELDS = frozenset({"model", "input", "instructions", "stream"})  # stream: the call says
_PLAIN_ITEM_FIELDS = frozenset({"type", "role", "content"})
_PLAIN_ROLES = {
    UserMessageItemParam: "user",
    SystemMessageItemParam: "system",
    DeveloperMessageItemParam: "system",
}


def plain_chat_request(
    body: CreateResponseBody, *, stream: bool, options: ChatRequestOptions | None = None
) -> dict[str, Any] | None:
    """:func:`chat_request_body` for the commonest body, a model and instructions and text
    messages (user, system, developer) and nothing else; ``None`` for any other body (or a
    preset that drops one of those fields), which goes through :func:`chat_request_body`.

    Why: on the proxy's non-streamed path the general translation (every field's rule, the
    conversation machine, the nested-extra walk) was most of the request's encoding;
    ``tests/transports/test_chat_plain_request.py`` checks, over generated bodies and every
    preset's options, that this answers exactly as it or not at all.
    """
    opts = options if options is not None else ChatRequestOptions()
    fields = body.__pydantic_fields_set__
    if type(body) is not CreateResponseBody or body.__pydantic_extra__ or not fields <= _PLAIN_FIELDS:
        return None
    if opts.drop_unsupported & fields:
        return None
    out: dict[str, Any] = {}
    if body.model is not None:
        out["model"] = body.model
    messages: list[dict[str, Any]] = []
    instructions, items = body.instructions, body.input
    if instructions:
        if type(instructions) is not str:
            return None
        messages.append({"role": "system", "content": instructions})
    if type(items) is str:
        messages.append({"role": "user", "content": items})
    elif items is not None:
        if type(items) is not list:
            return None
        for entry in items:
            item: Any = entry
            role = _PLAIN_ROLES.get(type(item))
            if (
                role is None
                or item.__pydantic_extra__
                or not item.__pydantic_fields_set__ <= _PLAIN_ITEM_FIELDS
                or type(item.content) is not str
            ):
                return None
            messages.append({"role": role, "content": item.content})
    out["messages"] = with_user_turn(messages)
    _stream_and_extra_body(stream, opts, out)
    return out


def _stream_and_extra_body(stream: bool, opts: ChatRequestOptions, out: dict[str, Any]) -> None:
    """The call's streaming flag (``stream_options.include_usage`` only with ``stream: true``:
    OpenAI rejects it otherwise), then the preset's fixed fields, where the body set none."""
    if stream:
        out["stream"] = True
        if opts.stream_usage:
            out["stream_options"] = {"include_usage": True}
    for key, value in opts.extra_body.items():
        out.setdefault(key, value)


# --------------------------------------------------------------------------- tools


def _tools(body: CreateResponseBody, opts: ChatRequestOptions) -> list[dict[str, Any]]:
    tools: list[dict[str, Any]] = []
    for index, tool in enumerate(body.tools or ()):
        if isinstance(tool, FunctionToolParam):
            function: dict[str, Any] = {"name": tool.name}
            for key in ("description", "parameters", "strict"):
                value = getattr(tool, key)
                if value is not None:
                    function[key] = value
            tools.append({"type": "function", "function": function})
        elif not opts.skip_hosted_tools:
            reject(
                f"tool type {getattr(tool, 'type', None)!r}",
                "is not supported (only function tools; skip_hosted_tools=True skips hosted tools)",
                loc=("tools", index),
            )
    return tools


def _tool_choice(body: CreateResponseBody | None, tools: list[dict[str, Any]], out: dict[str, Any]) -> None:
    choice = body.tool_choice if body is not None else None
    names = [tool["function"]["name"] for tool in tools]
    if choice is None or choice == "auto":
        if tools:
            out["tools"] = tools
        return
    if isinstance(choice, str):
        if choice == "required" and not tools:
            reject("tool_choice 'required'", "needs at least one function tool", loc=("tool_choice",))
        if tools:
            out["tools"] = tools
            out["tool_choice"] = choice
        return
    if isinstance(choice, FunctionToolChoice):
        if choice.name not in names:
            reject(f"tool_choice function {choice.name!r}", "is not among the tools", loc=("tool_choice",))
        out["tools"] = tools
        out["tool_choice"] = {"type": "function", "function": {"name": choice.name}}
        return
    if isinstance(choice, AllowedToolsChoice):
        allowed = [entry.name for entry in choice.tools]
        unknown = [name for name in allowed if name not in names]
        if unknown:
            reject(f"allowed_tools {unknown[0]!r}", "is not among the tools", loc=("tool_choice", "tools"))
        # Chat Completions has no "allowed but in context": send only the allowed tools.
        kept = [tool for tool in tools if tool["function"]["name"] in allowed]
        mode = choice.mode or "auto"
        if kept and mode != "none":
            out["tools"] = kept
            if mode != "auto":
                out["tool_choice"] = mode
        elif mode == "required":
            reject("tool_choice 'required'", "needs at least one allowed tool", loc=("tool_choice",))
        return
    reject(f"tool_choice type {getattr(choice, 'type', None)!r}", loc=("tool_choice",))


def _without_tool_choice(out: dict[str, Any]) -> None:
    """For an upstream that ignores ``tool_choice`` (PROVIDERS.md trap 17: it must not be sent
    for nothing): ``auto`` and the allowed-tools subset need no ``tool_choice``; ``none`` is
    honoured by sending no tools; a forced call (``required``, a named function) cannot be, so it
    is refused rather than silently ignored."""
    choice = out.pop("tool_choice", None)
    if choice is None or choice == "auto":
        return
    if choice == "none":
        out.pop("tools", None)
        out.pop("parallel_tool_calls", None)
        return
    what = "'required'" if choice == "required" else "naming a function"
    reject(
        f"tool_choice {what}", "cannot be honoured: this upstream ignores tool_choice", loc=("tool_choice",)
    )


# --------------------------------------------------------------------------- other options


def _text(body: CreateResponseBody, opts: ChatRequestOptions, out: dict[str, Any]) -> None:
    drop = opts.drop_unsupported
    tgi = opts.json_schema_style == "tgi"
    text = body.text
    if text is None:
        return
    fmt = text.format
    if fmt is None or isinstance(fmt, TextResponseFormat) or "text.format" in drop:
        pass
    elif isinstance(fmt, JsonSchemaResponseFormat):
        schema: dict[str, Any] = {"name": fmt.name}
        if fmt.description is not None:
            schema["description"] = fmt.description
        if fmt.schema_ is not None:
            schema["schema"] = fmt.schema_
        if fmt.strict is not None:
            schema["strict"] = fmt.strict
        if tgi:  # TGI reads ``value`` and rejects OpenAI's ``json_schema`` key (PROVIDERS.md §5)
            value = {key: schema[key] for key in ("name", "schema") if key in schema}
            out["response_format"] = {"type": "json_schema", "value": value}
        else:
            out["response_format"] = {"type": "json_schema", "json_schema": schema}
    elif isinstance(fmt, JsonObjectResponseFormat):
        # TGI's JSON mode needs a grammar: any object.
        out["response_format"] = (
            {"type": "json_object", "value": {"type": "object"}} if tgi else {"type": "json_object"}
        )
    else:
        reject(f"text.format type {getattr(fmt, 'type', None)!r}", loc=("text", "format"))
    if text.verbosity is not None and "text.verbosity" not in drop:
        out["verbosity"] = text.verbosity  # OpenAI's top-level chat parameter (GPT-5 family)
    for key in sorted(set(text.model_extra or ()) - {f"text.{name}" for name in drop}):
        reject(f"field 'text.{key}'", loc=("text", key))


def _reasoning(body: CreateResponseBody, opts: ChatRequestOptions, out: dict[str, Any]) -> None:
    reasoning = body.reasoning
    if reasoning is None:
        return
    drop = opts.drop_unsupported
    if reasoning.effort is not None and "reasoning.effort" not in drop:
        if not opts.reasoning_effort:
            reject("field 'reasoning.effort'", loc=("reasoning", "effort"))
        out["reasoning_effort"] = reasoning.effort
    # ``auto`` asks for whatever the model can give, which raw reasoning satisfies; the two
    # explicit styles ask for a summary no chat upstream produces.
    if reasoning.summary not in (None, "auto") and "reasoning.summary" not in drop:
        reject(
            f"reasoning.summary {reasoning.summary!r}",
            "is not supported (chat upstreams return raw reasoning, not summaries; use 'auto')",
            loc=("reasoning", "summary"),
        )
    for key in sorted(set(reasoning.model_extra or ()) - {f"reasoning.{name}" for name in drop}):
        reject(f"field 'reasoning.{key}'", loc=("reasoning", key))


def _extensions(extras: dict[str, Any], drop: frozenset[str], out: dict[str, Any]) -> None:
    """``stop`` and ``seed``: not Open Responses fields, accepted as extension fields."""
    if "stop" in extras and "stop" not in drop:
        stop = extras["stop"]
        if not (isinstance(stop, str) or (isinstance(stop, list) and all(isinstance(s, str) for s in stop))):
            raise RequestValidationError(
                f"{PREFIX}: field 'stop' must be a string or a list of strings",
                [{"loc": ("stop",), "msg": "must be a string or a list of strings", "type": "type_error"}],
            )
        out["stop"] = stop
    if "seed" in extras and "seed" not in drop:
        seed = extras["seed"]
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise RequestValidationError(
                f"{PREFIX}: field 'seed' must be an integer",
                [{"loc": ("seed",), "msg": "must be an integer", "type": "type_error"}],
            )
        out["seed"] = seed
