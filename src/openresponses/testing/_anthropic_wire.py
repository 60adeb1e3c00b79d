"""What Anthropic's Messages API sends for one assistant turn, sans I/O.

:class:`AnthropicReply` is the turn (thinking, redacted thinking, text, tool calls, the stop
reason, usage with cache counts); :func:`render_events` turns it into the stream events
Anthropic sends (``message_start``, a ``ping``, per block ``content_block_start`` / deltas /
``content_block_stop``, ``message_delta`` with cumulative usage, ``message_stop``) and
:func:`render_message` into the whole non-stream ``message`` body. Thinking signatures are
derived from the thinking text with an HMAC, so the fake server can check that a signature sent
back on the next turn is one it issued, for exactly that text (as Anthropic does).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "AnthropicCall",
    "AnthropicReply",
    "error_envelope",
    "render_events",
    "render_message",
    "sign_thinking",
    "split_pieces",
    "sse_event",
]

_ALNUM = string.ascii_letters + string.digits
_SIGNING_KEY = b"openresponses-fake-anthropic"
SSE_HEADERS = (("content-type", "text/event-stream; charset=utf-8"), ("cache-control", "no-cache"))
JSON_HEADERS = (("content-type", "application/json"),)


def _random(size: int) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(size))


def sign_thinking(thinking: str) -> str:
    """The signature the fake upstream issues for ``thinking`` (and checks when it comes back)."""
    return "EqQB" + hmac.new(_SIGNING_KEY, thinking.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class AnthropicCall:
    """One ``tool_use`` block: tool ``name``, ``input`` (an object, or its JSON text), optional ``id``."""

    name: str
    input: Mapping[str, Any] | str = "{}"
    id: str | None = None

    @property
    def input_json(self) -> str:
        """The input as the JSON text streamed in ``input_json_delta`` fragments."""
        if isinstance(self.input, str):
            return self.input
        return json.dumps(dict(self.input), separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class AnthropicReply:
    """The assistant turn and how it is streamed (build it with ``anthropic_text(...)``)."""

    text: str | None = "Hello"
    thinking: str | None = None
    #: ``None``: a valid signature for ``thinking``; a string: sent as is (a forged one).
    signature: str | None = None
    #: The ``data`` of a ``redacted_thinking`` block before the text.
    redacted: str | None = None
    calls: tuple[AnthropicCall, ...] = ()
    #: Piece sizes (ints) or the pieces (strs) of the text; ``None`` splits by words.
    chunks: tuple[int, ...] | tuple[str, ...] | None = None
    thinking_chunks: tuple[int, ...] | tuple[str, ...] | None = None
    argument_chunk_size: int = 8
    #: ``None``: ``tool_use`` when there are calls, else ``end_turn``.
    stop_reason: str | None = None
    stop_sequence: str | None = None
    input_tokens: int = 25
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    model: str | None = None
    ping: bool = True

    @property
    def final_stop_reason(self) -> str:
        """The stop reason sent."""
        if self.stop_reason is not None:
            return self.stop_reason
        return "tool_use" if self.calls else "end_turn"


def split_pieces(text: str, spec: Sequence[int] | Sequence[str] | None) -> list[str]:
    """``text`` in pieces: by the sizes in ``spec``, as the strings in ``spec``, or by words."""
    if not text:
        return []
    if spec is None:
        words = text.split(" ")
        return [word + (" " if i < len(words) - 1 else "") for i, word in enumerate(words) if word or i == 0]
    if all(isinstance(piece, str) for piece in spec):
        return [str(piece) for piece in spec]
    pieces: list[str] = []
    position = 0
    for size in spec:
        assert isinstance(size, int)
        pieces.append(text[position : position + size])
        position += size
    if position < len(text):
        pieces.append(text[position:])
    return [piece for piece in pieces if piece]


def _fixed(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


class _Render:
    """One request's rendering: ids, model and token counts shared by every event."""

    def __init__(self, reply: AnthropicReply, body: Mapping[str, Any] | None) -> None:
        self.reply = reply
        request = body if isinstance(body, Mapping) else {}
        model = request.get("model")
        self.model = reply.model or (model if isinstance(model, str) and model else "claude-fake")
        self.id = "msg_" + _random(24)
        self.call_ids = [call.id or "toolu_" + _random(24) for call in reply.calls]

    def usage(self, output_tokens: int) -> dict[str, Any]:
        r = self.reply
        return {
            "input_tokens": r.input_tokens,
            "cache_creation_input_tokens": r.cache_creation_input_tokens,
            "cache_read_input_tokens": r.cache_read_input_tokens,
            "output_tokens": output_tokens,
        }

    def blocks(self) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
        """Each content block as ``(content_block_start block, deltas)``."""
        r = self.reply
        out: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
        if r.thinking is not None:
            signature = r.signature if r.signature is not None else sign_thinking(r.thinking)
            deltas = [
                {"type": "thinking_delta", "thinking": piece}
                for piece in split_pieces(r.thinking, r.thinking_chunks)
            ]
            deltas.append({"type": "signature_delta", "signature": signature})
            out.append(({"type": "thinking", "thinking": "", "signature": ""}, deltas))
        if r.redacted is not None:
            out.append(({"type": "redacted_thinking", "data": r.redacted}, []))
        if r.text is not None:
            deltas = [{"type": "text_delta", "text": piece} for piece in split_pieces(r.text, r.chunks)]
            out.append(({"type": "text", "text": ""}, deltas))
        for call, call_id in zip(r.calls, self.call_ids, strict=True):
            fragments = _fixed(call.input_json, max(1, r.argument_chunk_size))
            deltas = [{"type": "input_json_delta", "partial_json": ""}]  # Anthropic's first fragment
            deltas += [{"type": "input_json_delta", "partial_json": fragment} for fragment in fragments]
            out.append(({"type": "tool_use", "id": call_id, "name": call.name, "input": {}}, deltas))
        return out

    def output_tokens(self) -> int:
        return max(1, sum(len(deltas) for _, deltas in self.blocks()))


def render_events(reply: AnthropicReply, body: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """The stream events of ``reply`` (fresh ids), in Anthropic's order."""
    render = _Render(reply, body)
    start: dict[str, Any] = {
        "id": render.id,
        "type": "message",
        "role": "assistant",
        "model": render.model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": render.usage(1),
    }
    events: list[dict[str, Any]] = [{"type": "message_start", "message": start}]
    if reply.ping:
        events.append({"type": "ping"})
    output = 0
    for index, (block, deltas) in enumerate(render.blocks()):
        events.append({"type": "content_block_start", "index": index, "content_block": block})
        for delta in deltas:
            events.append({"type": "content_block_delta", "index": index, "delta": delta})
            output += 1
        events.append({"type": "content_block_stop", "index": index})
    # message_delta's usage is cumulative, and now repeats the input counts too.
    delta = {"stop_reason": reply.final_stop_reason, "stop_sequence": reply.stop_sequence}
    events.append({"type": "message_delta", "delta": delta, "usage": render.usage(max(1, output))})
    events.append({"type": "message_stop"})
    return events


def render_message(reply: AnthropicReply, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The whole non-stream ``message`` body of ``reply`` (fresh ids)."""
    render = _Render(reply, body)
    content: list[dict[str, Any]] = []
    for block, deltas in render.blocks():
        whole = dict(block)
        if block["type"] == "thinking":
            whole["thinking"] = "".join(d.get("thinking", "") for d in deltas)
            whole["signature"] = "".join(d.get("signature", "") for d in deltas)
        elif block["type"] == "text":
            whole["text"] = "".join(d["text"] for d in deltas)
        elif block["type"] == "tool_use":
            text = "".join(d["partial_json"] for d in deltas)
            whole["input"] = json.loads(text) if text else {}
        content.append(whole)
    return {
        "id": render.id,
        "type": "message",
        "role": "assistant",
        "model": render.model,
        "content": content,
        "stop_reason": reply.final_stop_reason,
        "stop_sequence": reply.stop_sequence,
        "usage": render.usage(render.output_tokens()),
    }


def error_envelope(error_type: str, message: str, *, request_id: str | None = None) -> dict[str, Any]:
    """Anthropic's error envelope (HTTP bodies carry a ``request_id``; stream events do not)."""
    envelope: dict[str, Any] = {"type": "error", "error": {"type": error_type, "message": message}}
    if request_id is not None:
        envelope["request_id"] = request_id
    return envelope


def sse_event(event: Mapping[str, Any]) -> bytes:
    """One event framed as Anthropic frames it: ``event: <type>`` then one ``data:`` line."""
    return (
        f"event: {event['type']}\ndata: ".encode()
        + json.dumps(event, separators=(",", ":")).encode()
        + b"\n\n"
    )


def new_request_id() -> str:
    """A fresh ``req_...`` id."""
    return "req_" + _random(24)
