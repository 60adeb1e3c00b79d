"""The JSON a Chat Completions upstream sends for one assistant turn, vendor quirks included.

Sans-I/O: :class:`Render` turns a :class:`ChatReply` (plus the request body, for the model echo,
``stream_options`` and prompt token counts) into ``chat.completion.chunk`` objects or one
``chat.completion`` body. The shapes follow docs/PROVIDERS.md: every vendor quirk there is a knob.
"""

from __future__ import annotations

import re
import secrets
import string
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

__all__ = [
    "DONE",
    "ChatCall",
    "ChatFault",
    "ChatReply",
    "ErrorStyle",
    "ReasoningField",
    "Render",
    "ToolStyle",
    "UsageDetails",
    "UsageStyle",
    "error_object",
    "split_pieces",
]

ReasoningField: TypeAlias = Literal[
    "reasoning_content", "reasoning", "reasoning_details", "think_tags", "think_close_only"
]
UsageStyle: TypeAlias = Literal["after", "on_finish", "groq", "continuous", "openrouter", "none"]
UsageDetails: TypeAlias = Literal["none", "openai", "deepseek"]
ToolStyle: TypeAlias = Literal["fragments", "whole", "batched", "interleaved", "tgi", "ollama_index0"]
ErrorStyle: TypeAlias = Literal["openai", "openrouter", "tgi", "vllm"]
Pieces: TypeAlias = "tuple[int, ...] | tuple[str, ...] | None"
Body: TypeAlias = "Mapping[str, Any] | None"

DONE = b"data: [DONE]\n\n"
SSE_HEADERS = (("content-type", "text/event-stream; charset=utf-8"), ("cache-control", "no-cache"))
JSON_HEADERS = (("content-type", "application/json"),)
_ALNUM = string.ascii_letters + string.digits
TGI_ERROR_TYPES = {422: "validation", 424: "generation", 429: "overloaded", 500: "incomplete_generation"}


@dataclass(frozen=True, slots=True)
class ChatCall:
    """One tool call the assistant makes: function ``name``, ``arguments`` JSON text, optional ``id``."""

    name: str
    arguments: str = "{}"
    id: str | None = None


@dataclass(frozen=True, slots=True)
class ChatReply:
    """The assistant turn, and the vendor quirks of how it is streamed (see ``chat_text``)."""

    text: str | None = "Hello"
    reasoning: str | None = None
    reasoning_field: ReasoningField = "reasoning_content"
    reasoning_signature: str | None = None
    refusal: str | None = None
    #: Piece sizes (ints) or the pieces (strs) of ``content``; ``None`` splits by words.
    chunks: Pieces = None
    reasoning_chunks: Pieces = None
    calls: tuple[ChatCall, ...] = ()
    tool_style: ToolStyle = "fragments"
    argument_chunk_size: int = 8
    finish_reason: str | None = "stop"
    usage: UsageStyle = "after"
    usage_details: UsageDetails = "openai"
    cached_tokens: int = 0
    model: str | None = None
    role_every_delta: bool = False
    empty_id: bool = False
    finish_on_last_delta: bool = False

    @property
    def content(self) -> str | None:
        """The ``content`` text as sent: with ``<think>`` tags around the reasoning for tag styles."""
        if self.reasoning is not None and self.reasoning_field == "think_tags":
            return f"<think>{self.reasoning}</think>{self.text or ''}"
        if self.reasoning is not None and self.reasoning_field == "think_close_only":
            return f"{self.reasoning}</think>{self.text or ''}"
        return self.text


@dataclass(frozen=True, slots=True)
class ChatFault:
    """Something going wrong after ``after_chunks`` data chunks of a streamed reply."""

    kind: Literal["error", "cut", "stall", "malformed"]
    after_chunks: int = 2
    #: ``error``: the vendor shape (openai/openrouter/tgi/vllm); ``cut``: close/truncate/reset.
    style: str = "openai"
    message: str = "The upstream provider failed while generating."
    code: str | int | None = None
    status_code: int | None = None
    then_done: bool = True
    seconds: float | None = None
    payload: bytes = b"{not json"


class Render:
    """One request's rendering: ids, model and usage shared by every chunk of the reply."""

    def __init__(self, reply: ChatReply, body: Body) -> None:
        self.reply = reply
        request = body if isinstance(body, Mapping) else {}
        tgi = bool(reply.calls) and reply.tool_style == "tgi"
        self.id = "" if reply.empty_id or tgi else "chatcmpl-" + _random(24)
        self.role_every_delta = reply.role_every_delta or tgi
        self.finish_on_last = reply.finish_on_last_delta or tgi
        self.created = int(time.time())
        model = request.get("model")
        self.model = reply.model or (model if isinstance(model, str) and model else "fake-model")
        options = request.get("stream_options")
        self.include_usage = isinstance(options, Mapping) and options.get("include_usage") is True
        self.prompt_tokens = _count_words(request.get("messages"))
        self.call_ids = [call.id or "call_" + _random(24) for call in reply.calls]
        self.groq_id = "req_" + _random(26)

    # -- pieces ---------------------------------------------------------------------------------

    def deltas(self) -> list[tuple[dict[str, Any], int, int]]:
        """Each delta with the completion and reasoning tokens it carries (one per output piece)."""
        reply = self.reply
        out: list[tuple[dict[str, Any], int, int]] = []
        if not self.role_every_delta:
            empty = reply.content is None and reply.refusal is None and reply.calls
            out.append(({"role": "assistant", "content": None if empty else "", "refusal": None}, 0, 0))
        field_reasoning = reply.reasoning is not None and not reply.reasoning_field.startswith("think")
        if field_reasoning:
            pieces = split_pieces(reply.reasoning or "", reply.reasoning_chunks)
            for position, piece in enumerate(pieces):
                last = position == len(pieces) - 1
                out.append((self._reasoning_delta(piece, last), 1, 1))
        for piece in split_pieces(reply.content or "", reply.chunks):
            out.append(({"content": piece}, 1, 0))
        for piece in split_pieces(reply.refusal or "", None):
            out.append(({"refusal": piece}, 1, 0))
        out.extend(self._tool_deltas())
        if self.role_every_delta:
            out = [({"role": "assistant", **delta}, c, r) for delta, c, r in out]
        return out

    def _reasoning_delta(self, piece: str, last: bool) -> dict[str, Any]:
        name = self.reply.reasoning_field
        if name != "reasoning_details":
            return {name: piece}
        detail: dict[str, Any] = {"type": "reasoning.text", "text": piece, "format": "unknown", "index": 0}
        if last and self.reply.reasoning_signature is not None:
            detail["signature"] = self.reply.reasoning_signature
        # OpenRouter sends the string alias beside the structured entries: read one, not both.
        return {"reasoning": piece, "reasoning_details": [detail]}

    def _tool_deltas(self) -> list[tuple[dict[str, Any], int, int]]:
        reply, style = self.reply, self.reply.tool_style
        per_call: list[list[tuple[dict[str, Any], int, int]]] = []
        if style == "batched" and reply.calls:
            calls = [self._whole_call(i, i) for i in range(len(reply.calls))]
            tokens = sum(self._arg_tokens(call) for call in reply.calls)
            return [({"tool_calls": calls}, tokens, 0)]
        for i, call in enumerate(reply.calls):
            if style in ("whole", "ollama_index0"):
                index = 0 if style == "ollama_index0" else i
                per_call.append([({"tool_calls": [self._whole_call(i, index)]}, self._arg_tokens(call), 0)])
                continue
            fragments = _fixed_split(call.arguments, reply.argument_chunk_size)
            if style == "tgi":
                deltas = []
                for position, fragment in enumerate(fragments or [""]):
                    function = {"name": call.name if position == 0 else None, "description": None}
                    function["arguments"] = fragment
                    entry = {"index": 0, "id": self.call_ids[i], "type": "function", "function": function}
                    deltas.append(({"tool_calls": [entry]}, 1 if fragment else 0, 0))
                per_call.append(deltas)
                continue
            head = {"index": i, "id": self.call_ids[i], "type": "function"}
            head["function"] = {"name": call.name, "arguments": ""}
            deltas = [({"tool_calls": [head]}, 0, 0)]
            for fragment in fragments:
                entry = {"index": i, "function": {"arguments": fragment}}
                deltas.append(({"tool_calls": [entry]}, 1, 0))
            per_call.append(deltas)
        if style == "interleaved":
            longest = max((len(deltas) for deltas in per_call), default=0)
            return [deltas[k] for k in range(longest) for deltas in per_call if k < len(deltas)]
        return [delta for deltas in per_call for delta in deltas]

    def _whole_call(self, i: int, index: int) -> dict[str, Any]:
        call = self.reply.calls[i]
        function = {"name": call.name, "arguments": call.arguments}
        return {"id": self.call_ids[i], "index": index, "type": "function", "function": function}

    def _arg_tokens(self, call: ChatCall) -> int:
        return max(1, len(_fixed_split(call.arguments, self.reply.argument_chunk_size)))

    # -- the two reply shapes -------------------------------------------------------------------

    def stream(self) -> list[dict[str, Any]]:
        """Every ``chat.completion.chunk`` of the stream, usage placed per the vendor style."""
        reply, style = self.reply, self.reply.usage
        deltas = self.deltas()
        total = sum(c for _, c, _ in deltas)
        reasoning = sum(r for _, _, r in deltas)
        finish = reply.finish_reason
        if finish is not None and not (self.finish_on_last and deltas):
            empty: dict[str, Any] = {"role": "assistant", "content": ""} if self.role_every_delta else {}
            deltas.append((empty, 0, 0))
        chunks: list[dict[str, Any]] = []
        so_far = 0
        for position, (delta, tokens, _) in enumerate(deltas):
            so_far += tokens
            last = position == len(deltas) - 1
            chunk = self.chunk(delta, finish if last else None)
            if style == "continuous":
                chunk["usage"] = self._usage_counts(so_far, 0, plain=True)
            elif style == "on_finish" or (style in ("after", "groq") and self.include_usage):
                chunk["usage"] = None
            if style == "groq" and position == 0:
                chunk["x_groq"] = {"id": self.groq_id}
            if last and finish is not None:
                if style == "on_finish":
                    chunk["usage"] = self.usage(total, reasoning)
                elif style == "groq":
                    timing = {
                        "queue_time": 0.01,
                        "prompt_time": 0.002,
                        "completion_time": 0.05,
                        "total_time": 0.062,
                    }
                    chunk["x_groq"] = {
                        "id": self.groq_id,
                        "usage": {**self.usage(total, reasoning), **timing},
                    }
            chunks.append(chunk)
        usage = self.usage(total, reasoning)
        if style == "continuous" or (style in ("after", "groq") and self.include_usage):
            chunks.append({**self._head(), "choices": [], "usage": usage})
        elif style == "openrouter":
            choice = {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
            choice |= {"native_finish_reason": None, "logprobs": None}
            chunks.append({**self._head(), "choices": [choice], "usage": usage})
        return chunks

    def completion(self) -> dict[str, Any]:
        """The non-streaming body: the same turn as one ``message``."""
        reply = self.reply
        deltas = self.deltas()
        message: dict[str, Any] = {"role": "assistant", "content": reply.content, "refusal": reply.refusal}
        if reply.reasoning is not None and not reply.reasoning_field.startswith("think"):
            if reply.reasoning_field == "reasoning_details":
                detail = self._reasoning_delta(reply.reasoning, True)
                message |= detail
            else:
                message[reply.reasoning_field] = reply.reasoning
        if reply.calls:
            tgi = reply.tool_style == "tgi"
            calls = []
            for i, call in enumerate(reply.calls):
                function: dict[str, Any] = {"name": call.name, "arguments": call.arguments}
                if tgi:
                    function = {"description": None, **function}
                calls.append(
                    {"id": "0" if tgi else self.call_ids[i], "type": "function", "function": function}
                )
            message["tool_calls"] = calls
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": reply.finish_reason}
        body = {**self._head(obj="chat.completion"), "choices": [choice]}
        if reply.usage != "none":
            body["usage"] = self.usage(sum(c for _, c, _ in deltas), sum(r for _, _, r in deltas))
        if reply.usage == "groq":
            body["x_groq"] = {"id": self.groq_id}
        return body

    def error_chunk(self, fault: ChatFault) -> dict[str, Any]:
        """The in-stream error object in the vendor's shape (docs/PROVIDERS.md trap 11)."""
        if fault.style == "openrouter":
            error = {
                "code": fault.code if fault.code is not None else "server_error",
                "message": fault.message,
            }
            choice = {"index": 0, "delta": {"content": ""}, "finish_reason": "error"}
            choice["native_finish_reason"] = "error"
            return {**self._head(), "provider": "FakeProvider", "error": error, "choices": [choice]}
        return error_object(fault)

    # -- helpers --------------------------------------------------------------------------------

    def _head(self, obj: str = "chat.completion.chunk") -> dict[str, Any]:
        return {"id": self.id, "object": obj, "created": self.created, "model": self.model,
                "system_fingerprint": "fp_fake"}  # fmt: skip

    def chunk(self, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        """One chunk around ``delta`` (one choice, index 0)."""
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return {**self._head(), "choices": [choice]}

    def usage(self, completion: int, reasoning: int) -> dict[str, Any]:
        """The final usage object, in the reply's detail style."""
        usage = self._usage_counts(completion, reasoning, plain=False)
        if self.reply.usage == "openrouter":
            usage["cost"] = round(usage["total_tokens"] * 1e-6, 9)
        return usage

    def _usage_counts(self, completion: int, reasoning: int, *, plain: bool) -> dict[str, Any]:
        prompt = self.prompt_tokens
        usage: dict[str, Any] = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        cached, details = self.reply.cached_tokens, self.reply.usage_details
        if plain or details == "none":
            return usage
        if details == "deepseek":
            usage["prompt_cache_hit_tokens"] = cached
            usage["prompt_cache_miss_tokens"] = max(0, prompt - cached)
            usage["completion_tokens_details"] = {"reasoning_tokens": reasoning}
            return usage
        usage["prompt_tokens_details"] = {"cached_tokens": cached, "audio_tokens": 0}
        usage["completion_tokens_details"] = {
            "reasoning_tokens": reasoning,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        }
        return usage


def error_object(fault: ChatFault) -> dict[str, Any]:
    if fault.style == "tgi":
        return {"error": {"message": fault.message, "http_status_code": fault.status_code or 422}}
    if fault.style == "vllm":
        code = fault.status_code or 500
        kind = "BadRequestError" if code < 500 else "InternalServerError"
        return {"error": {"message": fault.message, "type": kind, "param": None, "code": code}}
    return {"error": {"message": fault.message, "type": "server_error", "param": None, "code": fault.code}}


def split_pieces(text: str, chunks: Pieces) -> list[str]:
    """Split ``text``: by words (``None``), by piece sizes (ints; the rest by words) or given pieces."""
    if not text:
        return []
    if chunks is None:
        pieces: list[str] = re.findall(r"\s*\S+", text)
        if not pieces:
            return [text]
        pieces[-1] += text[len("".join(pieces)) :]
        return pieces
    if all(isinstance(piece, str) for piece in chunks):
        if "".join(chunks) != text:  # type: ignore[arg-type]
            raise ValueError(f"chunks {chunks!r} do not join to {text!r}")
        return [piece for piece in chunks if piece]  # type: ignore[misc]
    out, start = [], 0
    for size in chunks:
        if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
            raise ValueError(f"chunk sizes must be positive ints, got {size!r}")
        if start + size > len(text):
            raise ValueError(f"chunk sizes {chunks!r} exceed the {len(text)} characters of {text!r}")
        out.append(text[start : start + size])
        start += size
    return out + split_pieces(text[start:], None)


def _fixed_split(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def _count_words(value: Any) -> int:
    if isinstance(value, str):
        return len(value.split())
    if isinstance(value, Mapping):
        return sum(_count_words(value.get(key)) for key in ("content", "text"))
    if isinstance(value, Sequence):
        return sum(_count_words(part) for part in value)
    return 0


def _random(n: int) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(n))
