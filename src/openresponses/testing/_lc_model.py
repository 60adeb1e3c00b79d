"""A deterministic stand-in "model": picks a scenario from what a request asks for.

Framework test suites (LangChain's standard chat-model tests among them) send many different
requests and check the shape of each answer, not its wit. :func:`imitate` answers each the way a
cooperative model would, so one loopback server can serve a whole suite:

- tools bound and ``tool_choice`` not ``"none"`` → a ``function_call`` of the named tool (else
  the tool named in the prompt, else the first), unless the last input item is a tool result
  and the call is not forced; arguments are generated from the tool's JSON schema, taking
  integers and quoted strings from the prompt in order (``magic_function(3)`` → ``{"input": 3}``);
- ``text.format`` ``json_schema`` → a JSON document of that schema; JSON mode (``json_object``,
  or the schema ``{"type": "object"}``) → an object whose keys are the words quoted in the prompt;
- otherwise text echoing the prompt (and how many images it carried), after a reasoning item
  (summary, raw text and ``encrypted_content``) when the request asks for ``reasoning``.

Usage is always reported. Pure: a body in, a :class:`Scenario` out.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ._script import Scenario, function_call, text

__all__ = ["imitate", "sample_schema"]

_QUOTED = re.compile(r"'([^']+)'|\"([^\"]+)\"")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def imitate(body: Any) -> Scenario:
    """The scenario a cooperative model would play for ``body`` (a ``CreateResponseBody`` or dict)."""
    data: dict[str, Any] = body.to_dict() if hasattr(body, "to_dict") else dict(body or {})
    items = data.get("input")
    items = (
        [{"type": "message", "role": "user", "content": items}]
        if isinstance(items, str)
        else list(items or [])
    )
    prompt, images = _last_user(items)
    tools = [tool for tool in data.get("tools") or [] if tool.get("type") == "function"]
    choice = data.get("tool_choice")
    forced = choice == "required" or isinstance(choice, Mapping)
    answered = bool(items) and items[-1].get("type") == "function_call_output"
    if tools and choice != "none" and (forced or not answered):
        tool = _pick(tools, choice, prompt)
        args = sample_schema(tool.get("parameters") or {}, _Values(prompt), tool["name"])
        return function_call(tool["name"], args if isinstance(args, dict) else {})
    fmt = (data.get("text") or {}).get("format") or {}
    if fmt.get("type") == "json_object" or fmt.get("schema") == {"type": "object"}:
        keys = [a or b for a, b in _QUOTED.findall(prompt)] or ["answer"]
        return text(json.dumps({key: f"{key} from the scripted model" for key in keys}), chunks=4)
    if fmt.get("type") == "json_schema":
        document = sample_schema(fmt.get("schema") or {}, _Values(prompt), fmt.get("name", ""))
        return text(json.dumps(document, ensure_ascii=False), chunks=4)
    reply = f"Hello! You said: {prompt[:80]}" if prompt else "Hello!"
    if answered:
        reply = f"The tool said: {_text(items[-1].get('output'))[:80]}"
    if images:
        reply += f" I see {images} image(s)."
    if data.get("reasoning"):
        return text(
            reply,
            reasoning="Thinking about the request.",
            reasoning_text="The user wrote something; answer it.",
            reasoning_encrypted=base64.b64encode(b"scripted-signature").decode(),
        )
    return text(reply)


def _last_user(items: Sequence[Mapping[str, Any]]) -> tuple[str, int]:
    for item in reversed(items):
        if item.get("type", "message") == "message" and item.get("role") == "user":
            content = item.get("content")
            if isinstance(content, str):
                return content, 0
            parts = [part for part in content or [] if isinstance(part, Mapping)]
            images = sum(1 for part in parts if part.get("type") == "input_image")
            return " ".join(
                str(part.get("text", "")) for part in parts if part.get("type") == "input_text"
            ), images
    return "", 0


def _text(output: Any) -> str:
    if isinstance(output, str):
        return output
    return " ".join(str(part.get("text", "")) for part in output or [] if isinstance(part, Mapping))


def _pick(tools: Sequence[Mapping[str, Any]], choice: Any, prompt: str) -> Mapping[str, Any]:
    if isinstance(choice, Mapping) and choice.get("name"):
        for tool in tools:
            if tool.get("name") == choice["name"]:
                return tool
    for tool in tools:
        if str(tool.get("name")) in prompt:
            return tool
    return tools[0]


class _Values:
    """Integers and quoted strings from the prompt, handed out in order."""

    def __init__(self, prompt: str) -> None:
        unquoted = _QUOTED.sub(" ", prompt)
        self.numbers = [float(n) for n in _NUMBER.findall(unquoted)]
        self.strings = [a or b for a, b in _QUOTED.findall(prompt)]

    def number(self) -> float | None:
        return self.numbers.pop(0) if self.numbers else None

    def string(self) -> str | None:
        return self.strings.pop(0) if self.strings else None


def sample_schema(
    schema: Mapping[str, Any], values: _Values | None = None, name: str = "", *, root: Any = None
) -> Any:
    """A value valid for ``schema`` (``$ref``, ``anyOf``, objects, arrays, enums, scalars)."""
    values = values or _Values("")
    root = root if root is not None else schema
    if "$ref" in schema:
        target: Any = root
        for part in str(schema["$ref"]).lstrip("#/").split("/"):
            target = target.get(part, {}) if isinstance(target, Mapping) else {}
        return sample_schema(target, values, name, root=root)
    for key in ("anyOf", "oneOf", "allOf"):
        options = [option for option in schema.get(key) or [] if option.get("type") != "null"]
        if options:
            return sample_schema(options[0], values, name, root=root)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties") or {}
        return {key: sample_schema(sub, values, key, root=root) for key, sub in properties.items()}
    if kind == "array":
        return [sample_schema(schema.get("items") or {}, values, name, root=root)]
    if kind == "integer":
        number = values.number()
        return int(number) if number is not None else 1
    if kind == "number":
        number = values.number()
        return number if number is not None else 1.5
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return values.string() or f"{name or 'value'} from the scripted model"
