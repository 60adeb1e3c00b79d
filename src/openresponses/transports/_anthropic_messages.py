"""Open Responses instructions and input items -> Anthropic ``system`` and ``messages``, sans I/O.

Anthropic's conversation is alternating ``user`` / ``assistant`` messages of content blocks, with
the system prompt outside it. :func:`anthropic_messages` folds the Responses items onto that:

- ``instructions`` and every ``system`` / ``developer`` message become ``system`` text blocks,
  in order (Anthropic has no system role inside the conversation);
- user parts become ``text``, ``image`` and ``document`` blocks; assistant text, refusals,
  ``function_call`` (a ``tool_use`` block whose ``input`` is the parsed arguments) and our own
  reasoning items join one ``assistant`` message per turn; ``function_call_output`` items become
  ``tool_result`` blocks of the next ``user`` message, placed first in it (Anthropic requires the
  results right after the ``tool_use`` turn);
- a reasoning item goes back as the exact ``thinking`` / ``redacted_thinking`` block it came
  from, signature included, when its ``encrypted_content`` is our Anthropic envelope
  (:func:`thinking_envelope`); any other provider's reasoning cannot be verified by Anthropic
  and is left out.

Anything Anthropic cannot carry raises :class:`~openresponses.RequestValidationError` naming the
item (``anthropic adapter: input item type 'item_reference' is not supported``).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..types.content import (
    InputFileContent,
    InputImageContent,
    InputTextContent,
)
from ..types.items import (
    AssistantMessageItemParam,
    CompactionItemParam,
    DeveloperMessageItemParam,
    FunctionCallItemParam,
    FunctionCallOutputItemParam,
    ItemReferenceParam,
    ReasoningItemParam,
    SystemMessageItemParam,
    UserMessageItemParam,
)
from ._fields import Rejecter
from ._items import open_envelope, text_parts

__all__ = [
    "IMAGE_MEDIA_TYPES",
    "PREFIX",
    "THINKING_ENVELOPE",
    "anthropic_messages",
    "block_from_envelope",
    "reject",
    "thinking_envelope",
]

#: How every request error of the Anthropic adapter starts.
PREFIX = "anthropic adapter"
#: Raises ``RequestValidationError``: ``anthropic adapter: <what> <detail>``.
reject = Rejecter(PREFIX)
#: The ``type`` of the JSON a reasoning item's ``encrypted_content`` holds: the Anthropic
#: ``thinking`` / ``redacted_thinking`` block exactly as received (signature included).
THINKING_ENVELOPE = "openresponses.anthropic.thinking"
#: The image types Anthropic accepts in ``image`` blocks.
IMAGE_MEDIA_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})

_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")

Block = dict[str, Any]
Loc = tuple[str | int, ...]


def thinking_envelope(block: Mapping[str, Any]) -> str:
    """The ``encrypted_content`` that carries an Anthropic thinking block back unchanged."""
    return json.dumps(
        {"type": THINKING_ENVELOPE, "block": dict(block)}, ensure_ascii=False, separators=(",", ":")
    )


def block_from_envelope(encrypted_content: str | None) -> Block | None:
    """The thinking block inside one of our envelopes; ``None`` for any other blob."""
    data = open_envelope(encrypted_content, THINKING_ENVELOPE)
    if data is None:
        return None
    block = data.get("block")
    if isinstance(block, dict) and block.get("type") in ("thinking", "redacted_thinking"):
        return block
    return None


def anthropic_messages(
    instructions: str | None, items: str | Sequence[Any] | None
) -> tuple[list[Block], list[Block]]:
    """``(system, messages)`` for ``instructions`` and ``input``; raises ``RequestValidationError``."""
    return _Conversation().build(instructions, items)


class _Conversation:
    """Input items -> system blocks and alternating messages, tool results right after their calls."""

    def __init__(self) -> None:
        self.system: list[Block] = []
        self.messages: list[Block] = []
        self._calls: set[str] = set()  # tool_use ids sent so far
        self._unanswered: dict[str, Loc] = {}

    def build(
        self, instructions: str | None, items: str | Sequence[Any] | None
    ) -> tuple[list[Block], list[Block]]:
        if instructions:
            self.system.append({"type": "text", "text": instructions})
        if isinstance(items, str):
            if items:
                self._add("user", [{"type": "text", "text": items}])
        elif items:
            for index, item in enumerate(items):
                self._item(index, item)
        if self._unanswered:
            missing = ", ".join(repr(call_id) for call_id in sorted(self._unanswered))
            reject(
                f"function_call {missing}",
                "has no function_call_output in input (Anthropic needs every tool_use answered)",
                loc=("input",),
            )
        if not self.messages:
            reject(
                "an empty input", "is not supported (Anthropic needs at least one message)", loc=("input",)
            )
        last = self.messages[-1]
        if last["role"] == "assistant" and last["content"][-1]["type"] == "text":
            # A trailing assistant turn is a prefill (a failover continuation): Anthropic rejects
            # one ending in whitespace, and the model restores the space itself.
            tail = last["content"][-1]
            tail["text"] = tail["text"].rstrip()
            if not tail["text"]:
                last["content"].pop()
                if not last["content"]:
                    self.messages.pop()
        if not self.messages:
            reject(
                "an empty input", "is not supported (Anthropic needs at least one message)", loc=("input",)
            )
        for message in self.messages:
            _finish(message)
        return self.system, self.messages

    def _add(self, role: str, blocks: list[Block]) -> None:
        last = self.messages[-1] if self.messages else None
        if last is not None and last["role"] == role:
            last["content"].extend(blocks)  # consecutive turns of one role are one message
        else:
            self.messages.append({"role": role, "content": blocks})

    def _item(self, index: int, item: Any) -> None:
        loc: Loc = ("input", index)
        if isinstance(item, UserMessageItemParam):
            self._add("user", _nonempty(_user_blocks(item.content, loc), loc))
        elif isinstance(item, SystemMessageItemParam | DeveloperMessageItemParam):
            text = "\n".join(text_parts(item.content, loc, reject))
            if text:
                self.system.append({"type": "text", "text": text})
        elif isinstance(item, AssistantMessageItemParam):
            self._add("assistant", _nonempty(_assistant_blocks(item.content, loc), loc))
        elif isinstance(item, FunctionCallItemParam):
            self._function_call(item, loc)
        elif isinstance(item, FunctionCallOutputItemParam):
            self._function_call_output(item, loc)
        elif isinstance(item, ReasoningItemParam):
            block = block_from_envelope(item.encrypted_content)
            if block is not None:  # another provider's reasoning cannot be verified: left out
                self._add("assistant", [block])
        elif isinstance(item, ItemReferenceParam):
            reject(
                "input item type 'item_reference'", "is not supported (it needs a response store)", loc=loc
            )
        elif isinstance(item, CompactionItemParam):
            reject("input item type 'compaction'", "is not supported (compacted context is opaque)", loc=loc)
        else:
            item_type = getattr(item, "type", None)
            role = getattr(item, "role", None)
            what = f"message role {role!r}" if item_type == "message" else f"input item type {item_type!r}"
            reject(what, loc=loc)

    def _function_call(self, item: FunctionCallItemParam, loc: Loc) -> None:
        if item.call_id in self._calls:
            reject(f"function_call call_id {item.call_id!r}", "appears twice in input", loc=loc)
        arguments = item.arguments.strip()
        try:
            parsed = json.loads(arguments) if arguments else {}
        except ValueError:
            reject(
                f"function_call {item.call_id!r}", "has arguments that are not JSON", loc=(*loc, "arguments")
            )
        if not isinstance(parsed, dict):
            reject(
                f"function_call {item.call_id!r}",
                "has arguments that are not a JSON object (Anthropic's tool input is an object)",
                loc=(*loc, "arguments"),
            )
        self._calls.add(item.call_id)
        self._unanswered[item.call_id] = loc
        self._add("assistant", [{"type": "tool_use", "id": item.call_id, "name": item.name, "input": parsed}])

    def _function_call_output(self, item: FunctionCallOutputItemParam, loc: Loc) -> None:
        if item.call_id not in self._unanswered:
            detail = (
                "answers a call that was already answered"
                if item.call_id in self._calls
                else "has no function_call before it in input"
            )
            reject(f"function_call_output call_id {item.call_id!r}", detail, loc=loc)
        del self._unanswered[item.call_id]
        block: Block = {"type": "tool_result", "tool_use_id": item.call_id}
        if isinstance(item.output, str):
            block["content"] = item.output
        else:
            block["content"] = _user_blocks(item.output, (*loc, "output"), documents=False)
        self._add("user", [block])


def _finish(message: Block) -> None:
    """Tool results first in a user message (Anthropic's rule); one text block as a string."""
    content: list[Block] = message["content"]
    if message["role"] == "user" and any(block["type"] == "tool_result" for block in content):
        content.sort(key=lambda block: block["type"] != "tool_result")  # stable: order kept within
    if len(content) == 1 and content[0]["type"] == "text":
        message["content"] = content[0]["text"]


def _nonempty(blocks: list[Block], loc: Loc) -> list[Block]:
    if not blocks:
        reject("a message without content", "is not supported (Anthropic rejects empty messages)", loc=loc)
    return blocks


def _assistant_blocks(content: str | Sequence[Any], loc: Loc) -> list[Block]:
    texts = text_parts(content, loc, reject, refusal=True)
    return [{"type": "text", "text": text} for text in texts if text]


def _user_blocks(content: str | Sequence[Any], loc: Loc, *, documents: bool = True) -> list[Block]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks: list[Block] = []
    for index, part in enumerate(content):
        where = (*loc, "content", index)
        if isinstance(part, InputTextContent):
            if part.text:  # Anthropic rejects empty text blocks
                blocks.append({"type": "text", "text": part.text})
        elif isinstance(part, InputImageContent):
            blocks.append(_image(part, where))
        elif isinstance(part, InputFileContent) and documents:
            blocks.append(_document(part, where))
        else:
            reject(f"content part {getattr(part, 'type', None)!r}", loc=where)
    return blocks


def _data_url(url: str, loc: Loc, what: str) -> tuple[str, str]:
    """``(media_type, base64 data)`` of a ``data:<type>;base64,<data>`` URL."""
    head, sep, data = url.partition(",")
    if not sep or not head.startswith("data:") or not head.endswith(";base64"):
        reject(what, "must be a base64 data: URL or an https URL", loc=loc)
    if not data or not _BASE64.fullmatch(data):
        reject(what, "has data that is not valid base64", loc=loc)
    return head[len("data:") : -len(";base64")].lower(), data


def _image(part: InputImageContent, loc: Loc) -> Block:
    url = part.image_url
    if not url:
        reject(
            "content part 'input_image' without image_url",
            "is not supported (file ids cannot be resolved)",
            loc=loc,
        )
    if url.startswith(("https://", "http://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    media_type, data = _data_url(url, loc, "input_image image_url")
    if media_type not in IMAGE_MEDIA_TYPES:
        reject(
            f"image type {media_type!r}",
            f"is not supported (Anthropic takes {sorted(IMAGE_MEDIA_TYPES)})",
            loc=loc,
        )
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}


def _document(part: InputFileContent, loc: Loc) -> Block:
    block: Block
    if part.file_url:
        block = {"type": "document", "source": {"type": "url", "url": part.file_url}}
    elif part.file_data:
        media_type, data = _data_url(part.file_data, loc, "input_file file_data")
        if media_type == "application/pdf":
            block = {"type": "document", "source": {"type": "base64", "media_type": media_type, "data": data}}
        elif media_type == "text/plain":
            text = base64.b64decode(data + "=" * (-len(data) % 4)).decode("utf-8", "replace")
            block = {"type": "document", "source": {"type": "text", "media_type": media_type, "data": text}}
        else:
            reject(
                f"file type {media_type!r}",
                "is not supported (Anthropic documents are PDF or plain text)",
                loc=loc,
            )
    else:
        reject(
            "content part 'input_file' without file_data or file_url",
            "is not supported (file ids cannot be resolved)",
            loc=loc,
        )
    if part.filename:
        block["title"] = part.filename
    return block
