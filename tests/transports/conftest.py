"""Helpers shared by the chat-dialect tests: SSE framing of chat chunks and decoding a stream
into its final response."""

from __future__ import annotations

import json
from typing import Any

from openresponses._pipeline import Request
from openresponses.testing import assert_valid_stream
from openresponses.transports._chat_stream import ChatStreamDecoder
from openresponses.transports.chat_completions import ChatCompletionsDialect
from openresponses.types import CreateResponseBody, Response


def sse_frames(*chunks: dict[str, Any] | str, done: bool = True) -> bytes:
    """SSE bytes: one ``data:`` event per chunk (a str is sent raw), then ``[DONE]``."""
    out = b"".join(
        b"data: " + (c.encode() if isinstance(c, str) else json.dumps(c).encode()) + b"\n\n" for c in chunks
    )
    return out + (b"data: [DONE]\n\n" if done else b"")


def delta_stream(*deltas: dict[str, Any], model: str, finish: str = "tool_calls") -> bytes:
    """One choice's ``deltas`` as chunks of ``model``, then a finish chunk and ``[DONE]``."""
    chunks = [{"id": "c", "model": model, "choices": [{"index": 0, "delta": d}]} for d in deltas]
    chunks.append(
        {"id": "c", "model": model, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}
    )
    return sse_frames(*chunks)


def final_response(data: bytes, dialect: ChatCompletionsDialect, body: CreateResponseBody) -> Response:
    """``data`` decoded as one streamed reply to ``body``: the stream is checked against the
    spec's ordering rules, and its terminal event's response returned."""
    decoder = dialect.decoder(Request(body=body, stream=True), provider="test")
    assert isinstance(decoder, ChatStreamDecoder)
    events = decoder.feed(data) + decoder.close()
    assert_valid_stream(events)
    response = getattr(events[-1], "response", None)
    assert isinstance(response, Response)
    return response
