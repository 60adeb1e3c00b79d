"""Anthropic scenarios and their builders: what the fake upstream does for one request.

An :class:`AnthropicScenario` is an assistant turn (:class:`AnthropicReply`), an HTTP error
(:class:`AnthropicHTTPError`) or exact bytes (:class:`AnthropicRaw`), plus an optional
:class:`AnthropicFault` (an ``event: error`` after HTTP 200, a cut, a stall, a malformed event)
and pacing. :meth:`AnthropicScenario.wire` builds, without I/O, the
:class:`~openresponses.testing.Wire` the loopback server plays. The builders check their
arguments, so a bad scenario fails in the test that builds it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ._anthropic_wire import (
    JSON_HEADERS,
    SSE_HEADERS,
    AnthropicCall,
    AnthropicReply,
    error_envelope,
    new_request_id,
    render_events,
    render_message,
    sse_event,
)
from ._script import Frame, Wire

__all__ = [
    "STOP_REASONS",
    "AnthropicFault",
    "AnthropicHTTPError",
    "AnthropicRaw",
    "AnthropicScenario",
    "anthropic_context_length_exceeded",
    "anthropic_cut",
    "anthropic_error_in_stream",
    "anthropic_raw",
    "anthropic_stall",
    "anthropic_status",
    "anthropic_text",
    "anthropic_tool_calls",
]

#: Every stop reason the Messages API documents.
STOP_REASONS = frozenset(
    {
        "end_turn",
        "max_tokens",
        "stop_sequence",
        "tool_use",
        "pause_turn",
        "refusal",
        "model_context_window_exceeded",
    }
)
# HTTP status -> Anthropic error type and its usual message.
_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "Invalid request."),
    401: ("authentication_error", "invalid x-api-key"),
    402: ("billing_error", "Your credit balance is too low to access the Anthropic API."),
    403: ("permission_error", "Your API key does not have permission to use the specified resource."),
    404: ("not_found_error", "The requested resource could not be found."),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "This request would exceed the rate limit for your organization."),
    500: ("api_error", "Internal server error"),
    504: ("timeout_error", "Request timed out"),
    529: ("overloaded_error", "Overloaded"),
}


@dataclass(frozen=True, slots=True)
class AnthropicHTTPError:
    """An HTTP error reply: status, exact body bytes and headers."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = JSON_HEADERS


@dataclass(frozen=True, slots=True)
class AnthropicRaw:
    """Exact bytes: each frame written as is (one HTTP chunk each)."""

    frames: tuple[bytes, ...]
    status: int = 200
    headers: tuple[tuple[str, str], ...] = SSE_HEADERS


@dataclass(frozen=True, slots=True)
class AnthropicFault:
    """Something going wrong after ``after_events`` stream events of a 200 reply."""

    kind: Literal["error", "cut", "stall", "malformed"]
    after_events: int = 4
    #: ``error``: the Anthropic error type sent in ``event: error``.
    error_type: str = "overloaded_error"
    message: str = "Overloaded"
    #: ``cut``: ``close`` (clean EOF), ``reset`` (RST) or ``truncate`` (mid-chunk close).
    style: Literal["close", "reset", "truncate"] = "close"
    #: ``stall``: seconds of silence (``None``: forever, until the client gives up).
    seconds: float | None = None


@dataclass(frozen=True, slots=True)
class AnthropicScenario:
    """What the fake Anthropic upstream does for one request. Build with ``anthropic_text(...)``.

    Frozen data: push it, replay it, print it in a failing test; :meth:`with_` changes fields.
    """

    reply: AnthropicReply | AnthropicHTTPError | AnthropicRaw = field(default_factory=AnthropicReply)
    fault: AnthropicFault | None = None
    #: Seconds before the status line (a silent upstream).
    delay: float = 0.0
    #: Seconds between stream events; 0 writes the stream in a few large writes.
    event_delay: float = 0.0
    headers: tuple[tuple[str, str], ...] = ()

    def with_(self, **changes: Any) -> AnthropicScenario:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def events(self, body: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """The stream events of the reply, before any fault (fresh ids)."""
        return render_events(self.reply, body) if isinstance(self.reply, AnthropicReply) else []

    def wire(self, body: Mapping[str, Any] | None = None, *, stream: bool | None = None) -> Wire:
        """Exactly what to send: status, headers, paced frames and how the body ends."""
        if stream is None:
            stream = isinstance(body, Mapping) and body.get("stream") is True
        extra = (("request-id", new_request_id()), *((k.lower(), v) for k, v in self.headers))
        reply = self.reply
        if isinstance(reply, AnthropicHTTPError):
            return Wire(
                status=reply.status,
                headers=_merge(reply.headers, extra),
                frames=(Frame(reply.body),),
                delay=self.delay,
                content_length=len(reply.body),
            )
        if isinstance(reply, AnthropicRaw):
            frames = tuple(Frame(data, self.event_delay if i else 0.0) for i, data in enumerate(reply.frames))
            return Wire(
                status=reply.status,
                headers=_merge(reply.headers, extra),
                frames=frames,
                delay=self.delay,
                sse=True,
            )
        if stream:
            return self._stream_wire(reply, body, extra)
        return self._body_wire(reply, body, extra)

    def _stream_wire(
        self, reply: AnthropicReply, body: Mapping[str, Any] | None, extra: tuple[tuple[str, str], ...]
    ) -> Wire:
        data = [sse_event(event) for event in render_events(reply, body)]
        end: Literal["done", "reset", "close"] = "done"
        fault = self.fault
        pauses: dict[int, float | None] = {}
        if fault is not None:
            n = max(0, fault.after_events)
            if fault.kind == "error":
                data = [*data[:n], sse_event(error_envelope(fault.error_type, fault.message))]
            elif fault.kind == "cut":
                data = data[:n]
                if fault.style == "truncate" and data:
                    data[-1] = data[-1][: len(data[-1]) // 2]
                end = "reset" if fault.style == "reset" else "close"
            elif fault.kind == "malformed":
                data = [*data[:n], b"event: content_block_delta\ndata: {not json\n\n", *data[n:]]
            else:
                pauses[n] = fault.seconds
        frames = [Frame(chunk, pauses.get(i, self.event_delay if i else 0.0)) for i, chunk in enumerate(data)]
        if fault is not None and fault.kind == "stall" and fault.after_events >= len(data):
            frames.append(Frame(b"", fault.seconds))
        return Wire(
            headers=_merge(SSE_HEADERS, extra), frames=tuple(frames), delay=self.delay, sse=True, end=end
        )

    def _body_wire(
        self, reply: AnthropicReply, body: Mapping[str, Any] | None, extra: tuple[tuple[str, str], ...]
    ) -> Wire:
        fault = self.fault
        status, payload = 200, render_message(reply, body)
        if fault is not None and fault.kind == "error":
            status = next((code for code, (kind, _) in _ERRORS.items() if kind == fault.error_type), 500)
            payload = error_envelope(fault.error_type, fault.message, request_id=new_request_id())
        data = json.dumps(payload).encode()
        end: Literal["done", "reset", "close"] = "done"
        frames = [Frame(data)]
        if fault is not None and fault.kind == "cut":
            frames, end = [Frame(data[: len(data) // 2])], "reset" if fault.style == "reset" else "close"
        elif fault is not None and fault.kind == "stall":
            frames = [Frame(data, fault.seconds)]
        elif fault is not None and fault.kind == "malformed":
            data = b"{not json"
            frames = [Frame(data)]
        return Wire(
            status=status,
            headers=_merge(JSON_HEADERS, extra),
            frames=tuple(frames),
            delay=self.delay,
            content_length=len(data),
            end=end,
        )


def _merge(
    defaults: tuple[tuple[str, str], ...], extra: tuple[tuple[str, str], ...]
) -> tuple[tuple[str, str], ...]:
    names = {name for name, _ in extra}
    return (*((k, v) for k, v in defaults if k not in names), *extra)


# -- builders -----------------------------------------------------------------------------------

CallSpec = AnthropicCall | tuple[str, "str | Mapping[str, Any]"] | tuple[str, "str | Mapping[str, Any]", str]


def _check_stop(stop_reason: str | None) -> None:
    if stop_reason is not None and stop_reason not in STOP_REASONS:
        raise ValueError(f"stop_reason must be one of {sorted(STOP_REASONS)}, got {stop_reason!r}")


def _pieces(spec: Sequence[int] | Sequence[str] | None) -> tuple[int, ...] | tuple[str, ...] | None:
    if spec is None:
        return None
    if all(isinstance(p, int) and not isinstance(p, bool) and p > 0 for p in spec):
        return tuple(int(p) for p in spec)
    if all(isinstance(p, str) for p in spec):
        return tuple(str(p) for p in spec)
    raise ValueError(f"chunks must be positive sizes or strings, got {spec!r}")


def anthropic_text(
    text: str | None = "Hello world",
    *,
    thinking: str | None = None,
    signature: str | None = None,
    redacted: str | None = None,
    chunks: Sequence[int] | Sequence[str] | None = None,
    thinking_chunks: Sequence[int] | Sequence[str] | None = None,
    stop_reason: str | None = None,
    stop_sequence: str | None = None,
    input_tokens: int = 25,
    cache_read_input_tokens: int = 0,
    cache_creation_input_tokens: int = 0,
    model: str | None = None,
    ping: bool = True,
    event_delay: float = 0.0,
    delay: float = 0.0,
) -> AnthropicScenario:
    """An assistant turn: optional ``thinking`` (signed, or with a forged ``signature``), an
    optional ``redacted_thinking`` block, then ``text`` streamed in ``chunks``."""
    _check_stop(stop_reason)
    for name, value in (
        ("input_tokens", input_tokens),
        ("cache_read_input_tokens", cache_read_input_tokens),
        ("cache_creation_input_tokens", cache_creation_input_tokens),
    ):
        if not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    reply = AnthropicReply(
        text=text,
        thinking=thinking,
        signature=signature,
        redacted=redacted,
        chunks=_pieces(chunks),
        thinking_chunks=_pieces(thinking_chunks),
        stop_reason=stop_reason,
        stop_sequence=stop_sequence,
        input_tokens=input_tokens,
        cache_read_input_tokens=cache_read_input_tokens,
        cache_creation_input_tokens=cache_creation_input_tokens,
        model=model,
        ping=ping,
    )
    return AnthropicScenario(reply, event_delay=event_delay, delay=delay)


def anthropic_tool_calls(
    calls: Iterable[CallSpec],
    *,
    text: str | None = None,
    thinking: str | None = None,
    argument_chunk_size: int = 8,
    stop_reason: str | None = None,
) -> AnthropicScenario:
    """A turn of ``tool_use`` blocks (``(name, input)`` or ``(name, input, id)``), after optional
    thinking and text; the input JSON streams in ``argument_chunk_size`` fragments."""
    _check_stop(stop_reason)
    built: list[AnthropicCall] = []
    for call in calls:
        if isinstance(call, AnthropicCall):
            built.append(call)
            continue
        name, arguments, *rest = call
        if isinstance(arguments, str):
            json.loads(arguments or "{}")  # a bad scenario fails here
        built.append(AnthropicCall(name, arguments if isinstance(arguments, str) else dict(arguments), *rest))
    if argument_chunk_size < 1:
        raise ValueError("argument_chunk_size must be >= 1")
    reply = AnthropicReply(
        text=text,
        thinking=thinking,
        calls=tuple(built),
        argument_chunk_size=argument_chunk_size,
        stop_reason=stop_reason,
    )
    return AnthropicScenario(reply)


def anthropic_status(
    status: int,
    *,
    error_type: str | None = None,
    message: str | None = None,
    retry_after: float | None = None,
    delay: float = 0.0,
) -> AnthropicScenario:
    """An HTTP error with Anthropic's envelope (``overloaded_error`` for 529, ...)."""
    if not 400 <= status <= 599:
        raise ValueError(f"status must be 4xx or 5xx, got {status}")
    default_type, default_message = _ERRORS.get(
        status, ("api_error" if status >= 500 else "invalid_request_error", "Error")
    )
    envelope = error_envelope(
        error_type or default_type, message or default_message, request_id=new_request_id()
    )
    headers: tuple[tuple[str, str], ...] = JSON_HEADERS
    if retry_after is not None:
        headers = (*headers, ("retry-after", f"{retry_after:g}"))
    return AnthropicScenario(AnthropicHTTPError(status, json.dumps(envelope).encode(), headers), delay=delay)


def anthropic_context_length_exceeded(tokens: int = 208310, limit: int = 200000) -> AnthropicScenario:
    """Anthropic's 400 for a prompt larger than the model's context window."""
    return anthropic_status(400, message=f"prompt is too long: {tokens} tokens > {limit} maximum")


def anthropic_error_in_stream(
    after_events: int = 4,
    *,
    error_type: str = "overloaded_error",
    message: str = "Overloaded",
    text: str = "Hello world, partial",
) -> AnthropicScenario:
    """HTTP 200, ``after_events`` events, then ``event: error`` and the end of the body."""
    fault = AnthropicFault("error", after_events, error_type=error_type, message=message)
    return anthropic_text(text).with_(fault=fault)


def anthropic_cut(
    after_events: int = 4,
    *,
    style: Literal["close", "reset", "truncate"] = "close",
    text: str = "Hello world, partial",
) -> AnthropicScenario:
    """HTTP 200, ``after_events`` events, then the connection ends (no ``message_stop``)."""
    return anthropic_text(text).with_(fault=AnthropicFault("cut", after_events, style=style))


def anthropic_stall(
    after_events: int = 4, *, seconds: float | None = None, text: str = "Hello world"
) -> AnthropicScenario:
    """HTTP 200, ``after_events`` events, then silence for ``seconds`` (``None``: forever)."""
    return anthropic_text(text).with_(fault=AnthropicFault("stall", after_events, seconds=seconds))


def anthropic_raw(
    *frames: bytes, status: int = 200, headers: Sequence[tuple[str, str]] = SSE_HEADERS
) -> AnthropicScenario:
    """Exact bytes, one HTTP chunk per frame."""
    return AnthropicScenario(AnthropicRaw(tuple(frames), status, tuple(headers)))
