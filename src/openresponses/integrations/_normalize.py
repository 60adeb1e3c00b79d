"""Normalise what an agent framework hands over into spec-valid ``POST /responses`` input.

Frameworks write their history in the OpenAI SDK's lenient shapes, which the Open Responses
schema does not accept as they are:

- a message written ``{"role": "user", "content": "Hi"}`` (the SDK's "easy input message") has
  no ``type``: the spec's message items need ``type: "message"``;
- a reasoning item given back must carry ``content: null`` (raw reasoning is never sent back)
  and keeps its ``summary`` (required, possibly empty) and ``encrypted_content`` (the signature
  a provider needs to continue its chain of thought);
- a function tool's ``strict`` is a boolean or absent, never ``null`` (the same for a
  ``json_schema`` text format), and a tool or format's ``null`` description is dropped;
- output items given back carry read-only fields (``status: null``, ``id: null``) the server
  does not need: ``null`` ones are dropped.

Pure functions over JSON values (sans-I/O): the Agents SDK and pydantic-ai adapters call them
on the body they built, and the LangChain adapter may. Nothing here raises for an item it does
not know: an unknown item is passed on as it is, for the server to judge.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["normalize_body", "normalize_input", "normalize_item", "normalize_text", "normalize_tool"]

_MESSAGE_ROLES = frozenset({"user", "assistant", "system", "developer"})
_DROP_WHEN_NULL = ("id", "status")


def normalize_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """One input item in the spec's shape (a new dict; ``item`` is not changed)."""
    out = dict(item)
    kind = out.get("type")
    if kind is None and out.get("role") in _MESSAGE_ROLES:
        out["type"] = kind = "message"
    for key in _DROP_WHEN_NULL:
        if key in out and out[key] is None:
            del out[key]
    if kind == "message":
        content = out.get("content")
        if isinstance(content, list):
            out["content"] = [_normalize_part(part, out.get("role")) for part in content]
    elif kind == "reasoning":
        out["content"] = None  # raw reasoning is not sent back; the spec allows only null here
        summary = out.get("summary")
        out["summary"] = [dict(part) for part in summary] if isinstance(summary, list) else []
        if out.get("encrypted_content") is None:
            out.pop("encrypted_content", None)
    return out


def _normalize_part(part: Any, role: Any) -> Any:
    if not isinstance(part, Mapping):
        return part
    out = dict(part)
    if out.get("type") == "output_text" and out.get("annotations") is None:
        out["annotations"] = []
    if role == "assistant" and out.get("type") == "output_text":
        out.pop("logprobs", None)  # an SDK's read-only echo, not part of the input schema
    return out


def normalize_input(items: str | Iterable[Mapping[str, Any]] | None) -> str | list[dict[str, Any]] | None:
    """A whole ``input``: a string stays a string, a list becomes normalised items."""
    if items is None or isinstance(items, str):
        return items
    return [normalize_item(item) for item in items]


def normalize_tool(tool: Mapping[str, Any]) -> dict[str, Any]:
    """A tool definition with ``strict`` a boolean (or absent) and no ``null`` description."""
    out = dict(tool)
    if "strict" in out and out["strict"] is None:
        del out["strict"]
    if "description" in out and out["description"] is None:
        del out["description"]
    return out


def normalize_text(text: Mapping[str, Any]) -> dict[str, Any]:
    """The ``text`` option with a ``json_schema`` format's ``strict`` a boolean (or absent)."""
    out = dict(text)
    fmt = out.get("format")
    if isinstance(fmt, Mapping):
        out["format"] = {k: v for k, v in fmt.items() if not (k in ("strict", "description") and v is None)}
    return out


def normalize_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """A whole request body: ``input``, ``tools`` and ``text`` normalised; other fields kept."""
    out = dict(body)
    if "input" in out:
        out["input"] = normalize_input(out["input"])
    tools = out.get("tools")
    if isinstance(tools, list):
        out["tools"] = [normalize_tool(tool) if isinstance(tool, Mapping) else tool for tool in tools]
    text = out.get("text")
    if isinstance(text, Mapping):
        out["text"] = normalize_text(text)
    return out
