"""Builders for Chat Completions scenarios: each returns a frozen :class:`ChatScenario`.

Arguments are checked here, so a bad scenario fails in the test that builds it, not as a confusing
reply. The shapes each option produces are described in docs/PROVIDERS.md. The HTTP error
replies are built in ``_chat_errors`` (re-exported here), the argument checks are in
``_chat_checks``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, TypeAlias

from ._chat_checks import check_choice as _choice
from ._chat_checks import check_count as _count
from ._chat_checks import check_pieces as _pieces
from ._chat_checks import check_seconds as _seconds
from ._chat_errors import StatusStyle, chat_content_policy, chat_context_length_exceeded, chat_status
from ._chat_scenario import ChatRaw, ChatScenario
from ._chat_wire import (
    ChatCall,
    ChatFault,
    ChatReply,
    ErrorStyle,
    ReasoningField,
    Render,
    ToolStyle,
    UsageDetails,
    UsageStyle,
)

__all__ = [
    "CallSpec",
    "StatusStyle",
    "chat_content_policy",
    "chat_context_length_exceeded",
    "chat_cut",
    "chat_delay",
    "chat_error_in_stream",
    "chat_malformed",
    "chat_raw",
    "chat_refusal",
    "chat_stall",
    "chat_status",
    "chat_text",
    "chat_tool_calls",
]

CallSpec: TypeAlias = (
    "ChatCall | tuple[str, str | Mapping[str, Any]] | tuple[str, str | Mapping[str, Any], str]"
)

_PARTIAL = "Hello world, this is partial"


# -- builders: successful turns -----------------------------------------------------------------


def chat_text(
    text: str = "Hello world",
    *,
    reasoning: str | None = None,
    reasoning_field: ReasoningField = "reasoning_content",
    reasoning_signature: str | None = None,
    chunks: Sequence[int] | Sequence[str] | None = None,
    reasoning_chunks: Sequence[int] | Sequence[str] | None = None,
    usage: UsageStyle = "after",
    usage_details: UsageDetails = "openai",
    cached_tokens: int = 0,
    finish_reason: str | None = "stop",
    model: str | None = None,
    role_every_delta: bool = False,
    empty_id: bool = False,
    finish_on_last_delta: bool = False,
    keepalive: bool | str = False,
    send_done: bool = True,
    delay: float = 0.0,
    first_chunk_delay: float = 0.0,
    event_delay: float = 0.0,
    leading_blank_lines: int = 0,
    headers: Mapping[str, str] | None = None,
) -> ChatScenario:
    """An assistant text turn, optionally after reasoning, streamed the way a given vendor does.

    - ``reasoning_field``: where reasoning goes. ``reasoning_content`` (DeepSeek, llama.cpp, old
      vLLM), ``reasoning`` (Ollama, vLLM, Together, Groq parsed), ``reasoning_details`` (OpenRouter:
      ``reasoning`` *and* ``reasoning_details[]`` carry the same text; the last entry gets
      ``reasoning_signature``), ``think_tags`` (``<think>…</think>`` inside ``content``: TGI, Groq
      raw) or ``think_close_only`` (only ``</think>``: R1 templates).
    - ``chunks``: piece sizes (ints; the rest goes by words) or the pieces (strs) of ``content``,
      tags included, so ``chunks=[4, 3]`` cuts ``<thi`` | ``nk>``. ``None``: by words.
      ``reasoning_chunks`` does the same for a separate reasoning field.
    - ``usage``: ``after`` (a ``choices: []`` chunk after the finish chunk, only if the request
      set ``stream_options.include_usage``: OpenAI, Ollama, vLLM, TGI), ``on_finish`` (on the
      finish chunk, always: Together), ``groq`` (``x_groq.usage`` on the finish chunk, plus the
      ``after`` chunk when asked), ``continuous`` (cumulative usage on every chunk, then the final
      chunk: vLLM ``continuous_usage_stats``, xAI), ``openrouter`` (always, on a last chunk with an
      empty delta), ``none``. Counts: words in the request's messages; one token per output piece.
    - ``usage_details``: ``openai`` (``prompt_tokens_details.cached_tokens`` = ``cached_tokens``,
      ``completion_tokens_details.reasoning_tokens``), ``deepseek`` (``prompt_cache_hit_tokens`` /
      ``prompt_cache_miss_tokens``) or ``none`` (bare counts, like local servers).
    - Quirks: ``role_every_delta`` (Ollama, TGI, Groq), ``empty_id`` (TGI's ``id: ""``),
      ``finish_on_last_delta`` (finish reason on the last content chunk, no empty finish chunk),
      ``finish_reason`` (``None``: no finish chunk at all), ``keepalive`` (``True`` for
      ``: keep-alive`` or the comment text, e.g. ``"OPENROUTER PROCESSING"``, before the first
      chunk), ``send_done``, ``leading_blank_lines`` (DeepSeek's non-stream body).
    - Pacing: ``delay`` before the headers, ``first_chunk_delay`` after them, ``event_delay``
      between chunks (0 writes the stream in a few large writes: fast enough for benchmarks).
    """
    reply = ChatReply(
        text=text,
        reasoning=reasoning,
        reasoning_field=reasoning_field,
        reasoning_signature=reasoning_signature,
        chunks=_pieces("chunks", chunks),
        reasoning_chunks=_pieces("reasoning_chunks", reasoning_chunks),
        finish_reason=finish_reason,
        usage=usage,
        usage_details=usage_details,
        cached_tokens=cached_tokens,
        model=model,
        role_every_delta=role_every_delta,
        empty_id=empty_id,
        finish_on_last_delta=finish_on_last_delta,
    )
    return _scenario(
        reply,
        keepalive=keepalive,
        send_done=send_done,
        delay=delay,
        first_chunk_delay=first_chunk_delay,
        event_delay=event_delay,
        leading_blank_lines=leading_blank_lines,
        headers=headers,
    )


def chat_tool_calls(
    calls: Iterable[CallSpec],
    *,
    style: ToolStyle = "fragments",
    text: str | None = None,
    reasoning: str | None = None,
    reasoning_field: ReasoningField = "reasoning_content",
    finish_reason: str | None = None,
    argument_chunk_size: int = 8,
    usage: UsageStyle = "after",
    usage_details: UsageDetails = "openai",
    model: str | None = None,
    role_every_delta: bool = False,
    send_done: bool = True,
    delay: float = 0.0,
    event_delay: float = 0.0,
    headers: Mapping[str, str] | None = None,
) -> ChatScenario:
    """Tool calls, given as ``(name, arguments_json[, id])`` (or :class:`ChatCall`), streamed in a style.

    - ``fragments`` (OpenAI, llama.cpp): a head delta with ``index``, ``id``, ``type``, ``name`` and
      ``arguments: ""``, then argument fragments of ``argument_chunk_size`` characters by ``index``.
    - ``whole`` (Ollama): each call complete in its own delta. ``batched``: all calls complete in
      one delta. ``interleaved``: the calls' deltas alternate (head 0, head 1, fragment 0, ...).
    - ``tgi``: exactly one call; chunk ``id: ""``, ``role`` on every delta, the call id repeated on
      every tool delta, ``name`` only in the first, ``description: null``, ``finish_reason`` ``stop``
      on the last delta; the non-stream call id is ``"0"``.
    - ``ollama_index0`` (Ollama before v0.20.6): whole calls in separate deltas, all ``index: 0``,
      different ids.

    ``text`` streams before the calls; ``reasoning`` before that. ``finish_reason`` defaults to
    ``tool_calls`` (``stop`` for ``tgi``). Ids default to fresh ``call_…`` values.
    """
    specs = [_call(spec) for spec in calls]
    if not specs:
        raise ValueError("chat_tool_calls needs at least one call")
    _choice("style", style, ToolStyle)
    if style == "tgi" and len(specs) != 1:
        raise ValueError(
            f"style='tgi' streams exactly one call (TGI has no parallel calls), got {len(specs)}"
        )
    if argument_chunk_size < 1:
        raise ValueError(f"argument_chunk_size must be >= 1, got {argument_chunk_size}")
    reply = ChatReply(
        text=text,
        reasoning=reasoning,
        reasoning_field=reasoning_field,
        calls=tuple(specs),
        tool_style=style,
        argument_chunk_size=argument_chunk_size,
        finish_reason=finish_reason or ("stop" if style == "tgi" else "tool_calls"),
        usage=usage,
        usage_details=usage_details,
        model=model,
        role_every_delta=role_every_delta,
    )
    return _scenario(reply, send_done=send_done, delay=delay, event_delay=event_delay, headers=headers)


def chat_refusal(text: str = "I can't help with that.", *, event_delay: float = 0.0) -> ChatScenario:
    """An OpenAI refusal: ``delta.refusal`` pieces (``message.refusal``), ``finish_reason: "stop"``."""
    return _scenario(ChatReply(text=None, refusal=text), event_delay=event_delay)


# -- builders: faults ---------------------------------------------------------------------------


def chat_error_in_stream(
    after_chunks: int = 2,
    *,
    style: ErrorStyle = "openrouter",
    then_done: bool | None = None,
    message: str = "The upstream provider failed while generating.",
    code: str | int | None = None,
    status_code: int | None = None,
    scenario: ChatScenario | None = None,
) -> ChatScenario:
    """HTTP 200, ``after_chunks`` chunks (the role chunk counts), then an error in the stream.

    ``openrouter``: a normal chunk with a top-level ``error`` (``code`` string or number, default
    ``"server_error"``) and ``finish_reason: "error"``; ``tgi``: ``{"error": {"message",
    "http_status_code": 422}}``; ``vllm``: ``{"error": {"message", "type", "param", "code": 500}}``;
    ``openai``: ``{"error": {"message", "type": "server_error", ...}}``. ``then_done`` (``[DONE]``
    after it) defaults to ``True``, ``False`` for ``openai``. A non-streaming request gets that
    vendor's error reply instead (OpenRouter: 200 with an ``error`` body).
    """
    _choice("style", style, ErrorStyle)
    done = then_done if then_done is not None else style != "openai"
    fault = ChatFault("error", _count(after_chunks), style, message, code, status_code, then_done=done)
    return (scenario or chat_text(_PARTIAL)).with_(fault=fault)


def chat_cut(
    after_chunks: int = 3,
    *,
    how: Literal["close", "truncate", "reset"] = "close",
    scenario: ChatScenario | None = None,
) -> ChatScenario:
    """The stream stops after ``after_chunks`` chunks: no finish reason, no ``[DONE]``.

    ``close``: the body ends cleanly and the connection closes (Ollama ``/v1`` after a mid-stream
    error); ``truncate``: the TCP connection closes mid-body; ``reset``: an RST. A non-streaming
    request gets half its body, then the close or reset.
    """
    _choice("how", how, Literal["close", "truncate", "reset"])
    return (scenario or chat_text(_PARTIAL)).with_(fault=ChatFault("cut", _count(after_chunks), how))


def chat_stall(
    after_chunks: int = 2, *, seconds: float | None = None, scenario: ChatScenario | None = None
) -> ChatScenario:
    """Send ``after_chunks`` chunks, then go silent for ``seconds`` (``None``: until the client leaves)."""
    if seconds is not None:
        _seconds("seconds", seconds)
    fault = ChatFault("stall", _count(after_chunks), seconds=seconds)
    return (scenario or chat_text(_PARTIAL)).with_(fault=fault)


def chat_malformed(
    after_chunks: int = 2, payload: bytes = b"{not json", *, scenario: ChatScenario | None = None
) -> ChatScenario:
    """Send ``after_chunks`` chunks, then ``data: <payload>`` (not JSON), then the rest."""
    if not isinstance(payload, bytes):
        raise TypeError(f"payload must be bytes, got {type(payload).__name__}")
    fault = ChatFault("malformed", _count(after_chunks), payload=payload)
    return (scenario or chat_text(_PARTIAL)).with_(fault=fault)


def chat_delay(scenario: ChatScenario, seconds: float) -> ChatScenario:
    """``scenario``, after ``seconds`` of silence before the status line (a silent upstream)."""
    return scenario.with_(delay=_seconds("seconds", seconds))


def chat_raw(
    frames: Iterable[bytes],
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    chunked: bool = True,
    delay: float = 0.0,
    event_delay: float = 0.0,
) -> ChatScenario:
    """Exact bytes, one write per frame (``event_delay`` apart); the escape hatch for any quirk.

    Headers default to ``text/event-stream``; ``chunked=False`` sends a ``Content-Length`` body.
    """
    data = tuple(frames)
    for frame in data:
        if not isinstance(frame, bytes):
            raise TypeError(f"chat_raw frames must be bytes, got {type(frame).__name__}")
    hdrs = {k.lower(): v for k, v in (headers or {"content-type": "text/event-stream"}).items()}
    raw = ChatRaw(data, status, tuple(hdrs.items()), chunked)
    return ChatScenario(
        reply=raw, delay=_seconds("delay", delay), event_delay=_seconds("event_delay", event_delay)
    )


# -- helpers ------------------------------------------------------------------------------------


def _scenario(
    reply: ChatReply,
    *,
    keepalive: bool | str = False,
    send_done: bool = True,
    delay: float = 0.0,
    first_chunk_delay: float = 0.0,
    event_delay: float = 0.0,
    leading_blank_lines: int = 0,
    headers: Mapping[str, str] | None = None,
) -> ChatScenario:
    _choice("reasoning_field", reply.reasoning_field, ReasoningField)
    _choice("usage", reply.usage, UsageStyle)
    _choice("usage_details", reply.usage_details, UsageDetails)
    if reply.cached_tokens < 0:
        raise ValueError(f"cached_tokens must be >= 0, got {reply.cached_tokens}")
    if leading_blank_lines < 0:
        raise ValueError(f"leading_blank_lines must be >= 0, got {leading_blank_lines}")
    Render(reply, None).deltas()  # raises now if the chunks do not fit the text
    comment = (": keep-alive" if keepalive is True else None) if not isinstance(keepalive, str) else keepalive
    if isinstance(comment, str):
        comment = comment.removeprefix(":").strip()
    return ChatScenario(
        reply=reply,
        delay=_seconds("delay", delay),
        first_chunk_delay=_seconds("first_chunk_delay", first_chunk_delay),
        event_delay=_seconds("event_delay", event_delay),
        keepalive=comment,
        send_done=send_done,
        leading_blank_lines=leading_blank_lines,
        headers=tuple((headers or {}).items()),
    )


def _call(spec: CallSpec) -> ChatCall:
    if isinstance(spec, ChatCall):
        call = spec
    elif isinstance(spec, tuple) and len(spec) in (2, 3):
        name, arguments = spec[0], spec[1]
        if isinstance(arguments, Mapping):
            arguments = json.dumps(dict(arguments), separators=(",", ":"))
        call = ChatCall(name, arguments, spec[2] if len(spec) == 3 else None)
    else:
        raise TypeError(f"a call is (name, arguments_json[, id]) or a ChatCall, got {spec!r}")
    if not isinstance(call.name, str) or not call.name:
        raise ValueError(f"a call needs a non-empty function name, got {call.name!r}")
    if not isinstance(call.arguments, str):
        raise TypeError(
            f"call arguments must be a JSON string or a mapping, got {type(call.arguments).__name__}"
        )
    return call
