"""LangChain messages → Open Responses ``instructions`` and ``input`` items (pure, sans-I/O).

Each message is read through LangChain's own ``content_blocks`` view, which already folds the
formats a chain may carry (OpenAI Chat ``image_url`` parts, LangChain v0 ``source_type`` blocks,
Anthropic ``source`` blocks, v1 standard blocks) into one standard shape; this module maps that
shape onto the spec's items:

- leading ``SystemMessage``\\ s → ``instructions`` (or ``system`` / ``developer`` messages);
- ``HumanMessage`` → a ``user`` message of ``input_text`` / ``input_image`` / ``input_file`` parts;
- ``AIMessage`` → in order: ``reasoning`` items (``summary`` + ``encrypted_content``; raw reasoning
  is never sent back, the spec allows only ``content: null``), an ``assistant`` message, and one
  ``function_call`` item per tool call;
- ``ToolMessage`` → ``function_call_output`` (a string, or parts when it holds images or files).

A block that cannot be expressed in the spec (audio, a provider file id) is a
``RequestValidationError`` naming the message and block, raised before anything is sent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)

from .._errors import RequestValidationError

__all__ = ["SystemMode", "to_input"]

SystemMode = Literal["instructions", "system", "developer"]
"""Where ``SystemMessage`` content goes: the ``instructions`` field, or a message of that role."""

_PASSTHROUGH_PARTS = frozenset({"input_text", "input_image", "input_file"})


def to_input(
    messages: Sequence[BaseMessage], *, system: SystemMode = "instructions"
) -> tuple[str | None, list[dict[str, Any]]]:
    """``(instructions, items)`` for ``messages``.

    With ``system="instructions"`` the system messages *before* the first other message become
    ``instructions`` (joined by a blank line); a system message later in the conversation stays
    where it is, as a ``system`` message item, so the order the chain wrote is kept.
    """
    instructions: list[str] = []
    items: list[dict[str, Any]] = []
    for position, message in enumerate(messages):
        where = f"messages[{position}]"
        if isinstance(message, SystemMessage):
            text = _text_only(message, where)
            if system == "instructions" and not items:
                instructions.append(text)
            else:
                role = "developer" if system == "developer" else "system"
                items.append({"type": "message", "role": role, "content": text})
        elif isinstance(message, HumanMessage):
            items.append({"type": "message", "role": "user", "content": _user_content(message, where)})
        elif isinstance(message, AIMessage):
            items.extend(_assistant_items(message, where))
        elif isinstance(message, ToolMessage):
            items.append(_tool_output(message, where))
        elif isinstance(message, ChatMessage) and message.role in (
            "user",
            "system",
            "developer",
            "assistant",
        ):
            content = _user_content(message, where) if message.role == "user" else _text_only(message, where)
            items.append({"type": "message", "role": message.role, "content": content})
        else:
            raise _invalid(
                where,
                f"{type(message).__name__} (role {getattr(message, 'role', message.type)!r}) has no "
                "Open Responses equivalent; use SystemMessage, HumanMessage, AIMessage or ToolMessage",
            )
    return ("\n\n".join(instructions) if instructions else None), items


# -- user content -----------------------------------------------------------------------------


def _user_content(message: BaseMessage, where: str) -> str | list[dict[str, Any]]:
    if isinstance(message.content, str):
        return message.content
    parts: list[dict[str, Any]] = []
    for index, block in enumerate(message.content_blocks):
        part = _input_part(dict(block), f"{where}.content[{index}]")
        if part is not None:
            parts.append(part)
    return parts


def _input_part(block: dict[str, Any], where: str) -> dict[str, Any] | None:
    """One standard content block as an ``input_*`` part (``None``: nothing to send)."""
    kind = block.get("type")
    if kind == "text":
        return {"type": "input_text", "text": block.get("text", "")}
    if kind == "text-plain":
        return {"type": "input_text", "text": block.get("text") or _decode_plain(block, where)}
    if kind == "image":
        return _image_part(block, where)
    if kind == "file":
        return _file_part(block, where)
    if kind in ("reasoning", "tool_call", "server_tool_call", "server_tool_result"):
        return None  # an assistant's own blocks carry no input meaning in a user turn
    if kind == "non_standard":
        value = block.get("value")
        if isinstance(value, Mapping) and value.get("type") in _PASSTHROUGH_PARTS:
            return dict(value)  # already a Responses part
        if isinstance(value, Mapping) and value.get("type") in ("input_audio", "audio"):
            kind = "audio"
        else:
            raise _invalid(where, f"content block {_describe(value)} is not one Open Responses can send")
    raise _invalid(
        where, f"{kind!r} content is not part of the Open Responses input (text, images and files are)"
    )


def _image_part(block: Mapping[str, Any], where: str) -> dict[str, Any]:
    detail = (block.get("extras") or {}).get("detail") or block.get("detail")
    url = block.get("url")
    if not url and block.get("base64"):
        mime = block.get("mime_type") or "image/png"
        url = f"data:{mime};base64,{block['base64']}"
    if not url:
        raise _invalid(where, "an image needs a URL or base64 data (provider file ids are not in the spec)")
    part: dict[str, Any] = {"type": "input_image", "image_url": url}
    if detail in ("low", "high", "auto"):
        part["detail"] = detail
    return part


def _file_part(block: Mapping[str, Any], where: str) -> dict[str, Any]:
    extras = block.get("extras") or {}
    filename = extras.get("filename") or block.get("filename")
    part: dict[str, Any] = {"type": "input_file"}
    if block.get("base64"):
        mime = block.get("mime_type") or "application/octet-stream"
        part["file_data"] = f"data:{mime};base64,{block['base64']}"
        part["filename"] = filename or "file"
    elif block.get("url"):
        part["file_url"] = block["url"]
        if filename:
            part["filename"] = filename
    else:
        raise _invalid(where, "a file needs a URL or base64 data (provider file ids are not in the spec)")
    return part


def _decode_plain(block: Mapping[str, Any], where: str) -> str:
    import base64

    data = block.get("base64")
    if not isinstance(data, str):
        raise _invalid(where, "a text-plain block needs text or base64 data")
    return base64.b64decode(data).decode("utf-8")


# -- assistant turns --------------------------------------------------------------------------


def _assistant_items(message: AIMessage, where: str) -> list[dict[str, Any]]:
    """Reasoning, text and tool calls of one AI turn, in the order the model produced them."""
    items: list[dict[str, Any]] = []
    text: list[str] = []
    reasoning: dict[str, dict[str, Any]] = {}  # by id: parts of one reasoning item meet there

    def flush_text() -> None:
        if text:
            items.append({"type": "message", "role": "assistant", "content": "".join(text)})
            text.clear()

    called: set[str] = set()
    for index, block in enumerate(message.content_blocks):
        kind = block.get("type")
        if kind == "text":
            text.append(str(block.get("text", "")))
        elif kind == "reasoning":
            item = _reasoning_item(dict(block), reasoning)
            if item is not None:
                flush_text()
                items.append(item)
        elif kind in ("tool_call", "invalid_tool_call"):
            flush_text()
            call = _function_call(dict(block), f"{where}.tool_calls")
            called.add(call["call_id"])
            items.append(call)
        elif kind == "non_standard":
            continue  # a provider's own echo (Anthropic ``tool_use``): the tool calls carry it
        else:
            _ = index  # other standard blocks (images an assistant produced, ...) are not input
    flush_text()
    # Tool calls the content view did not list (older messages keep them only in ``tool_calls``).
    pending: list[Mapping[str, Any]] = [*message.tool_calls, *message.invalid_tool_calls]
    for leftover in pending:
        if leftover.get("id") not in called:
            items.append(_function_call(leftover, f"{where}.tool_calls"))
    return items


def _reasoning_item(block: dict[str, Any], seen: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """A reasoning block as a ``reasoning`` item, or ``None`` when it joins one already made.

    Blocks of one item share its ``id`` (a summary part and the raw text stream as separate
    blocks): they meet in one item. Raw text is not sent (the spec allows only ``content:
    null``). A block with neither an ``id`` nor ``encrypted_content`` (nor an Anthropic
    ``signature``) cannot be checked by any server, so it is not sent.
    """
    extras = block.get("extras") or {}
    encrypted = extras.get("encrypted_content") or extras.get("signature")
    item_id = block.get("id")
    kind = extras.get("kind", "summary")
    if item_id and item_id in seen:
        known = seen[item_id]
        if encrypted and not known.get("encrypted_content"):
            known["encrypted_content"] = encrypted
        if kind == "summary" and block.get("reasoning"):
            known["summary"].append({"type": "summary_text", "text": block["reasoning"]})
        return None
    if not item_id and not encrypted:
        return None
    item: dict[str, Any] = {"type": "reasoning", "summary": []}
    if item_id:
        item["id"] = item_id
        seen[item_id] = item
    if kind == "summary" and block.get("reasoning"):
        item["summary"].append({"type": "summary_text", "text": block["reasoning"]})
    if encrypted:
        item["encrypted_content"] = encrypted
    return item


def _function_call(call: Mapping[str, Any], where: str) -> dict[str, Any]:
    call_id = call.get("id")
    if not isinstance(call_id, str) or not call_id:
        raise _invalid(where, f"tool call {call.get('name')!r} has no id: a ToolMessage could not answer it")
    args = call.get("args")
    arguments = args if isinstance(args, str) else json.dumps(args or {}, ensure_ascii=False)
    return {
        "type": "function_call",
        "call_id": call_id,
        "name": call.get("name") or "",
        "arguments": arguments,
    }


# -- tool results -----------------------------------------------------------------------------


def _tool_output(message: ToolMessage, where: str) -> dict[str, Any]:
    output: str | list[dict[str, Any]]
    if isinstance(message.content, str):
        output = message.content
    else:
        parts = [
            _input_part(dict(block), f"{where}.content[{i}]")
            for i, block in enumerate(message.content_blocks)
        ]
        kept = [part for part in parts if part is not None]
        if all(part["type"] == "input_text" for part in kept):
            output = "".join(part["text"] for part in kept)  # plain text reads best as a string
        else:
            output = kept
    if not message.tool_call_id:
        raise _invalid(where, "a ToolMessage needs the tool_call_id of the call it answers")
    return {"type": "function_call_output", "call_id": message.tool_call_id, "output": output}


# -- helpers ----------------------------------------------------------------------------------


def _text_only(message: BaseMessage, where: str) -> str:
    if isinstance(message.content, str):
        return message.content
    texts: list[str] = []
    for index, block in enumerate(message.content_blocks):
        if block.get("type") != "text":
            raise _invalid(f"{where}.content[{index}]", f"a {message.type} message may hold text only")
        texts.append(str(block.get("text", "")))
    return "".join(texts)


def _describe(value: Any) -> str:
    if isinstance(value, Mapping):
        return f"of type {value.get('type')!r}"
    return f"of Python type {type(value).__name__}"


def _invalid(where: str, message: str) -> RequestValidationError:
    return RequestValidationError(f"{where}: {message}", [{"loc": tuple(where.split(".")), "msg": message}])
