"""Chat Completions scenarios: what the fake upstream sends, framed as a :class:`Wire`.

A :class:`ChatScenario` is the assistant turn (:class:`ChatReply`), an HTTP error
(:class:`ChatHTTPError`) or exact bytes (:class:`ChatRaw`), plus an optional :class:`ChatFault`
and framing (delays, keep-alive comments, ``[DONE]``). :meth:`ChatScenario.wire` builds, without
I/O, the :class:`~openresponses.testing.Wire` the loopback server plays; the chunk and body JSON
come from :mod:`._chat_wire`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ._chat_wire import (
    DONE,
    JSON_HEADERS,
    SSE_HEADERS,
    TGI_ERROR_TYPES,
    Body,
    ChatFault,
    ChatReply,
    Render,
    error_object,
)
from ._script import Frame, Wire

Headers = tuple[tuple[str, str], ...]

__all__ = ["ChatHTTPError", "ChatRaw", "ChatScenario"]


@dataclass(frozen=True, slots=True)
class ChatHTTPError:
    """An HTTP error reply: status, exact body bytes and headers (``content-type`` included)."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = JSON_HEADERS


@dataclass(frozen=True, slots=True)
class ChatRaw:
    """Exact bytes: each frame written as is (one HTTP chunk each when ``chunked``)."""

    frames: tuple[bytes, ...]
    status: int = 200
    headers: tuple[tuple[str, str], ...] = SSE_HEADERS
    chunked: bool = True


@dataclass(frozen=True, slots=True)
class ChatScenario:
    """What the fake Chat Completions upstream does for one request. Build with ``chat_text(...)``.

    Frozen data, like :class:`~openresponses.testing.Scenario`: push it, replay it, print it in a
    failing test. Change one with :meth:`with_` (``chat_text("Hi").with_(event_delay=0.01)``).
    """

    reply: ChatReply | ChatHTTPError | ChatRaw = field(default_factory=ChatReply)
    fault: ChatFault | None = None
    #: Seconds before the status line (a silent upstream).
    delay: float = 0.0
    #: Seconds between the headers (and any keep-alive comment) and the first data chunk.
    first_chunk_delay: float = 0.0
    #: Seconds between data chunks; 0 writes the whole stream in a few large writes.
    event_delay: float = 0.0
    #: An SSE comment (``": keep-alive"``) sent before the first data chunk.
    keepalive: str | None = None
    send_done: bool = True
    #: Blank lines before a non-streaming JSON body (DeepSeek under load); the body is then chunked.
    leading_blank_lines: int = 0
    headers: tuple[tuple[str, str], ...] = ()

    def with_(self, **changes: Any) -> ChatScenario:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def chunks(self, body: Body = None) -> list[dict[str, Any]]:
        """The ``chat.completion.chunk`` objects a stream carries, before any fault (fresh ids)."""
        if not isinstance(self.reply, ChatReply):
            return []
        return Render(self.reply, body).stream()

    def completion(self, body: Body = None) -> dict[str, Any]:
        """The non-streaming ``chat.completion`` body (fresh ids)."""
        if not isinstance(self.reply, ChatReply):
            raise TypeError(f"{type(self.reply).__name__} scenarios have no chat.completion body")
        return Render(self.reply, body).completion()

    def wire(self, body: Body = None, *, stream: bool | None = None) -> Wire:
        """Exactly what to send: status, headers, paced frames and how the body ends."""
        if stream is None:
            stream = isinstance(body, Mapping) and body.get("stream") is True
        extra = tuple((k.lower(), v) for k, v in self.headers)
        reply = self.reply
        if isinstance(reply, ChatHTTPError):
            frames: tuple[Frame, ...] = (Frame(reply.body),)
            return _fixed_wire(reply.status, _merge(reply.headers, extra), frames, self.delay, False)
        if isinstance(reply, ChatRaw):
            paced = tuple(Frame(f, self.event_delay if i else 0.0) for i, f in enumerate(reply.frames))
            return _fixed_wire(reply.status, _merge(reply.headers, extra), paced, self.delay, reply.chunked)
        render = Render(reply, body)
        if stream:
            return self._stream_wire(render, extra)
        return self._body_wire(render, extra)

    # -- rendering ------------------------------------------------------------------------------

    def _stream_wire(self, render: Render, extra: tuple[tuple[str, str], ...]) -> Wire:
        data = [_sse(chunk) for chunk in render.stream()]
        tail = [DONE] if self.send_done else []
        end: Literal["done", "reset", "close"] = "done"
        headers = _merge(SSE_HEADERS, extra)
        stall: float | None = 0.0
        fault = self.fault
        if fault is not None:
            n = max(0, fault.after_chunks)
            if fault.kind == "error":
                data = [*data[:n], _sse(render.error_chunk(fault))]
                tail = [DONE] if fault.then_done else []
            elif fault.kind == "cut":
                data, tail = data[:n], []
                if fault.style == "reset":
                    end = "reset"
                elif fault.style == "truncate":
                    end = "close"
                else:
                    headers = (*headers, ("connection", "close"))
            elif fault.kind == "malformed":
                data = [*data[:n], b"data: " + fault.payload + b"\n\n", *data[n:]]
            else:
                stall = fault.seconds
        frames: list[Frame] = []
        if self.keepalive is not None:
            frames.append(Frame(f": {self.keepalive}\n\n".encode()))
        for position, chunk in enumerate([*data, *tail]):
            pause: float | None = self.first_chunk_delay if position == 0 else self.event_delay
            if fault is not None and fault.kind == "stall" and position == max(0, fault.after_chunks):
                pause = stall
            frames.append(Frame(chunk, pause))
        if fault is not None and fault.kind == "stall" and fault.after_chunks >= len(data) + len(tail):
            frames.append(Frame(b"", stall))
        return Wire(headers=headers, frames=tuple(frames), delay=self.delay, sse=True, end=end)

    def _body_wire(self, render: Render, extra: tuple[tuple[str, str], ...]) -> Wire:
        status = 200
        payload: Any = render.completion()
        fault = self.fault
        if fault is not None and fault.kind == "error":
            status, payload = _non_stream_error(fault)
        data = json.dumps(payload, indent=2).encode()
        end: Literal["done", "reset", "close"] = "done"
        frames = [Frame(data, self.first_chunk_delay)]
        length = len(data)
        if fault is not None and fault.kind == "cut":
            frames = [Frame(data[: len(data) // 2])]
            end = "reset" if fault.style == "reset" else "close"
        elif fault is not None and fault.kind == "stall":
            frames = [Frame(data, fault.seconds)]
        elif fault is not None and fault.kind == "malformed":
            frames, length = [Frame(fault.payload)], len(fault.payload)
        headers = _merge(JSON_HEADERS, extra)
        if self.leading_blank_lines and end == "done":
            blanks = [Frame(b"\n", self.event_delay if i else 0.0) for i in range(self.leading_blank_lines)]
            pause = frames[0].pause
            body = Frame(frames[0].data, None if pause is None else pause + self.event_delay)
            return Wire(status=status, headers=headers, frames=(*blanks, body), delay=self.delay, sse=True)
        return Wire(
            status=status,
            headers=headers,
            frames=tuple(frames),
            delay=self.delay,
            content_length=length,
            end=end,
        )


def _non_stream_error(fault: ChatFault) -> tuple[int, Any]:
    """What a non-streaming request gets where a stream would break with ``fault``."""
    if fault.style == "openrouter":
        # OpenRouter answers 200 once the model has started; the failure is in the body.
        code = fault.code if fault.code is not None else "server_error"
        return 200, {"error": {"code": code, "message": fault.message}}
    if fault.style == "tgi":
        code = fault.status_code or 422
        return code, {"error": fault.message, "error_type": TGI_ERROR_TYPES.get(code, "generation")}
    return fault.status_code or 500, error_object(fault)


def _fixed_wire(
    status: int, headers: tuple[tuple[str, str], ...], frames: Sequence[Frame], delay: float, chunked: bool
) -> Wire:
    length = sum(len(frame.data) for frame in frames)
    return Wire(
        status=status,
        headers=headers,
        frames=tuple(frames),
        delay=delay,
        sse=chunked,
        content_length=length,
    )


def _merge(defaults: Headers, extra: Headers) -> Headers:
    # A scenario's own headers replace the defaults of the same name (e.g. its content-type).
    names = {name for name, _ in extra}
    return (*((k, v) for k, v in defaults if k not in names), *extra)


def _sse(chunk: Mapping[str, Any]) -> bytes:
    # The vendors' framing: a bare data line per chunk, no ``event:`` field.
    return b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n"
