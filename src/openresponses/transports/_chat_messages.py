"""Open Responses input items -> Chat Completions messages, sans I/O.

Chat Completions wants one assistant message per turn holding every tool call of that turn,
immediately followed by one ``tool`` message per call (PROVIDERS.md trap 13). Responses input
may interleave reasoning or messages between a call and its output, so :func:`chat_messages`
folds assistant parts into the open turn and moves user/system messages that sit between a
call and its output after the outputs. Reasoning items are dropped, or attached to their
assistant turn as ``reasoning_content`` / ``reasoning`` (``send_reasoning``).

Raw reasoning cannot ride on an input reasoning item (its ``content`` must be null), so the
chat dialect carries it in ``encrypted_content`` as a small JSON envelope
(:func:`reasoning_envelope`); only our own envelope is ever sent back as text, never another
provider's opaque blob.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..types.content import (
    InputImageContent,
    InputTextContent,
    SummaryTextContent,
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
    "CALL_ENVELOPE",
    "PREFIX",
    "REASONING_ENVELOPE",
    "SendReasoning",
    "call_envelope",
    "chat_messages",
    "details_from_envelope",
    "reasoning_envelope",
    "reasoning_from_envelope",
    "reject",
]

SendReasoning = Literal["drop", "reasoning_content", "reasoning", "reasoning_details"]

#: The ``type`` tag of the JSON blob the chat dialect puts in a reasoning item's
#: ``encrypted_content`` so raw reasoning survives a round trip (see :func:`reasoning_envelope`).
REASONING_ENVELOPE = "openresponses.chat-completions.reasoning"

#: The ``type`` tag of the JSON blob a tool call's ``extra_content`` (Gemini's OpenAI-compatible
#: endpoint puts its thought signature there) rides in, as the call item's ``encrypted_content``.
CALL_ENVELOPE = "openresponses.chat-completions.call"

#: How every message of the chat dialect's request errors starts.
PREFIX = "chat-completions adapter"


def reasoning_envelope(text: str, details: Sequence[dict[str, Any]] | None = None) -> str:
    """The ``encrypted_content`` carrying raw chat reasoning ``text`` back to the same upstream,
    and with ``details`` OpenRouter's ``reasoning_details`` entries as they came (signatures and
    encrypted blocks included), to be sent back unchanged."""
    data: dict[str, Any] = {"type": REASONING_ENVELOPE, "text": text}
    if details:
        data["details"] = list(details)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def call_envelope(extra_content: dict[str, Any]) -> str:
    """The ``encrypted_content`` carrying a tool call's ``extra_content`` back to its upstream."""
    data = {"type": CALL_ENVELOPE, "extra_content": extra_content}
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _envelope(encrypted_content: str | None) -> dict[str, Any] | None:
    """Our reasoning envelope's JSON object (it must hold the text), or ``None``."""
    data = open_envelope(encrypted_content, REASONING_ENVELOPE)
    return data if data is not None and isinstance(data.get("text"), str) else None


def reasoning_from_envelope(encrypted_content: str | None) -> str | None:
    """The reasoning text inside one of our envelopes; ``None`` for any other (opaque) blob."""
    data = _envelope(encrypted_content)
    return None if data is None else str(data["text"])


def details_from_envelope(encrypted_content: str | None) -> list[dict[str, Any]] | None:
    """The ``reasoning_details`` entries inside one of our envelopes, or ``None``."""
    data = _envelope(encrypted_content)
    details = None if data is None else data.get("details")
    if isinstance(details, list) and details and all(isinstance(entry, dict) for entry in details):
        return details
    return None


#: Raises ``RequestValidationError``: ``chat-completions adapter: <what> <detail>``.
reject = Rejecter(PREFIX)


def with_user_turn(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``messages``, with an empty user turn appended when there is none besides system ones:
    a probe (empty input) still needs one, as most chat templates require it."""
    if not any(message["role"] != "system" for message in messages):
        messages.append({"role": "user", "content": ""})
    return messages


def chat_messages(
    instructions: str | None,
    items: str | Sequence[Any] | None,
    send_reasoning: SendReasoning,
    *,
    call_extra_content: bool = False,
) -> list[dict[str, Any]]:
    """The chat ``messages`` for ``instructions`` and ``input``; raises ``RequestValidationError``.
    ``call_extra_content``: each tool call's carried ``extra_content`` goes back on it."""
    return _Conversation(send_reasoning, call_extra_content).build(instructions, items)


@dataclass(slots=True)
class _Turn:
    """One assistant turn being assembled: its text, tool calls, reasoning and the calls' outputs."""

    content: list[str] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    details: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)
    unanswered: set[str] = field(default_factory=set)


class _Conversation:
    """Input items -> chat messages, keeping every tool call adjacent to its outputs.

    Assistant parts (text, reasoning, calls) join the open turn until all its calls are
    answered; user and system messages that arrive while a call is unanswered are held and
    written after the outputs.
    """

    def __init__(self, send_reasoning: SendReasoning, call_extra_content: bool = False) -> None:
        self._send_reasoning = send_reasoning
        self._call_extra_content = call_extra_content
        self.messages: list[dict[str, Any]] = []
        self._turn: _Turn | None = None
        self._deferred: list[dict[str, Any]] = []

    def build(self, instructions: str | None, items: str | Sequence[Any] | None) -> list[dict[str, Any]]:
        if instructions:
            self.messages.append({"role": "system", "content": instructions})
        if isinstance(items, str):
            self.messages.append({"role": "user", "content": items})
        elif items:
            for index, item in enumerate(items):
                self._item(index, item)
        if self._turn is not None and self._turn.unanswered:
            missing = ", ".join(repr(call_id) for call_id in sorted(self._turn.unanswered))
            reject(
                f"function_call {missing}",
                "has no function_call_output in input (chat upstreams need every tool call answered)",
                loc=("input",),
            )
        self._flush()
        return with_user_turn(self.messages)

    def _item(self, index: int, item: Any) -> None:
        loc = ("input", index)
        if isinstance(item, UserMessageItemParam):
            self._plain({"role": "user", "content": _user_content(item.content, loc)})
        elif isinstance(item, SystemMessageItemParam | DeveloperMessageItemParam):
            self._plain({"role": "system", "content": _system_content(item.content, loc)})
        elif isinstance(item, AssistantMessageItemParam):
            self._assistant().content.append(_assistant_text(item.content, loc))
        elif isinstance(item, FunctionCallItemParam):
            self._function_call(item, loc)
        elif isinstance(item, FunctionCallOutputItemParam):
            self._function_call_output(item, loc)
        elif isinstance(item, ReasoningItemParam):
            details = details_from_envelope(item.encrypted_content)
            if self._send_reasoning == "reasoning_details" and details:
                self._assistant().details.extend(details)
            elif self._send_reasoning != "drop" and (text := _reasoning_text(item)):
                self._assistant().reasoning.append(text)
        elif isinstance(item, ItemReferenceParam):
            reject(
                "input item type 'item_reference'",
                "is not supported (item references need a response store)",
                loc=loc,
            )
        elif isinstance(item, CompactionItemParam):
            reject(
                "input item type 'compaction'",
                "is not supported (compacted context is opaque to chat upstreams)",
                loc=loc,
            )
        else:
            item_type = getattr(item, "type", None)
            role = getattr(item, "role", None)
            what = f"message role {role!r}" if item_type == "message" else f"input item type {item_type!r}"
            reject(what, loc=loc)

    def _assistant(self) -> _Turn:
        """The turn an assistant part joins: the open one, unless all its calls are answered."""
        turn = self._turn
        if turn is not None and (turn.unanswered or not turn.outputs):
            return turn
        self._flush()
        self._turn = _Turn()
        return self._turn

    def _plain(self, message: dict[str, Any]) -> None:
        if self._turn is not None and self._turn.unanswered:
            # Between a tool call and its output: Chat Completions needs the outputs first.
            self._deferred.append(message)
            return
        self._flush()
        self.messages.append(message)

    def _function_call(self, item: FunctionCallItemParam, loc: tuple[str, int]) -> None:
        turn = self._assistant()
        if any(call["id"] == item.call_id for call in turn.tool_calls):
            # Ids may repeat across turns (TGI numbers every turn's call "0"), not within one.
            reject(f"function_call call_id {item.call_id!r}", "appears twice in one turn", loc=loc)
        call: dict[str, Any] = {
            "id": item.call_id,
            "type": "function",
            "function": {"name": item.name, "arguments": item.arguments},
        }
        if self._call_extra_content:
            envelope = open_envelope((item.model_extra or {}).get("encrypted_content"), CALL_ENVELOPE)
            if envelope is not None and isinstance(envelope.get("extra_content"), dict):
                call["extra_content"] = envelope["extra_content"]  # as the upstream sent it
        turn.tool_calls.append(call)
        turn.unanswered.add(item.call_id)

    def _function_call_output(self, item: FunctionCallOutputItemParam, loc: tuple[str, int]) -> None:
        turn = self._turn
        if turn is None or item.call_id not in turn.unanswered:
            answered = turn is not None and any(call["id"] == item.call_id for call in turn.tool_calls)
            detail = (
                "answers a call that was already answered"
                if answered
                else "has no function_call before it in input"
            )
            reject(f"function_call_output call_id {item.call_id!r}", detail, loc=loc)
        turn.unanswered.discard(item.call_id)
        turn.outputs.append(
            {"role": "tool", "tool_call_id": item.call_id, "content": _tool_output(item, loc)}
        )

    def _flush(self) -> None:
        """Write the open turn, its outputs, then the messages held back while it was open."""
        turn, self._turn = self._turn, None
        if turn is not None and (turn.content or turn.tool_calls):
            # Reasoning alone is no turn: sending it as one would be garbage.
            message: dict[str, Any] = {"role": "assistant", "content": "".join(turn.content)}
            if turn.tool_calls:
                message["tool_calls"] = turn.tool_calls
            if turn.details:  # OpenRouter's entries, unchanged (signatures included)
                message["reasoning_details"] = turn.details
            elif turn.reasoning and self._send_reasoning == "reasoning_details":
                message["reasoning"] = "\n\n".join(turn.reasoning)  # its plain-text field
            elif turn.reasoning and self._send_reasoning != "drop":
                message[self._send_reasoning] = "\n\n".join(turn.reasoning)
            self.messages.append(message)
            self.messages.extend(turn.outputs)
        self.messages.extend(self._deferred)
        self._deferred.clear()


def _user_content(content: str | Sequence[Any], loc: tuple[str, int]) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    parts: list[dict[str, Any]] = []
    for index, part in enumerate(content):
        if isinstance(part, InputTextContent):
            parts.append({"type": "text", "text": part.text})
        elif isinstance(part, InputImageContent):
            if not part.image_url:
                reject(
                    "content part 'input_image' without image_url",
                    "is not supported (file ids cannot be resolved)",
                    loc=(*loc, "content", index),
                )
            image: dict[str, Any] = {"url": part.image_url}
            if part.detail is not None:
                image["detail"] = part.detail
            parts.append({"type": "image_url", "image_url": image})
        else:
            reject(f"content part {getattr(part, 'type', None)!r}", loc=(*loc, "content", index))
    if len(parts) == 1 and parts[0]["type"] == "text":
        return str(parts[0]["text"])  # the string form is the one every chat template understands
    return parts


def _system_content(content: str | Sequence[Any], loc: tuple[str, int]) -> str:
    # Many chat templates (DeepSeek, older vLLM/llama.cpp) accept only a string system message.
    return content if isinstance(content, str) else "\n".join(text_parts(content, loc, reject))


def _assistant_text(content: str | Sequence[Any], loc: tuple[str, int]) -> str:
    if isinstance(content, str):
        return content
    # A refusal becomes plain text: only OpenAI reads an assistant ``refusal`` field on input.
    return "".join(text_parts(content, loc, reject, refusal=True))


def _tool_output(item: FunctionCallOutputItemParam, loc: tuple[str, int]) -> str:
    if isinstance(item.output, str):
        return item.output
    # Tool messages carry text only; an image or file in a tool result cannot be sent.
    return "\n".join(text_parts(item.output, (*loc, "output"), reject))


def _reasoning_text(item: ReasoningItemParam) -> str:
    raw = reasoning_from_envelope(item.encrypted_content)
    if raw is not None:
        return raw
    return "\n\n".join(part.text for part in item.summary if isinstance(part, SummaryTextContent))
