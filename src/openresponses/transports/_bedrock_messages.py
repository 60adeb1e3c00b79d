"""Open Responses input items -> Bedrock Converse ``system`` and ``messages``, sans I/O.

Converse wants content blocks (``{"text"}``, ``{"image"}``, ``{"toolUse"}``, ``{"toolResult"}``,
``{"reasoningContent"}``) in messages whose roles alternate ``user`` / ``assistant``; a blank text
block is a ``ValidationException``. So consecutive items of one role merge into one message, tool
results go in the user message that follows the calls, system and developer messages join the
top-level ``system`` blocks, and empty text is never sent.

Reasoning comes back to Bedrock only as it left: the adapter keeps a reasoning block's text and
signature (or its redacted bytes) in the item's ``encrypted_content`` as a small JSON envelope
(:func:`reasoning_envelope`), and sends that block back unchanged at the start of its assistant
message (Claude rejects a thinking block whose signature does not match its text). A reasoning
item without our envelope (another provider's blob, a bare summary) cannot be verified by
Bedrock and is left out.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Sequence
from typing import Any

from ..types.content import (
    InputFileContent,
    InputImageContent,
    InputTextContent,
)
from ..types.items import (
    AssistantMessageItemParam,
    DeveloperMessageItemParam,
    FunctionCallItemParam,
    FunctionCallOutputItemParam,
    ReasoningItemParam,
    SystemMessageItemParam,
    UserMessageItemParam,
)
from ._fields import Rejecter
from ._items import open_envelope, text_parts

__all__ = [
    "PREFIX",
    "REASONING_ENVELOPE",
    "converse_messages",
    "reasoning_block",
    "reasoning_envelope",
    "reject",
]

#: How every request error of this adapter starts.
PREFIX = "bedrock-converse adapter"
#: Raises ``RequestValidationError``: ``bedrock-converse adapter: <what> <detail>``.
reject = Rejecter(PREFIX)
#: The ``type`` tag of the JSON envelope kept in a reasoning item's ``encrypted_content``.
REASONING_ENVELOPE = "openresponses.bedrock.reasoning"

_IMAGE_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg", "image/gif": "gif"}
_IMAGE_FORMATS["image/webp"] = "webp"
_DATA_URL = re.compile(r"^data:([\w.+-]+/[\w.+-]+);base64,(.*)$", re.DOTALL)
_DOCUMENT_FORMATS = frozenset({"pdf", "csv", "doc", "docx", "xls", "xlsx", "html", "txt", "md"})


def reasoning_envelope(*, text: str = "", signature: str | None = None, redacted: str | None = None) -> str:
    """The ``encrypted_content`` that carries one Bedrock reasoning block back unchanged."""
    data: dict[str, str] = {"type": REASONING_ENVELOPE}
    if redacted is not None:
        data["redacted"] = redacted
    else:
        data["text"] = text
        if signature is not None:
            data["signature"] = signature
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def reasoning_block(encrypted_content: str | None) -> dict[str, Any] | None:
    """The ``reasoningContent`` block inside one of our envelopes; ``None`` for anything else."""
    data = open_envelope(encrypted_content, REASONING_ENVELOPE)
    if data is None:
        return None
    redacted = data.get("redacted")
    if isinstance(redacted, str):
        return {"reasoningContent": {"redactedContent": redacted}}
    text = data.get("text")
    if not isinstance(text, str):
        return None
    block: dict[str, Any] = {"text": text}
    if isinstance(data.get("signature"), str):
        block["signature"] = data["signature"]
    return {"reasoningContent": {"reasoningText": block}}


def converse_messages(
    instructions: str | None, items: str | Sequence[Any] | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(system, messages)`` for ``instructions`` and ``input``; raises ``RequestValidationError``."""
    builder = _Builder()
    if instructions:
        builder.system.append({"text": instructions})
    if isinstance(items, str):
        builder.add("user", [{"text": items}] if items else [])
    elif items:
        for index, item in enumerate(items):
            builder.item(index, item)
    if not builder.messages:
        reject("an empty input", "cannot be sent (Converse needs at least one message)", loc=("input",))
    return builder.system, builder.messages


class _Builder:
    def __init__(self) -> None:
        self.system: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []

    def add(self, role: str, blocks: list[dict[str, Any]]) -> None:
        """Append blocks to the last message when it has ``role``, else start a new message."""
        if not blocks:
            return
        last = self.messages[-1] if self.messages else None
        if last is not None and last["role"] == role:
            last["content"].extend(blocks)
        else:
            self.messages.append({"role": role, "content": list(blocks)})

    def item(self, index: int, item: Any) -> None:
        loc = ("input", index)
        if isinstance(item, UserMessageItemParam):
            self.add("user", _user_blocks(item.content, loc))
        elif isinstance(item, SystemMessageItemParam | DeveloperMessageItemParam):
            # Converse has one top-level system prompt: every system/developer message joins it.
            self.system.extend({"text": text} for text in text_parts(item.content, loc, reject) if text)
        elif isinstance(item, AssistantMessageItemParam):
            self.add(
                "assistant",
                [{"text": text} for text in text_parts(item.content, loc, reject, refusal=True) if text],
            )
        elif isinstance(item, FunctionCallItemParam):
            self.add("assistant", [{"toolUse": _tool_use(item, loc)}])
        elif isinstance(item, FunctionCallOutputItemParam):
            self.add("user", [{"toolResult": _tool_result(item, loc)}])
        elif isinstance(item, ReasoningItemParam):
            block = reasoning_block(item.encrypted_content)
            if block is not None:
                # Roles must alternate, so it joins an open assistant turn (it came first in it).
                self.add("assistant", [block])
        else:
            item_type = getattr(item, "type", None)
            role = getattr(item, "role", None)
            what = f"message role {role!r}" if item_type == "message" else f"input item type {item_type!r}"
            reject(what, loc=loc)


def _user_blocks(content: str | Sequence[Any], loc: tuple[str | int, ...]) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for index, part in enumerate(content):
        where = (*loc, "content", index)
        if isinstance(part, InputTextContent):
            if part.text:
                blocks.append({"text": part.text})
        elif isinstance(part, InputImageContent):
            blocks.append({"image": _image(part, where)})
        elif isinstance(part, InputFileContent):
            blocks.append({"document": _document(part, where)})
        else:
            reject(f"content part {getattr(part, 'type', None)!r}", loc=where)
    return blocks


def _image(part: InputImageContent, loc: tuple[str | int, ...]) -> dict[str, Any]:
    url = part.image_url or ""
    if url.startswith("s3://"):
        fmt = _IMAGE_FORMATS.get("image/" + url.rsplit(".", 1)[-1].lower())
        if fmt is None:
            reject("an s3:// image", "needs a .png, .jpeg, .gif or .webp name", loc=loc)
        return {"format": fmt, "source": {"s3Location": {"uri": url}}}
    match = _DATA_URL.match(url)
    if match is None:
        reject(
            "content part 'input_image'",
            "needs a base64 data: URL or an s3:// URI (Converse cannot fetch http(s) URLs)",
            loc=loc,
        )
    fmt = _IMAGE_FORMATS.get(match.group(1).lower())
    if fmt is None:
        reject(f"image type {match.group(1)!r}", "is not supported (png, jpeg, gif, webp)", loc=loc)
    return {"format": fmt, "source": {"bytes": _base64(match.group(2), loc)}}


def _document(part: InputFileContent, loc: tuple[str | int, ...]) -> dict[str, Any]:
    if not part.file_data or not part.filename:
        reject("content part 'input_file'", "needs file_data and a filename (no file ids or URLs)", loc=loc)
    stem, _, ext = part.filename.rpartition(".")
    fmt = ext.lower()
    if fmt not in _DOCUMENT_FORMATS or not stem:
        reject(
            f"file {part.filename!r}", f"is not a supported document ({', '.join(sorted(_DOCUMENT_FORMATS))})"
        )
    # Document names allow letters, digits, single spaces, hyphens, parentheses and brackets.
    name = re.sub(r"\s+", " ", re.sub(r"[^\w\s\-()\[\]]", "-", stem)).strip() or "document"
    data = part.file_data
    if data.startswith("data:"):
        data = data.split(",", 1)[-1]
    return {"format": fmt, "name": name, "source": {"bytes": _base64(data, loc)}}


def _base64(data: str, loc: tuple[str | int, ...]) -> str:
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        reject("base64 data", "is not valid base64", loc=loc)
    return data  # rest-json blobs travel base64-encoded: already the wire form


def _tool_use(item: FunctionCallItemParam, loc: tuple[str | int, ...]) -> dict[str, Any]:
    try:
        arguments = json.loads(item.arguments) if item.arguments.strip() else {}
    except ValueError:
        reject(f"function_call {item.call_id!r}", "has arguments that are not JSON", loc=(*loc, "arguments"))
    if not isinstance(arguments, dict):
        reject(f"function_call {item.call_id!r}", "needs a JSON object as arguments", loc=(*loc, "arguments"))
    return {"toolUseId": item.call_id, "name": item.name, "input": arguments}


def _tool_result(item: FunctionCallOutputItemParam, loc: tuple[str | int, ...]) -> dict[str, Any]:
    blocks: list[dict[str, Any]]
    if isinstance(item.output, str):
        blocks = [{"text": item.output or "(empty)"}]  # a blank text block is a ValidationException
    else:
        blocks = []
        for index, part in enumerate(item.output):
            where = (*loc, "output", index)
            if isinstance(part, InputTextContent):
                if part.text:
                    blocks.append({"text": part.text})
            elif isinstance(part, InputImageContent):
                blocks.append({"image": _image(part, where)})
            elif isinstance(part, InputFileContent):
                blocks.append({"document": _document(part, where)})
            else:
                reject(f"function_call_output part {getattr(part, 'type', None)!r}", loc=where)
        blocks = blocks or [{"text": "(empty)"}]
    return {"toolUseId": item.call_id, "content": blocks}
