"""LangChain tools, ``tool_choice`` and structured-output schemas → Open Responses request fields.

LangChain hands tools over in many shapes (``@tool`` functions, ``BaseTool``, pydantic models,
TypedDicts, plain functions, OpenAI Chat ``{"type": "function", "function": {...}}`` dicts,
Anthropic ``input_schema`` dicts); ``convert_to_openai_tool`` folds them into the Chat shape and
this module flattens that into the spec's ``FunctionToolParam`` (``strict`` a boolean or absent,
never ``null``). A dict already in the Responses shape (``{"type": "function", "name": ...}``)
or a hosted tool (``{"type": "web_search"}``) passes through.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from langchain_core.utils.function_calling import convert_to_openai_tool

from .._errors import RequestValidationError

__all__ = ["json_schema_format", "to_tool", "to_tool_choice", "tool_name"]


def to_tool(tool: Any, *, strict: bool | None = None) -> dict[str, Any]:
    """One tool in the spec's shape."""
    if isinstance(tool, Mapping) and tool.get("type") not in (None, "function"):
        return dict(tool)  # a hosted tool (web_search, file_search, ...): the server knows it
    if isinstance(tool, Mapping) and tool.get("type") == "function" and "function" not in tool:
        out = dict(tool)  # already the Responses shape
    else:
        function = convert_to_openai_tool(tool, strict=strict)["function"]
        out = {"type": "function", "name": function["name"]}
        if function.get("description"):
            out["description"] = function["description"]
        out["parameters"] = function.get("parameters") or {"type": "object", "properties": {}}
        if function.get("strict") is not None:
            out["strict"] = bool(function["strict"])
    if strict is not None:
        out["strict"] = bool(strict)
    elif out.get("strict") is None:
        out.pop("strict", None)  # the spec's strict is a boolean: absent, never null
    return out


def tool_name(tool: Mapping[str, Any]) -> str | None:
    """The function name of a converted tool (``None`` for hosted tools)."""
    name = tool.get("name")
    return name if tool.get("type") == "function" and isinstance(name, str) else None


def to_tool_choice(choice: Any, tools: Sequence[Mapping[str, Any]]) -> Any:
    """LangChain's ``tool_choice`` in the spec's shape.

    ``"auto"``, ``"none"``, ``"required"`` as they are; ``"any"`` (LangChain's "some tool") and
    ``True`` → ``"required"``; a tool's name → ``{"type": "function", "name": ...}``; an OpenAI
    Chat ``{"type": "function", "function": {"name": ...}}`` is flattened. Naming a tool that
    is not bound is a ``RequestValidationError``.
    """
    names = [name for name in map(tool_name, tools) if name]
    if choice is None:
        return None
    if choice is True or choice == "any":
        return "required"
    if choice is False:
        return "none"
    if choice in ("auto", "none", "required"):
        return choice
    if isinstance(choice, str):
        return _named(choice, names)
    if isinstance(choice, Mapping):
        if choice.get("type") == "function":
            function = choice.get("function")
            name = function.get("name") if isinstance(function, Mapping) else choice.get("name")
            if isinstance(name, str):
                return _named(name, names)
        return dict(choice)  # allowed_tools, a hosted tool choice: the spec's own shapes
    raise _invalid(
        f"tool_choice must be 'auto', 'none', 'any', 'required', a tool name or a dict, not {choice!r}"
    )


def _named(name: str, names: Sequence[str]) -> dict[str, Any]:
    if names and name not in names:
        raise _invalid(f"tool_choice names {name!r}, which is not among the bound tools {names}")
    return {"type": "function", "name": name}


def json_schema_format(schema: Any, *, strict: bool | None) -> dict[str, Any]:
    """``text.format`` for a pydantic model, TypedDict or JSON schema (``type: "json_schema"``)."""
    function = convert_to_openai_tool(schema)["function"]
    out: dict[str, Any] = {"type": "json_schema", "name": function["name"]}
    if function.get("description"):
        out["description"] = function["description"]
    out["schema"] = function.get("parameters") or {"type": "object", "properties": {}}
    if strict is not None:
        out["strict"] = bool(strict)
    return out


def _invalid(message: str) -> RequestValidationError:
    return RequestValidationError(message, [{"loc": ("tool_choice",), "msg": message}])


ToolLike = Mapping[str, Any] | type | Callable[..., Any] | Any
