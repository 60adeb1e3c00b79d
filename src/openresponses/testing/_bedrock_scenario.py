"""Bedrock Converse scenarios: what the fake upstream sends for one request, framed as a ``Wire``.

A :class:`BedrockScenario` is the assistant turn as the ConverseStream events Bedrock would
send (:class:`BedrockEvent`, in order) or an HTTP error (:class:`BedrockHTTPError`), plus an
optional :class:`BedrockFault` and pacing. :meth:`BedrockScenario.wire` builds the bytes without
I/O: event-stream frames for ``/converse-stream`` (:mod:`._bedrock_frames`), and for
``/converse`` the whole ``ConverseResponse`` JSON assembled from the same events, so one
scenario answers both operations. The builders (``bedrock_text``, ``bedrock_tool_calls``, ...)
make scenarios and check their arguments.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ._bedrock_frames import corrupt, error_frame, event_frame, exception_frame
from ._script import Frame, Wire

__all__ = [
    "EXCEPTION_STATUS",
    "BedrockEvent",
    "BedrockFault",
    "BedrockHTTPError",
    "BedrockScenario",
    "BedrockUsage",
    "converse_body",
    "event",
]

Headers = tuple[tuple[str, str], ...]
EVENT_STREAM = "application/vnd.amazon.eventstream"

#: In-stream exception member -> (HTTP status, AWS error type) for the same error before a stream.
EXCEPTION_STATUS: Mapping[str, tuple[int, str]] = {
    "throttlingException": (429, "ThrottlingException"),
    "modelStreamErrorException": (424, "ModelStreamErrorException"),
    "validationException": (400, "ValidationException"),
    "serviceUnavailableException": (503, "ServiceUnavailableException"),
    "internalServerException": (500, "InternalServerException"),
}


@dataclass(frozen=True, slots=True)
class BedrockUsage:
    """The ``usage`` of the ``metadata`` event: Bedrock's ``inputTokens`` excludes cache reads
    and writes, which are reported beside it."""

    input_tokens: int = 12
    output_tokens: int = 6
    cache_read: int | None = None
    cache_write: int | None = None

    def wire(self) -> dict[str, int]:
        """The ``TokenUsage`` JSON."""
        data = {
            "inputTokens": self.input_tokens,
            "outputTokens": self.output_tokens,
            "totalTokens": self.input_tokens
            + self.output_tokens
            + (self.cache_read or 0)
            + (self.cache_write or 0),
        }
        if self.cache_read is not None:
            data["cacheReadInputTokens"] = self.cache_read
        if self.cache_write is not None:
            data["cacheWriteInputTokens"] = self.cache_write
        return data


@dataclass(frozen=True, slots=True)
class BedrockEvent:
    """One event-stream message: a Converse event, an exception, a protocol error or raw bytes."""

    kind: Literal["event", "exception", "error", "raw"]
    name: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)
    message: str = ""
    raw: bytes = b""

    def frame(self) -> bytes:
        """The message's bytes."""
        if self.kind == "event":
            return event_frame(self.name, self.data)
        if self.kind == "exception":
            return exception_frame(self.name, self.message)
        if self.kind == "error":
            return error_frame(self.name, self.message)
        return self.raw


def event(name: str, **data: Any) -> BedrockEvent:
    """A Converse event: ``event("contentBlockDelta", contentBlockIndex=0, delta={"text": "Hi"})``."""
    return BedrockEvent("event", name, data)


@dataclass(frozen=True, slots=True)
class BedrockHTTPError:
    """An HTTP error reply: ``{"message"}`` with ``x-amzn-ErrorType``, as Bedrock sends it."""

    status: int
    error_type: str
    message: str
    headers: Headers = ()


@dataclass(frozen=True, slots=True)
class BedrockFault:
    """Something going wrong after ``after_events`` messages: ``cut`` (a clean end of the body),
    ``reset`` (a TCP reset), ``stall`` (``seconds`` of silence, ``None``: forever) or
    ``corrupt`` (that message's CRC broken)."""

    kind: Literal["cut", "reset", "stall", "corrupt"]
    after_events: int = 0
    seconds: float | None = None


@dataclass(frozen=True, slots=True)
class BedrockScenario:
    """What the fake Bedrock upstream does for one request. Build with ``bedrock_text(...)``;
    change one with :meth:`with_` (``bedrock_text("Hi").with_(event_delay=0.01)``)."""

    reply: tuple[BedrockEvent, ...] | BedrockHTTPError = ()
    fault: BedrockFault | None = None
    #: Seconds before the status line.
    delay: float = 0.0
    #: Seconds between messages; 0 writes the stream in a few large writes.
    event_delay: float = 0.0
    #: Re-split the stream into HTTP chunks of this many bytes (messages then span chunks).
    chunk_size: int | None = None
    headers: Headers = ()

    def with_(self, **changes: Any) -> BedrockScenario:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def wire(self, *, stream: bool) -> Wire:
        """The bytes to send for ``/converse-stream`` (``stream``) or ``/converse``."""
        request_id = ("x-amzn-requestid", str(uuid.uuid4()))
        if isinstance(self.reply, BedrockHTTPError):
            return _error_wire(self.reply, self.delay, (request_id, *self.headers))
        if not stream:
            return self._whole(request_id)
        frames = [message.frame() for message in self.reply]
        end: Literal["done", "reset", "close"] = "done"
        pauses: list[float | None] = [
            self.event_delay if position else 0.0 for position in range(len(frames))
        ]
        fault = self.fault
        if fault is not None:
            n = max(0, fault.after_events)
            if fault.kind == "cut":
                frames, pauses = frames[:n], pauses[:n]
            elif fault.kind == "reset":
                frames, pauses, end = frames[:n], pauses[:n], "reset"
            elif fault.kind == "corrupt" and n < len(frames):
                frames[n] = corrupt(frames[n])
            elif fault.kind == "stall":
                if n < len(frames):
                    pauses[n] = fault.seconds
                else:
                    frames.append(b"")
                    pauses.append(fault.seconds)
        wire_frames = [Frame(data, pause) for data, pause in zip(frames, pauses, strict=True)]
        if self.chunk_size:
            wire_frames = _rechunk(wire_frames, self.chunk_size)
        return Wire(
            headers=(("content-type", EVENT_STREAM), request_id, *self.headers),
            frames=tuple(wire_frames),
            delay=self.delay,
            sse=True,  # chunked transfer, as Bedrock streams it
            end=end,
        )

    def _whole(self, request_id: tuple[str, str]) -> Wire:
        assert not isinstance(self.reply, BedrockHTTPError)
        for message in self.reply:
            if message.kind == "exception":  # before any byte of a whole reply: an HTTP error
                status, error_type = EXCEPTION_STATUS.get(message.name, (500, "InternalServerException"))
                return _error_wire(
                    BedrockHTTPError(status, error_type, message.message), self.delay, (request_id,)
                )
        data = json.dumps(converse_body(self.reply)).encode()
        frames, end, length = [Frame(data)], "done", len(data)
        fault = self.fault
        if fault is not None and fault.kind in ("cut", "reset"):
            frames, end = [Frame(data[: len(data) // 2])], "close" if fault.kind == "cut" else "reset"
        elif fault is not None and fault.kind == "stall":
            frames = [Frame(data, fault.seconds)]
        return Wire(
            headers=(("content-type", "application/json"), request_id, *self.headers),
            frames=tuple(frames),
            delay=self.delay,
            content_length=length,
            end=end,  # type: ignore[arg-type]
        )


def _error_wire(error: BedrockHTTPError, delay: float, headers: Headers) -> Wire:
    data = json.dumps({"message": error.message}).encode()
    if not any(name == "x-amzn-requestid" for name, _ in headers):
        headers = (("x-amzn-requestid", str(uuid.uuid4())), *headers)
    return Wire(
        status=error.status,
        headers=(
            ("content-type", "application/json"),
            ("x-amzn-errortype", f"{error.error_type}:http://internal.amazon.com/coral/com.amazon.bedrock/"),
            *headers,
            *error.headers,
        ),
        frames=(Frame(data),),
        delay=delay,
        content_length=len(data),
    )


def _rechunk(frames: list[Frame], size: int) -> list[Frame]:
    """The same bytes in ``size``-byte pieces; a frame's pause moves to its first piece."""
    out: list[Frame] = []
    pending = b""
    for frame in frames:
        if frame.pause != 0.0:
            if pending:
                out.append(Frame(pending))
                pending = b""
            out.append(Frame(b"", frame.pause))
        pending += frame.data
        while len(pending) >= size:
            out.append(Frame(pending[:size]))
            pending = pending[size:]
    if pending:
        out.append(Frame(pending))
    return out


def converse_body(events: Sequence[BedrockEvent]) -> dict[str, Any]:
    """The ``ConverseResponse`` JSON the events amount to (blocks reassembled by index)."""
    blocks: dict[int, dict[str, Any]] = {}
    stop = "end_turn"
    usage: Any = {"inputTokens": 0, "outputTokens": 0, "totalTokens": 0}
    for message in events:
        if message.kind != "event":
            continue
        data = message.data
        index = data.get("contentBlockIndex", 0)
        if message.name == "contentBlockStart" and "toolUse" in (data.get("start") or {}):
            tool = data["start"]["toolUse"]
            blocks[index] = {"toolUse": {"toolUseId": tool["toolUseId"], "name": tool["name"], "input": ""}}
        elif message.name == "contentBlockDelta":
            delta = data.get("delta") or {}
            if "text" in delta:
                block = blocks.setdefault(index, {"text": ""})
                block["text"] += delta["text"]
            elif "toolUse" in delta:
                blocks[index]["toolUse"]["input"] += delta["toolUse"].get("input", "")
            elif "reasoningContent" in delta:
                piece = delta["reasoningContent"]
                block = blocks.setdefault(index, {"reasoningContent": {}})["reasoningContent"]
                if "redactedContent" in piece:
                    block["redactedContent"] = block.get("redactedContent", "") + piece["redactedContent"]
                else:
                    text = block.setdefault("reasoningText", {"text": ""})
                    text["text"] += piece.get("text", "")
                    if "signature" in piece:
                        text["signature"] = text.get("signature", "") + piece["signature"]
        elif message.name == "messageStop":
            stop = data.get("stopReason", stop)
        elif message.name == "metadata":
            usage = data.get("usage", usage)
    content = []
    for index in sorted(blocks):
        block = blocks[index]
        if "toolUse" in block:
            raw = block["toolUse"]["input"]
            block["toolUse"]["input"] = json.loads(raw) if raw else {}
        content.append(block)
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop,
        "usage": usage,
        "metrics": {"latencyMs": 42},
    }
