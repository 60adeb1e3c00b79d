"""Gemini scenarios: what the fake Gemini / Vertex upstream sends, framed as a :class:`Wire`.

A :class:`GeminiScenario` is a model turn (:class:`GeminiReply`), an HTTP error
(:class:`GeminiHTTPError`) or exact bytes (:class:`GeminiRaw`), plus an optional
:class:`GeminiFault` and pacing. :meth:`GeminiScenario.wire` builds, without I/O, the bytes the
loopback server plays: for a stream, one ``data: {GenerateContentResponse}`` line per chunk
(CRLF line ends, as Google sends them; no event names, no ``[DONE]``; the body simply ends),
``usageMetadata`` on every chunk (running totals), ``finishReason`` on the last; for
``generateContent``, the same turn as one JSON body.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ._wire import Frame, Wire

__all__ = [
    "GeminiCall",
    "GeminiFault",
    "GeminiHTTPError",
    "GeminiRaw",
    "GeminiReply",
    "GeminiScenario",
    "google_error_body",
]

SSE_HEADERS: tuple[tuple[str, str], ...] = (("content-type", "text/event-stream"),)
JSON_HEADERS: tuple[tuple[str, str], ...] = (("content-type", "application/json; charset=UTF-8"),)

FaultKind = Literal["error", "cut", "stall"]


def google_error_body(
    code: int, status: str, message: str, *, reason: str | None = None, retry_delay: str | None = None
) -> dict[str, Any]:
    """A ``google.rpc.Status`` error body, with ``ErrorInfo`` / ``RetryInfo`` details if given."""
    details: list[dict[str, Any]] = []
    if reason is not None:
        details.append(
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": reason,
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            }
        )
    if retry_delay is not None:
        details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay})
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = details
    return {"error": error}


@dataclass(frozen=True, slots=True)
class GeminiCall:
    """One function call of the model's turn.

    ``id`` is the ``functionCall.id`` (most models send none); ``signature`` its part's
    ``thoughtSignature``; ``partial`` streams the arguments as Vertex ``partialArgs`` fragments
    (``jsonPath`` + value, ``willContinue``) instead of one whole ``args`` object.
    """

    name: str
    args: Mapping[str, Any] = field(default_factory=dict)
    id: str | None = None
    signature: str | None = None
    partial: bool = False


@dataclass(frozen=True, slots=True)
class GeminiReply:
    """The model's turn: thoughts, text, function calls, the finish reason and usage."""

    text: str = "Hello world"
    #: Thought-summary text (``thought: true`` parts) before the answer.
    thoughts: str | None = None
    #: ``thoughtSignature`` on the last thought part.
    thought_signature: str | None = None
    #: ``thoughtSignature`` on a last, empty text part (Gemini 3 turns without calls).
    text_signature: str | None = None
    calls: tuple[GeminiCall, ...] = ()
    #: How many stream chunks the text (and the thoughts) are split into.
    chunks: int = 3
    finish_reason: str | None = "STOP"
    finish_message: str | None = None
    #: ``promptFeedback.blockReason``: the prompt is refused, no candidate at all.
    block_reason: str | None = None
    prompt_tokens: int = 12
    cached_tokens: int = 0
    model_version: str = "gemini-2.5-flash"
    response_id: str = "fakeResponse01"

    def parts(self) -> list[list[dict[str, Any]]]:
        """The parts of each content chunk, in stream order."""
        out: list[list[dict[str, Any]]] = []
        if self.thoughts:
            pieces = _split(self.thoughts, self.chunks)
            for index, piece in enumerate(pieces):
                part: dict[str, Any] = {"text": piece, "thought": True}
                if self.thought_signature and index == len(pieces) - 1:
                    part["thoughtSignature"] = self.thought_signature
                out.append([part])
        if self.text:
            out.extend([{"text": piece}] for piece in _split(self.text, self.chunks))
        if self.text_signature:
            out.append([{"text": "", "thoughtSignature": self.text_signature}])
        whole = [call for call in self.calls if not call.partial]
        if whole:
            out.append([_call_part(call) for call in whole])
        for call in self.calls:
            if call.partial:
                out.extend(_partial_parts(call))
        return out

    def usage(self, done: int, total: int) -> dict[str, Any]:
        """``usageMetadata`` after ``done`` of ``total`` chunks (running candidate counts)."""
        candidates = len(self.text.split()) + 5 * len(self.calls)
        thoughts = len((self.thoughts or "").split())
        share = 1.0 if total == 0 else done / total
        usage: dict[str, Any] = {
            "promptTokenCount": self.prompt_tokens,
            "candidatesTokenCount": round(candidates * share),
            "totalTokenCount": self.prompt_tokens + round((candidates + thoughts) * share),
        }
        if thoughts:
            usage["thoughtsTokenCount"] = round(thoughts * share)
        if self.cached_tokens:
            usage["cachedContentTokenCount"] = self.cached_tokens
        return usage


def _split(text: str, pieces: int) -> list[str]:
    pieces = max(1, min(pieces, len(text)))
    size = -(-len(text) // pieces)
    return [text[i : i + size] for i in range(0, len(text), size)]


def _call_part(call: GeminiCall) -> dict[str, Any]:
    function: dict[str, Any] = {"name": call.name, "args": dict(call.args)}
    if call.id:
        function["id"] = call.id
    part: dict[str, Any] = {"functionCall": function}
    if call.signature:
        part["thoughtSignature"] = call.signature
    return part


def _fragment(path: str, value: Any) -> list[dict[str, Any]]:
    if isinstance(value, Mapping):
        return [f for key, inner in value.items() for f in _fragment(f"{path}.{key}", inner)]
    if isinstance(value, list):
        return [f for index, inner in enumerate(value) for f in _fragment(f"{path}[{index}]", inner)]
    if isinstance(value, str):
        half = len(value) // 2
        return [
            {"jsonPath": path, "stringValue": piece} for piece in (value[:half], value[half:]) if piece
        ] or [{"jsonPath": path, "stringValue": ""}]
    if isinstance(value, bool):
        return [{"jsonPath": path, "boolValue": value}]
    if value is None:
        return [{"jsonPath": path, "nullValue": "NULL_VALUE"}]
    return [{"jsonPath": path, "numberValue": value}]


def _partial_parts(call: GeminiCall) -> list[list[dict[str, Any]]]:
    """Vertex's streamed arguments: the name first, one fragment per chunk, an empty end marker."""
    first: dict[str, Any] = {"name": call.name, "willContinue": True}
    if call.id:
        first["id"] = call.id
    head: dict[str, Any] = {"functionCall": first}
    if call.signature:
        head["thoughtSignature"] = call.signature
    chunks = [[head]]
    for fragment in _fragment("$", dict(call.args)):
        chunks.append([{"functionCall": {"partialArgs": [fragment], "willContinue": True}}])
    chunks.append([{"functionCall": {}}])
    return chunks


@dataclass(frozen=True, slots=True)
class GeminiHTTPError:
    """An HTTP error reply: status, exact body bytes and headers."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = JSON_HEADERS


@dataclass(frozen=True, slots=True)
class GeminiRaw:
    """Exact bytes: each frame written as is (one HTTP chunk each)."""

    frames: tuple[bytes, ...]
    status: int = 200
    headers: tuple[tuple[str, str], ...] = SSE_HEADERS


@dataclass(frozen=True, slots=True)
class GeminiFault:
    """Something going wrong after ``after_chunks`` chunks of a stream.

    ``error``: a ``{"error": {code, message, status}}`` chunk, then EOF (``code``, ``status``,
    ``message``; a ``generateContent`` request gets that error as its HTTP reply instead);
    ``cut``: EOF (``style="close"``) or an RST (``"reset"``) without a ``finishReason``;
    ``stall``: silence for ``seconds`` (``None``: forever).
    """

    kind: FaultKind
    after_chunks: int = 0
    code: int = 500
    status: str = "INTERNAL"
    message: str = "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting"
    style: Literal["close", "reset"] = "close"
    seconds: float | None = None


@dataclass(frozen=True, slots=True)
class GeminiScenario:
    """What the fake Gemini upstream does for one request. Build with ``gemini_text(...)``.

    Frozen data: push it, replay it, print it in a failing test; :meth:`with_` changes fields.
    """

    reply: GeminiReply | GeminiHTTPError | GeminiRaw = field(default_factory=GeminiReply)
    fault: GeminiFault | None = None
    #: Seconds before the status line.
    delay: float = 0.0
    #: Seconds between stream chunks.
    event_delay: float = 0.0
    headers: tuple[tuple[str, str], ...] = ()

    def with_(self, **changes: Any) -> GeminiScenario:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def chunks(self) -> list[dict[str, Any]]:
        """The ``GenerateContentResponse`` chunks a stream carries, before any fault."""
        reply = self.reply
        if not isinstance(reply, GeminiReply):
            return []
        if reply.block_reason is not None:
            return [
                {
                    "promptFeedback": {"blockReason": reply.block_reason, "safetyRatings": []},
                    "usageMetadata": {
                        "promptTokenCount": reply.prompt_tokens,
                        "totalTokenCount": reply.prompt_tokens,
                    },
                    "modelVersion": reply.model_version,
                    "responseId": reply.response_id,
                }
            ]
        parts = reply.parts() or [[]]
        chunks: list[dict[str, Any]] = []
        for index, chunk_parts in enumerate(parts):
            candidate: dict[str, Any] = {"content": {"role": "model", "parts": chunk_parts}, "index": 0}
            if index == len(parts) - 1 and reply.finish_reason is not None:
                candidate["finishReason"] = reply.finish_reason
                if reply.finish_message:
                    candidate["finishMessage"] = reply.finish_message
            chunks.append(
                {
                    "candidates": [candidate],
                    "usageMetadata": reply.usage(index + 1, len(parts)),
                    "modelVersion": reply.model_version,
                    "responseId": reply.response_id,
                }
            )
        return chunks

    def body(self) -> dict[str, Any]:
        """The whole ``generateContent`` body: the same turn as one candidate, parts unsplit."""
        reply = self.reply
        if not isinstance(reply, GeminiReply):
            raise TypeError(f"{type(reply).__name__} scenarios have no generateContent body")
        whole = dataclasses.replace(
            reply, chunks=1, calls=tuple(dataclasses.replace(c, partial=False) for c in reply.calls)
        )
        chunks = GeminiScenario(whole).chunks()
        if whole.block_reason is not None:
            return chunks[0]
        parts = [part for chunk in chunks for part in chunk["candidates"][0]["content"]["parts"]]
        body = dict(chunks[-1])
        body["candidates"] = [{**chunks[-1]["candidates"][0], "content": {"role": "model", "parts": parts}}]
        body["usageMetadata"] = whole.usage(1, 1)
        return body

    def wire(self, *, stream: bool) -> Wire:
        """Exactly what to send: status, headers, paced frames and how the body ends."""
        extra = tuple((k.lower(), v) for k, v in self.headers)
        reply, fault = self.reply, self.fault
        if isinstance(reply, GeminiHTTPError):
            return _fixed(
                reply.status, _merge(reply.headers, extra), (Frame(reply.body),), self.delay, sse=False
            )
        if isinstance(reply, GeminiRaw):
            raw = tuple(Frame(f, self.event_delay if i else 0.0) for i, f in enumerate(reply.frames))
            return _fixed(reply.status, _merge(reply.headers, extra), raw, self.delay, sse=True)
        if not stream:
            if fault is not None and fault.kind == "error":
                data = json.dumps(google_error_body(fault.code, fault.status, fault.message)).encode()
                return _fixed(fault.code, _merge(JSON_HEADERS, extra), (Frame(data),), self.delay, sse=False)
            data = json.dumps(self.body(), indent=2).encode()
            end: Literal["done", "reset", "close"] = "done"
            frames_list = [Frame(data)]
            if fault is not None and fault.kind == "cut":
                frames_list, end = (
                    [Frame(data[: len(data) // 2])],
                    "reset" if fault.style == "reset" else "close",
                )
            elif fault is not None and fault.kind == "stall":
                frames_list = [Frame(data, fault.seconds)]
            return Wire(
                headers=_merge(JSON_HEADERS, extra),
                frames=tuple(frames_list),
                delay=self.delay,
                content_length=len(data),
                end=end,
            )
        data_frames = [_sse(chunk) for chunk in self.chunks()]
        end = "done"
        headers = _merge(SSE_HEADERS, extra)
        stall_at: int | None = None
        if fault is not None:
            n = max(0, fault.after_chunks)
            if fault.kind == "error":
                data_frames = [
                    *data_frames[:n],
                    _sse(google_error_body(fault.code, fault.status, fault.message)),
                ]
            elif fault.kind == "cut":
                data_frames = data_frames[:n]
                if fault.style == "reset":
                    end = "reset"
                else:
                    headers = (*headers, ("connection", "close"))
            else:
                stall_at = n
        frames = [Frame(data, self.event_delay if i else 0.0) for i, data in enumerate(data_frames)]
        if stall_at is not None and fault is not None:
            if stall_at < len(frames):
                frames[stall_at] = Frame(frames[stall_at].data, fault.seconds)
            else:
                frames.append(Frame(b"", fault.seconds))
        return Wire(headers=headers, frames=tuple(frames), delay=self.delay, sse=True, end=end)


def _fixed(
    status: int, headers: tuple[tuple[str, str], ...], frames: tuple[Frame, ...], delay: float, *, sse: bool
) -> Wire:
    length = sum(len(frame.data) for frame in frames)
    return Wire(status=status, headers=headers, frames=frames, delay=delay, sse=sse, content_length=length)


def _merge(
    defaults: tuple[tuple[str, str], ...], extra: tuple[tuple[str, str], ...]
) -> tuple[tuple[str, str], ...]:
    names = {name for name, _ in extra}
    return (*((k, v) for k, v in defaults if k not in names), *extra)


def _sse(chunk: Mapping[str, Any]) -> bytes:
    # Google's framing: ``data: <json>`` and a CRLF blank line, no ``event:`` field.
    return b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\r\n\r\n"
